"""Each introduction answered from the account its ask went from.

An ask is a campaign, and a campaign may send from a named profile (`campaigns.profile`): the
alumnus answers that account, so the introduction arrives in its mailbox, and the answer (in the
thread, Reply-All) and the thank-you to the alumnus belong in that mailbox's Drafts too. With
asks from several accounts, `intros draft` reads each mailbox in turn and drafts there what its
own asks brought; a `--profile` on the command line limits the run to that account.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from outreach.config import Settings
from outreach.db import Database
from outreach.intros.answer import Drafted
from outreach.intros.run import draft_intros
from outreach.sending.account import ByProfile, by_profile

_ASK_PROFILE = """
    SELECT r.id, ca.profile, ca.account FROM intro_requests r LEFT JOIN campaigns ca ON ca.id = r.campaign_id ORDER BY r.id
"""
_INTRO_PROFILE = """
    SELECT i.id, ca.profile, ca.account FROM introductions i LEFT JOIN intro_requests r ON r.id = i.request_id
    LEFT JOIN campaigns ca ON ca.id = r.campaign_id
"""


def _introductions(db: Database, contact_id: int | None = None) -> dict[tuple[str, int], tuple[str | None, str | None]]:
    sql, args = (_INTRO_PROFILE + " WHERE i.contact_id = ?", [contact_id]) if contact_id is not None else (_INTRO_PROFILE, [])
    return {("intro", row[0]): (row[1], row[2]) for row in db.execute(sql + " ORDER BY i.id", args).fetchall()}


def plan(db: Database, settings: Settings, *, chosen: str | None, contact_id: int | None = None) -> ByProfile[tuple[str, int]]:
    """The asks and introductions split by the account the ask went from: every such mailbox is
    read, even before an introduction has arrived in it. `settings`: the account in force;
    `contact_id`: only the introduction of this contact (a thank-you just owed)."""
    items = _introductions(db, contact_id)
    if contact_id is None:
        items |= {("ask", row[0]): (row[1], row[2]) for row in db.execute(_ASK_PROFILE).fetchall()}
    return by_profile(items, settings, chosen=chosen)


def introductions_of(db: Database, settings: Settings, profile: str | None) -> set[int]:
    """The introductions (by id) whose ask went from `profile`'s account (`settings`: the account
    in force, which answers those asked from no profile in particular)."""
    return {intro for _kind, intro in by_profile(_introductions(db), settings).groups.get(profile, [])}


@dataclass
class AccountIntros:
    """One account's part of `intros draft`."""

    profile: str | None
    account: str
    report: Drafted


def draft_each(db: Database, settings_for: Callable[[str | None], Settings], split: ByProfile[tuple[str, int]], *,
               now: datetime | None = None, poll_first: bool = True) -> list[AccountIntros]:
    """Answers and thank-yous drafted into the mailbox of the account each ask went from."""
    out = []
    active = settings_for(None)
    for profile in split.groups:
        settings = settings_for(profile)

        def mine(db: Database, profile: str | None = profile) -> set[int]:
            return introductions_of(db, active, profile)

        report = draft_intros(db, settings, now=now, poll_first=poll_first, mine=mine)
        out.append(AccountIntros(profile, settings.from_address or "", report))
    return out
