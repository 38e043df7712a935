"""The durable outbox: each message a row whose committed state always tells the truth.

Every message moves through committed states, so a kill -9 at any instant leaves a truthful db:

    (a) commit  state=sending, sending_at, attempts+1       -- before the SMTP transaction
    (b) SMTP    MAIL FROM, RCPT TO, DATA                     -- run.py, mail/smtp.py
    (c) commit  state=sent | failed | deferred | uncertain   -- right after the server's reply

When the next message may go at once, its (a) shares one commit with this message's (c)
(`finish_within(next_message=...)`), written and committed while the server answers the next
MAIL FROM and RCPT TO (sending/next_turn.py), before its DATA: the same guarantees.

A row found in `sending` by a later run died between (a) and (c): the server may or may not have
the message. It becomes `uncertain` and is never resent blindly; it is resolved from the Sent
folder over IMAP when the provider files sent mail there, or by the user's explicit decision.

Before each send the contact is read again (`contact_check`): the selection froze when the
campaign started, but people reply, opt out, bounce or go away meanwhile.

This module is the only one that changes a row of `messages`: the send run, campaigns, reply
processing and follow-ups call it. It imports no other sending module, so all of them may use it.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from outreach.config import Settings
from outreach.contacts.store import add_suppression, back_at, do_not_contact_reason, mark_contacted, set_contact_state
from outreach.db import Database, parse_utc, record_event, utc_now
from outreach.errors import OutreachError
from outreach.sending.pacing import SentRecord

PENDING_STATES = ("queued", "deferred")
"""States of a message that has not been handed to the server yet (and may still be cancelled)."""


@dataclass(slots=True)
class QueuedMessage:
    """One message of the outbox as the send run carries it: the row's columns it needs, kept
    in step with each committed state change, plus what this run learnt about it."""

    id: int
    kind: str
    campaign_id: int | None
    contact_id: int | None
    to_address: str
    to_domain: str | None
    message_id: str
    state: str
    subject: str | None = None
    account: str | None = None
    attempts: int = 0
    next_attempt_at: str | None = None
    eml_path: str | None = None
    queued_at: str | None = None
    contact_state: str | None = None  # the contact's US state (for the send window), not the message's
    prev_state: str | None = None  # the state before this run marked it `sending`
    premarked: bool = False  # marked `sending` together with the previous message's outcome
    tries_this_run: int = 0

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> QueuedMessage:
        return cls(**{f.name: row[f.name] for f in fields(cls) if f.name in row})


# --- locking and recovery ------------------------------------------------------------------------


@contextmanager
def send_lock(db_path: Path) -> Iterator[None]:
    """One sending process per database: a second `send` would race the first for the outbox.
    The kernel drops the lock when the process dies, so a kill -9 never leaves it stuck. Keyed on
    the database's real path, so a symlink or a relative path names the same lock."""
    path = Path(os.path.realpath(db_path) + ".send-lock")
    with open(path, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise OutreachError(f"another `outreach campaign send` is running on {db_path}; wait for it to finish") from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def recover_interrupted(db: Database) -> int:
    """Rows left in `sending` by a process that died mid-message become `uncertain`.
    Call only while holding `send_lock` (no other process is sending)."""
    now = utc_now()
    with db.atomic():
        rows = db.execute("SELECT id, campaign_id, contact_id FROM messages WHERE state = 'sending'").fetchall()
        for message_id, campaign_id, contact_id in rows:
            db.execute(
                "UPDATE messages SET state = 'uncertain', error = ?, updated_at = ? WHERE id = ?",
                ["the sending process stopped after handing this message to the server and before recording the reply", now, message_id],
            )
            record_event(db, "uncertain", campaign_id=campaign_id, contact_id=contact_id, message_id=message_id)
    return len(rows)


# --- uncertain messages --------------------------------------------------------------------------


def uncertain_messages(db: Database, campaign_id: int | None = None) -> list[dict[str, Any]]:
    sql = "SELECT id, to_address, subject, message_id, sending_at, error, eml_path FROM messages WHERE state = 'uncertain'"
    params: list[Any] = []
    if campaign_id is not None:
        sql += " AND campaign_id = ?"
        params.append(campaign_id)
    return list(db.query(sql + " ORDER BY id", params))


def resolve_uncertain(
    db: Database, campaign_id: int, *, action: str, message_ids: Iterable[str] | None = None, how: str = "by you"
) -> int:
    """Decide what happened to uncertain messages: action `sent` (it went) or `resend` (queue it).

    `message_ids` (RFC Message-IDs) narrows it down; by default every uncertain message of the
    campaign. Returns how many changed.
    """
    if action not in ("sent", "resend"):
        raise ValueError(action)
    wanted = set(message_ids) if message_ids is not None else None
    changed = 0
    now = utc_now()
    with db.atomic():
        for row in uncertain_messages(db, campaign_id):
            if wanted is not None and row["message_id"] not in wanted:
                continue
            if action == "sent":
                db.execute(
                    "UPDATE messages SET state = 'sent', sent_at = coalesce(sending_at, ?), smtp_response = ?, updated_at = ? WHERE id = ?",
                    [now, f"marked sent {how}", now, row["id"]],
                )
                mark_contacted(db, row["id"], now)
            else:
                db.execute(
                    "UPDATE messages SET state = 'queued', next_attempt_at = NULL, error = NULL, updated_at = ? WHERE id = ?",
                    [now, row["id"]],
                )
            record_event(db, "uncertain_resolved", campaign_id=campaign_id, message_id=row["id"], action=action, how=how)
            changed += 1
    return changed


def sent_folder_is_reliable(settings: Settings) -> bool:
    """The Sent folder proves a send only where the provider files SMTP-sent mail there itself."""
    return bool(settings.imap.host) and settings.preset.saves_sent_copy


def resolve_from_sent_folder(db: Database, settings: Settings, campaign_id: int) -> tuple[int, str | None]:
    """Uncertain messages whose Message-ID is in Sent were sent. Returns (resolved, warning)."""
    pending = uncertain_messages(db, campaign_id)
    if not pending or not sent_folder_is_reliable(settings):
        return 0, None
    try:
        from outreach.mail.imap_folders import find_in_sent  # lazy: the send path needs no IMAP client

        found = find_in_sent(settings, [row["message_id"] for row in pending])
    except OutreachError as error:
        return 0, f"could not check the Sent folder for {len(pending)} uncertain message(s): {error}"
    if not found:
        return 0, None
    return resolve_uncertain(db, campaign_id, action="sent", message_ids=found, how="found in the Sent folder"), None


# --- what the account has done lately --------------------------------------------------------------


def account_pause(db: Database, account: str, now: datetime) -> tuple[datetime, str] | None:
    """(until, reason) while the provider's daily quota for this account is exhausted."""
    row = db.execute(
        "SELECT detail FROM events WHERE kind = 'account_paused' AND json_extract(detail, '$.account') = ? ORDER BY id DESC LIMIT 1",
        [account],
    ).fetchone()
    if not row:
        return None
    detail = json.loads(row[0])
    until = parse_utc(detail.get("until"))
    return (until, detail.get("reason", "")) if until and until > now else None


def pacing_history(db: Database, account: str, now: datetime) -> list[SentRecord]:
    """Every message from this account in the last 24 h, all campaigns: caps are per account.

    One rule, here and in a run (`sender.Run._record`): a message counts once the server took it or
    refused it for good (5xx on RCPT or DATA) - the provider counts that attempt too. A 4xx
    refusal or a message the server never saw doesn't count (it is retried, and counts then)."""
    since = utc_now(now - timedelta(hours=24))
    rows = db.execute(
        """SELECT coalesce(sent_at, sending_at), to_domain FROM messages
           WHERE account = ? AND (state IN ('sent', 'sending', 'uncertain', 'bounced')
                                  OR (state = 'failed' AND smtp_code >= 500))
             AND coalesce(sent_at, sending_at) >= ?""",
        [account, since],
    ).fetchall()
    return [SentRecord(when, domain or "") for at, domain in rows if (when := parse_utc(at)) is not None]


# --- new messages ----------------------------------------------------------------------------------


def queue_messages(db: Database, rows: list[dict[str, Any]]) -> None:
    """Add messages in state `queued`; call inside the caller's transaction (e.g. a campaign's freeze)."""
    if rows:
        db.insert_rows("messages", [{**row, "state": "queued"} for row in rows])


def queue_one(db: Database, row: dict[str, Any]) -> QueuedMessage:
    """One new queued message, committed (e.g. a test send)."""
    with db.atomic():
        message_id = db.insert_rows("messages", [{**row, "state": "queued"}])
    return QueuedMessage.from_row({**row, "id": message_id, "state": "queued"})


def due_messages(db: Database, campaign_id: int) -> list[QueuedMessage]:
    """The campaign's outbox in order: queued and deferred messages with the contact's US state."""
    rows = db.query(
        """SELECT m.*, c.state AS contact_state FROM messages m LEFT JOIN contacts c ON c.id = m.contact_id
           WHERE m.campaign_id = ? AND m.kind != 'test' AND m.state IN ('queued', 'deferred') ORDER BY m.id""",
        [campaign_id],
    )
    return [QueuedMessage.from_row(row) for row in rows]


# --- the state changes of one message (a) and (c) -------------------------------------------------

_MARK_SQL = ("UPDATE messages SET state = 'sending', sending_at = ?, attempts = attempts + 1, updated_at = ? "
             "WHERE id = ? AND state IN ('queued', 'deferred')")


def mark(db: Database, message: QueuedMessage, at: str) -> bool:
    """Step (a) without its own transaction; True if this process took the message."""
    taken = db.execute(_MARK_SQL, [at, at, message.id]).rowcount == 1
    if taken:
        message.prev_state, message.state = message.state, "sending"
        message.attempts += 1
    return taken


def mark_sending(db: Database, message: QueuedMessage, at: str) -> bool:
    """Step (a), committed."""
    with db.atomic():
        return mark(db, message, at)


def unmark(db: Database, message: QueuedMessage) -> None:
    """A message marked `sending` ahead of time that never reached the server goes back."""
    with db.atomic():
        db.execute(
            "UPDATE messages SET state = ?, attempts = attempts - 1 WHERE id = ? AND state = 'sending'",
            [message.prev_state, message.id],
        )
    message.state, message.premarked = message.prev_state or "queued", False
    message.attempts -= 1


def finish(db: Database, message: QueuedMessage, state: str, event: str, *, at: str,
           next_message: QueuedMessage | None = None, **changes: Any) -> None:
    """Step (c): the outcome, the contact's stage and the audit event, committed together. With
    `next_message` (when it may go at once), its step (a) too: one commit per message, not two."""
    with db.atomic():
        finish_within(db, message, state, event, at=at, next_message=next_message, **changes)


def finish_within(db: Database, message: QueuedMessage, state: str, event: str, *, at: str,
                  next_message: QueuedMessage | None = None, **changes: Any) -> None:
    """`finish`'s statements (plain SQL: most of the outbox's cost per message) in a transaction
    the caller opened and commits (the send run, a turn of the event loop later: next_turn.py)."""
    changes.update(state=state, updated_at=at)
    message.state, message.premarked = state, False  # a retry must be marked `sending` again
    columns = list(changes)
    db.execute(
        f"UPDATE messages SET {', '.join(f'[{c}] = ?' for c in columns)} WHERE id = ?",
        [changes[c] for c in columns] + [message.id],
    )
    if state == "sent":
        mark_contacted(db, message.id, at)
    if event == "hard_bounce":
        add_suppression(db, message.to_address, reason=f"hard bounce: {changes.get('smtp_response')}", source="bounce")
        if message.contact_id:
            set_contact_state(db, message.contact_id, event="bounced", status="bounced")
    record_event(db, event, contact_id=message.contact_id, campaign_id=message.campaign_id,
                 message_id=message.id, at=at, to=message.to_address, response=changes.get("smtp_response"))
    if next_message is not None:
        next_message.premarked = mark(db, next_message, at)


def record_sent_copy(db: Database, message: QueuedMessage) -> None:
    """The message's copy is in the IMAP Sent folder."""
    db.execute("UPDATE messages SET sent_copy_saved = 1 WHERE id = ?", [message.id])  # commits at once


def cancel_unsent(db: Database, message: QueuedMessage) -> None:
    """A message that could not be handed over at all (e.g. a test whose login failed)."""
    with db.atomic():
        db.execute("UPDATE messages SET state = 'cancelled', updated_at = ? WHERE id = ?", [utc_now(), message.id])
    message.state = "cancelled"


# --- the contact, right before each send -----------------------------------------------------------


def contact_check(db: Database, message: QueuedMessage, now: datetime, *, default_timezone: str) -> tuple[str, Any] | None:
    """Why this message must not go now, from the contact as it is *now* (the selection froze
    earlier): ("hold", until) while they are away, ("drop", reason) once they are suppressed,
    bounced, opted out or replied after the message was queued; None when it may go."""
    if not message.contact_id:
        return None
    contact = db.execute(
        "SELECT status, away_until, stage, replied_at, state FROM contacts WHERE id = ?", [message.contact_id]
    ).fetchone()
    if contact is None:
        return ("drop", "the contact was deleted after the campaign started")
    status, away_until, stage, replied_at, us_state = contact
    if reason := do_not_contact_reason(db, message.to_address, status):
        return ("drop", reason)
    if stage == "replied" and replied_at and replied_at >= (message.queued_at or ""):
        return ("drop", "replied after the campaign started")
    if status == "away":
        until = back_at(away_until, us_state, default_timezone=default_timezone)
        if until is None or until > now:
            return ("hold", until)
    return None


def hold(db: Database, campaign_id: int, message: QueuedMessage, until: datetime | None, *, at: str) -> None:
    """The contact is away: the message stays queued, due again when they are back."""
    stamp = utc_now(until) if until else None
    if stamp == message.next_attempt_at:
        return
    message.next_attempt_at = stamp
    with db.atomic():
        db.execute("UPDATE messages SET next_attempt_at = ?, updated_at = ? WHERE id = ?", [stamp, at, message.id])
        record_event(db, "held_away", campaign_id=campaign_id, contact_id=message.contact_id, message_id=message.id, until=stamp)


def cancel(db: Database, campaign_id: int, message: QueuedMessage, reason: str, *, at: str) -> None:
    """The contact must not be written to any more: the message is cancelled and the contact
    shown among the campaign's skipped contacts, with the reason."""
    with db.atomic():
        db.execute("UPDATE messages SET state = 'cancelled', error = ?, updated_at = ? WHERE id = ? AND state IN ('queued', 'deferred')",
                   [f"not sent: {reason}", at, message.id])
        db.execute("UPDATE campaign_contacts SET included = 0, skip_reason = ? WHERE campaign_id = ? AND contact_id = ?",
                   [f"{reason} (not sent)", campaign_id, message.contact_id])
        record_event(db, "skipped", campaign_id=campaign_id, contact_id=message.contact_id, message_id=message.id, reason=reason)
    message.state = "cancelled"


# --- what replies change ---------------------------------------------------------------------------


def mark_bounced(db: Database, message_row_id: int, *, at: str) -> None:
    """A bounce came back for a sent message; call inside the caller's transaction."""
    db.execute("UPDATE messages SET state = 'bounced', updated_at = ? WHERE id = ?", [at, message_row_id])


def cancel_pending(db: Database, message_row_id: int, *, at: str) -> None:
    """A follow-up not handed over yet is no longer wanted; call inside the caller's transaction."""
    db.execute("UPDATE messages SET state = 'cancelled', updated_at = ? WHERE id = ?", [at, message_row_id])


def hold_pending(db: Database, message_row_id: int, until: str, *, at: str) -> None:
    """A follow-up waits until `until` (the contact is away); never moved earlier.
    Call inside the caller's transaction."""
    db.execute(
        "UPDATE messages SET next_attempt_at = ?, updated_at = ? WHERE id = ? AND (next_attempt_at IS NULL OR next_attempt_at < ?)",
        [until, at, message_row_id, until],
    )


# --- follow-ups drafted for review (outreach/followups) -------------------------------------------


def add_followup(db: Database, row: dict[str, Any]) -> int | None:
    """A follow-up's row, `queued` to send or `drafted` for review, in the caller's transaction (with
    its event); None when its step already has a message (one per campaign, contact and step, ever)."""
    cursor = db.execute(f"INSERT OR IGNORE INTO messages ({', '.join(f'[{c}]' for c in row)}) VALUES ({', '.join('?' * len(row))})",
                        list(row.values()))
    return cursor.lastrowid if cursor.rowcount == 1 else None


def draft_sent(db: Database, message_row_id: int, *, sent_at: str, message_id: str, at: str, how: str) -> bool:
    """A drafted follow-up found in Sent went (with the Message-ID it went with), whatever we thought
    meanwhile (cancelled when they answered before the poll saw it); the caller's transaction."""
    changed = db.execute("UPDATE messages SET state = 'sent', sent_at = ?, message_id = ?, error = NULL, smtp_response = ?, "
                         "updated_at = ? WHERE id = ? AND state IN ('drafted', 'cancelled')",
                         [sent_at, message_id, how, at, message_row_id]).rowcount == 1
    if changed:
        mark_contacted(db, message_row_id, at)
    return changed
