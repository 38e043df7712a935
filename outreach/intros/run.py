"""`outreach intros draft` and `outreach intros list`: one IMAP session for the answers due and
the thank-yous owed, after reading new mail (so an introduction that arrived a minute ago is
answered too)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from imapclient import IMAPClient

from outreach.config import Settings
from outreach.db import Database
from outreach.intros.answer import Drafted, draft_answers, drafts_session, require_imap
from outreach.intros.thanks import draft_thanks
from outreach.replies.poll import poll


def draft_intros(db: Database, settings: Settings, *, now: datetime | None = None, poll_first: bool = True,
                 client: IMAPClient | None = None, mine: Callable[[Database], set[int]] | None = None) -> Drafted:
    """Answers to introductions and owed thank-yous, saved in Drafts. Nothing is sent. `mine`
    names the introductions this account handles (asked from it), read after the new mail."""
    require_imap(settings)
    if poll_first:
        poll(db, settings, now=now)
    report = Drafted()
    only = mine(db) if mine else None
    with drafts_session(settings, client) as imap:
        draft_answers(db, settings, imap, report, now=now, only=only)
        draft_thanks(db, settings, imap, report, now=now, only=only)
    return report


def list_requests(db: Database) -> list[dict[str, Any]]:
    """Every ask, newest first: alumnus, target, campaign, whether it was sent, answered, introduced."""
    return [dict(r) for r in db.query(
        """SELECT r.id, a.email AS alumnus, r.target_name AS target, r.target_hospital AS hospital, t.email AS target_email,
                  ca.name AS campaign, r.status, r.created_at,
                  (SELECT min(m.sent_at) FROM messages m WHERE m.campaign_id = r.campaign_id AND m.step = 0) AS sent_at,
                  a.replied_at AS alumnus_replied_at
           FROM intro_requests r JOIN contacts a ON a.id = r.alumnus_id LEFT JOIN contacts t ON t.id = r.target_id
           LEFT JOIN campaigns ca ON ca.id = r.campaign_id ORDER BY r.created_at DESC, r.id DESC""")]
