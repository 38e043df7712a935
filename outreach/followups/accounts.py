"""Each campaign's follow-ups from its own account: drafted into that profile's mailbox, sent
through that profile's SMTP account under its caps.

A campaign remembers the profile it sends from (`campaigns.profile`, None for "the account in
force"). When the follow-ups due span several accounts, each account is handled in turn: its
mailbox read first (so a fresh reply stops its follow-up, and only its own drafts are followed),
then its campaigns drafted or sent with its settings. A `--profile` on the command line limits
the run to that account; what it leaves is reported with the command that handles it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from outreach.config import Settings
from outreach.db import Database
from outreach.errors import OutreachError
from outreach.followups.drafts import DraftReport, Refreshed, draft_followups, refresh
from outreach.followups.due import due
from outreach.followups.send import FollowupSendReport, send_followups
from outreach.sending.account import ByProfile, by_profile, profile_mismatch
from outreach.sending.campaigns import get_campaign
from outreach.sending.pacing import Clock
from outreach.sending.run import AccountPaused
from outreach.templates.render import Sender

SettingsFor = Callable[[str | None], Settings]
"""The settings of a profile (None: the account in force)."""


@dataclass
class Plan:
    """Which campaigns each account handles in this run, and which it sets aside (see ByProfile)."""

    split: ByProfile[str]
    campaign: str | None = None  # the --campaign asked for, if any


def plan(db: Database, settings: Settings, *, chosen: str | None, campaign: str | None = None) -> Plan:
    """Split the started campaigns (or just `campaign`) by the account they send from; `settings`
    are those in force. A `chosen` profile (--profile) that contradicts the named campaign's own
    is an error, and so is a campaign without a profile begun from another address."""
    rows = db.execute("SELECT name, profile, account FROM campaigns WHERE started_at IS NOT NULL ORDER BY started_at, id").fetchall()
    if campaign:
        found = get_campaign(db, campaign)
        if error := profile_mismatch(found.get("profile"), chosen):
            raise error
        rows = [(found["name"], found.get("profile"), found.get("account"))]
    split = by_profile({name: (profile, account) for name, profile, account in rows}, settings,
                       chosen=None if campaign else chosen)
    if campaign and split.elsewhere:
        raise OutreachError(f"campaign {campaign!r} was sent from {split.elsewhere[campaign]}, not from "
                            f"{Sender.from_settings(settings).address}: its follow-ups go from the same address; run with "
                            "the settings of that account" + (" (drop --profile)" if chosen else ""))
    return Plan(split, campaign)


def left_due(db: Database, settings: Settings, run: Plan, *, as_of: date | datetime | None) -> dict[str, list[str]]:
    """Who handles what this run left -> its campaigns with follow-ups due: "profile NAME" for
    what --profile left, the address a campaign was begun from for the others."""
    if not run.split.left and not run.split.elsewhere:
        return {}
    names = {c.campaign["name"] for c in due(db, settings, as_of=as_of)}
    left: dict[str, list[str]] = {}
    for profile, campaigns in run.split.left.items():
        left.setdefault(f"profile {profile}", []).extend(n for n in campaigns if n in names)
    for name, account in run.split.elsewhere.items():
        left.setdefault(account, []).extend([name] if name in names else [])
    return {who: campaigns for who, campaigns in left.items() if campaigns}


@dataclass
class AccountDrafts:
    """One account's part of `followups draft`."""

    profile: str | None
    account: str
    report: DraftReport


def draft_each(db: Database, settings_for: SettingsFor, run: Plan, *, as_of: date | datetime | None = None,
               now: datetime | None = None, poll_first: bool = True) -> list[AccountDrafts]:
    """Every due follow-up drafted into the mailbox of the account its campaign sends from."""
    out: list[AccountDrafts] = []
    for profile, names in run.split.groups.items():
        if not names and not run.split.single:
            continue  # nothing of this account's in this run: its mailbox is not even opened
        settings = settings_for(profile)
        account = settings.from_address or ""
        if run.split.single:
            out.append(AccountDrafts(profile, account, draft_followups(db, settings, campaign=run.campaign, as_of=as_of,
                                                                       now=now, poll_first=poll_first)))
            continue
        part = DraftReport(refreshed=refresh(db, settings, now=now) if poll_first else Refreshed())
        wanted = {c.campaign["name"] for c in due(db, settings, as_of=as_of or now)}
        for name in (n for n in names if n in wanted):  # a mailbox session only where something is due
            one = draft_followups(db, settings, campaign=name, as_of=as_of, now=now, poll_first=False)
            part.drafted += one.drafted
            part.resumed += one.resumed
            part.folder = one.folder or part.folder
        out.append(AccountDrafts(profile, account, part))
    for each in out:  # which mailbox each draft is in, when there are several
        for item in each.report.drafted:
            item["profile"] = each.profile
    return out


@dataclass
class AccountSends:
    """One account's part of `followups send`."""

    profile: str | None
    account: str
    report: FollowupSendReport


@dataclass
class SendEach:
    """`followups send` over every account: each one's part, and the totals."""

    live: bool
    parts: list[AccountSends] = field(default_factory=list)

    @property
    def merged(self) -> FollowupSendReport:
        """All accounts as one report (the `--json` totals, the failures, the first error)."""
        total = FollowupSendReport(live=self.live)
        for part in self.parts:
            r = part.report
            total.planned += r.planned
            total.runs.update(r.runs)
            total.refreshed.polled |= r.refreshed.polled
            total.refreshed.replies += r.refreshed.replies
            total.refreshed.reconciled.extend(r.refreshed.reconciled)
            total.error = total.error or r.error
        return total


async def send_each(db: Database, settings_for: SettingsFor, run: Plan, *, clock: Clock, live: bool = False,
                    limit: int | None = None, as_of: date | datetime | None = None, poll_first: bool = True,
                    progress: Callable[[dict[str, Any]], None] | None = None, stop: asyncio.Event | None = None) -> SendEach:
    """Every due follow-up sent (or, dry, rendered) from the account its campaign sends from.
    A quota pause of one account leaves the others going; Ctrl-C or another error stops here."""
    out = SendEach(live)
    for profile, names in run.split.groups.items():
        if not names and not run.split.single:
            continue  # nothing of this account's in this run: its mailbox is not even opened
        settings = settings_for(profile)
        part = AccountSends(profile, settings.from_address or "", FollowupSendReport(live=live))
        out.parts.append(part)
        if run.split.single:
            part.report = await send_followups(db, settings, clock=clock, campaign=run.campaign, live=live, limit=limit,
                                               as_of=as_of, poll_first=poll_first, progress=progress, stop=stop)
            continue
        if poll_first:
            part.report.refreshed = refresh(db, settings, now=clock.now())
        for name in names:
            left = None if limit is None else limit - out.merged.total("sent") - out.merged.total("failed")
            if left is not None and left <= 0 and live:
                break
            one = await send_followups(db, settings, clock=clock, campaign=name, live=live, limit=left, as_of=as_of,
                                       poll_first=False, progress=progress, stop=stop)
            part.report.planned += one.planned
            part.report.runs.update(one.runs)
            part.report.error = part.report.error or one.error
            if one.error:
                break
        stopped = stop is not None and stop.is_set()
        if stopped or (part.report.error and not isinstance(part.report.error, AccountPaused)):
            break
    return out
