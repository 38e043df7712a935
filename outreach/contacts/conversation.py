"""Is this contact already in a conversation with us? The rules follow-ups and new campaigns share.

A courteous applicant never sends "bringing my note back to the top" to someone who answered,
and never starts a fresh cold email to someone who already said yes or no. Two questions:
- `closing_outcome`: the recorded outcome that ends all outreach to them (declined, offer, ...);
- `conversation_reason`: why a new campaign should leave them out (replied, closed, opted out).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlite_utils import Database

CLOSING_OUTCOMES = frozenset(
    {"declined", "not_interested", "offer", "accepted", "completed", "placed", "closed", "no_positions", "do_not_contact"}
)
"""Outcomes after which nobody is followed up (the lead may extend this set when outcomes land)."""


def _has_column(db: Database, table: str, column: str) -> bool:
    """Asked once per schema version, not once per contact (PRAGMA table_info costs a parse)."""
    version = db.execute("PRAGMA schema_version").fetchone()[0]
    key = (id(db.conn), version, table, column)
    if key not in _column_cache:
        _column_cache[key] = column in {row[1] for row in db.execute(f"PRAGMA table_info([{table}])").fetchall()}
    return _column_cache[key]


_column_cache: dict[tuple[int, int, str, str], bool] = {}


def closing_outcome(db: Database, contact: Mapping[str, Any]) -> str | None:
    """The contact's outcome when it closes the outreach (declined, offer, completed, ...), else None.

    The single place that decides it: until the outcomes feature stores one, this reads whatever
    exists (a `contacts.outcome` column); add new sources here, not at the callers."""
    outcome = contact.get("outcome")
    if "outcome" not in contact and contact.get("id") is not None and _has_column(db, "contacts", "outcome"):
        row = db.execute("SELECT outcome FROM contacts WHERE id = ?", [contact["id"]]).fetchone()
        outcome = row[0] if row else None
    if not outcome:
        return None
    key = str(outcome).strip().lower().replace("-", "_").replace(" ", "_")
    return key if key in CLOSING_OUTCOMES else None


def has_replied(db: Database, contact: Mapping[str, Any]) -> str | None:
    """When they answered us (a human reply or an opt-out, any campaign), as stored; "" when
    they did but the date is unknown; None when they never did."""
    if contact.get("replied_at"):
        return str(contact["replied_at"])
    row = db.execute(
        "SELECT min(received_at) FROM replies WHERE contact_id = ? AND kind IN ('human_reply', 'unsubscribe')",
        [contact.get("id")],
    ).fetchone()
    if row and row[0]:
        return str(row[0])
    return "" if contact.get("stage") == "replied" else None  # replied, the date not kept


def conversation_reason(db: Database, contact: Mapping[str, Any]) -> str | None:
    """Why a new campaign leaves this contact out unless told otherwise (`--include-replied`)."""
    if outcome := closing_outcome(db, contact):
        return f"already in a conversation (outcome {outcome}); use --include-replied to write anyway"
    if contact.get("status") == "opted_out":
        return "opted out"
    if (replied := has_replied(db, contact)) is not None:
        when = f" {replied[:10]}" if replied else ""
        return f"already in a conversation (replied{when}); use --include-replied to write anyway"
    return None
