"""The loop closes: when someone an alumnus introduced leads to an offer, a completed
observership or a letter, a thank-you to the alumnus is drafted (template
`thank-you-introducer`), exactly once.

`owe_thanks` stamps `introductions.thanks_owed_at` the first time such an outcome is recorded
(a later outcome, or the same one set again, changes nothing); `draft_thanks` renders the owed
thank-yous, records each one's Message-ID before the APPEND to Drafts and stamps it after, so
neither a second outcome nor a crash can draft a second one.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from imapclient import IMAPClient

from outreach.config import Settings
from outreach.contacts.store import get_contact_by_id, person_name
from outreach.db import Database, record_event, utc_now
from outreach.intros.answer import Drafted, eml_path
from outreach.mail.imap import DRAFTS
from outreach.mail.imap_folders import exists_in, save_draft, special_folder
from outreach.templates.render import Sender, load_template, render_message

THANKS_TEMPLATE = "thank-you-introducer"
LED_SOMEWHERE: dict[str, str] = {
    "offer": "has offered me an observership",
    "completed": "hosted the observership I have now completed",
    "lor_received": "has written me a letter of recommendation",
}
"""The outcomes that call for thanking the introducer, and how the thank-you says them."""


def owe_thanks(db: Database, contact_id: int, outcome: str | None, *, at: str | None = None) -> str | None:
    """Note that the introducer of this contact is owed a thank-you (first time only). Returns
    the introducer's address when this call created the debt, else None."""
    if outcome not in LED_SOMEWHERE:
        return None
    at = at or utc_now()
    with db.atomic():
        changed = db.execute(
            "UPDATE introductions SET thanks_owed_at = ?, thanks_outcome = ? WHERE contact_id = ? AND thanks_owed_at IS NULL",
            [at, outcome, contact_id]).rowcount
        if not changed:
            return None
        row = db.execute("SELECT c.id, c.email FROM introductions i JOIN contacts c ON c.id = i.introducer_id WHERE i.contact_id = ?",
                         [contact_id]).fetchone()
        record_event(db, "intro_thanks_owed", contact_id=row[0], at=at, introduced=contact_id, outcome=outcome)
    return row[1]


def owed(db: Database) -> list[dict]:
    """Thank-yous owed and not yet in Drafts."""
    return [dict(r) for r in db.query(
        "SELECT * FROM introductions WHERE thanks_owed_at IS NOT NULL AND thanks_saved_at IS NULL ORDER BY thanks_owed_at, id")]


def draft_thanks(db: Database, settings: Settings, client: IMAPClient, report: Drafted, *, now: datetime | None = None,
                 only: set[int] | None = None) -> None:
    """Save every owed thank-you in Drafts, each exactly once. `only`: the introductions whose
    thank-yous belong in this mailbox (by id; None: all of them)."""
    for row in owed(db):
        if only is not None and row["id"] not in only:
            continue
        introducer = get_contact_by_id(db, row["introducer_id"])
        target = get_contact_by_id(db, row["contact_id"])
        assert introducer is not None and target is not None
        if row["thanks_message_id"]:  # recorded, maybe not saved (a crash): finish it
            folder = special_folder(client, DRAFTS)
            if folder is None or not exists_in(client, folder, row["thanks_message_id"]):
                save_draft(settings, Path(row["thanks_eml"]).read_bytes(), client=client)
            _saved(db, row, now)
            report.resumed += 1
            continue
        extra = {"introduced_name": person_name(target), "introduced_hospital": target.get("hospital") or "",
                 "outcome_text": LED_SOMEWHERE.get(row["thanks_outcome"] or "", "has taken me on")}
        contact = {**introducer, "custom": {**(introducer.get("custom") or {}), **extra}}
        rendered = render_message(load_template(settings.templates_dir, THANKS_TEMPLATE), contact,
                                  sender=Sender.from_settings(settings), now=now)
        path = eml_path(settings, "thanks", introducer["email"], rendered.message_id)
        path.write_bytes(rendered.as_bytes())
        with db.atomic():
            claimed = db.execute("UPDATE introductions SET thanks_message_id = ?, thanks_eml = ? WHERE id = ? AND thanks_message_id IS NULL",
                                 [rendered.message_id, str(path), row["id"]]).rowcount
        if not claimed:
            continue
        report.folder = save_draft(settings, path.read_bytes(), client=client)
        _saved(db, row, now)
        report.thanks.append({"email": introducer["email"], "introduced": target["email"], "subject": rendered.subject,
                              "folder": report.folder})


def _saved(db: Database, row: dict, now: datetime | None) -> None:
    with db.atomic():
        db.execute("UPDATE introductions SET thanks_saved_at = ? WHERE id = ?", [utc_now(now), row["id"]])
        record_event(db, "intro_thanks_drafted", contact_id=row["introducer_id"], at=utc_now(now), introduced=row["contact_id"])
