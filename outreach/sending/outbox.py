"""The durable outbox: each message a row whose committed state always tells the truth.

Every message moves through committed states, so a kill -9 at any instant leaves a truthful db:

    (a) commit  state=sending, sending_at, attempts+1       -- before the SMTP transaction
    (b) SMTP    MAIL FROM, RCPT TO, DATA                     -- sender.py
    (c) commit  state=sent | failed | deferred | uncertain   -- right after the server's reply

When the next message may go at once, its (a) shares one commit with this message's (c) (see
`finish(next_row=...)`), made by the sender while the next MAIL FROM is on the wire and before
its DATA: the same guarantees, one commit fewer.

A row found in `sending` by a later run died between (a) and (c): the server may or may not have
the message. It becomes `uncertain` and is never resent blindly; it is resolved from the Sent
folder over IMAP when the provider files sent mail there, or by the user's explicit decision.

Before each send the contact is read again (`contact_check`): the selection froze when the
campaign started, but people reply, opt out, bounce or go away meanwhile.
"""

from __future__ import annotations

import fcntl
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from outreach.sending import campaigns
from outreach.config import Settings
from outreach.contacts.store import add_suppression, back_at, do_not_contact_reason, set_contact_state
from outreach.db import parse_utc, record_event, utc_now
from outreach.errors import OutreachError
from outreach.sending.pacing import SentRecord

TEST_HOOK_ENV = "OUTREACH_TEST_SEND_DELAY"
"""Test-only: seconds to sleep at each step of the state machine, so a crash test can kill the
process inside any step. Never set it outside tests."""


def step_pause() -> None:
    """Test-only pause between the steps of the state machine (see TEST_HOOK_ENV)."""
    import os

    delay = os.environ.get(TEST_HOOK_ENV)
    if delay:
        time.sleep(float(delay))


# --- locking and recovery ------------------------------------------------------------------------


@contextmanager
def send_lock(db_path: Path) -> Iterator[None]:
    """One sending process per database: a second `send` would race the first for the outbox.
    The kernel drops the lock when the process dies, so a kill -9 never leaves it stuck."""
    path = Path(str(db_path) + ".send-lock")
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


def sent_folder_is_reliable(settings: Settings) -> bool:
    """The Sent folder proves a send only where the provider files SMTP-sent mail there itself."""
    return bool(settings.imap.host) and settings.preset.saves_sent_copy


def resolve_from_sent_folder(db: Database, settings: Settings, campaign_id: int) -> tuple[int, str | None]:
    """Uncertain messages whose Message-ID is in Sent were sent. Returns (resolved, warning)."""
    pending = campaigns.uncertain_messages(db, campaign_id)
    if not pending or not sent_folder_is_reliable(settings):
        return 0, None
    from outreach.mail.imap import find_in_sent

    try:
        found = find_in_sent(settings, [row["message_id"] for row in pending])
    except OutreachError as error:
        return 0, f"could not check the Sent folder for {len(pending)} uncertain message(s): {error}"
    if not found:
        return 0, None
    return campaigns.resolve_uncertain(db, campaign_id, action="sent", message_ids=found, how="found in the Sent folder"), None


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
    return [SentRecord(parse_utc(at), domain or "") for at, domain in rows]


# --- the state changes of one message (a) and (c) -------------------------------------------------

_MARK_SQL = ("UPDATE messages SET state = 'sending', sending_at = ?, attempts = attempts + 1, updated_at = ? "
             "WHERE id = ? AND state IN ('queued', 'deferred')")


def mark(db: Database, row: dict[str, Any], at: str) -> bool:
    """Step (a) without its own transaction; True if this process took the message."""
    taken = db.execute(_MARK_SQL, [at, at, row["id"]]).rowcount == 1
    if taken:
        row["prev_state"], row["state"] = row["state"], "sending"
        row["attempts"] = row.get("attempts", 0) + 1
    return taken


def mark_sending(db: Database, row: dict[str, Any], at: str) -> bool:
    """Step (a), committed."""
    with db.atomic():
        return mark(db, row, at)


def unmark(db: Database, row: dict[str, Any]) -> None:
    """A message marked `sending` ahead of time that never reached the server goes back."""
    with db.atomic():
        db.execute(
            "UPDATE messages SET state = ?, attempts = attempts - 1 WHERE id = ? AND state = 'sending'",
            [row["prev_state"], row["id"]],
        )
    row["state"], row["premarked"] = row["prev_state"], False
    row["attempts"] -= 1


