"""The replies table: store a matched reply together with every state change it implies (in the
caller's transaction), and read stored replies back for `replies list`.

A human reply marks the contact replied; an opt-out suppresses them for good; a hard bounce
(or the third soft one) suppresses the address and marks the message bounced; an out-of-office
marks the contact away and holds follow-ups until the return date. Any answer stops every
follow-up still waiting to go to that contact.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Protocol

from outreach.config import Settings, bare_address
from outreach.contacts.store import InvalidEmail, add_suppression, back_at, set_contact_state
from outreach.db import Database, parse_utc, record_event, utc_now
from outreach.replies.introductions import capture_introduction
from outreach.replies.suggestions import suggest_contacts
from outreach.sending import outbox
from outreach.sending.campaigns import get_campaign

if TYPE_CHECKING:
    from outreach.classify.classifier import Classification

SOFT_BOUNCE_LIMIT = 3
SNIPPET_LENGTH = 100
MAX_STORED_TEXT = 100_000  # characters of a reply's own text kept in the db; a 30 MB reply is not a letter
PENDING_STATES = ("queued", "drafted", "deferred")


class Headers(Protocol):
    def get(self, name: str, default: str | None = None) -> str | None: ...
    def get_all(self, name: str, default: list[str] | None = None) -> list[str] | None: ...


@dataclass
class MatchedReply:
    """One message matched to the message of ours it answers, classified, not yet stored."""

    uid: int
    header: Headers
    internaldate: datetime | None
    sent: dict[str, Any]  # the messages row it answers
    kind: str
    classification: Classification
    from_address: str
    unmatched_reason: str | None = None  # set: `sent` is only the message it names; change nobody


@dataclass(frozen=True)
class Mailbox:
    """Where a reply was read: stored with it so a rescan recognises it."""

    account: str
    folder: str
    uidvalidity: int


@lru_cache(maxsize=8)
def own_addresses(settings: Settings) -> frozenset[str]:
    """Our addresses: mail from them is ours, never a reply; never suggested as contacts."""
    found = {settings.imap.username or "", settings.smtp.username or "", bare_address(settings.from_address) or ""}
    return frozenset(a.lower() for a in found if a)


def written_at(header: Headers, internaldate: datetime | None) -> datetime:
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


def store_reply(
    db: Database, settings: Settings, reply: MatchedReply, mailbox: Mailbox, now: datetime
) -> dict[str, Any] | None:
    """Insert the reply and apply its state changes; call inside a transaction.
    Returns a summary, or None when this message was already stored (a resync)."""
    rfc_id = (reply.header.get("Message-ID") or "").strip() or None
    received = written_at(reply.header, reply.internaldate)
    from outreach.classify.reply_text import readable  # lazy: start-up time (a poll with nothing new stores nothing)

    subject = readable(reply.header.get("Subject"))
    if _already_stored(db, rfc_id, reply.from_address, subject, received):
        return None
    if reply.unmatched_reason:
        return _store_unmatched(db, settings, reply, mailbox, rfc_id, subject, received, now)
    sent = reply.sent
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
        **_columns(reply, mailbox, rfc_id, subject, received),
        "seconds_to_reply": seconds,
        "created_at": utc_now(now),
    }
    reply_id = _insert(db, row)
    record_event(
        db, "reply_received", contact_id=row["contact_id"], campaign_id=row["campaign_id"], message_id=sent["id"],
        at=utc_now(now), reply_id=reply_id, reply_kind=reply.kind, folder=mailbox.folder,
    )
    effects = _apply(db, settings, reply, row, reply_id, contact, now)
    campaign = db.execute("SELECT name FROM campaigns WHERE id = ?", [row["campaign_id"]]).fetchone()
    return {**row, "id": reply_id, "campaign": campaign[0] if campaign else None, "contact_email": contact["email"] if contact else sent["to_address"], "effects": effects}


def _columns(reply: MatchedReply, mailbox: Mailbox, rfc_id: str | None, subject: str, received: datetime) -> dict[str, Any]:
    """The replies columns that describe the message itself, matched or not."""
    cls = reply.classification
    return {
        "account": mailbox.account,
        "folder": mailbox.folder,
        "uidvalidity": mailbox.uidvalidity,
        "uid": reply.uid,
        "rfc_message_id": rfc_id,
        "from_address": reply.from_address,
        "subject": subject,
        "received_at": utc_now(received),
        "kind": reply.kind,
        "bounce_type": (cls.bounce_type or "soft") if reply.kind == "bounce" else None,
        "bounced_addresses": json.dumps(list(cls.bounced_addresses or [])),
        "return_date": cls.return_date.isoformat() if reply.kind == "auto_reply" and cls.return_date else None,
        "body_text": bounded_text(cls.own_text),
        "snippet": snippet((cls.own_text or "")[: SNIPPET_LENGTH * 4]),
        "rule": cls.rule or None,
        "evidence": cls.evidence or None,
        "suggested_outcome": cls.suggested_outcome,
        "suppress_domain": cls.suppress_domain,
    }


def _insert(db: Database, row: dict[str, Any]) -> int:
    columns = ", ".join(f"[{name}]" for name in row)
    rowid = db.execute(f"INSERT INTO replies ({columns}) VALUES ({', '.join('?' * len(row))})", list(row.values())).lastrowid
    assert rowid is not None  # an INSERT always sets it
    return rowid


def bounded_text(text: str | None, limit: int = MAX_STORED_TEXT) -> str | None:
    """At most `limit` characters of a reply's text, saying so when it was cut."""
    if text is None or len(text) <= limit:
        return text
    return text[:limit] + f"\n\n[outreach kept the first {limit:,} of {len(text):,} characters of this reply]"


