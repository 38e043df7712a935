"""`outreach status`: the one-screen morning view.

Sends in the last 24 hours against the daily cap, the replies that arrived since the user last
looked (remembered in the `kv` table), follow-ups due and campaigns that are paused, with why.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from outreach.config import Settings, bare_address
from outreach.db import Database, utc_now
from outreach.sending.outbox import pacing_history

LAST_LOOK = "status.last_look"
NEW_KINDS = ("human_reply", "unsubscribe")
"""What counts as news in the morning: people answering or asking to stop (not auto-replies)."""


@dataclass
class Status:
    now: str
    account: str | None
    sent_last_24h: int
    daily_cap: int
    last_look: str | None
    new_replies: list[dict[str, Any]] = field(default_factory=list)
    untriaged: int = 0
    followups_due: int | None = None  # None: the follow-up stage is not available
    paused: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "now": self.now, "account": self.account, "sent_last_24h": self.sent_last_24h, "daily_cap": self.daily_cap,
            "last_look": self.last_look, "new_replies": self.new_replies, "untriaged_replies": self.untriaged,
            "followups_due": self.followups_due, "paused_campaigns": self.paused,
        }


def get_value(db: Database, key: str) -> str | None:
    row = db.execute("SELECT value FROM kv WHERE key = ?", [key]).fetchone()
    return row[0] if row else None


def set_value(db: Database, key: str, value: str, *, at: str | None = None) -> None:
    with db.atomic():
        db.execute("INSERT INTO kv (key, value, updated_at) VALUES (?, ?, ?) "
                   "ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                   [key, value, at or utc_now()])


def account_of(settings: Settings) -> str | None:
    return bare_address(settings.from_address) or settings.smtp.username or None


def sent_last_24h(db: Database, account: str | None, now: datetime) -> int:
    """The pacing rule's own count for the account (every campaign, and tests: providers count them)."""
    if account:
        return len(pacing_history(db, account, now))
    since = utc_now(now - timedelta(hours=24))
    return db.execute("SELECT count(*) FROM messages WHERE state IN ('sent', 'sending', 'uncertain', 'bounced') "
                      "AND coalesce(sent_at, sending_at) >= ?", [since]).fetchone()[0]


def new_replies(db: Database, since: str | None) -> list[dict[str, Any]]:
    """People who answered (or opted out) since the last look, newest first; stored-at time, so a
    reply written days ago but read by this morning's poll is still news. Unmatched mail (it
    names our message but speaks for nobody we wrote to) is not news of a contact."""
    marks = ",".join("?" * len(NEW_KINDS))
    sql = f"""SELECT coalesce(c.email, r.from_address) AS email, ca.name AS campaign, r.kind, r.received_at, r.snippet
              FROM replies r LEFT JOIN contacts c ON c.id = r.contact_id LEFT JOIN campaigns ca ON ca.id = r.campaign_id
              WHERE r.kind IN ({marks}) AND r.message_id IS NOT NULL""" + (" AND r.created_at > ?" if since else "") + " ORDER BY r.received_at DESC, r.id DESC"
    return list(db.query(sql, [*NEW_KINDS, *([since] if since else [])]))


def paused_campaigns(db: Database) -> list[dict[str, Any]]:
    return [{"name": n, "reason": r or "no reason given"}
            for n, r in db.execute("SELECT name, status_reason FROM campaigns WHERE status = 'paused' ORDER BY name").fetchall()]


def build_status(
    db: Database, settings: Settings, *, now: datetime, mark_seen: bool = True,
    followups_due: Callable[[Database, datetime], int] | None = None,
) -> Status:
    """Everything the morning view shows; remembers this look unless mark_seen is False."""
    account = account_of(settings)
    last = get_value(db, LAST_LOOK)
    untriaged = db.execute("SELECT count(*) FROM replies WHERE kind = 'human_reply' AND triaged_at IS NULL AND message_id IS NOT NULL").fetchone()[0]
    status = Status(
        now=utc_now(now), account=account, sent_last_24h=sent_last_24h(db, account, now), daily_cap=settings.daily_cap,
        last_look=last, new_replies=new_replies(db, last), untriaged=untriaged,
        followups_due=followups_due(db, now) if followups_due else None, paused=paused_campaigns(db),
    )
    if mark_seen:
        set_value(db, LAST_LOOK, utc_now(now))
    return status
