"""Following the follow-up drafts we saved to Drafts, after every `replies poll`.

A draft found in Sent (by its Message-ID, or as the same reply to the same person) is recorded
as sent, with the Sent copy's date; a draft whose row was cancelled because the contact answered
is deleted from Drafts; a draft held because the contact is away (an out-of-office) is taken out
of Drafts until they are back, and `followups draft` puts the same draft back after that (one
row, one Message-ID: never two drafts of one step); a draft the user deleted without sending is
cancelled, and that contact's sequence stops. Kept apart from drafting (drafts.py): a poll
needs only this, not Jinja2.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from imapclient import IMAPClient

from outreach.config import Settings
from outreach.db import Database, record_event, utc_now
from outreach.errors import ConfigError
from outreach.mail.headers import sender_address
from outreach.mail.imap import DRAFTS, SENT, imap_session
from outreach.mail.imap_folders import delete_by_message_id, exists_in, find_copy, special_folder

FOUND_IN_SENT = "sent from your mail program (found in Sent)"


@dataclass
class Reconciled:
    """What following the drafts found: sent from the mail program, deleted, discarded."""

    sent: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    discarded: list[str] = field(default_factory=list)
    held: list[tuple[str, str]] = field(default_factory=list)  # (address, back on)

    def extend(self, other: Reconciled) -> None:
        """Add what another mailbox's reconcile found (every kind, so a new one is never left out)."""
        for kind in fields(self):
            getattr(self, kind.name).extend(getattr(other, kind.name))

    def lines(self) -> list[str]:
        out = [f"follow-up to {e} sent from your mail program: recorded as sent" for e in self.sent]
        out += [f"draft to {e} deleted from Drafts: they answered (or can no longer be written to)" for e in self.deleted]
        out += [f"draft to {e} taken out of Drafts while they are away: `outreach followups draft` puts it back from {day}"
                for e, day in self.held]
        out += [f"draft to {e} is gone from Drafts and was not sent: their follow-ups stop" for e in self.discarded]
        return out


def mailbox_account(settings: Settings) -> str | None:
    """The address the drafts saved in this account's mailbox are recorded under (messages.account:
    the From address, as Sender.from_settings reads it, without loading the template stage)."""
    try:
        return sender_address(settings.from_address).addr_spec if settings.from_address else None
    except ConfigError:
        return None


def reconcile_drafts(db: Database, settings: Settings, *, now: datetime | None = None,
                     client: IMAPClient | None = None) -> Reconciled:
    """Follow the drafts we saved: sent, to delete, or discarded (see the module docstring)."""
    result = Reconciled()
    rows = [dict(r) for r in db.query(
        """SELECT d.message_id AS row_id, d.folder, m.message_id, m.state, m.in_reply_to, m.to_address, m.error,
                  m.contact_id, m.campaign_id, m.next_attempt_at
           FROM followup_drafts d JOIN messages m ON m.id = d.message_id
           WHERE d.removed_at IS NULL AND d.saved_at IS NOT NULL AND m.account = ? ORDER BY d.message_id""",
        [mailbox_account(settings)])]  # this mailbox's drafts only: another profile's are in its own mailbox
    if not rows or not settings.imap.host:
        return result
    from outreach.sending import outbox  # lazy: a poll with no drafts to follow never loads the send path

    at = utc_now(now)
    with imap_session(settings, client, doing="checking follow-up drafts") as imap:
        sent_folder, drafts_folder = special_folder(imap, SENT), special_folder(imap, DRAFTS)
        for row in rows:
            found = find_copy(imap, sent_folder, row["message_id"], fallback=(row["in_reply_to"], row["to_address"])) if sent_folder else None
            if found is not None:
                when, sent_id = found  # a mail program may send a draft under a Message-ID of its own: replies quote that one
                with db.atomic():
                    if outbox.draft_sent(db, row["row_id"], sent_at=utc_now(when or now), message_id=sent_id, at=at, how=FOUND_IN_SENT):
                        record_event(db, "sent", contact_id=row["contact_id"], campaign_id=row["campaign_id"],
                                     message_id=row["row_id"], at=at, how=FOUND_IN_SENT)
                    _removed(db, row["row_id"], "sent from the mail program", at)
                result.sent.append(row["to_address"])
            elif row["state"] == "cancelled":
                if drafts_folder:
                    delete_by_message_id(imap, drafts_folder, row["message_id"])
                _removed(db, row["row_id"], f"deleted from Drafts ({row['error'] or 'the contact answered'})", at)
                result.deleted.append(row["to_address"])
            elif row["state"] == "drafted" and drafts_folder and (row["next_attempt_at"] or "") > at:
                _take_out(db, imap, drafts_folder, row, at)
                result.held.append((row["to_address"], row["next_attempt_at"][:10]))
            elif row["state"] == "drafted" and drafts_folder and not exists_in(imap, drafts_folder, row["message_id"]):
                with db.atomic():
                    outbox.cancel_pending(db, row["row_id"], at=at)
                    record_event(db, "followup_cancelled", contact_id=row["contact_id"], campaign_id=row["campaign_id"],
                                 message_id=row["row_id"], at=at, reason="the draft was deleted from Drafts without being sent")
                    _removed(db, row["row_id"], "deleted by you without sending", at)
                result.discarded.append(row["to_address"])
    return result


def _take_out(db: Database, imap: IMAPClient, drafts_folder: str, row: dict[str, Any], at: str) -> None:
    """A draft held while its contact is away leaves Drafts (so it is not sent by mistake before
    they are back) and counts as not saved yet: drafts._resume_unsaved saves it again once the
    hold is over, with the same Message-ID and bytes."""
    delete_by_message_id(imap, drafts_folder, row["message_id"])
    with db.atomic():
        db.execute("UPDATE followup_drafts SET saved_at = NULL WHERE message_id = ?", [row["row_id"]])
        record_event(db, "followup_draft_held", contact_id=row["contact_id"], campaign_id=row["campaign_id"],
                     message_id=row["row_id"], at=at, until=row["next_attempt_at"])


def _removed(db: Database, row_id: int, reason: str, at: str) -> None:
    with db.atomic():  # nested in the caller's transaction when there is one
        db.execute("UPDATE followup_drafts SET removed_at = ?, removed_reason = ? WHERE message_id = ?", [at, reason, row_id])

