"""Send due follow-ups through the same paced, crash-safe outbox as first emails.

Each due follow-up is rendered as a reply in its thread, frozen as an .eml and queued as a
messages row (kind `followup`, its step) in one transaction; then the campaign's send run
(sending/sender.py) takes those rows exactly as it takes first emails: pacing and caps, the
re-check of the contact right before each message, and the committed states before and after
each SMTP transaction. A dry run (the default) renders and writes the .eml files and queues
nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from outreach.config import Settings
from outreach.db import Database, utc_now
from outreach.errors import OutreachError
from outreach.followups.compose import Composed, add_row
from outreach.followups.drafts import Refreshed, eml_path, refresh, render_due
from outreach.sending import campaigns, outbox
from outreach.sending.pacing import Clock
from outreach.sending.run import AccountPaused, Run, SendReport
from outreach.templates.render import Sender


@dataclass
class FollowupSendReport:
    """Totals over the campaigns a run touched; `to_json` has the `campaign send --json` keys."""

    live: bool = False
    planned: list[dict[str, Any]] = field(default_factory=list)  # {email, campaign, step, subject, eml}
    runs: dict[str, SendReport] = field(default_factory=dict)
    refreshed: Refreshed = field(default_factory=Refreshed)
    error: OutreachError | None = None

    def total(self, name: str) -> int:
        return sum(getattr(r, name) for r in self.runs.values())

    def to_json(self) -> dict[str, int]:
        keys = ("sent", "failed", "deferred", "uncertain", "skipped", "remaining")
        if not self.live:
            return {**dict.fromkeys(keys, 0), "remaining": len(self.planned)}
        return {k: self.total(k) for k in keys}


def _plan(item: Composed, path: Path) -> dict[str, Any]:
    c = item.candidate
    return {"email": c.email, "campaign": c.campaign["name"], "step": c.due_step.public, "template": c.due_step.template,
            "subject": item.rendered.subject, "eml": str(path)}


def queue_due(db: Database, settings: Settings, composed: list[Composed], *, now: datetime | None = None) -> list[dict[str, Any]]:
    """Freeze each follow-up as an .eml and a queued row (one transaction); returns the plan."""
    at = utc_now(now)
    planned, rows = [], []
    for item in composed:
        path = eml_path(settings, item)
        path.write_bytes(item.rendered.as_bytes())
        account = item.candidate.campaign["account"] or Sender.from_settings(settings).address
        rows.append(item.row(state="queued", at=at, account=account, eml_path=path))
        planned.append(_plan(item, path))
    with db.atomic():
        for row in rows:
            add_row(db, row)
    return planned


async def send_followups(
    db: Database, settings: Settings, *, clock: Clock, campaign: str | None = None, live: bool = False,
    limit: int | None = None, as_of: date | datetime | None = None, poll_first: bool = True,
    progress: Callable[[dict[str, Any]], None] | None = None, stop: asyncio.Event | None = None,
) -> FollowupSendReport:
    """Render (dry run) or queue and send (live) every due follow-up. `stop` set (Ctrl-C) ends
    the run after the current message; what was queued and not sent goes with the next run."""
    report = FollowupSendReport(live=live)
    now = clock.now()
    as_of = as_of or now
    if poll_first:
        report.refreshed = refresh(db, settings, now=now)
    composed = render_due(db, settings, campaign=campaign, as_of=as_of, now=now)
    if not live:
        for item in composed:
            path = eml_path(settings, item)
            path.write_bytes(item.rendered.as_bytes())
            report.planned.append(_plan(item, path))
        return report
    report.planned = queue_due(db, settings, composed, now=now)
    names = {p["campaign"] for p in report.planned} | _with_waiting(db, campaign)
    await _send(db, settings, sorted(names), report, clock=clock, limit=limit, progress=progress, stop=stop)
    return report


def _waiting(db: Database, campaign_id: int) -> list[outbox.QueuedMessage]:
    """The campaign's follow-ups to send now (its first emails are `campaign send`'s business)."""
    return [m for m in outbox.due_messages(db, campaign_id) if m.kind == "followup"]


def _with_waiting(db: Database, campaign: str | None) -> set[str]:
    """Campaigns with follow-ups queued by an earlier run (a limit, caps, a Ctrl-C)."""
    sql = """SELECT DISTINCT c.name FROM messages m JOIN campaigns c ON c.id = m.campaign_id
             WHERE m.kind = 'followup' AND m.state IN ('queued', 'deferred')"""
    names = {r[0] for r in db.execute(sql).fetchall()}
    return {n for n in names if campaign in (None, n)}


async def _send(db: Database, settings: Settings, names: list[str], report: FollowupSendReport, *, clock: Clock,
                limit: int | None, progress, stop: asyncio.Event | None) -> None:
    """One send run per campaign (its own pacing), under the one-sender lock."""
    with outbox.send_lock(settings.db_path):
        outbox.recover_interrupted(db)
        for name in names:
            camp = campaigns.get_campaign(db, name)
            if camp["status"] == "paused":
                continue
            if outbox.account_pause(db, camp["account"], clock.now()):
                report.error = AccountPaused(f"sending from {camp['account']} is paused after the provider's quota reply; "
                                                    "the follow-ups stay queued for the next run")
                return
            run = Run(db, settings, limits=campaigns.campaign_limits(settings, camp), clock=clock,
                             account=camp["account"], progress=progress, stop=stop)
            left = None if limit is None else max(0, limit - report.total("sent") - report.total("failed"))
            result = await run.run_campaign(camp, _waiting(db, camp["id"]), limit=left)
            _resolved, warning = outbox.resolve_from_sent_folder(db, settings, camp["id"])  # uncertain, yet in Sent: it went
            if warning:
                result.warnings.append(warning)
            result.remaining = len(_waiting(db, camp["id"]))
            result.uncertain = db.execute("SELECT count(*) FROM messages WHERE campaign_id = ? AND kind = 'followup' AND state = 'uncertain'",
                                          [camp["id"]]).fetchone()[0]
            report.runs[name] = result
            if result.error or result.stopped:
                report.error = result.error
                return