def finish(db: Database, row: dict[str, Any], state: str, event: str, *, at: str,
           next_row: dict[str, Any] | None = None, **changes: Any) -> None:
    """Step (c): the outcome, the contact's stage and the audit event, committed together.
    Plain SQL: this runs once per message and is most of the outbox's overhead.

    `next_row`, when the next message may go at once, gets its step (a) in the same commit:
    still committed after this message's reply and before the next one's SMTP transaction,
    one commit fewer per message."""
    changes.update(state=state, updated_at=at)
    row["state"] = state
    columns = list(changes)
    with db.atomic():
        db.execute(
            f"UPDATE messages SET {', '.join(f'[{c}] = ?' for c in columns)} WHERE id = ?",
            [changes[c] for c in columns] + [row["id"]],
        )
        if state == "sent":
            campaigns.mark_contacted(db, row["id"], at)
        if event == "hard_bounce":
            add_suppression(db, row["to_address"], reason=f"hard bounce: {changes.get('smtp_response')}", source="bounce")
            if row.get("contact_id"):
                set_contact_state(db, row["contact_id"], event="bounced", status="bounced")
        record_event(db, event, contact_id=row.get("contact_id"), campaign_id=row.get("campaign_id"),
                     message_id=row["id"], at=at, to=row["to_address"], response=changes.get("smtp_response"))
        if next_row is not None:
            next_row["premarked"] = mark(db, next_row, at)


# --- the contact, right before each send -----------------------------------------------------------


def contact_check(db: Database, row: dict[str, Any], now: datetime, *, default_timezone: str) -> tuple[str, Any] | None:
    """Why this message must not go now, from the contact as it is *now* (the selection froze
    earlier): ("hold", until) while they are away, ("drop", reason) once they are suppressed,
    bounced, opted out or replied after the message was queued; None when it may go."""
    if not row.get("contact_id"):
        return None
    contact = db.execute(
        "SELECT status, away_until, stage, replied_at, state FROM contacts WHERE id = ?", [row["contact_id"]]
    ).fetchone()
    if contact is None:
        return ("drop", "the contact was deleted after the campaign started")
    status, away_until, stage, replied_at, us_state = contact
    if reason := do_not_contact_reason(db, row["to_address"], status):
        return ("drop", reason)
    if stage == "replied" and replied_at and replied_at >= (row.get("queued_at") or ""):
        return ("drop", "replied after the campaign started")
    if status == "away":
        until = back_at(away_until, us_state, default_timezone=default_timezone)
        if until is None or until > now:
            return ("hold", until)
    return None


def hold(db: Database, campaign_id: int, row: dict[str, Any], until: datetime | None, *, at: str) -> None:
    """The contact is away: the message stays queued, due again when they are back."""
    stamp = utc_now(until) if until else None
    if stamp == row.get("next_attempt_at"):
        return
    row["next_attempt_at"] = stamp
    with db.atomic():
        db.execute("UPDATE messages SET next_attempt_at = ?, updated_at = ? WHERE id = ?", [stamp, at, row["id"]])
        record_event(db, "held_away", campaign_id=campaign_id, contact_id=row["contact_id"], message_id=row["id"], until=stamp)


def cancel(db: Database, campaign_id: int, row: dict[str, Any], reason: str, *, at: str) -> None:
    """The contact must not be written to any more: the message is cancelled and the contact
    shown among the campaign's skipped contacts, with the reason."""
    with db.atomic():
        db.execute("UPDATE messages SET state = 'cancelled', error = ?, updated_at = ? WHERE id = ? AND state IN ('queued', 'deferred')",
                   [f"not sent: {reason}", at, row["id"]])
        db.execute("UPDATE campaign_contacts SET included = 0, skip_reason = ? WHERE campaign_id = ? AND contact_id = ?",
                   [f"{reason} (not sent)", campaign_id, row["contact_id"]])
        record_event(db, "skipped", campaign_id=campaign_id, contact_id=row["contact_id"], message_id=row["id"], reason=reason)
    row["state"] = "cancelled"


