"""Follow-ups for review: saved in the mailbox's Drafts folder, then followed there.

`draft_followups` renders each due follow-up as a reply in its thread and APPENDs it to the
folder flagged SPECIAL-USE \\Drafts with the \\Draft flag, where the user reads, edits and sends
it from their own mail program. Each draft is a messages row in state `drafted` (kind
`followup`, its step) plus a `followup_drafts` row, written before the APPEND and stamped after
it: a crash in between is finished by the next run, and a step that already has a message is
never drafted twice.

`reconcile_drafts` (reconcile.py, after every `replies poll`) follows them there.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from imapclient import IMAPClient

from outreach.config import Settings
from outreach.db import Database, utc_now
from outreach.errors import ConfigError, MailServerError
from outreach.followups.compose import Composed, add_row, compose_all
from outreach.followups.due import due
from outreach.followups.reconcile import Reconciled, reconcile_drafts
from outreach.mail.imap import DRAFTS, imap_session
from outreach.mail.imap_folders import exists_in, save_draft, special_folder
from outreach.replies.poll import poll
from outreach.sending.campaigns import CampaignTemplateError
from outreach.templates.render import Sender


@dataclass
class Refreshed:
    """The poll made just before drafting or sending."""

    polled: bool = False
    replies: int = 0
    reconciled: Reconciled = field(default_factory=Reconciled)


@dataclass
class DraftReport:
    drafted: list[dict[str, Any]] = field(default_factory=list)  # {email, campaign, step, subject, folder}
    resumed: int = 0
    folder: str | None = None
    refreshed: Refreshed = field(default_factory=Refreshed)


def refresh(db: Database, settings: Settings, *, now: datetime | None = None) -> Refreshed:
    """Read new mail once (when IMAP is set up), so a reply that arrived a minute ago stops its
    follow-up, and bring the drafts up to date."""
    if not settings.imap.host:
        return Refreshed()
    result = poll(db, settings, now=now)
    return Refreshed(True, result.matched, reconcile_drafts(db, settings, now=now))


def eml_path(settings: Settings, composed: Composed) -> Path:
    """`outbox/CAMPAIGN/followups/step2-jane@example.org-1a2b3c4d.eml` (step counted from 1, as
    shown; the tag from the Message-ID, so a file never replaces another message's)."""
    folder = (settings.outbox_dir / composed.candidate.campaign["name"] / "followups").resolve()
    folder.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r"[^\w.@+-]", "_", composed.rendered.to_address)
    tag = hashlib.sha256(composed.rendered.message_id.encode()).hexdigest()[:8]
    return folder / f"step{composed.candidate.due_step.public}-{safe}-{tag}.eml"


def render_due(db: Database, settings: Settings, *, campaign: str | None, as_of: date | datetime | None,
               now: datetime | None) -> list[Composed]:
    """Every due follow-up rendered; CampaignTemplateError listing every problem otherwise."""
    composed, problems = compose_all(settings, db, due(db, settings, campaign=campaign, as_of=as_of), now=now)
    if problems:
        names = sorted({str(p.template).rsplit(".", 1)[0] for p in problems if p.template})
        raise CampaignTemplateError(", ".join(names) or "follow-up", problems)
    return composed


def draft_followups(db: Database, settings: Settings, *, campaign: str | None = None, as_of: date | datetime | None = None,
                    now: datetime | None = None, poll_first: bool = True) -> DraftReport:
    """Save every due follow-up in Drafts for review. Nothing is sent."""
    if not settings.imap.host:
        raise ConfigError("follow-up drafts are saved in your mailbox's Drafts folder over IMAP: set OUTREACH_IMAP_HOST "
                          "(or OUTREACH_PROVIDER), or send them with `outreach followups send`")
    report = DraftReport()
    as_of = as_of or now
    if poll_first:
        report.refreshed = refresh(db, settings, now=now)
    composed = render_due(db, settings, campaign=campaign, as_of=as_of, now=now)
    account = _account(settings)
    with imap_session(settings, doing="saving follow-up drafts") as client:
        if composed and special_folder(client, DRAFTS) is None:  # before any row says "drafted"
            raise MailServerError("no Drafts folder found (none flagged \\Drafts and none named Drafts); create a Drafts "
                                  "folder in your mail program, or send with `outreach followups send`",
                                  host=settings.imap.host, port=settings.imap.port)
        report.resumed = _resume_unsaved(db, settings, client, now=now)
        for item in composed:
            at = utc_now(now)
            path = eml_path(settings, item)
            raw = item.rendered.as_bytes()
            path.write_bytes(raw)
            with db.atomic():
                message_id = add_row(db, item.row(state="drafted", at=at, account=account, eml_path=path))
                if message_id is None:
                    continue  # another run drafted or queued this step meanwhile
                db.execute("INSERT INTO followup_drafts (message_id) VALUES (?)", [message_id])
            report.folder = save_draft(settings, raw, client=client)
            with db.atomic():
                db.execute("UPDATE followup_drafts SET folder = ?, saved_at = ? WHERE message_id = ?",
                           [report.folder, utc_now(now), message_id])
            report.drafted.append({"email": item.candidate.email, "campaign": item.candidate.campaign["name"],
                                   "step": item.candidate.due_step.public, "template": item.candidate.due_step.template,
                                   "subject": item.rendered.subject, "folder": report.folder})
    return report


def _account(settings: Settings) -> str:
    return Sender.from_settings(settings).address


def _resume_unsaved(db: Database, settings: Settings, client: IMAPClient, *, now: datetime | None = None) -> int:
    """Drafts whose APPEND may not have happened (a crash), or taken out of Drafts while their
    contact was away and now back: saved now unless already there."""
    rows = db.execute(
        """SELECT d.message_id, m.message_id, m.eml_path FROM followup_drafts d JOIN messages m ON m.id = d.message_id
           WHERE d.saved_at IS NULL AND d.removed_at IS NULL AND m.state = 'drafted' AND m.account = ?
             AND (m.next_attempt_at IS NULL OR m.next_attempt_at <= ?)""", [_account(settings), utc_now(now)]
    ).fetchall()
    if not rows:
        return 0
    folder = special_folder(client, DRAFTS)
    for row_id, rfc_id, path in rows:
        if folder is None or not exists_in(client, folder, rfc_id):
            folder = save_draft(settings, Path(path).read_bytes(), client=client)
        with db.atomic():
            db.execute("UPDATE followup_drafts SET folder = ?, saved_at = ? WHERE message_id = ?", [folder, utc_now(), row_id])
    return len(rows)