def _store_unmatched(
    db: Database, settings: Settings, reply: MatchedReply, mailbox: Mailbox, rfc_id: str | None, subject: str,
    received: datetime, now: datetime,
) -> dict[str, Any]:
    """Keep mail that names our message but is not about its contact, changing nobody's state
    but the writer's own: their request to stop is honoured for their address, and a human
    writer is offered as a suggested contact (referred by the contact whose thread they joined)."""
    at, claimed = utc_now(now), reply.sent
    row = {
        "message_id": None, "contact_id": None, "campaign_id": None, "claimed_message_id": claimed["id"],
        "unmatched_reason": reply.unmatched_reason, **_columns(reply, mailbox, rfc_id, subject, received),
        "seconds_to_reply": None, "created_at": at,
    }
    reply_id = _insert(db, row)
    record_event(db, "reply_unmatched", message_id=claimed["id"], at=at, reply_id=reply_id, reply_kind=reply.kind,
                 from_address=reply.from_address, reason=reply.unmatched_reason)
    effects: list[str] = []
    own = own_addresses(settings)
    if reply.kind == "unsubscribe" and reply.from_address and reply.from_address not in own:
        if _suppress(db, reply.from_address, reason=f"asked to stop in reply {reply_id}", source="unsubscribe"):
            effects.append(f"suppressed {reply.from_address}")
    elif reply.kind == "human_reply" and reply.from_address:
        referrer = _contact_for(db, claimed)
        if referrer is not None:
            added = suggest_contacts(db, recipients=reply.header.get_all("From") or [], text=reply.from_address, excluded=set(own),
                                     referrer_id=referrer["id"], reply_id=reply_id, at=at)
            effects += [f"suggested {a}" for a in added]
    return {**row, "id": reply_id, "campaign": None, "contact_email": None, "effects": effects}


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
    db: Database, settings: Settings, reply: MatchedReply, row: dict[str, Any], reply_id: int,
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
        set_contact_state(db, contact["id"], event="opted_out" if kind == "unsubscribe" else "replied", at=at, **changes)
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
            set_contact_state(db, contact["id"], event="away", at=at, away_until=until.isoformat(), status="away")
            effects.append(f"away until {until.isoformat()}")
        back = back_at(until.isoformat(), contact.get("state"), default_timezone=settings.timezone)  # a date: never None
        held = _hold_followups(db, contact, back, at, reply_id) if back is not None else 0
        if held:
            effects.append(f"{held} follow-up(s) held until {until.isoformat()}")
    if contact and (kind in ("human_reply", "unsubscribe") or "bounced" in effects):
        cancelled = _cancel_followups(db, contact, at, reply_id, kind)
        if cancelled:
            effects.append(f"{cancelled} pending follow-up(s) cancelled")
    if kind == "human_reply" and contact:
        header = reply.header
        effects += capture_introduction(db, header=header, text=reply.classification.own_text or "", alumnus=contact,
                                        own=set(own_addresses(settings)), reply_id=reply_id, received_at=row["received_at"], at=at)
        added = suggest_contacts(
            db, recipients=(header.get_all("Cc") or []) + (header.get_all("To") or []),
            text=reply.classification.own_text or "",
            excluded=set(own_addresses(settings)) | {reply.from_address, contact["email"].lower()},
            referrer_id=contact["id"], reply_id=reply_id, at=at,
        )
        if added:
            effects.append("suggested " + ", ".join(added))
    return effects


