"""The answer to an introduction: drafted into Drafts within a business day, in its thread.

Etiquette: answer the person introduced quickly, Reply-All in the introduction's thread, move the
introducer to Bcc (they see you answered; their inbox is spared the rest) and thank them in the
first line. `draft_answers` renders `intro-answer` that way (To the target, Cc whoever else was on
the introduction, Bcc the alumnus, In-Reply-To/References the introduction, `Re: <its subject>`)
and APPENDs it to the Drafts folder with the follow-up stage's own `save_draft`. The draft's
Message-ID and .eml are recorded before the APPEND and stamped after it: a crash in between is
finished by the next run, never duplicated. An introduction is answered once its reply is in
Sent (our draft, or an answer the user wrote by hand in the same thread to the same person).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from imapclient import IMAPClient

from outreach.business_days import add_business_days
from outreach.config import Settings
from outreach.contacts.store import email_domain, get_contact_by_id, person_name
from outreach.db import Database, parse_utc, record_event, utc_now
from outreach.errors import ConfigError
from outreach.mail.imap import DRAFTS, SENT, imap_session
from outreach.mail.imap_folders import exists_in, find_copy, save_draft, special_folder
from outreach.mail.message import RenderedMessage, make_address, set_subject
from outreach.mail.replying import reply_subject, set_copies, thread_subject
from outreach.sending import outbox
from outreach.templates.helpers import us_date
from outreach.templates.render import Sender, load_template, render_message
from outreach.timezones import recipient_timezone

ANSWER_TEMPLATE = "intro-answer"
ANSWER_KIND = "intro_answer"
FOUND_IN_SENT = "sent from your mail program (found in Sent)"


@dataclass
class Introduction:
    """One introduction thread, as `intros due` and `intros draft` see it."""

    id: int
    email: str
    introduced_by: str
    introducer_name: str
    received_at: str
    due_on: date
    how: str
    drafted: bool
    row: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"email": self.email, "introduced_by": self.introduced_by, "received_at": self.received_at}


def answer_due_on(received_at: str, state: str | None, default_timezone: str) -> date:
    """One business day after the introduction arrived, in the recipient's own time zone."""
    moment = parse_utc(received_at)
    assert moment is not None
    return add_business_days(moment.astimezone(recipient_timezone(state, default_timezone)).date(), 1)


def unanswered(db: Database, settings: Settings) -> list[Introduction]:
    """Introductions not yet answered, oldest first."""
    rows = db.query(
        """SELECT i.*, t.email AS target_email, t.state AS target_state, a.email AS introducer_email,
                  a.title AS a_title, a.first_name AS a_first, a.last_name AS a_last
           FROM introductions i JOIN contacts t ON t.id = i.contact_id JOIN contacts a ON a.id = i.introducer_id
           WHERE i.answered_at IS NULL ORDER BY i.received_at, i.id""")
    return [
        Introduction(
            r["id"], r["target_email"], r["introducer_email"],
            person_name({"title": r["a_title"], "first_name": r["a_first"], "last_name": r["a_last"], "email": r["introducer_email"]}),
            r["received_at"], answer_due_on(r["received_at"], r["target_state"], settings.timezone), r["how"],
            bool(r["answer_saved_at"]), dict(r),
        )
        for r in rows
    ]


def compose_answer(db: Database, settings: Settings, intro: Introduction, *, now: datetime | None = None) -> RenderedMessage:
    """The Reply-All answer: To the target, Cc the others, Bcc the introducer, in the thread."""
    row = intro.row
    target = get_contact_by_id(db, row["contact_id"])
    introducer = get_contact_by_id(db, row["introducer_id"])
    assert target is not None and introducer is not None
    received = parse_utc(row["received_at"])
    extra = {"introducer_name": intro.introducer_name, "introducer_first_name": introducer.get("first_name") or intro.introducer_name,
             "introduced_on": us_date(received.date()) if received else ""}
    contact = {**target, "custom": {**(target.get("custom") or {}), **extra}}
    subject = thread_subject(row["subject"])
    refs = [r for r in (row["refs"] or "").split() if r]
    if row["rfc_message_id"] and row["rfc_message_id"] not in refs:
        refs.append(row["rfc_message_id"])
    rendered = render_message(load_template(settings.templates_dir, ANSWER_TEMPLATE), contact, sender=Sender.from_settings(settings),
                              in_reply_to=row["rfc_message_id"], references=refs, previous_subject=subject, now=now)
    if rendered.subject != reply_subject(subject):
        set_subject(rendered, reply_subject(subject))
    skip = {target["email"].lower(), introducer["email"].lower()}
    others = [make_address("Cc", p.get("name"), p["email"]) for p in json.loads(row["recipients"] or "[]") if p["email"].lower() not in skip]
    set_copies(rendered, cc=others, bcc=[make_address("Bcc", intro.introducer_name, introducer["email"])])
    return rendered


@dataclass
class Drafted:
    """What `intros draft` did: answers saved, answers found sent, thank-yous saved."""

    answers: list[dict[str, Any]] = field(default_factory=list)
    answered: list[str] = field(default_factory=list)
    thanks: list[dict[str, Any]] = field(default_factory=list)
    resumed: int = 0
    folder: str | None = None


def eml_path(settings: Settings, kind: str, email: str, message_id: str) -> Path:
    """`outbox/intros/answer-maria@x.org-1a2b3c4d.eml`: the exact bytes saved in Drafts."""
    folder = (settings.outbox_dir / "intros").resolve()
    folder.mkdir(parents=True, exist_ok=True)
    tag = hashlib.sha256(message_id.encode()).hexdigest()[:8]
    safe = re.sub(r"[^\w.@+-]", "_", email)
    return folder / f"{kind}-{safe}-{tag}.eml"


