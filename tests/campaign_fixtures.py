"""Helpers for campaign tests: a contact list, a template with an attachment, a started run."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from outreach.sending import campaigns
from outreach.sending import sender
from outreach.config import load_settings
from outreach.contacts.store import add_tags
from outreach.db import open_db, utc_now
from outreach.sending.pacing import Limits
from outreach.sending.run import SendReport
from tests.clocks import FakeClock

START = datetime(2026, 3, 2, 14, 0, tzinfo=timezone.utc)  # a Monday, 09:00 in New York

TEMPLATE = """\
---
subject: Observership inquiry — {{ specialty }} at {{ hospital }}
attachments:
  - attachments/cv.pdf
---
Dear {{ salutation }},

I would like to observe in {{ specialty }} at {{ hospital }}.

{{ sender.name }}
"""


def write_template(folder: Path, name: str = "hello", text: str = TEMPLATE) -> None:
    templates = folder / "templates"
    (templates / "attachments").mkdir(parents=True, exist_ok=True)
    (templates / "attachments" / "cv.pdf").write_bytes(b"%PDF-1.4 pretend CV\n")
    (templates / f"{name}.txt").write_text(text, encoding="utf-8")


def add_contacts(db, count: int, *, tag: str = "physicians", domain: str | None = None, start: int = 1, **fields: Any) -> list[dict]:
    """`count` contacts jane1@hospital1.example.org, ... each with the fields the template needs."""
    rows = []
    now = utc_now()
    for n in range(start, start + count):
        row = {
            "email": f"doc{n}@{domain or f'hospital{n}.example.org'}",
            "title": "Dr.", "first_name": f"Jane{n}", "last_name": f"Okafor{n}",
            "specialty": "Cardiology", "hospital": f"Mercy {n}", "state": "OH",
            "created_at": now, "updated_at": now, **fields,
        }
        contact_id = db.table("contacts").insert(row).last_pk
        add_tags(db, contact_id, [tag])
        rows.append({**row, "id": contact_id})
    db.conn.commit()
    return rows


def settings():
    return load_settings(env_file=None)


def limits(**overrides: Any) -> Limits:
    values = {"gap": (0, 0), "daily_cap": 0, "hourly_cap": 0, "domain_cap": 0}
    values.update(overrides)
    return Limits(**values)


def started_campaign(db, name: str = "spring", template: str = "hello", tag: str = "physicians") -> dict:
    s = settings()
    campaign = campaigns.create_campaign(db, name, template=template, templates_dir=s.templates_dir, tags=[tag])
    return campaigns.freeze_campaign(db, s, campaign)


def run_send(db, campaign: dict, *, clock: FakeClock | None = None, lim: Limits | None = None, **kwargs: Any) -> SendReport:
    clock = clock or FakeClock(START)
    campaign = campaigns.get_campaign(db, campaign["name"])
    return asyncio.run(sender.send_campaign(db, settings(), campaign, limits=lim or limits(), clock=clock, **kwargs))


def states(db, campaign: dict) -> dict[str, str]:
    """to_address -> message state."""
    return {to: state for to, state in db.execute(
        "SELECT to_address, state FROM messages WHERE campaign_id = ? AND kind != 'test'", [campaign["id"]]).fetchall()}


def received_ids(smtp_server) -> list[str]:
    return [r.message_id for r in smtp_server.received]


def db_open():
    return open_db(Path("outreach.db"))