def _suppress(db: Database, address: str, *, reason: str, source: str) -> bool:
    try:
        return add_suppression(db, address, reason=reason, source=source)
    except InvalidEmail:
        return False


def _apply_bounce(
    db: Database, reply: MatchedReply, row: dict[str, Any], reply_id: int, contact: dict[str, Any] | None, at: str
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
        record_event(db, "soft_bounce", contact_id=row["contact_id"], campaign_id=row["campaign_id"],
                     message_id=sent["id"], at=at, reply_id=reply_id, count=soft_count)
        if soft_count < SOFT_BOUNCE_LIMIT:
            return [f"soft bounce {soft_count} of {SOFT_BOUNCE_LIMIT}"]
    reason = f"bounced ({'hard' if hard else f'{SOFT_BOUNCE_LIMIT} soft bounces'}), reply {reply_id}"
    effects = []
    if _suppress(db, address, reason=reason, source="bounce"):
        effects.append(f"suppressed {address}")
    if sent["state"] != "bounced":
        outbox.mark_bounced(db, sent["id"], at=at)
        record_event(db, "bounced", contact_id=row["contact_id"], campaign_id=row["campaign_id"],
                     message_id=sent["id"], at=at, reply_id=reply_id, bounce_type=row["bounce_type"])
    if contact and contact["status"] != "opted_out":
        set_contact_state(db, contact["id"], event="contact_bounced", at=at, status="bounced")
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
        outbox.cancel_pending(db, message_id, at=at)
        record_event(db, "followup_cancelled", contact_id=contact["id"], message_id=message_id, at=at, reply_id=reply_id, reason=why)
    return len(ids)


def _hold_followups(db: Database, contact: dict[str, Any], until: datetime, at: str, reply_id: int) -> int:
    """An out-of-office holds follow-ups until the contact is back instead of cancelling them
    (the same instant the outbox's re-check before each send uses)."""
    hold = utc_now(until)
    ids = _pending_followups(db, contact)
    for message_id in ids:
        outbox.hold_pending(db, message_id, hold, at=at)
        record_event(db, "followup_held", contact_id=contact["id"], message_id=message_id, at=at, reply_id=reply_id, until=hold)
    return len(ids)


def list_replies(
    db: Database, *, campaign: str | None = None, kind: str | None = None, since: datetime | None = None
) -> list[dict[str, Any]]:
    """Stored replies, newest first, with the contact's address and the campaign's name."""
    clauses, params = [], []
    if campaign:
        clauses.append("r.campaign_id = ?")
        params.append(get_campaign(db, campaign)["id"])
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
                       r.subject, r.snippet, r.seconds_to_reply, r.folder, r.unmatched_reason,
                       r.rule, r.evidence, r.suggested_outcome, r.suppress_domain
                FROM replies r
                LEFT JOIN contacts c ON c.id = r.contact_id
                LEFT JOIN messages m ON m.id = r.message_id
                LEFT JOIN campaigns ca ON ca.id = r.campaign_id
                {where} ORDER BY r.received_at DESC, r.id DESC""",
            params,
        )
    )
