"""Who brought each contact to you, and where it led: the one place that says it, for
`outreach intros report` (warm against cold, and per alumnus the introductions made) and for
`outreach report --by introducer` (the report's columns per introducer).

- warm: someone introduced the contact (`contacts.introduced_by`, an alumnus's introduction) or
  referred you to them (`contacts.referred_by`, a reply that named them); cold: everyone else
  written to. The alumni asked for introductions are neither: they are the way in.
- who brought them: the introducer, else the referrer: one group per person in the report.
- positive: an outcome of `positive` or further along, ever (the report's funnel stage).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from outreach.contacts.store import person_name
from outreach.db import Database
from outreach.reports.outcomes import FUNNEL

POSITIVE = dict(FUNNEL)["positive"]
"""Outcomes that count as positive (the report's funnel: positive or further along)."""

BROUGHT_BY = "coalesce(c.introduced_by, c.referred_by)"
"""SQL, on contacts `c`: the contact id of whoever introduced or referred them, else NULL."""
ASKED = "c.id IN (SELECT alumnus_id FROM intro_requests)"
"""SQL, on contacts `c`: an alumnus asked for an introduction."""
COLD, ALUMNI = "cold", "alumni"
GROUP_KEY = f"CASE WHEN {BROUGHT_BY} IS NOT NULL THEN {BROUGHT_BY} WHEN {ASKED} THEN '{ALUMNI}' ELSE '{COLD}' END"
"""SQL, on contacts `c`: the `--by introducer` group: who brought them (a contact id), the alumni
asked, or the cold contacts."""
LABELS = {COLD: "cold (no introducer)", ALUMNI: "alumni asked"}


def introducers(db: Database) -> dict[int, tuple[str, str]]:
    """Everyone who introduced or referred someone, by contact id: (email, "Dr. Emeka Eze")."""
    rows = db.query("""SELECT id, email, title, first_name, last_name FROM contacts
                       WHERE id IN (SELECT introduced_by FROM contacts UNION SELECT referred_by FROM contacts
                                    UNION SELECT introducer_id FROM introductions)""")
    return {r["id"]: (r["email"], person_name(r)) for r in rows}


@dataclass
class Side:
    contacted: int = 0
    replied: int = 0
    positive: int = 0

    def to_json(self) -> dict[str, Any]:
        rate = round(self.replied / self.contacted, 4) if self.contacted else None
        return {"contacted": self.contacted, "replied": self.replied, "reply_rate": rate, "positive": self.positive}


_PEOPLE = f"""
    SELECT c.id, ({BROUGHT_BY} IS NOT NULL) AS warm, (c.replied_at IS NOT NULL) AS replied, c.outcome
    FROM contacts c
    WHERE (EXISTS (SELECT 1 FROM messages m WHERE m.contact_id = c.id AND m.sent_at IS NOT NULL AND m.kind != 'test')
       OR EXISTS (SELECT 1 FROM introductions i WHERE i.contact_id = c.id))
      AND NOT {ASKED}
"""
"""Each contact once: written to, or introduced (the introducer wrote the first email)."""


def ever_positive(db: Database) -> set[int]:
    marks = ",".join("?" * len(POSITIVE))
    return {r[0] for r in db.execute(f"SELECT DISTINCT contact_id FROM contact_outcomes WHERE outcome IN ({marks})", POSITIVE)}


def warm_vs_cold(db: Database) -> dict[str, Side]:
    """Contacted, replied and positive outcomes for warm and cold contacts (each contact once)."""
    sides = {"warm": Side(), "cold": Side()}
    positive = ever_positive(db)
    for contact_id, warm, replied, outcome in db.execute(_PEOPLE).fetchall():
        side = sides["warm" if warm else "cold"]
        side.contacted += 1
        side.replied += bool(replied)
        side.positive += contact_id in positive or outcome in POSITIVE
    return sides


def by_introducer(db: Database) -> list[dict[str, Any]]:
    """Per alumnus: asks, introductions made, and where each led (outcome, answered, thanked)."""
    positive = ever_positive(db)
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
