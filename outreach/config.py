"""Settings, resolved in one place: flags > environment (OUTREACH_*) > .env > preset > defaults.

Secrets (SMTP/IMAP passwords) are read from the environment or `.env` only, never from flags,
never printed (their repr is hidden) and never written to the database.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import parseaddr
from pathlib import Path
from typing import Any

from dotenv import dotenv_values

from outreach.errors import ConfigError
from outreach.providers import PRESETS, Preset, preset_for

SECURITY_MODES = ("tls", "starttls", "none")
SENT_COPY_MODES = ("auto", "yes", "no")
DEFAULT_GAP = (45.0, 120.0)


@dataclass(frozen=True)
class ServerSettings:
    host: str | None
    port: int
    username: str | None
    password: str | None = field(default=None, repr=False)
    security: str = "tls"

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def is_loopback(self) -> bool:
        return (self.host or "") in ("127.0.0.1", "::1", "localhost")


@dataclass(frozen=True)
class Settings:
    db_path: Path
    templates_dir: Path
    outbox_dir: Path
    from_address: str | None
    signature: str | None
    provider: str
    smtp: ServerSettings
    imap: ServerSettings
    ca_file: Path | None
    allow_plaintext_login: bool
    sent_copy: str
    timezone: str
    gap: tuple[float, float]
    daily_cap: int
    hourly_cap: int
    domain_cap: int
    send_window: str | None
    imap_folders: tuple[str, ...]
    followup_days: int
    away_days: int
    busy_timeout: float = 5.0  # seconds a write waits for another command's write (OUTREACH_BUSY_TIMEOUT)
    outcomes: tuple[str, ...] = ()  # OUTREACH_OUTCOMES: outcome names added to the defaults

    @property
    def preset(self) -> Preset:
        return preset_for(self.provider)


def parse_gap(text: str) -> tuple[float, float]:
    """`"45-120"` -> (45, 120); `"30"` -> (30, 30); `"0"` means no gap."""
    try:
        if "-" in text.strip()[1:]:
            low, high = text.split("-", 1)
            gap = (float(low), float(high))
        else:
            gap = (float(text), float(text))
    except ValueError:
        raise ConfigError(f"gap {text!r} is not SECONDS or MIN-MAX (e.g. 45-120)") from None
    if gap[0] < 0 or gap[1] < gap[0]:
        raise ConfigError(f"gap {text!r}: need 0 <= MIN <= MAX")
    return gap


def _parse_bool(name: str, text: str) -> bool:
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(f"{name}={text!r}: use yes or no")


def _parse_int(name: str, text: str) -> int:
    try:
        value = int(str(text).strip())
    except ValueError:
        raise ConfigError(f"{name}={text!r} is not a whole number") from None
    if value < 0:
        raise ConfigError(f"{name}={text!r} must be 0 or more (0 means no limit)")
    return value


def _parse_seconds(name: str, text: Any) -> float:
    try:
        value = float(str(text).strip())
    except ValueError:
        raise ConfigError(f"{name}={text!r} is not a number of seconds") from None
    if not 0 <= value <= 600:
        raise ConfigError(f"{name}={text!r}: use 0 to 600 seconds")
    return value


def _choice(name: str, text: str, choices: tuple[str, ...]) -> str:
    value = text.strip().lower()
    if value not in choices:
        raise ConfigError(f"{name}={text!r}: use one of {', '.join(choices)}")
    return value


class _Lookup:
    """Finds a setting's raw text by precedence: flags, environment, .env file."""

    def __init__(self, flags: Mapping[str, Any], environ: Mapping[str, str], dotenv: Mapping[str, Any]):
        self.flags = {k: v for k, v in flags.items() if v is not None}
        self.environ = environ
        self.dotenv = {k: v for k, v in dotenv.items() if v is not None}

    def get(self, key: str, default: Any = None) -> Any:
        """`key` is the suffix after OUTREACH_, e.g. "SMTP_HOST"; flags use it lower-cased."""
        flag = key.lower()
        if flag in self.flags:
            return self.flags[flag]
        env_name = f"OUTREACH_{key}"
        if env_name in self.environ:
            return self.environ[env_name]
        if env_name in self.dotenv:
            return self.dotenv[env_name]
        return default

    def secret(self, key: str) -> str | None:
        """Secrets never come from flags."""
        env_name = f"OUTREACH_{key}"
        return self.environ.get(env_name) or self.dotenv.get(env_name) or None


