"""Which account a campaign sends from. Caps count per account (the From address in
`messages.account`), so a campaign tied to a profile is paced by that profile's own caps."""

from __future__ import annotations

from outreach.config import Settings
from outreach.errors import ConfigError
from outreach.templates.render import Sender


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
