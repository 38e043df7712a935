"""`replies poll --all-profiles`: every account's mailbox read in turn into the one database.

The accounts are the one in force (the plain OUTREACH_* account, or OUTREACH_PROFILE's) and every
profile set up (OUTREACH_PROFILE_<NAME>_*), each once: a profile pointing at a mailbox already
read (same server, same user) is not read twice, and one without IMAP is named and skipped. A
mailbox that cannot be read is reported and the others are still read: the replies each one
stored are committed as it goes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from outreach.config import Settings
from outreach.db import Database
from outreach.errors import OutreachError
from outreach.replies.poll import PollResult, poll


@dataclass
class AccountPoll:
    """One account's poll: what it found, or why it was not read."""

    profile: str | None  # None: the plain OUTREACH_* account
    mailbox: str  # "user@example.com on imap.example.com:993"
    result: PollResult = field(default_factory=PollResult)
    skipped: str | None = None  # why it was not read (no IMAP, the same mailbox as another)
    error: str | None = None  # why reading it failed

    def to_json(self) -> dict[str, Any]:
        """The `replies poll --json` counts of this account, with which account it was."""
        out: dict[str, Any] = {"profile": self.profile, "mailbox": self.mailbox, **self.result.to_json()}
        if self.skipped or self.error:
            out["skipped" if self.skipped else "error"] = self.skipped or self.error
        return out


def accounts(settings: Settings) -> list[str | None]:
    """The account in force first, then every other profile set up, alphabetically."""
    return [settings.profile, *(p for p in settings.profiles if p != settings.profile)]


def poll_each(db: Database, settings_for: Callable[[str | None], Settings], profiles: Iterable[str | None], *,
              folders: Iterable[str] | None = None, now: datetime | None = None,
              after: Callable[[Settings, AccountPoll], None] | None = None) -> list[AccountPoll]:
    """Poll each account's mailbox once. `after(settings, part)` runs after each successful
    poll (the CLI follows that mailbox's follow-up drafts there)."""
    out: list[AccountPoll] = []
    seen: dict[tuple[str, str], str | None] = {}
    folders = list(folders) if folders else None
    for profile in profiles:
        settings = settings_for(profile)
        imap = settings.imap
        part = AccountPoll(profile, f"{imap.username} on {imap.address}" if imap.host else "no IMAP set up")
        out.append(part)
        key = ((imap.host or "").lower(), (imap.username or "").lower())
        if not imap.host:
            part.skipped = "no IMAP server set up for this account"
        elif key in seen:
            part.skipped = f"the same mailbox as {_name(seen[key])}"
        else:
            seen[key] = profile
            try:
                part.result = poll(db, settings, folders=folders, now=now)
            except OutreachError as error:
                part.error = str(error)
                continue
            if after is not None:
                after(settings, part)
    return out


def _name(profile: str | None) -> str:
    return f"profile {profile}" if profile else "the plain account"
