"""Triage: walk the human replies nobody has looked at yet and record what came of each.

A reply is triaged once the user gave it an outcome or skipped it (`replies.triaged_at`); until
then `outreach replies review` shows it. The suggestion is a hint for the key to press, never an
outcome recorded on its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from outreach.db import Database, utc_now
from outreach.reports.outcomes import set_outcome

# Until the classifier suggests outcomes itself (another stage is adding that), a few phrases
# people use. Declines first: "unfortunately we are happy to..." is still a no.
_DECLINED = re.compile(
    r"\b(?:unfortunately|regret(?:fully)?|unable to|not able to|cannot (?:offer|accept|host|take)|can't (?:offer|accept|host|take)|"
    r"(?:do|does|did) not (?:offer|accept|host|have)|don't (?:offer|accept|host|have)|no longer (?:offer|accept|host)|"
    r"not (?:currently )?(?:accepting|offering|hosting)|no (?:positions|openings|spots|availability)|not possible)\b", re.I)
_CALL = re.compile(r"\b(?:call me|give me a call|phone call|schedule a (?:call|time|meeting)|set up a (?:call|time|meeting)|zoom|"
                   r"teams meeting|let's (?:talk|chat|meet)|talk (?:on|by) (?:the )?phone|my (?:cell|number) is)\b", re.I)
_POSITIVE = re.compile(r"\b(?:happy to|glad to|pleased to|would love to|welcome to|send (?:me )?your (?:cv|resume|c\.v\.)|"
                       r"interested|sounds good|we can (?:host|accommodate|offer)|yes\b)", re.I)


def suggest_outcome(text: str | None) -> str | None:
    """A guess at the outcome a reply's own words point to: declined, call, positive or None."""
    if not text:
        return None
    for outcome, pattern in (("declined", _DECLINED), ("call", _CALL), ("positive", _POSITIVE)):
        if pattern.search(text):
            return outcome
    return None


@dataclass(frozen=True)
class PendingReply:
    """A human reply waiting for triage, with what the user needs to decide."""

    id: int
    contact_id: int | None
    email: str
    name: str
    campaign: str | None
    received_at: str | None
    subject: str | None
    text: str
    suggested_outcome: str | None
    outcome: str | None  # the contact's current outcome, if any

    def to_json(self) -> dict[str, Any]:
        return {"email": self.email, "campaign": self.campaign, "received_at": self.received_at,
                "text": self.text, "suggested_outcome": self.suggested_outcome}


def untriaged(db: Database, *, campaign: str | None = None) -> list[PendingReply]:
    """Human replies not yet triaged, oldest first. The classifier's own suggestion, once it
    stores one (`replies.suggested_outcome`, from the classification stage), wins over ours."""
    stored = "r.suggested_outcome" if "suggested_outcome" in _columns(db, "replies") else "NULL"
    sql = f"""SELECT r.id, r.contact_id, coalesce(c.email, r.from_address), c.title, c.first_name, c.last_name,
                    ca.name, r.received_at, r.subject, coalesce(r.body_text, r.snippet, ''), c.outcome, {stored}
             FROM replies r LEFT JOIN contacts c ON c.id = r.contact_id LEFT JOIN campaigns ca ON ca.id = r.campaign_id
             WHERE r.kind = 'human_reply' AND r.triaged_at IS NULL AND r.message_id IS NOT NULL"""
    params: list[Any] = []
    if campaign:
        sql += " AND ca.name = ?"
        params.append(campaign)
    rows = db.execute(sql + " ORDER BY r.received_at, r.id", params).fetchall()
    return [
        PendingReply(rid, cid, email, " ".join(p for p in (title, first, last) if p), name, received, subject, text,
                     suggested or suggest_outcome(text), outcome)
        for rid, cid, email, title, first, last, name, received, subject, text, outcome, suggested in rows
    ]


def _columns(db: Database, table: str) -> set[str]:
    return {row[1] for row in db.execute(f"PRAGMA table_info({table})").fetchall()}


def triage(db: Database, reply: PendingReply, outcome: str | None, *, note: str | None = None, at: str | None = None) -> None:
    """Mark the reply triaged and, with an outcome, record it on the contact (from this reply)."""
    at = at or utc_now()
    with db.atomic():  # set_outcome's own transaction nests as a savepoint: both or neither
        db.execute("UPDATE replies SET triaged_at = ? WHERE id = ?", [at, reply.id])
        if outcome and reply.contact_id:
            contact = {"id": reply.contact_id, "email": reply.email, "outcome": reply.outcome}
            set_outcome(db, contact, outcome, note=note, reply_id=reply.id, at=at)
