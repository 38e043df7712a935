"""Sending a campaign, and a test sample: the entry points of the send run (run.py).

`send_campaign` takes the send lock, settles what earlier runs left uncertain, runs the queue and
sums up what happened; `next_send_time` answers "when may the next message go" without sending;
`send_test` mails one rendered sample to the user, never counting as a contact.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from email.utils import make_msgid
from typing import Any

from outreach.config import Settings
from outreach.contacts.store import email_domain, normalise_email
from outreach.db import Database, durable_commits, parse_utc, utc_now
from outreach.errors import OutreachError
from outreach.mail.smtp import Outcome
from outreach.sending import campaigns, outbox
from outreach.sending.outbox import QueuedMessage
from outreach.sending.pacing import Clock, Limits, Pacer
from outreach.sending.run import AccountPaused, Progress, Run, SendReport
from outreach.sending.smtputf8 import offers_smtputf8
from outreach.templates.render import Sender


def _finish_report(db: Database, campaign: dict[str, Any], report: SendReport) -> SendReport:
    counts = campaigns.message_counts(db, campaign["id"])
    report.deferred = counts["deferred"]
    report.uncertain = counts["uncertain"]
    report.remaining = counts["queued"] + counts["deferred"]
    report.skipped = len(campaigns.skipped_contacts(db, campaign["id"]))
    report.uncertain_messages = outbox.uncertain_messages(db, campaign["id"])
    if not any(counts[s] for s in campaigns.OPEN_STATES) and campaign["status"] == "active":
        campaigns.set_status(db, campaign, "done", None, finished_at=utc_now())
    return report


def check_may_send(db: Database, campaign: dict[str, Any], now: datetime) -> None:
    """Raise before anything happens when the campaign is paused or the account is quota-paused."""
    if campaign["status"] == "paused":
        raise OutreachError(f"campaign {campaign['name']!r} is paused ({campaign['status_reason'] or 'no reason given'}); "
                            f"run `outreach campaign resume {campaign['name']}` first")
    account = campaign["account"]
    if account and (paused := outbox.account_pause(db, account, now)):
        until, reason = paused
        raise AccountPaused(f"sending from {account} is paused until {until.astimezone():%a %d %b %H:%M} "
                            f"after the provider's quota reply ({reason}); run again after that time")


async def send_campaign(
    db: Database,
    settings: Settings,
    campaign: dict[str, Any],
    *,
    limits: Limits,
    clock: Clock,
    limit: int | None = None,
    uncertain: str | None = None,
    decide_uncertain: Callable[[list[dict[str, Any]]], str | None] | None = None,
    progress: Progress | None = None,
    stop: asyncio.Event | None = None,
    rng: random.Random | None = None,
) -> SendReport:
    """Send a started campaign's due messages. `uncertain`: None (leave), "sent" or "resend".

    A draft is started first (its selection frozen, its messages rendered and queued), under the
    send lock like the rest: a second process never renders or writes over the first one's files.
    Raises before anything is sent when the campaign is paused or the account is quota-paused;
    a fatal error during the run is returned in `report.error` along with what was done.
    """
    # every commit of the run (a message marked `sending` before DATA, recorded `sent` after) is
    # synced to disk: after a power cut the outbox still tells what went (cost: bench/send_bench.py)
    with outbox.send_lock(settings.db_path), durable_commits(db):
        campaign = campaigns.get_campaign(db, campaign["name"])  # as it is now that no one else sends
        check_may_send(db, campaign, clock.now())  # a paused draft stays a draft
        if not campaign["started_at"]:
            # someone has non-ASCII before the @: they are queued only if the server offers SMTPUTF8
            smtputf8 = campaigns.needs_smtputf8_probe(db, campaign) and await offers_smtputf8(settings)
            campaign = campaigns.freeze_campaign(db, settings, campaign, smtputf8=smtputf8)
            check_may_send(db, campaign, clock.now())  # its account is known now
        account = campaign["account"]
        outbox.recover_interrupted(db)
        if uncertain:
            outbox.resolve_uncertain(db, campaign["id"], action=uncertain)
        _resolved, warning = outbox.resolve_from_sent_folder(db, settings, campaign["id"])
        if decide_uncertain and (left := outbox.uncertain_messages(db, campaign["id"])):
            if action := decide_uncertain(left):
                outbox.resolve_uncertain(db, campaign["id"], action=action)
        run = Run(db, settings, limits=limits, clock=clock, account=account, progress=progress, stop=stop, rng=rng)
        if warning:
            run.report.warnings.append(warning)
        report = await run.run_campaign(campaign, outbox.due_messages(db, campaign["id"]), limit=limit)
        # messages that went uncertain during this run may already be provably sent
        _resolved, warning = outbox.resolve_from_sent_folder(db, settings, campaign["id"])
        if warning:
            report.warnings.append(warning)
    return _finish_report(db, campaigns.get_campaign(db, campaign["name"]), report)


def next_send_time(db: Database, campaign: dict[str, Any], limits: Limits, now: datetime) -> datetime | None:
    """The earliest time the campaign's next message may go (pacing, retries, quota pause, away
    contacts); None if nothing is due or the campaign hasn't started.

    The gap is taken at its minimum, not drawn at random: the answer is stable from one call to
    the next and means "not before" (the real run draws a gap in the range and may go later)."""
    if campaign["status"] != "active" or not campaign["started_at"]:
        return None
    account = campaign["account"]
    due = outbox.due_messages(db, campaign["id"])
    if not due:
        return None
    pacer = Pacer(replace(limits, gap=(limits.gap[0], limits.gap[0])), history=outbox.pacing_history(db, account, now))
    earliest: datetime | None = None
    for message in due[:200]:
        when = pacer.earliest_send_time(now=now, domain=message.to_domain or "", state=message.contact_state)
        if not_before := parse_utc(message.next_attempt_at):
            when = max(when, not_before)
        earliest = when if earliest is None else min(earliest, when)
    if earliest is not None and (paused := outbox.account_pause(db, account, now)):
        earliest = max(earliest, paused[0])
    return earliest


async def send_test(db: Database, settings: Settings, campaign: dict[str, Any], to_address: str, *, clock: Clock) -> tuple[QueuedMessage, Outcome]:
    """One rendered sample to the user: subject "[TEST] ...", no Cc/Bcc, never counts as contact."""
    to_address = normalise_email(to_address)
    if campaign["started_at"]:
        selection = campaigns.frozen_selection(db, campaign)
    else:
        selection = campaigns.plan_selection(db, campaign)
    if not selection.included:
        raise OutreachError(f"campaign {campaign['name']!r} selects no contacts, so there is no sample to send")
    [rendered] = campaigns.render_all(settings, campaign, selection.included[:1])
    message = rendered.message
    for name in ("To", "Cc", "Bcc", "Message-ID", "Subject"):
        del message[name]
    sender = Sender.from_settings(settings)
    message["To"] = to_address
    message["Subject"] = f"[TEST] {rendered.subject}"
    message["Message-ID"] = make_msgid(domain=email_domain(sender.address))
    raw = rendered.as_bytes()
    at = utc_now(clock.now())
    account = campaign["account"] or sender.address
    queued = outbox.queue_one(db, {
        "kind": "test", "campaign_id": campaign["id"], "contact_id": None, "step": 0, "template": campaign["template"],
        "account": account, "from_address": account, "to_address": to_address, "to_domain": email_domain(to_address),
        "subject": message["Subject"], "message_id": message["Message-ID"],
        "attachments": json.dumps([{"name": a.name, "size": a.size, "sha256": a.sha256} for a in rendered.attachments]),
        "queued_at": at, "updated_at": at,
    })
    limits = Limits(gap=(0, 0), daily_cap=0, hourly_cap=0, domain_cap=0)
    with outbox.send_lock(settings.db_path), durable_commits(db):
        run = Run(db, settings, limits=limits, clock=clock, account=account)
        try:
            outcome = await run.send_row(queued, raw)
        except OutreachError:
            outbox.cancel_unsent(db, queued)
            raise
        finally:
            await run.close()
    assert outcome is not None  # a message of our own, just queued: nobody else can take it
    return queued, outcome