def due_messages(db: Database, campaign_id: int) -> list[dict[str, Any]]:
    """The campaign's outbox in order: queued and deferred messages with the contact's US state."""
    rows = db.query(
        """SELECT m.*, c.state AS contact_state FROM messages m LEFT JOIN contacts c ON c.id = m.contact_id
           WHERE m.campaign_id = ? AND m.kind != 'test' AND m.state IN ('queued', 'deferred') ORDER BY m.id""",
        [campaign_id],
    )
    return [dict(row) for row in rows]


def load_raw(db: Database, settings: Settings, campaign: dict[str, Any], row: dict[str, Any]) -> bytes:
    """The frozen .eml; if someone deleted it, the same message rendered again (same Message-ID)."""
    path = row.get("eml_path")
    if path:
        try:
            with open(path, "rb") as handle:
                return handle.read()
        except FileNotFoundError:
            pass
    if row.get("kind") == "followup":  # rendering the campaign's first email again would be wrong
        raise OutreachError(f"the follow-up to {row['to_address']} lost its frozen file {path}; restore the "
                            "file and run again (the message stays queued, nothing else was sent)")
    from outreach.contacts.store import get_contact_by_id

    [rendered] = campaigns.render_all(settings, campaign, [get_contact_by_id(db, row["contact_id"])])
    rendered.message.replace_header("Message-ID", row["message_id"])
    return rendered.as_bytes()


# --- follow-ups: rows made by outreach/followups, state changes kept here -------------------------


def add_followup(db: Database, row: dict[str, Any]) -> int | None:
    """A follow-up's messages row (state `queued` to send, or `drafted` for review), in the
    caller's transaction. None when that step already has a message (another run was faster):
    one message per campaign, contact and step, ever."""
    columns = list(row)
    cursor = db.execute(
        f"INSERT OR IGNORE INTO messages ({', '.join(f'[{c}]' for c in columns)}) VALUES ({', '.join('?' * len(columns))})",
        [row[c] for c in columns],
    )
    if cursor.rowcount != 1:
        return None
    record_event(db, row["state"], contact_id=row.get("contact_id"), campaign_id=row.get("campaign_id"),
                 message_id=cursor.lastrowid, at=row.get("queued_at"), step=row.get("step"), message_kind="followup")
    return cursor.lastrowid


def draft_sent(db: Database, message_id: int, *, sent_at: str, at: str, how: str) -> bool:
    """A follow-up the user sent from their mail program (found in Sent) is recorded as sent,
    whatever we thought of it meanwhile: it went. True if the row changed."""
    with db.atomic():
        changed = db.execute(
            "UPDATE messages SET state = 'sent', sent_at = ?, error = NULL, smtp_response = ?, updated_at = ? "
            "WHERE id = ? AND state IN ('drafted', 'cancelled')",
            [sent_at, how, at, message_id],
        ).rowcount == 1
        if changed:
            campaigns.mark_contacted(db, message_id, at)
            row = db.execute("SELECT contact_id, campaign_id FROM messages WHERE id = ?", [message_id]).fetchone()
            record_event(db, "sent", contact_id=row[0], campaign_id=row[1], message_id=message_id, at=at, how=how)
    return changed


def cancel_draft(db: Database, message_id: int, reason: str, *, at: str) -> bool:
    """A drafted follow-up that will not go (the user discarded it); True if it changed."""
    with db.atomic():
        row = db.execute("SELECT contact_id, campaign_id FROM messages WHERE id = ? AND state = 'drafted'", [message_id]).fetchone()
        if row is None:
            return False
        db.execute("UPDATE messages SET state = 'cancelled', error = ?, updated_at = ? WHERE id = ?", [f"not sent: {reason}", at, message_id])
        record_event(db, "followup_cancelled", contact_id=row[0], campaign_id=row[1], message_id=message_id, at=at, reason=reason)
    return True


def due_followups(db: Database, campaign_id: int) -> list[dict[str, Any]]:
    """A campaign's follow-ups waiting to go (queued or deferred), shaped like `due_messages`."""
    rows = db.query(
        """SELECT m.*, c.state AS contact_state FROM messages m LEFT JOIN contacts c ON c.id = m.contact_id
           WHERE m.campaign_id = ? AND m.kind = 'followup' AND m.state IN ('queued', 'deferred') ORDER BY m.id""",
        [campaign_id],
    )
    return [dict(row) for row in rows]
