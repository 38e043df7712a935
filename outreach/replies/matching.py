"""Matching new mail to what we sent: which fetched headers may answer us (the cheap check run
before any body is fetched), and which message of ours a classified candidate answers.

Shared by `poll` (IMAP) and `replies import` (files), so a mailbox and a file give the same answer.
Threading headers first (In-Reply-To / References against our stored Message-IDs); for bounces,
the failed address the report names, then the original's Message-ID inside it; then the sender's
address against people we wrote to.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime, timedelta
from email.message import Message
from typing import TYPE_CHECKING, Any

from outreach.config import Settings
from outreach.db import Database, utc_now
from outreach.mail.imap import FetchedHeader, HeaderFields
from outreach.replies.authority import writes_for
from outreach.replies.store import Mailbox, MatchedReply, own_addresses, store_reply, written_at

if TYPE_CHECKING:
    from outreach.classify.classifier import Classification

__all__ = ["match_and_store", "select_candidates", "looks_like_bounce", "sent_addresses", "find_candidates"]

CLOCK_SKEW = timedelta(minutes=15)
SENT_STATES = ("sent", "bounced", "uncertain", "sending")

_MSGID = re.compile(r"<[^<>\s]+@[^<>\s]+>")
_BOUNCE_SUBJECT = re.compile(
    r"undeliver|delivery (status|failure|has failed|notification)|returned mail|failure notice|"
    r"mail delivery (failed|system|subsystem)|non.?delivery|could not be delivered|"
    r"delivery failed|unzustellbar|no se puede entregar|non remis",
    re.I,
)
_ANGLE_ADDRESS = re.compile(r"<\s*([^<>\s@]+@[^<>\s]+?)\s*>")
_BARE_ADDRESS = re.compile(r"[\w.+'=-]+@[\w-]+(?:\.[\w-]+)+")


def match_and_store(
    db: Database, settings: Settings, mailbox: Mailbox, candidates: list[FetchedHeader],
    bodies: dict[int, tuple[bytes, datetime | None]], classified: list[Classification], now: datetime,
) -> list[dict[str, Any]]:
    """Match classified candidates to what we sent and store the matches (inside the caller's
    transaction); the summaries of the newly stored ones. The one path from a candidate to a
    stored reply, whether it came from IMAP (`poll`) or from files (`replies import`)."""
    found = [r for h, c in zip(candidates, classified) if (r := _match(db, h, bodies[h.uid], c)) is not None]
    stored = [store_reply(db, settings, reply, mailbox, now) for reply in found]
    return [s for s in stored if s is not None]


def select_candidates(
    db: Database, settings: Settings, mailbox: Mailbox, headers: list[FetchedHeader]
) -> list[FetchedHeader]:
    """The messages among `headers` that may answer something we sent and are not stored yet
    (the cheap header check `poll` runs before fetching bodies)."""
    return find_candidates(db, mailbox, headers, own_addresses(settings), sent_addresses(db))



# --- Which messages may answer us ------------------------------------------------------------


def sent_addresses(db: Database) -> set[str]:
    marks = ",".join("?" * len(SENT_STATES))
    rows = db.execute(
        f"SELECT DISTINCT lower(to_address) FROM messages WHERE sent_at IS NOT NULL OR state IN ({marks})",
        list(SENT_STATES),
    ).fetchall()
    return {row[0] for row in rows}


def _address(value: str | None) -> str:
    """The address in a From header, lower-cased (a regex: parseaddr is slow on 10,000 headers)."""
    if not value:
        return ""
    match = _ANGLE_ADDRESS.search(value)
    if match:
        return match.group(1).lower()
    match = _BARE_ADDRESS.search(value)
    return match.group(0).lower() if match else ""


def _header_ids(header: Message | HeaderFields) -> list[str]:
    """In-Reply-To first, then References newest first: the order to try them in."""
    in_reply_to = _MSGID.findall(str(header.get("In-Reply-To") or ""))
    references = _MSGID.findall(" ".join(str(v) for v in header.get_all("References") or []))
    return list(dict.fromkeys(in_reply_to + references[::-1]))


def looks_like_bounce(header: Message | HeaderFields) -> bool:
    """Worth fetching the body to look for the original inside a delivery report."""
    return _looks_like_bounce(header, _address(header.get("From")))


def _looks_like_bounce(header: Message | HeaderFields, sender: str) -> bool:
    from outreach.classify.bounces import is_daemon_address  # lazy: start-up time

    if is_daemon_address(sender):
        return True
    if (header.get("Return-Path") or "").strip() == "<>" or header.get("X-Failed-Recipients"):
        return True
    content_type = str(header.get("Content-Type") or "").lower()
    if "multipart/report" in content_type and "delivery-status" in content_type:
        return True
    return bool(_BOUNCE_SUBJECT.search(str(header.get("Subject") or "")))


def find_candidates(
    db: Database, mailbox: Mailbox, headers: list[FetchedHeader], own: frozenset[str], sent_to: set[str]
) -> list[FetchedHeader]:
    """Messages that may answer something we sent and that we have not stored before: they
    thread to a Message-ID of ours, come from someone we wrote to, or look like a bounce."""
    if not headers:
        return []
    rfc_ids = [(h.header.get("Message-ID") or "").strip() for h in headers]
    known_ids = _existing(db, "SELECT rfc_message_id FROM replies WHERE rfc_message_id IN ({})", [i for i in rfc_ids if i])
    known_uids = _existing(
        db,
        # the account too: two mailboxes' INBOXes created in the same second share a UIDVALIDITY
        "SELECT uid FROM replies WHERE account = ? AND folder = ? AND uidvalidity = ? AND uid IN ({})",
        [h.uid for h in headers],
        prefix=[mailbox.account, mailbox.folder, mailbox.uidvalidity],
    )
    ids = [_header_ids(h.header) for h in headers]
    threaded = _existing(db, "SELECT message_id FROM messages WHERE message_id IN ({})", [i for some in ids for i in some])
    out = []
    for header, rfc_id, their_ids in zip(headers, rfc_ids, ids):
        if rfc_id in known_ids or header.uid in known_uids:
            continue
        sender = _address(header.header.get("From"))
        if sender in own:
            continue  # our own mail (a Bcc to self, a copy in the inbox)
        if sender in sent_to or any(i in threaded for i in their_ids) or _looks_like_bounce(header.header, sender):
            out.append(header)
    return out


def _existing(db: Database, sql: str, values: list[Any], *, prefix: list[Any] | None = None) -> set[Any]:
    found: set[Any] = set()
    values = list(dict.fromkeys(values))
    for start in range(0, len(values), 500):
        chunk = values[start : start + 500]
        rows = db.execute(sql.format(",".join("?" * len(chunk))), (prefix or []) + chunk).fetchall()
        found.update(row[0] for row in rows)
    return found


# --- Matching a classified candidate to what we sent -----------------------------------------


def _match(
    db: Database, fetched: FetchedHeader, body: tuple[bytes, datetime | None], classification: Classification
) -> MatchedReply | None:
    """Find the message of ours a classified candidate answers, or None."""
    raw, internaldate = body
    header = fetched.header
    kind = classification.kind
    written = written_at(header, internaldate)
    ids = _header_ids(header) + [i for i in classification.referenced_message_ids if i]
    sender = _address(header.get("From"))
    unmatched = None
    if kind == "bounce":
        body_ids = _MSGID.findall(raw.decode("utf-8", "replace"))
        sent, unmatched = _bounced_message(db, _by_message_id(db, ids + body_ids), classification.bounced_addresses, written)
    else:
        sent = _by_message_id(db, ids)
        if sent is not None:
            # Threading names a message of ours; only its recipient (or their side) may answer it.
            unmatched = writes_for(header, sender, sent["to_address"])
            if unmatched and (own := _by_recipient(db, [sender], written)) is not None:
                sent, unmatched = own, None  # someone we also wrote to, answering in another's thread
        elif not looks_like_bounce(header):
            sent = _by_recipient(db, [sender], written)
    if sent is None:
        return None
    return MatchedReply(fetched.uid, header, internaldate, sent, kind, classification, sender, unmatched)


def _bounced_message(
    db: Database, quoted: dict[str, Any] | None, named: Iterable[str], written: datetime
) -> tuple[dict[str, Any] | None, str | None]:
    """(the message a bounce is about, why it is unmatched). The failed address the report
    names decides, not the Message-ID it quotes: a report about someone else (a forward, a
    list, a forgery) must not suppress our contact. Without a named address the quoted
    Message-ID stands."""
    named = [a.strip().lower() for a in named if a and a.strip()]
    if not named or (quoted is not None and quoted["to_address"].lower() in named):
        return quoted, None
    ours = _by_recipient(db, named, written)
    if ours is not None:
        return ours, None
    if quoted is not None:
        return quoted, f"the bounce names {', '.join(named)}, not {quoted['to_address']}; nobody was suppressed"
    return None, None


def _by_message_id(db: Database, ids: list[str]) -> dict[str, Any] | None:
    for message_id in dict.fromkeys(ids):
        rows = list(db.query("SELECT * FROM messages WHERE message_id = ?", [message_id]))
        if rows:
            return rows[0]
    return None


def _by_recipient(db: Database, addresses: Iterable[str], written: datetime) -> dict[str, Any] | None:
    """The most recent message we sent to any of these addresses before this mail was written
    (mail someone sent before we ever wrote to them answers nothing; clocks may be off a little)."""
    marks = ",".join("?" * len(SENT_STATES))
    latest = utc_now(written + CLOCK_SKEW)
    for address in addresses:
        if not address:
            continue
        rows = list(
            db.query(
                f"""SELECT * FROM messages WHERE lower(to_address) = lower(?)
                    AND (sent_at IS NOT NULL OR state IN ({marks})) AND coalesce(sent_at, queued_at) <= ?
                    ORDER BY coalesce(sent_at, queued_at) DESC, id DESC LIMIT 1""",
                [address.strip(), *SENT_STATES, latest],
            )
        )
        if rows:
            return rows[0]
    return None
