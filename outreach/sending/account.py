"""Which account a campaign sends from. Caps count per account (the From address in
`messages.account`), so a campaign tied to a profile is paced by that profile's own caps."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, TypeVar

from outreach.config import Settings
from outreach.errors import ConfigError, OutreachError
from outreach.templates.render import Sender

K = TypeVar("K")


def account_of(settings: Settings) -> dict[str, str | None]:
    """What a new campaign records: the profile and its From address, so every later send signs
    in to that account and counts against its caps. Nothing without a profile (the plain
    account is then taken at the first live send, as before)."""
    if not settings.profile:
        return {"profile": None, "account": None}
    if not settings.from_address:
        key = f"OUTREACH_PROFILE_{settings.profile.upper()}_FROM"
        raise ConfigError(f"profile {settings.profile!r} has no sender: add {key}=\"Your Name <you@example.com>\" to .env")
    return {"profile": settings.profile, "account": Sender.from_settings(settings).address}


@dataclass
class ByProfile(Generic[K]):
    """Work split by the account it belongs to: `groups` in the order to handle them (the
    account in force first), `left` what an explicit `--profile` leaves for another run, and
    `elsewhere` what began from another address than the account in force, with no profile to
    find that account by (a thread never changes the address it started from)."""

    groups: dict[str | None, list[K]] = field(default_factory=dict)
    left: dict[str, list[K]] = field(default_factory=dict)
    elsewhere: dict[K, str] = field(default_factory=dict)

    @property
    def single(self) -> bool:
        """One account and nothing set aside: a run exactly as with one account."""
        return len(self.groups) <= 1 and not self.left and not self.elsewhere


def by_profile(items: dict[K, tuple[str | None, str | None]], settings: Settings, *, chosen: str | None = None) -> ByProfile[K]:
    """Group `items` by the account that handles them. Each item comes with its campaign's
    profile (None: whichever account is in force) and the address it was first sent from (None:
    not sent yet). `settings`: the account in force; `chosen`: a `--profile` given on the
    command line, which limits the run to that account."""
    split: ByProfile[K] = ByProfile()
    active, here = settings.profile, _address(settings)
    chosen = chosen.lower() if chosen else None
    split.groups[active] = []
    for item, (profile, account) in items.items():
        if not profile and account and here and account.lower() != here:
            split.elsewhere[item] = account
            continue
        handled_by = profile or active
        if chosen is not None and handled_by != chosen:
            split.left.setdefault(handled_by or "", []).append(item)
        else:
            split.groups.setdefault(handled_by, []).append(item)
    first = split.groups.pop(active)
    rest = dict(sorted(split.groups.items(), key=lambda kv: kv[0] or ""))
    split.groups = {**({active: first} if first or not rest else {}), **rest}
    return split


def _address(settings: Settings) -> str | None:
    return Sender.from_settings(settings).address.lower() if settings.from_address else None


def profile_mismatch(profile: str | None, chosen: str | None) -> OutreachError | None:
    """The error for a `--profile` that names another account than the campaign's own."""
    if profile and chosen and chosen.lower() != profile:
        return OutreachError(f"this campaign sends from profile {profile!r}, not {chosen!r}: drop --profile")
    return None
