"""Outcomes beyond the reply: what came of writing to someone (a call, an offer, a letter).

Every change is kept in `contact_outcomes` (when, what, a note, the reply it came from) and the
latest one is copied onto `contacts.outcome` so lists and selections can filter on it cheaply.
The funnel reads the history, so an offer that later became `completed` still counts as an offer.

The names are the defaults below plus any listed in OUTREACH_OUTCOMES (comma-separated), e.g.
`OUTREACH_OUTCOMES=interview,waitlisted`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from outreach.contacts.store import set_contact_state
from outreach.db import Database, record_event, utc_now
from outreach.errors import OutreachError

DEFAULT_OUTCOMES = ("positive", "call", "declined", "offer", "completed", "lor_requested", "lor_received")
CLEAR = "none"
"""`outreach contacts outcome EMAIL none` clears the current outcome (the history keeps it)."""

FUNNEL = (
    ("positive", ("positive", "call", "offer", "completed", "lor_requested", "lor_received")),
    ("offer", ("offer", "completed", "lor_requested", "lor_received")),
    ("completed", ("completed", "lor_requested", "lor_received")),
    ("letter", ("lor_received",)),
)
"""Funnel stages after `replied`, and the outcomes that show a contact reached each one."""


def known_outcomes(extra: Iterable[str] = ()) -> tuple[str, ...]:
    """The defaults plus the user's own (settings.outcomes, from OUTREACH_OUTCOMES)."""
    names = list(DEFAULT_OUTCOMES)
    for raw in extra:
        name = raw.strip().lower().replace(" ", "_").replace("-", "_")
        if name and name not in names and name != CLEAR:
            names.append(name)
    return tuple(names)


def check_outcome(name: str, known: tuple[str, ...]) -> str | None:
    """The outcome as stored (lower-case), None for `none`; an error naming the choices otherwise."""
    value = name.strip().lower().replace("-", "_")
    if value == CLEAR:
        return None
    if value not in known:
        raise OutreachError(f"unknown outcome {name!r}: use one of {', '.join(known)} (or `none` to clear); "
                            "add your own with OUTREACH_OUTCOMES=name1,name2")
    return value


@dataclass(frozen=True)
class OutcomeChange:
    email: str
    previous: str | None
    outcome: str | None
    at: str


def set_outcome(
    db: Database, contact: Mapping[str, Any], outcome: str | None, *, note: str | None = None,
    reply_id: int | None = None, at: str | None = None,
) -> OutcomeChange:
    """Record an outcome (None clears it) in the history and on the contact, in one transaction.

    An outcome also settles the contact's human replies read so far: whoever records what came
    of a conversation knows it, so `replies review` stops asking about them (a reply that a
    later poll brings is asked about again)."""
    at = at or utc_now()
    with db.atomic():
        db.execute(
            "INSERT INTO contact_outcomes (contact_id, outcome, note, reply_id, at) VALUES (?, ?, ?, ?, ?)",
            [contact["id"], outcome, note, reply_id, at],
        )
        if outcome:
            db.execute("UPDATE replies SET triaged_at = ? WHERE contact_id = ? AND kind = 'human_reply' AND triaged_at IS NULL",
                       [at, contact["id"]])
        set_contact_state(db, contact["id"], event="outcome", at=at, outcome=outcome, outcome_at=at if outcome else None)
        if note:
            record_event(db, "outcome_note", contact_id=contact["id"], at=at, note=note)
    return OutcomeChange(contact["email"], contact.get("outcome"), outcome, at)


def outcome_history(db: Database, contact_id: int) -> list[dict[str, Any]]:
    return list(db.query(
        "SELECT outcome, note, reply_id, at FROM contact_outcomes WHERE contact_id = ? ORDER BY at, id", [contact_id]
    ))
