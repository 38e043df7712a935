"""The ask: "could you introduce me to Dr. X?", to an alumnus, naming its target.

An ask is an `intro_requests` row (alumnus, target: a contact or just a name and institution)
and a one-person campaign that carries it with the `alumni-introduction` template (the target
reaches the template as `target_physician` and `target_program`, custom fields on the alumnus)
and at most one gentle follow-up (`intro-followup`, 5 business days later). Any answer stops
that follow-up (replies/store.py cancels every pending follow-up of a contact who wrote back),
and the campaign is sent like any other: a dry run first, then `--live`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from outreach.config import Settings
from outreach.contacts.store import get_contact, require_contact
from outreach.db import Database, record_event, utc_now
from outreach.errors import OutreachError
from outreach.sending.account import account_of
from outreach.sending.campaigns import check_campaign_name, create_campaign
from outreach.templates.render import Sender, load_template, render_message

ASK_TEMPLATE = "alumni-introduction"
FOLLOWUP_TEMPLATE = "intro-followup"
FOLLOWUP_DAYS = 5
"""One gentle follow-up at most, a business week after the ask: a busy alumnus forgets, but is
not chased."""
MAX_PARAGRAPH = 600
"""Characters: a forwardable paragraph longer than this gets edited before it is forwarded."""


@dataclass(frozen=True)
class Ask:
    request_id: int
    alumnus: str
    target: str  # "Dr. Maria Chen (maria.chen@ucsf.example.edu)" or "Dr. X, Y"
    campaign: str
    followup: bool
    subject: str
    paragraph: str | None


def target_label(name: str | None, hospital: str | None) -> tuple[str, str | None]:
    """(target_physician, target_program) as the template says them."""
    return (name or "a colleague in your department").strip(), (hospital or "").strip() or None


def _display(contact: dict[str, Any]) -> str:
    parts = [contact.get("title"), contact.get("first_name"), contact.get("last_name")]
    name = " ".join(p for p in parts if p)
    return name or contact["email"]


def ask_introduction(
    db: Database, settings: Settings, alumnus_email: str, *, target_email: str | None = None, target_name: str | None = None,
    target_hospital: str | None = None, campaign: str | None = None, template: str = ASK_TEMPLATE, now: datetime | None = None,
) -> Ask:
    """Record the ask and create the campaign that carries it (nothing is sent here)."""
    alumnus = require_contact(db, alumnus_email)
    target = None
    if target_email:
        target = get_contact(db, target_email)
        if target is None:
            raise OutreachError(f"{target_email} is not a contact: import them first, or name them with "
                                "--target-name \"Dr. X\" --target-hospital \"Hospital\"")
        if target["id"] == alumnus["id"]:
            raise OutreachError("the target is the alumnus you are asking: name someone else")
        target_name, target_hospital = target_name or _display(target), target_hospital or target.get("hospital")
    elif not target_name:
        raise OutreachError("say who you want to meet: --target EMAIL (a contact) or --target-name \"Dr. X\" --target-hospital \"Y\"")
    physician, program = target_label(target_name, target_hospital)
    _refuse_duplicate(db, alumnus, target, physician)
    name = check_campaign_name(campaign or _campaign_name(db, alumnus))
    followups = [(FOLLOWUP_TEMPLATE, FOLLOWUP_DAYS)] if (settings.templates_dir / f"{FOLLOWUP_TEMPLATE}.txt").exists() else []
    at = utc_now(now)
    own = account_of(settings)  # `intros ask` under --profile: the ask goes from that account
    with db.atomic():
        custom = {**(alumnus.get("custom") or {}), "target_physician": physician}
        custom.pop("target_program", None)
        if program:
            custom["target_program"] = program
        db.execute("UPDATE contacts SET custom = ?, updated_at = ? WHERE id = ?", [json.dumps(custom), at, alumnus["id"]])
        created = create_campaign(db, name, template=template, templates_dir=settings.templates_dir,
                                  where={"email": alumnus["email"]}, followups=followups, account=own["account"],
                                  profile=own["profile"])
        request_id = db.table("intro_requests").insert({
            "alumnus_id": alumnus["id"], "target_id": target["id"] if target else None, "target_name": physician,
            "target_hospital": program, "campaign_id": created["id"], "status": "asked", "created_at": at,
        }).last_pk
        assert request_id is not None  # an insert always has a key
        record_event(db, "intro_asked", contact_id=alumnus["id"], campaign_id=created["id"], at=at, target=physician)
    rendered = _preview(db, settings, alumnus["email"], template, created)
    label = f"{physician} ({target['email']})" if target else (f"{physician}, {program}" if program else physician)
    return Ask(request_id, alumnus["email"], label, name, bool(followups), rendered.subject, forwardable_paragraph(rendered.text))


def _refuse_duplicate(db: Database, alumnus: dict[str, Any], target: dict[str, Any] | None, physician: str) -> None:
    row = db.execute(
        "SELECT 1 FROM intro_requests WHERE alumnus_id = ? AND (target_id = ? OR lower(target_name) = lower(?))",
        [alumnus["id"], target["id"] if target else -1, physician],
    ).fetchone()
    if row:
        raise OutreachError(f"you already asked {alumnus['email']} to introduce you to {physician}: "
                            "one ask (and one gentle follow-up) is the courteous limit; see `outreach intros list`")


def _campaign_name(db: Database, alumnus: dict[str, Any]) -> str:
    base = "intro-" + re.sub(r"[^a-z0-9]+", "-", alumnus["email"].split("@")[0].lower()).strip("-")
    name, n = base, 1
    while db.execute("SELECT 1 FROM campaigns WHERE name = ?", [name]).fetchone():
        n += 1
        name = f"{base}-{n}"
    return name


def _preview(db: Database, settings: Settings, email: str, template: str, campaign: dict[str, Any]):
    """The ask as it will go out (rendered now, so a template problem shows at once)."""
    return render_message(load_template(settings.templates_dir, template), require_contact(db, email),
                          sender=Sender.from_settings(settings), campaign=campaign)


def forwardable_paragraph(text: str) -> str | None:
    """The paragraph an alumnus can forward unchanged: the one after the line that offers it
    ("...a paragraph you can forward as it is:"), indented, quoted or plain; joined to one line."""
    blocks = [b for b in re.split(r"\n\s*\n", text.replace("\r\n", "\n")) if b.strip()]
    for offer, block in zip(blocks, blocks[1:]):
        if "forward" in offer.lower() and offer.rstrip().endswith(":"):
            return " ".join(line.strip().lstrip(">").strip() for line in block.splitlines())
    return None
