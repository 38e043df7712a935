"""Who introduced whom, and where it led: `contacts show` tells the chain ("introduced by Dr.
Eze, 12 Nov"), `intros report` compares warm with cold and credits each alumnus.

Warm means someone introduced or referred the contact (`contacts.introduced_by` or
`referred_by`), as in `outreach report`; cold is everyone else written to. A contact counts as
contacted once a first email to them went out, or, for an introduction, once the introduction
arrived (the introducer wrote the first email); replied once they answered; positive once their
outcome is positive or further along.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from outreach.db import Database, parse_utc
from outreach.intros.answer import person_name

POSITIVE = ("positive", "call", "offer", "completed", "lor_requested", "lor_received")
"""Outcomes that count as positive (the report's funnel: positive or further along)."""


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


@dataclass
class Side:
    contacted: int = 0
    replied: int = 0
    positive: int = 0

    def to_json(self) -> dict[str, Any]:
        rate = round(self.replied / self.contacted, 4) if self.contacted else None
        return {"contacted": self.contacted, "replied": self.replied, "reply_rate": rate, "positive": self.positive}


_PEOPLE = """
    SELECT c.id, (c.introduced_by IS NOT NULL OR c.referred_by IS NOT NULL) AS warm,
           (c.replied_at IS NOT NULL) AS replied, c.outcome
    FROM contacts c
    WHERE (EXISTS (SELECT 1 FROM messages m WHERE m.contact_id = c.id AND m.sent_at IS NOT NULL AND m.kind != 'test')
       OR EXISTS (SELECT 1 FROM introductions i WHERE i.contact_id = c.id))
"""
_NOT_ALUMNI = " AND c.id NOT IN (SELECT alumnus_id FROM intro_requests)"
"""The alumni asked for introductions are neither warm nor cold: they are the way in."""


def _ever_positive(db: Database) -> set[int]:
    marks = ",".join("?" * len(POSITIVE))
    return {r[0] for r in db.execute(f"SELECT DISTINCT contact_id FROM contact_outcomes WHERE outcome IN ({marks})", POSITIVE)}


def warm_vs_cold(db: Database) -> dict[str, Side]:
    """Contacted, replied and positive outcomes for warm and cold contacts (each contact once)."""
    sides = {"warm": Side(), "cold": Side()}
    positive = _ever_positive(db)
    for contact_id, warm, replied, outcome in db.execute(_PEOPLE.rstrip() + _NOT_ALUMNI).fetchall():
        side = sides["warm" if warm else "cold"]
        side.contacted += 1
        side.replied += bool(replied)
        side.positive += contact_id in positive or outcome in POSITIVE
    return sides


def by_introducer(db: Database) -> list[dict[str, Any]]:
    """Per alumnus: asks, introductions made, and where each led (outcome, answered, thanked)."""
    positive = _ever_positive(db)
    out: list[dict[str, Any]] = []
    rows = db.execute(
        """SELECT a.id, a.email, a.title, a.first_name, a.last_name,
                  (SELECT count(*) FROM intro_requests r WHERE r.alumnus_id = a.id) AS asked
           FROM contacts a WHERE a.id IN (SELECT alumnus_id FROM intro_requests UNION SELECT introducer_id FROM introductions)
           ORDER BY a.email""").fetchall()
    for alumnus_id, email, title, first, last, asked in rows:
        led = [dict(r) for r in db.query(
            """SELECT c.id, c.email, c.outcome, c.replied_at IS NOT NULL AS replied, i.received_at, i.answered_at IS NOT NULL AS answered,
                      i.thanks_saved_at IS NOT NULL AS thanked
               FROM introductions i JOIN contacts c ON c.id = i.contact_id WHERE i.introducer_id = ? ORDER BY i.received_at""",
            [alumnus_id])]
        out.append({
            "introducer": email, "name": person_name({"email": email, "title": title, "first_name": first, "last_name": last}),
            "asked": asked, "introductions": len(led), "positive": sum(1 for r in led if r["id"] in positive or r["outcome"] in POSITIVE),
            "led_to": [{"email": r["email"], "outcome": r["outcome"], "replied": bool(r["replied"]), "answered": bool(r["answered"]),
                        "thanked": bool(r["thanked"]), "introduced_at": r["received_at"]} for r in led],
        })
    return out


def intros_report(db: Database) -> dict[str, Any]:
    """`outreach intros report --json`."""
    sides = warm_vs_cold(db)
    return {"warm": sides["warm"].to_json(), "cold": sides["cold"].to_json(), "introducers": by_introducer(db)}
