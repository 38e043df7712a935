"""Who introduced whom: `contacts show` tells the chain ("introduced by Dr. Eze, 12 Nov").
What the introductions led to (`intros report`, `report --by introducer`) is read in
reports/introducers.py."""

from __future__ import annotations

from typing import Any

from outreach.contacts.store import person_name
from outreach.db import Database, parse_utc


def introduced_by(db: Database, contact: dict[str, Any]) -> dict[str, Any] | None:
    """{"email", "name", "at", "how"} of whoever introduced this contact, or None."""
    if not contact.get("introduced_by"):
        return None
    row = db.execute("SELECT email, title, first_name, last_name FROM contacts WHERE id = ?", [contact["introduced_by"]]).fetchone()
    if row is None:
        return None
    intro = db.execute("SELECT received_at, how FROM introductions WHERE contact_id = ?", [contact["id"]]).fetchone()
    name = person_name({"email": row[0], "title": row[1], "first_name": row[2], "last_name": row[3]})
    return {"email": row[0], "name": name, "at": intro[0] if intro else None, "how": intro[1] if intro else None}


def chain_line(chain: dict[str, Any] | None) -> str | None:
    """"introduced by Dr. Emeka Eze, 12 Nov" (the day in local time)."""
    if chain is None:
        return None
    when = parse_utc(chain["at"])
    day = f", {when.astimezone():%d %b}".replace(" 0", " ") if when else ""
    return f"introduced by {chain['name']}{day}"