def _server(lookup: _Lookup, kind: str, host: str | None, port: int, security: str, username_default: str | None) -> ServerSettings:
    prefix = kind.upper()
    return ServerSettings(
        host=lookup.get(f"{prefix}_HOST", host),
        port=_parse_int(f"OUTREACH_{prefix}_PORT", lookup.get(f"{prefix}_PORT", port)),
        username=lookup.get(f"{prefix}_USERNAME", username_default),
        password=lookup.secret(f"{prefix}_PASSWORD"),
        security=_choice(f"OUTREACH_{prefix}_SECURITY", lookup.get(f"{prefix}_SECURITY", security), SECURITY_MODES),
    )


def load_settings(
    flags: Mapping[str, Any] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    env_file: str | Path | None = ".env",
) -> Settings:
    """Resolve every setting once. `flags` keys are lower-case setting names (e.g. `db`)."""
    environ = os.environ if environ is None else environ
    dotenv = dotenv_values(env_file) if env_file and Path(env_file).is_file() else {}
    lookup = _Lookup(flags or {}, environ, dotenv)
    provider = _choice("OUTREACH_PROVIDER", lookup.get("PROVIDER", "custom"), tuple(_known_providers()))
    preset = preset_for(provider)
    from_address = lookup.get("FROM")
    username_default = _bare_address(from_address)
    signature = lookup.get("SIGNATURE")
    folders = lookup.get("IMAP_FOLDERS", "INBOX,\\Junk")
    return Settings(
        db_path=Path(lookup.get("DB", "outreach.db")),
        templates_dir=Path(lookup.get("TEMPLATES_DIR", "templates")),
        outbox_dir=Path(lookup.get("OUTBOX_DIR", "outbox")),
        from_address=from_address,
        signature=signature.replace("\\n", "\n") if signature else None,
        provider=provider,
        smtp=_server(lookup, "smtp", preset.smtp_host, preset.smtp_port, preset.smtp_security, username_default),
        imap=_server(lookup, "imap", preset.imap_host, preset.imap_port, preset.imap_security, username_default),
        ca_file=Path(lookup.get("CA_FILE")) if lookup.get("CA_FILE") else None,
        allow_plaintext_login=_parse_bool("OUTREACH_ALLOW_PLAINTEXT_LOGIN", str(lookup.get("ALLOW_PLAINTEXT_LOGIN", "no"))),
        sent_copy=_choice("OUTREACH_SENT_COPY", lookup.get("SENT_COPY", "auto"), SENT_COPY_MODES),
        timezone=lookup.get("TIMEZONE", "America/New_York"),
        gap=parse_gap(str(lookup.get("GAP", "45-120"))),
        daily_cap=_parse_int("OUTREACH_DAILY_CAP", lookup.get("DAILY_CAP", preset.daily_cap)),
        hourly_cap=_parse_int("OUTREACH_HOURLY_CAP", lookup.get("HOURLY_CAP", preset.hourly_cap)),
        domain_cap=_parse_int("OUTREACH_DOMAIN_CAP", lookup.get("DOMAIN_CAP", preset.domain_cap)),
        send_window=lookup.get("SEND_WINDOW") or None,
        imap_folders=tuple(f.strip() for f in str(folders).split(",") if f.strip()),
        followup_days=_parse_int("OUTREACH_FOLLOWUP_DAYS", lookup.get("FOLLOWUP_DAYS", 7)),
        away_days=_parse_int("OUTREACH_AWAY_DAYS", lookup.get("AWAY_DAYS", 14)),
        busy_timeout=_parse_seconds("OUTREACH_BUSY_TIMEOUT", lookup.get("BUSY_TIMEOUT", 5)),
        outcomes=tuple(n.strip() for n in str(lookup.get("OUTCOMES", "")).split(",") if n.strip()),
    )


def _known_providers() -> list[str]:
    return list(PRESETS)


def _bare_address(from_address: str | None) -> str | None:
    if not from_address:
        return None
    return parseaddr(from_address)[1] or None
