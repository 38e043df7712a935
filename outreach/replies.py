"""Replies: read new mail incrementally, match it to what we sent, and keep every contact's state
true in the same transaction as the reply's record.

Matching uses the standard headers, so it works with any IMAP server: In-Reply-To / References
against our stored Message-IDs first; for bounces, the original's Message-ID or recipient inside
the delivery report; then the sender's address against people we wrote to. Unmatched mail is
left alone. Nothing on the server is ever changed: folders are opened read-only and bodies are
fetched with BODY.PEEK.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from datetime import date, datetime, timedelta, timezone
from email.header import decode_header, make_header
from email.message import Message
from email.utils import getaddresses, parseaddr, parsedate_to_datetime
from typing import Any, Protocol

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientAbortError, IMAPClientError
from sqlite_utils import Database

from .config import Settings
from .contacts import InvalidEmail, add_suppression, normalise_email
from .db import parse_utc, record_event, utc_now
from .errors import MailServerError, NotFoundError
from .mailbox import (
    FetchedHeader,
    HeaderFields,
    LoginRefused,
    connect_imap,
    fetch_bodies,
    fetch_headers,
    imap_error,
    new_uids,
    open_folder,
    resolve_folder,
)

BATCH_SIZE = 500
PARALLEL_MIN = 20  # candidates in a batch worth sending to worker processes
PARALLEL_WORKERS = 2
SOFT_BOUNCE_LIMIT = 3
SNIPPET_LENGTH = 100
CLOCK_SKEW = timedelta(minutes=15)
KINDS = ("human_reply", "auto_reply", "bounce", "unsubscribe")
PENDING_STATES = ("queued", "drafted", "deferred")
SENT_STATES = ("sent", "bounced", "uncertain", "sending")
_MSGID = re.compile(r"<[^<>\s]+@[^<>\s]+>")
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_DAEMON_LOCALS = {"mailer-daemon", "postmaster", "mail-daemon", "mailerdaemon", "mdaemon"}
_BOUNCE_SUBJECT = re.compile(
    r"undeliver|delivery (status|failure|has failed|notification)|returned mail|failure notice|"
    r"mail delivery (failed|system|subsystem)|non.?delivery|could not be delivered|"
    r"delivery failed|unzustellbar|no se puede entregar|non remis",
    re.I,
)
_NOT_SUGGESTED_LOCALS = _DAEMON_LOCALS | {"noreply", "no-reply", "donotreply", "do-not-reply", "bounces"}

Connect = Callable[[Settings], IMAPClient]


@dataclass
class PollResult:
    """What one poll found. `to_json` is the public `replies poll --json` document."""

    fetched: int = 0
    matched: int = 0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    folders: list[dict[str, Any]] = field(default_factory=list)
    replies: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, int]:
        return {"fetched": self.fetched, "matched": self.matched, **{k: self.counts[k] for k in KINDS}}


@dataclass
class _Reply:
    """One matched message, classified, before it is stored."""

    uid: int
    header: HeaderFields
    internaldate: datetime | None
    sent: dict[str, Any]
    kind: str
    classification: Any
    from_address: str


# --- Polling ------------------------------------------------------------------------------


def poll(
    db: Database,
    settings: Settings,
    *,
    folders: Iterable[str] | None = None,
    now: datetime | None = None,
    connect: Connect = connect_imap,
    batch_size: int = BATCH_SIZE,
    retries: int = 2,
) -> PollResult:
    """Read new mail in each folder once. A connection dropped mid-way is reopened (up to
    `retries` times) and the poll carries on from the last saved batch, so nothing is lost
    or counted twice."""
    result = PollResult()
    attempt = 0
    while True:
        client = connect(settings)
        try:
            with client:
                poll_client(db, settings, client, folders=folders, now=now, batch_size=batch_size, result=result)
            return result
        except (IMAPClientAbortError, OSError) as error:
            if attempt >= retries:
                raise imap_error(error, settings, doing="reading new mail") from None
            attempt += 1
            result.notes.append(f"connection lost ({error}); reconnected and resumed")
        except IMAPClientError as error:
            raise imap_error(error, settings, doing="reading new mail") from None


def poll_client(
    db: Database,
    settings: Settings,
    client: IMAPClient,
    *,
    folders: Iterable[str] | None = None,
    now: datetime | None = None,
    batch_size: int = BATCH_SIZE,
    result: PollResult | None = None,
) -> PollResult:
    """`poll` on an already open connection (the watcher keeps one open)."""
    result = result or PollResult()
    now = now or datetime.now(timezone.utc)
    account = (settings.imap.username or "").lower()
    own = _own_addresses(settings)
    sent_to = _sent_addresses(db)
    for configured in folders or settings.imap_folders:
        name = resolve_folder(client, configured)
        if name is None:
            result.notes.append(f"folder {configured} not found on the server; skipped")
            continue
        summary = next((f for f in result.folders if f["folder"] == name), None)
        if summary is None:  # a poll resumed after a drop keeps adding to the same line
            summary = {"folder": name, "fetched": 0, "matched": 0, "resync": False}
            result.folders.append(summary)
        _poll_folder(db, settings, client, name, account, own, sent_to, now, batch_size, result, summary)
    return result


def _poll_folder(
    db: Database,
    settings: Settings,
    client: IMAPClient,
    name: str,
    account: str,
    own: frozenset[str],
    sent_to: set[str],
    now: datetime,
    batch_size: int,
    result: PollResult,
    summary: dict[str, Any],
) -> None:
    status = open_folder(client, name)
    state = db.execute(
        "SELECT uidvalidity, last_uid FROM mailbox_state WHERE account = ? AND folder = ?", [account, name]
    ).fetchone()
    last_uid = 0
    if state and state[0] == status.uidvalidity:
        last_uid = state[1]
    elif state:
        summary["resync"] = True
        result.notes.append(f"{name}: UIDVALIDITY changed; rescanned the folder (already-seen replies are not counted again)")
    uids = new_uids(client, status, last_uid)
    pending: deque[tuple[list[int], int, list[FetchedHeader], dict[int, Any], Any]] = deque()

    def finish() -> None:
        """Store the oldest classified batch with its progress, in one transaction."""
        chunk, fetched, candidates, bodies, job = pending.popleft()
        classified = job.result()
        found = [
            r for h, c in zip(candidates, classified) if (r := _match(db, h, bodies[h.uid], c)) is not None
        ]
        with db.atomic():
            stored = [_store(db, settings, reply, name, status.uidvalidity, account, now) for reply in found]
            _save_progress(db, account, name, status.uidvalidity, max(chunk), now)
        result.fetched += fetched
        summary["fetched"] += fetched
        for reply in filter(None, stored):
            result.matched += 1
            summary["matched"] += 1
            if reply["kind"] in result.counts:
                result.counts[reply["kind"]] += 1
            result.replies.append(reply)

    with _Classifier(now.date()) as classifier:
        for start in range(0, len(uids), batch_size):
            chunk = uids[start : start + batch_size]
            headers = fetch_headers(client, chunk)
            bodies = fetch_bodies(client, [h.uid for h in _candidates(db, name, status.uidvalidity, headers, own, sent_to)])
            candidates = [h for h in headers if h.uid in bodies]
            # classify this batch (in worker processes when big) while the next one is fetched
            pending.append((chunk, len(headers), candidates, bodies, classifier.submit([bodies[h.uid][0] for h in candidates])))
            while pending and (len(pending) > 1 or isinstance(pending[0][4], _Done)):
                finish()
        while pending:
            finish()
    if not uids:
        with db.atomic():
            _save_progress(db, account, name, status.uidvalidity, last_uid, now)


def _save_progress(db: Database, account: str, folder: str, uidvalidity: int, last_uid: int, now: datetime) -> None:
    db.execute(
        """INSERT INTO mailbox_state (account, folder, uidvalidity, last_uid, polled_at) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT(account, folder) DO UPDATE SET uidvalidity = excluded.uidvalidity,
           last_uid = excluded.last_uid, polled_at = excluded.polled_at""",
        [account, folder, uidvalidity, last_uid, utc_now(now)],
    )


@lru_cache(maxsize=8)
def _own_addresses(settings: Settings) -> frozenset[str]:
    found = {settings.imap.username or "", settings.smtp.username or "", parseaddr(settings.from_address or "")[1]}
    return frozenset(a.lower() for a in found if a)


def _sent_addresses(db: Database) -> set[str]:
    marks = ",".join("?" * len(SENT_STATES))
    rows = db.execute(
        f"SELECT DISTINCT lower(to_address) FROM messages WHERE sent_at IS NOT NULL OR state IN ({marks})",
        list(SENT_STATES),
    ).fetchall()
    return {row[0] for row in rows}


_ANGLE_ADDRESS = re.compile(r"<\s*([^<>\s@]+@[^<>\s]+?)\s*>")
_BARE_ADDRESS = re.compile(r"[\w.+'=-]+@[\w-]+(?:\.[\w-]+)+")


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
    sender = _address(header.get("From"))
    if sender.split("@")[0] in _DAEMON_LOCALS:
        return True
    if header.get("Return-Path", "").strip() == "<>" or header.get("X-Failed-Recipients"):
        return True
    content_type = str(header.get("Content-Type") or "").lower()
    if "multipart/report" in content_type and "delivery-status" in content_type:
        return True
    return bool(_BOUNCE_SUBJECT.search(str(header.get("Subject") or "")))


def _candidates(
    db: Database, folder: str, uidvalidity: int, headers: list[FetchedHeader], own: frozenset[str], sent_to: set[str]
) -> list[FetchedHeader]:
    """Messages that may answer something we sent and that we have not stored before."""
    if not headers:
        return []
    rfc_ids = [h.header.get("Message-ID", "").strip() for h in headers]
    known_ids = _existing(db, "SELECT rfc_message_id FROM replies WHERE rfc_message_id IN ({})", [i for i in rfc_ids if i])
    known_uids = _existing(
        db,
        "SELECT uid FROM replies WHERE folder = ? AND uidvalidity = ? AND uid IN ({})",
        [h.uid for h in headers],
        prefix=[folder, uidvalidity],
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
        if sender in sent_to or any(i in threaded for i in their_ids) or looks_like_bounce(header.header):
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


def classify_many(raws: list[bytes], today: date) -> list[Any]:
    """Classify messages in order (also the worker processes' job)."""
    from .classify import classify_message

    return [classify_message(raw, today=today) for raw in raws]


class _Done:
    """A finished job with a Future's `result()`."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def result(self) -> Any:
        return self.value


class _Classifier:
    """Classifies batches inline, or, for a big first poll on a machine with cores to spare, in
    worker processes so that classifying one batch overlaps fetching the next."""

    def __init__(self, today: date) -> None:
        self.today = today
        self.pool: Any = None
        self.workers = min(PARALLEL_WORKERS, os.cpu_count() or 1)

    def __enter__(self) -> "_Classifier":
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)

    def submit(self, raws: list[bytes]) -> Any:
        if len(raws) < PARALLEL_MIN or self.workers < 2 or multiprocessing.current_process().daemon:
            return _Done(classify_many(raws, self.today))
        if self.pool is None:
            self.pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("fork"))
        size = -(-len(raws) // self.workers)
        jobs = [self.pool.submit(classify_many, raws[i : i + size], self.today) for i in range(0, len(raws), size)]
        return _Joined(jobs)


class _Joined:
    def __init__(self, jobs: list[Any]) -> None:
        self.jobs = jobs

    def result(self) -> list[Any]:
        return [c for job in self.jobs for c in job.result()]


def _match(db: Database, fetched: FetchedHeader, body: tuple[bytes, datetime | None], classification: Any) -> _Reply | None:
    """Find the message of ours a classified candidate answers, or None."""
    raw, internaldate = body
    header = fetched.header
    uid = fetched.uid
    kind = classification.kind
    written = _written_at(header, internaldate)
    ids = _header_ids(header) + [i for i in classification.referenced_message_ids if i]
    sent = None
    if kind == "bounce":
        body_ids = _MSGID.findall(raw.decode("utf-8", "replace"))
        sent = _by_message_id(db, ids + body_ids) or _by_recipient(db, classification.bounced_addresses, written)
    else:
        sender = _address(header.get("From"))
        sent = _by_message_id(db, ids) or (None if looks_like_bounce(header) else _by_recipient(db, [sender], written))
    if sent is None:
        return None
    return _Reply(uid, header, internaldate, sent, kind, classification, _address(header.get("From")))


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


# --- Storing a reply and what it means ------------------------------------------------------


def _received_at(reply: _Reply) -> datetime:
    return _written_at(reply.header, reply.internaldate)


def _written_at(header: HeaderFields, internaldate: datetime | None) -> datetime:
    """When they wrote: the Date header if it parses, else when the server got it."""
    try:
        when = parsedate_to_datetime(str(header.get("Date")))
        if when is not None:
            return when if when.tzinfo else when.replace(tzinfo=timezone.utc)
    except (TypeError, ValueError, IndexError):
        pass
    if internaldate is not None:
        return internaldate if internaldate.tzinfo else internaldate.replace(tzinfo=timezone.utc)
    return datetime.now(timezone.utc)


def snippet(text: str | None, length: int = SNIPPET_LENGTH) -> str:
    """One line: the reply's own words, whitespace folded, cut at a word near `length`."""
    line = " ".join((text or "").split())
    if len(line) <= length:
        return line
    cut = line[:length].rsplit(" ", 1)[0]
    return (cut if len(cut) > length // 2 else line[:length]) + "…"


def _store(
    db: Database, settings: Settings, reply: _Reply, folder: str, uidvalidity: int, account: str, now: datetime
) -> dict[str, Any] | None:
    """Insert the reply and apply its state changes; call inside a transaction.
    Returns a summary, or None when this message was already stored (a resync)."""
    rfc_id = (reply.header.get("Message-ID") or "").strip() or None
    received = _received_at(reply)
    subject = _decoded(reply.header.get("Subject"))
    if _already_stored(db, rfc_id, reply.from_address, subject, received):
        return None
    sent, cls = reply.sent, reply.classification
    contact = _contact_for(db, sent)
    sent_at = sent.get("sent_at")
    seconds = None
    if reply.kind in ("human_reply", "unsubscribe") and sent_at:
        delta = (received - parse_utc(sent_at)).total_seconds()
        seconds = int(delta) if delta >= 0 else None
    row = {
        "message_id": sent["id"],
        "contact_id": contact["id"] if contact else None,
        "campaign_id": sent.get("campaign_id"),
        "account": account,
        "folder": folder,
        "uidvalidity": uidvalidity,
        "uid": reply.uid,
        "rfc_message_id": rfc_id,
        "from_address": reply.from_address,
        "subject": subject,
        "received_at": utc_now(received),
        "kind": reply.kind,
        "bounce_type": (cls.bounce_type or "soft") if reply.kind == "bounce" else None,
        "bounced_addresses": json.dumps(list(cls.bounced_addresses or [])),
        "return_date": cls.return_date.isoformat() if reply.kind == "auto_reply" and cls.return_date else None,
        "body_text": cls.own_text,
        "snippet": snippet(cls.own_text),
        "seconds_to_reply": seconds,
        "created_at": utc_now(now),
    }
    columns = ", ".join(f"[{name}]" for name in row)
    reply_id = db.execute(f"INSERT INTO replies ({columns}) VALUES ({', '.join('?' * len(row))})", list(row.values())).lastrowid
    _event(
        db, "reply_received", contact_id=row["contact_id"], campaign_id=row["campaign_id"], message_id=sent["id"],
        at=utc_now(now), reply_id=reply_id, reply_kind=reply.kind, folder=folder,
    )
    effects = _apply(db, settings, reply, row, reply_id, contact, now)
    campaign = db.execute("SELECT name FROM campaigns WHERE id = ?", [row["campaign_id"]]).fetchone()
    return {**row, "id": reply_id, "campaign": campaign[0] if campaign else None, "contact_email": contact["email"] if contact else sent["to_address"], "effects": effects}


def _decoded(value: Any) -> str:
    """A header as readable text: RFC 2047 words decoded, whitespace folded."""
    if value is None:
        return ""
    try:
        text = str(make_header(decode_header(str(value))))
    except Exception:
        text = str(value)
    return " ".join(text.split())


def _already_stored(db: Database, rfc_id: str | None, sender: str, subject: str, received: datetime) -> bool:
    if rfc_id:
        return db.execute("SELECT 1 FROM replies WHERE rfc_message_id = ?", [rfc_id]).fetchone() is not None
    return (
        db.execute(
            "SELECT 1 FROM replies WHERE rfc_message_id IS NULL AND from_address = ? AND subject = ? AND received_at = ?",
            [sender, subject, utc_now(received)],
        ).fetchone()
        is not None
    )


def _contact_for(db: Database, sent: dict[str, Any]) -> dict[str, Any] | None:
    if sent.get("contact_id"):
        rows = list(db.query("SELECT * FROM contacts WHERE id = ?", [sent["contact_id"]]))
    else:
        rows = list(db.query("SELECT * FROM contacts WHERE lower(email) = lower(?)", [sent["to_address"]]))
    return rows[0] if rows else None


def _apply(
    db: Database, settings: Settings, reply: _Reply, row: dict[str, Any], reply_id: int,
    contact: dict[str, Any] | None, now: datetime,
) -> list[str]:
    """The state changes a reply implies, as a list of short descriptions."""
    kind, sent = reply.kind, reply.sent
    effects: list[str] = []
    at = utc_now(now)
    if kind in ("human_reply", "unsubscribe") and contact:
        changes: dict[str, Any] = {"stage": "replied"}
        if not contact.get("replied_at"):
            changes["replied_at"] = row["received_at"]
        if kind == "unsubscribe":
            changes["status"] = "opted_out"
            changes["away_until"] = None
        elif contact["status"] == "away":
            changes.update(status="active", away_until=None)
        _set_contact(db, contact["id"], event="opted_out" if kind == "unsubscribe" else "replied", at=at, **changes)
        effects.append("opted out" if kind == "unsubscribe" else "replied")
    if kind == "unsubscribe":
        for address in {contact["email"] if contact else sent["to_address"], reply.from_address}:
            if address and _suppress(db, address, reason=f"asked to stop in reply {reply_id}", source="unsubscribe"):
                effects.append(f"suppressed {address}")
    if kind == "bounce":
        effects += _apply_bounce(db, reply, row, reply_id, contact, at)
    if kind == "auto_reply" and contact:
        until = reply.classification.return_date or (now.date() + timedelta(days=settings.away_days))
        if contact["status"] in ("active", "away"):
            _set_contact(db, contact["id"], event="away", at=at, away_until=until.isoformat(), status="away")
            effects.append(f"away until {until.isoformat()}")
        held = _hold_followups(db, contact, until, at, reply_id)
        if held:
            effects.append(f"{held} follow-up(s) held until {until.isoformat()}")
    if contact and (kind in ("human_reply", "unsubscribe") or "bounced" in effects):
        cancelled = _cancel_followups(db, contact, at, reply_id, kind)
        if cancelled:
            effects.append(f"{cancelled} pending follow-up(s) cancelled")
    if kind == "human_reply" and contact:
        added = _suggest_contacts(db, settings, reply, contact, reply_id, at)
        if added:
            effects.append("suggested " + ", ".join(added))
    return effects


def _event(
    db: Database, kind: str, *, at: str, contact_id: int | None = None, campaign_id: int | None = None,
    message_id: int | None = None, **detail: Any,
) -> None:
    """db.record_event in plain SQL: sqlite-utils' per-insert introspection doubled the cost of
    storing 1,000 replies in one poll. Same columns, same JSON detail."""
    db.execute(
        "INSERT INTO events (at, kind, contact_id, campaign_id, message_id, detail) VALUES (?, ?, ?, ?, ?, ?)",
        [at, kind, contact_id, campaign_id, message_id, json.dumps(detail, default=str)],
    )


def _set_contact(db: Database, contact_id: int, *, event: str, at: str, **changes: Any) -> None:
    """contacts.set_contact_state in plain SQL (see `_event`), stamped with the poll's time."""
    assignments = ", ".join(f"[{name}] = ?" for name in changes)
    db.execute(f"UPDATE contacts SET {assignments}, updated_at = ? WHERE id = ?", [*changes.values(), at, contact_id])
    _event(db, event, contact_id=contact_id, at=at, **changes)


def _suppress(db: Database, address: str, *, reason: str, source: str) -> bool:
    try:
        return add_suppression(db, address, reason=reason, source=source)
    except InvalidEmail:
        return False


def _apply_bounce(
    db: Database, reply: _Reply, row: dict[str, Any], reply_id: int, contact: dict[str, Any] | None, at: str
) -> list[str]:
    sent = reply.sent
    address = sent["to_address"]
    hard = row["bounce_type"] == "hard"
    if not hard:
        soft_count = db.execute(
            """SELECT count(*) FROM replies r JOIN messages m ON m.id = r.message_id
               WHERE r.kind = 'bounce' AND r.bounce_type = 'soft' AND lower(m.to_address) = lower(?)""",
            [address],
        ).fetchone()[0]
        _event(db, "soft_bounce", contact_id=row["contact_id"], campaign_id=row["campaign_id"],
                     message_id=sent["id"], at=at, reply_id=reply_id, count=soft_count)
        if soft_count < SOFT_BOUNCE_LIMIT:
            return [f"soft bounce {soft_count} of {SOFT_BOUNCE_LIMIT}"]
    reason = f"bounced ({'hard' if hard else f'{SOFT_BOUNCE_LIMIT} soft bounces'}), reply {reply_id}"
    effects = []
    if _suppress(db, address, reason=reason, source="bounce"):
        effects.append(f"suppressed {address}")
    if sent["state"] != "bounced":
        db.execute("UPDATE messages SET state = 'bounced', updated_at = ? WHERE id = ?", [at, sent["id"]])
        _event(db, "bounced", contact_id=row["contact_id"], campaign_id=row["campaign_id"],
                     message_id=sent["id"], at=at, reply_id=reply_id, bounce_type=row["bounce_type"])
    if contact and contact["status"] != "opted_out":
        _set_contact(db, contact["id"], event="contact_bounced", at=at, status="bounced")
    effects.append("bounced")
    return effects


def _pending_followups(db: Database, contact: dict[str, Any]) -> list[int]:
    marks = ",".join("?" * len(PENDING_STATES))
    rows = db.execute(
        f"""SELECT id FROM messages WHERE (contact_id = ? OR lower(to_address) = lower(?))
            AND (kind = 'followup' OR step > 0) AND state IN ({marks})""",
        [contact["id"], contact["email"], *PENDING_STATES],
    ).fetchall()
    return [r[0] for r in rows]


def _cancel_followups(db: Database, contact: dict[str, Any], at: str, reply_id: int, why: str) -> int:
    """Any answer stops every follow-up still waiting to go to that contact."""
    ids = _pending_followups(db, contact)
    for message_id in ids:
        db.execute("UPDATE messages SET state = 'cancelled', updated_at = ? WHERE id = ?", [at, message_id])
        _event(db, "followup_cancelled", contact_id=contact["id"], message_id=message_id, at=at, reply_id=reply_id, reason=why)
    return len(ids)


def _hold_followups(db: Database, contact: dict[str, Any], until: date, at: str, reply_id: int) -> int:
    """An out-of-office holds follow-ups until the return date instead of cancelling them."""
    hold = f"{until.isoformat()}T00:00:00+00:00"
    ids = _pending_followups(db, contact)
    for message_id in ids:
        db.execute(
            "UPDATE messages SET next_attempt_at = ?, updated_at = ? WHERE id = ? AND (next_attempt_at IS NULL OR next_attempt_at < ?)",
            [hold, at, message_id, hold],
        )
        _event(db, "followup_held", contact_id=contact["id"], message_id=message_id, at=at, reply_id=reply_id, until=until.isoformat())
    return len(ids)


# --- Suggested contacts --------------------------------------------------------------------


def _suggest_contacts(
    db: Database, settings: Settings, reply: _Reply, contact: dict[str, Any], reply_id: int, at: str
) -> list[str]:
    """People a reply introduces: Cc'd colleagues, addresses named in the reply's own words."""
    header = reply.header
    text = reply.classification.own_text or ""
    recipients = (header.get_all("Cc") or []) + (header.get_all("To") or [])
    if "@" not in text and len(recipients) <= 1 and "," not in "".join(recipients):
        return []  # to us alone, naming nobody: the common case, kept cheap
    found: dict[str, str | None] = {}
    for name, address in getaddresses([str(v) for v in recipients]):
        found.setdefault(address, _decoded(name) or None)
    for match in _EMAIL.finditer(text):
        found.setdefault(match.group(0).rstrip("."), _name_before(text, match.start()))
    excluded = set(_own_addresses(settings)) | {reply.from_address, contact["email"].lower()}
    added = []
    for raw, name in found.items():
        try:
            email = normalise_email(raw)
        except InvalidEmail:
            continue
        if email.lower() in excluded or email.split("@")[0].lower() in _NOT_SUGGESTED_LOCALS:
            continue
        if db.execute("SELECT 1 FROM contacts WHERE lower(email) = lower(?)", [email]).fetchone():
            continue
        cursor = db.execute(
            """INSERT OR IGNORE INTO suggested_contacts (email, name, referred_by, reply_id, status, created_at)
               VALUES (?, ?, ?, ?, 'suggested', ?)""",
            [email, name, contact["id"], reply_id, at],
        )
        if cursor.rowcount:
            _event(db, "contact_suggested", contact_id=contact["id"], at=at, email=email, reply_id=reply_id)
            added.append(email)
    return added


_NAME_BEFORE = re.compile(r"((?:(?:Dr|Mr|Mrs|Ms|Prof)\.?\s+)?[A-Z][\w'-]+(?:\s+[A-Z][\w'-]+){0,2})\s*[(<\[:,-]?\s*$")


def _name_before(text: str, position: int) -> str | None:
    """"Maria Lopez (maria@x.org)" or "Dr. Maria Lopez <maria@x.org>" -> the name; else None."""
    line = text[:position].rsplit("\n", 1)[-1][-60:]
    match = _NAME_BEFORE.search(line)
    if not match:
        return None
    words = [w for w in match.group(1).split() if w.lower() not in {"contact", "email", "write", "reach", "to", "at"}]
    return " ".join(words) if len(words) >= 2 else None


# --- Watching ------------------------------------------------------------------------------


class WatchClock(Protocol):
    def monotonic(self) -> float: ...
    def sleep(self, seconds: float) -> None: ...


class SystemWatchClock:
    """Real time; sleeping ends early when `stop` is set."""

    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        self.stop.wait(seconds)


def watch(
    db: Database,
    settings: Settings,
    *,
    on_result: Callable[[PollResult], None],
    stop_event: threading.Event,
    clock: WatchClock | None = None,
    connect: Connect = connect_imap,
    on_error: Callable[[Exception, float], None] | None = None,
    idle_check: float = 1.0,
    idle_restart: float = 300.0,
    poll_interval: float = 60.0,
    max_backoff: float = 300.0,
) -> None:
    """Keep a connection open and process new mail as it arrives, until `stop_event` is set.

    With IDLE the server pushes "new mail" and we poll at once; every `idle_restart` seconds we
    poll anyway (that also reads the Junk folder and notices a dead connection). Without IDLE we
    poll every `poll_interval` seconds. After a drop we reconnect with a growing pause.
    """
    clock = clock or SystemWatchClock(stop_event)
    backoff = 1.0
    while not stop_event.is_set():
        try:
            client = connect(settings)
        except LoginRefused:
            raise
        except MailServerError as error:
            backoff = _pause(error, backoff, max_backoff, clock, on_error)
            continue
        try:
            with client:
                backoff = 1.0
                _watch_connection(db, settings, client, on_result, stop_event, clock, idle_check, idle_restart, poll_interval)
        except (IMAPClientError, OSError, MailServerError) as error:
            if isinstance(error, LoginRefused):
                raise
            backoff = _pause(imap_error(error, settings, doing="watching for new mail"), backoff, max_backoff, clock, on_error)


def _pause(error: Exception, backoff: float, max_backoff: float, clock: WatchClock, on_error: Any) -> float:
    if on_error:
        on_error(error, backoff)
    clock.sleep(backoff)
    return min(backoff * 2, max_backoff)


def _watch_connection(
    db: Database, settings: Settings, client: IMAPClient, on_result: Callable[[PollResult], None],
    stop_event: threading.Event, clock: WatchClock, idle_check: float, idle_restart: float, poll_interval: float,
) -> None:
    can_idle = client.has_capability("IDLE")
    while not stop_event.is_set():
        on_result(poll_client(db, settings, client))
        if stop_event.is_set():
            return
        if not can_idle:
            clock.sleep(poll_interval)
            continue
        client.select_folder("INBOX", readonly=True)
        client.idle()
        started = clock.monotonic()
        try:
            while not stop_event.is_set() and clock.monotonic() - started < idle_restart:
                responses = client.idle_check(timeout=idle_check)
                if any(_is_new_mail(r) for r in responses):
                    break
        finally:
            client.idle_done()


def _is_new_mail(response: Any) -> bool:
    return isinstance(response, tuple) and len(response) >= 2 and response[1] in (b"EXISTS", b"RECENT")


# --- Reading what was stored -----------------------------------------------------------------


def list_replies(
    db: Database, *, campaign: str | None = None, kind: str | None = None, since: datetime | None = None
) -> list[dict[str, Any]]:
    """Stored replies, newest first, with the contact's address and the campaign's name."""
    clauses, params = [], []
    if campaign:
        row = db.execute("SELECT id FROM campaigns WHERE name = ?", [campaign]).fetchone()
        if row is None:
            raise NotFoundError(f"no campaign named {campaign!r}: see `outreach campaign list`")
        clauses.append("r.campaign_id = ?")
        params.append(row[0])
    if kind:
        clauses.append("r.kind = ?")
        params.append(kind)
    if since:
        clauses.append("r.received_at >= ?")
        params.append(utc_now(since))
    where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
    return list(
        db.query(
            f"""SELECT r.id, r.received_at, r.kind, r.bounce_type, r.return_date, r.from_address,
                       coalesce(c.email, m.to_address) AS contact_email, ca.name AS campaign,
                       r.subject, r.snippet, r.seconds_to_reply, r.folder
                FROM replies r
                LEFT JOIN contacts c ON c.id = r.contact_id
                LEFT JOIN messages m ON m.id = r.message_id
                LEFT JOIN campaigns ca ON ca.id = r.campaign_id
                {where} ORDER BY r.received_at DESC, r.id DESC""",
            params,
        )
    )


def list_suggestions(db: Database, *, status: str | None = "suggested") -> list[dict[str, Any]]:
    """Suggested new contacts with who referred them (one row per referral)."""
    sql = """SELECT s.email, s.name, s.status, s.created_at, s.reply_id, c.email AS referred_by,
                    c.hospital AS referrer_hospital
             FROM suggested_contacts s LEFT JOIN contacts c ON c.id = s.referred_by"""
    params: list[Any] = []
    if status:
        sql += " WHERE s.status = ?"
        params.append(status)
    return list(db.query(sql + " ORDER BY s.created_at, s.id", params))


def add_suggested(db: Database, email: str, *, tags: Iterable[str] = ()) -> dict[str, Any]:
    """Turn a suggestion into a contact, recording who referred them. Returns the contact row."""
    from .contacts import add_tags, get_contact

    email = normalise_email(email)
    rows = list(
        db.query(
            """SELECT s.*, c.hospital, c.city, c.state, c.specialty, c.email AS referrer_email
               FROM suggested_contacts s LEFT JOIN contacts c ON c.id = s.referred_by
               WHERE lower(s.email) = lower(?) ORDER BY s.status = 'suggested' DESC, s.id DESC""",
            [email],
        )
    )
    if not rows:
        raise NotFoundError(f"{email} is not among the suggested contacts: see `outreach replies list`")
    suggestion = rows[0]
    now = utc_now()
    with db.atomic():
        existing = get_contact(db, email)
        if existing:
            contact_id = existing["id"]
            if not existing.get("referred_by"):
                db.table("contacts").update(contact_id, {"referred_by": suggestion["referred_by"], "updated_at": now})
        else:
            title, first, last = _split_name(suggestion["name"])
            row: dict[str, Any] = {
                "email": email, "title": title, "first_name": first, "last_name": last,
                "referred_by": suggestion["referred_by"], "source": f"suggested by {suggestion['referrer_email']}",
                "status": "active", "stage": "new", "created_at": now, "updated_at": now,
            }
            if suggestion["referrer_email"] and email.split("@")[1] == suggestion["referrer_email"].split("@")[1]:
                row.update({k: suggestion[k] for k in ("hospital", "city", "state")})  # same institution
            contact_id = db.table("contacts").insert(row).last_pk
        add_tags(db, contact_id, tags)
        db.execute("UPDATE suggested_contacts SET status = 'added' WHERE lower(email) = lower(?)", [email])
        record_event(db, "added_from_suggestion", contact_id=contact_id, referred_by=suggestion["referred_by"],
                     reply_id=suggestion["reply_id"])
    return get_contact(db, email) or {}


def dismiss_suggested(db: Database, email: str) -> int:
    """Hide a suggestion from `replies list`. Returns how many referrals were dismissed."""
    with db.atomic():
        cursor = db.execute(
            "UPDATE suggested_contacts SET status = 'dismissed' WHERE lower(email) = lower(?) AND status = 'suggested'",
            [email.strip()],
        )
    if cursor.rowcount == 0:
        raise NotFoundError(f"{email} is not among the open suggestions: see `outreach replies list`")
    return cursor.rowcount


def _split_name(name: str | None) -> tuple[str | None, str | None, str | None]:
    """"Dr. Maria Lopez" -> ("Dr.", "Maria", "Lopez")."""
    words = (name or "").replace(",", " ").split()
    title = None
    if words and words[0].rstrip(".").lower() in ("dr", "prof", "mr", "mrs", "ms"):
        title = words.pop(0)
        title = title if title.endswith(".") else title + "."
    if not words:
        return title, None, None
    if len(words) == 1:
        return title, words[0], None
    return title, " ".join(words[:-1]), words[-1]
