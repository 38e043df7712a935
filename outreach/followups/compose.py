"""Render a due follow-up as a true reply in the thread of the first email.

Mail programs thread by headers, Gmail also by subject: the follow-up says `Re: <the first
email's subject>` (never "Re: Re:"), `In-Reply-To` the last message we sent this person, and
`References` every message of ours in the thread, oldest first. The template sees
`previous_subject`, `previous_sent_at` and `previous_text` (the last message's words, to quote).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

from outreach.config import Settings
from outreach.contacts.store import email_domain, get_contact_by_id
from outreach.db import record_event
from outreach.errors import NotFoundError, TemplateError
from outreach.followups.due import Candidate
from outreach.followups.sequence import local_date
from outreach.mail.message import RenderedMessage, set_subject
from outreach.mail.replying import reply_subject, thread_subject
from outreach.sending import outbox
from outreach.templates.helpers import us_date
from outreach.templates.render import Sender, load_template, render_message


def message_text(path: str | None) -> str | None:
    """The plain-text words of a message we wrote (its frozen .eml), or None if it is gone."""
    if not path:
        return None
    try:
        raw = Path(path).read_bytes()
    except OSError:
        return None
    message = message_from_bytes(raw, policy=policy.default)
    part = message.get_body(preferencelist=("plain",))
    if part is None:
        return None
    return part.get_content().strip() or None


def sent_chain(candidate: Candidate) -> list[dict[str, Any]]:
    """Our messages in this thread that went out, oldest first."""
    return [m for m in candidate.chain if m["state"] == "sent"]


@dataclass
class Composed:
    """A rendered follow-up and the messages row it becomes."""

    candidate: Candidate
    rendered: RenderedMessage

    def row(self, *, state: str, at: str, account: str, eml_path: Path) -> dict[str, Any]:
        chain = sent_chain(self.candidate)
        message = self.rendered
        return {
            "kind": "followup",
            "campaign_id": self.candidate.campaign["id"],
            "contact_id": self.candidate.contact["id"],
            "step": self.candidate.due_step.number,
            "template": self.candidate.due_step.template,
            "account": account,
            "from_address": account,
            "to_address": message.to_address,
            "to_domain": email_domain(message.to_address),
            "subject": message.subject,
            "message_id": message.message_id,
            "in_reply_to": chain[-1]["message_id"],
            "references": " ".join(m["message_id"] for m in chain),
            "state": state,
            "attachments": json.dumps([{"name": a.name, "size": a.size, "sha256": a.sha256} for a in message.attachments]),
            "eml_path": str(eml_path),
            "queued_at": at,
            "updated_at": at,
        }


def add_row(db, row: dict[str, Any]) -> int | None:
    """The follow-up's messages row (through the outbox) and its event; the caller's transaction."""
    message_id = outbox.add_followup(db, row)
    if message_id is not None:
        record_event(db, row["state"], contact_id=row["contact_id"], campaign_id=row["campaign_id"], message_id=message_id,
                     at=row["queued_at"], step=row["step"])
    return message_id


def compose(settings: Settings, db, candidate: Candidate, *, now: datetime | None = None) -> Composed:
    """The follow-up for one due contact; TemplateError naming the template and contact if it fails."""
    step = candidate.step
    assert step is not None and candidate.due
    chain = sent_chain(candidate)
    last = chain[-1]
    found = get_contact_by_id(db, candidate.contact["id"])
    if found is None:
        raise NotFoundError(f"{candidate.email} is no longer a contact: run `outreach followups due` again")
    contact = {**found, "email": candidate.chain[0]["to_address"]}  # the address the thread went to
    tz = candidate.campaign.get("timezone") or settings.timezone
    previous = {
        "previous_sent_at": us_date(local_date(datetime.fromisoformat(last["sent_at"]), contact.get("state"), tz)),
        "previous_text": message_text(last.get("eml_path")),
    }
    template = load_template(settings.templates_dir, step.template)
    subject = thread_subject(chain[0]["subject"])
    rendered = render_message(
        template, contact, sender=Sender.from_settings(settings), campaign=candidate.campaign,
        in_reply_to=last["message_id"], references=[m["message_id"] for m in chain],
        previous_subject=subject, previous=previous, now=now,
    )
    if rendered.subject != reply_subject(subject):  # the thread's subject, whatever the template's says
        set_subject(rendered, reply_subject(subject))
    return Composed(candidate, rendered)


def compose_all(settings: Settings, db, items: list[Candidate], *, now: datetime | None = None) -> tuple[list[Composed], list[TemplateError]]:
    """Every due follow-up rendered, or the problems (all of them, so one fix-up round is enough)."""
    done, problems = [], []
    for item in items:
        try:
            done.append(compose(settings, db, item, now=now))
        except TemplateError as error:
            problems.append(error)
    return done, problems