def require_imap(settings: Settings) -> None:
    if not settings.imap.host:
        raise ConfigError("introduction answers are saved in your mailbox's Drafts folder over IMAP: set OUTREACH_IMAP_HOST "
                          "(or OUTREACH_PROVIDER)")


def draft_answers(db: Database, settings: Settings, client: IMAPClient, report: Drafted, *, now: datetime | None = None,
                  only: set[int] | None = None) -> None:
    """Record answers already sent, finish half-saved drafts, then draft every answer not yet drafted.
    `only`: the introductions this mailbox answers (by id; None: all of them)."""
    _mark_answered(db, client, report, now=now, only=only)
    _resume(db, settings, client, report, now=now, only=only)
    for intro in unanswered(db, settings):
        if intro.row["answer_message_id"] or (only is not None and intro.id not in only):
            continue
        rendered = compose_answer(db, settings, intro, now=now)
        path = eml_path(settings, "answer", intro.email, rendered.message_id)
        path.write_bytes(rendered.as_bytes())
        with db.atomic():
            claimed = db.execute("UPDATE introductions SET answer_message_id = ?, answer_eml = ? WHERE id = ? AND answer_message_id IS NULL",
                                 [rendered.message_id, str(path), intro.id]).rowcount
            if claimed:
                _message_row(db, settings, intro, rendered, path, utc_now(now))
        if not claimed:
            continue  # another run drafted it meanwhile
        report.folder = save_draft(settings, path.read_bytes(), client=client)
        with db.atomic():
            db.execute("UPDATE introductions SET answer_saved_at = ? WHERE id = ?", [utc_now(now), intro.id])
            record_event(db, "intro_answer_drafted", contact_id=intro.row["contact_id"], at=utc_now(now), message_id_rfc=rendered.message_id)
        report.answers.append({"email": intro.email, "introduced_by": intro.introduced_by, "subject": rendered.subject,
                               "due_on": intro.due_on.isoformat(), "folder": report.folder})


def _message_row(db: Database, settings: Settings, intro: Introduction, rendered: RenderedMessage, path: Path, at: str) -> None:
    """The answer as a messages row (kind `intro_answer`, `drafted`): the target's reply to it is
    matched like any reply, and once it is found in Sent the report counts the target as written to."""
    account = Sender.from_settings(settings).address
    refs = rendered.message.get("References")
    outbox.add_followup(db, {
        "kind": ANSWER_KIND, "campaign_id": None, "contact_id": intro.row["contact_id"], "step": 0, "template": ANSWER_TEMPLATE,
        "account": account, "from_address": account, "to_address": rendered.to_address, "to_domain": email_domain(rendered.to_address),
        "subject": rendered.subject, "message_id": rendered.message_id, "in_reply_to": intro.row["rfc_message_id"],
        "references": " ".join(str(refs or "").split()), "state": "drafted", "attachments": "[]", "eml_path": str(path),
        "queued_at": at, "updated_at": at,
    })


def _resume(db: Database, settings: Settings, client: IMAPClient, report: Drafted, *, now: datetime | None,
            only: set[int] | None) -> None:
    """An answer recorded but maybe not APPENDed (a crash): saved now unless already there."""
    rows = db.execute("SELECT id, answer_message_id, answer_eml FROM introductions WHERE answer_message_id IS NOT NULL "
                      "AND answer_saved_at IS NULL AND answered_at IS NULL").fetchall()
    for row_id, message_id, path in rows:
        if only is not None and row_id not in only:
            continue
        folder = special_folder(client, DRAFTS)
        if folder is None or not exists_in(client, folder, message_id):
            save_draft(settings, Path(path).read_bytes(), client=client)
        with db.atomic():
            db.execute("UPDATE introductions SET answer_saved_at = ? WHERE id = ?", [utc_now(now), row_id])
        report.resumed += 1


def _mark_answered(db: Database, client: IMAPClient, report: Drafted, *, now: datetime | None, only: set[int] | None) -> None:
    """An answer in Sent (our draft sent, or one written by hand in the thread) closes it."""
    rows = [r for r in db.execute(
        """SELECT i.id, i.contact_id, i.answer_message_id, i.rfc_message_id, c.email FROM introductions i
           JOIN contacts c ON c.id = i.contact_id WHERE i.answered_at IS NULL""").fetchall() if only is None or r[0] in only]
    sent = special_folder(client, SENT) if rows else None
    if sent is None:
        return
    for row_id, contact_id, answer_id, intro_id, email in rows:
        found = find_copy(client, sent, answer_id or "<none@outreach.invalid>", fallback=(intro_id, email))
        if found is None:
            continue
        when = utc_now(found[0] or now)
        with db.atomic():
            db.execute("UPDATE introductions SET answered_at = ? WHERE id = ?", [when, row_id])
            message = db.execute("SELECT id FROM messages WHERE message_id = ? AND kind = ?", [answer_id, ANSWER_KIND]).fetchone()
            if message:  # the mail program may have sent it under a Message-ID of its own: replies quote that one
                outbox.draft_sent(db, message[0], sent_at=when, message_id=found[1], at=utc_now(now), how=FOUND_IN_SENT)
            record_event(db, "intro_answered", contact_id=contact_id, at=utc_now(now), sent_at=when)
        report.answered.append(email)


def drafts_session(settings: Settings, client: IMAPClient | None = None):
    """The IMAP session `intros draft` works in (one login for answers and thank-yous)."""
    require_imap(settings)
    return imap_session(settings, client, doing="saving introduction drafts")
