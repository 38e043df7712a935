"""Is this contact already in a conversation with us? The rules follow-ups and new campaigns share.

A courteous applicant never sends "bringing my note back to the top" to someone who answered,
and never starts a fresh cold email to someone who already said yes or no. Two questions:
- `closing_outcome`: the recorded outcome that ends their follow-ups (declined, offer, a call, ...);
- `conversation_reason`: why a new campaign should leave them out (replied, closed, opted out).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from outreach.db import Database


def closing_outcome(db: Database, contact: Mapping[str, Any]) -> str | None:
    """The contact's recorded outcome (`contacts.outcome`: positive, call, declined, offer,
    completed, a letter, or the user's own), else None. Any outcome means the conversation has
    moved past the cold email: no follow-up nudges them again.

    The single place that decides it; add new sources here, not at the callers."""
    if "outcome" in contact:
        outcome = contact["outcome"]
    else:
        row = db.execute("SELECT outcome FROM contacts WHERE id = ?", [contact.get("id")]).fetchone()
        outcome = row[0] if row else None
    return str(outcome).strip().lower() or None if outcome else None


def replied_dates(db: Database) -> dict[int, str]:
    """When each contact first answered (a human reply or an opt-out), read once for a whole list
    instead of one query per contact; contacts whose replies carry no date are left out."""
    rows = db.execute("SELECT contact_id, min(received_at) FROM replies WHERE kind IN ('human_reply', 'unsubscribe') "
                      "AND contact_id IS NOT NULL GROUP BY contact_id").fetchall()
    return {contact_id: str(at) for contact_id, at in rows if at}


def has_replied(db: Database, contact: Mapping[str, Any], *, replied: Mapping[int, str] | None = None) -> str | None:
    """When they answered us (a human reply or an opt-out, any campaign), as stored; "" when
    they did but the date is unknown; None when they never did. `replied`: replied_dates(db),
    when the caller asks this of many contacts."""
    if contact.get("replied_at"):
        return str(contact["replied_at"])
    if replied is not None:
        first = replied.get(contact["id"]) if "id" in contact else None
    else:
        row = db.execute(
            "SELECT min(received_at) FROM replies WHERE contact_id = ? AND kind IN ('human_reply', 'unsubscribe')",
            [contact.get("id")],
        ).fetchone()
        first = row[0] if row else None
    if first:
        return str(first)
    return "" if contact.get("stage") == "replied" else None  # replied, the date not kept


def conversation_reason(db: Database, contact: Mapping[str, Any], *, replied: Mapping[int, str] | None = None) -> str | None:
    """Why a new campaign leaves this contact out unless told otherwise (`--include-replied`)."""
    if outcome := closing_outcome(db, contact):
        return f"already in a conversation (outcome {outcome}); use --include-replied to write anyway"
    if contact.get("status") == "opted_out":
        return "opted out"
    if (replied_at := has_replied(db, contact, replied=replied)) is not None:
        when = f" {replied_at[:10]}" if replied_at else ""
        return f"already in a conversation (replied{when}); use --include-replied to write anyway"
    return None
