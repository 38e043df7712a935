"""Settings, resolved in one place: flags > environment (OUTREACH_*) > .env > preset > defaults.

Where the settings live (the "workspace"): the current folder when it holds a `.env`,
`outreach.db` or `templates/`; otherwise the user's config folder (`$XDG_CONFIG_HOME/outreach`
or `~/.config/outreach`) when it holds one of them; otherwise the current folder. Relative paths
(the db, templates, outbox) count from that folder, so the tool works from anywhere.

Several accounts: `OUTREACH_PROFILE_<NAME>_<SETTING>` keys describe account NAME, chosen with
`--profile NAME` or `OUTREACH_PROFILE`. Account settings (provider, From, servers, sign-in, caps)
come only from the profile; the rest (db, templates, pacing gap, window...) fall back to the
plain `OUTREACH_*` values.

Secrets (SMTP/IMAP passwords, secret and token commands) are read from the environment or `.env`
only, never from flags, never printed (their repr is hidden) and never written to the database.
Commands that produce secrets run only when a login needs them (outreach/mail/auth.py).
"""

from __future__ import annotations

import os
import re
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
AUTO = "auto"
"""`env_file=AUTO`: find the workspace (current folder, then the user's config folder)."""
MARKERS = (".env", "outreach.db", "templates")
ACCOUNT_KEYS = frozenset({"PROVIDER", "FROM", "OAUTH2_TOKEN_CMD", "DAILY_CAP", "HOURLY_CAP", "DOMAIN_CAP", "SENT_COPY"})
"""Keys (besides SMTP_* and IMAP_*) that belong to one account: a profile never inherits them."""
PROFILE_NAME = re.compile(r"[A-Za-z0-9]+")


@dataclass(frozen=True)
class ServerSettings:
    host: str | None
    port: int
    username: str | None
    password: str | None = field(default=None, repr=False)
    security: str = "tls"
    password_cmd: str | None = field(default=None, repr=False)
    """A command whose first output line is the password (a keychain, `pass`), as mutt/isync do."""
    oauth2_cmd: str | None = field(default=None, repr=False)
    """A command whose first output line is an OAuth2 access token: sign in with SASL XOAUTH2."""
    kind: str = "SMTP"
    setting_prefix: str = "OUTREACH_"
    """Where this account's keys live: OUTREACH_ or OUTREACH_PROFILE_<NAME>_ (named in errors)."""

    @property
    def auth_method(self) -> str:
        """"xoauth2", "password" or "none" (an empty username: a relay that needs no login)."""
        if self.username == "":
            return "none"
        return "xoauth2" if self.oauth2_cmd else "password"

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
    profile: str | None = None
    env_file: Path | None = None
    source: str = "current folder"
    """Where the settings were found: "current folder", "config folder", "--env-file" or "none"."""
    busy_timeout: float = 5.0  # seconds a write waits for another command's write (OUTREACH_BUSY_TIMEOUT)
    outcomes: tuple[str, ...] = ()  # OUTREACH_OUTCOMES: outcome names added to the defaults
    profiles: tuple[str, ...] = ()  # every profile set up (OUTREACH_PROFILE_<NAME>_* keys), lower-case

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
    """Finds a setting's raw text by precedence: flags, then (for a profile) its own keys in the
    environment and .env, then the plain OUTREACH_* keys in the environment and .env."""

    def __init__(
        self, flags: Mapping[str, Any], environ: Mapping[str, str], dotenv: Mapping[str, Any], profile: str | None = None
    ):
        self.flags = {k: v for k, v in flags.items() if v is not None}
        self.environ = environ
        self.dotenv = {k: v for k, v in dotenv.items() if v is not None}
        self.profile = profile.upper() if profile else None

    def _names(self, key: str) -> list[str]:
        names = [f"OUTREACH_PROFILE_{self.profile}_{key}"] if self.profile else []
        if not self.profile or not _is_account_key(key):
            names.append(f"OUTREACH_{key}")
        return names

    def get(self, key: str, default: Any = None) -> Any:
        """`key` is the suffix after OUTREACH_, e.g. "SMTP_HOST"; flags use it lower-cased."""
        flag = key.lower()
        if flag in self.flags:
            return self.flags[flag]
        for name in self._names(key):
            if name in self.environ:
                return self.environ[name]
            if name in self.dotenv:
                return self.dotenv[name]
        return default

    def source(self, key: str) -> str | None:
        """The name of the setting that supplied `key` (for messages), or None."""
        for name in self._names(key):
            if name in self.environ or name in self.dotenv:
                return name
        return None

    def secret(self, key: str) -> str | None:
        """Secrets never come from flags."""
        for name in self._names(key):
            for source in (self.environ, self.dotenv):
                if name in source:  # set, even to nothing, beats what comes after it
                    return source[name] or None
        return None


def _is_account_key(key: str) -> bool:
    return key in ACCOUNT_KEYS or key.startswith(("SMTP_", "IMAP_"))


def _server(lookup: _Lookup, kind: str, host: str | None, port: int, security: str, username_default: str | None) -> ServerSettings:
    prefix = kind.upper()
    return ServerSettings(
        host=lookup.get(f"{prefix}_HOST", host),
        port=_parse_int(f"OUTREACH_{prefix}_PORT", lookup.get(f"{prefix}_PORT", port)),
        username=lookup.get(f"{prefix}_USERNAME", username_default),
        password=lookup.secret(f"{prefix}_PASSWORD"),
        security=_choice(f"OUTREACH_{prefix}_SECURITY", lookup.get(f"{prefix}_SECURITY", security), SECURITY_MODES),
        password_cmd=lookup.secret(f"{prefix}_PASSWORD_CMD"),
        oauth2_cmd=lookup.secret(f"{prefix}_OAUTH2_CMD") or lookup.secret("OAUTH2_TOKEN_CMD"),
        kind=prefix,
        setting_prefix=f"OUTREACH_PROFILE_{lookup.profile}_" if lookup.profile else "OUTREACH_",
    )


@dataclass(frozen=True)
class Workspace:
    """The folder settings come from and relative paths count from."""

    folder: Path
    env_file: Path | None
    source: str


def user_config_dir(environ: Mapping[str, str] | None = None) -> Path:
    """`$XDG_CONFIG_HOME/outreach`, else `~/.config/outreach`."""
    environ = os.environ if environ is None else environ
    base = environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "outreach"


def is_configured(folder: Path) -> bool:
    """A folder set up for outreach holds a .env, a database or a templates folder."""
    return any((folder / marker).exists() for marker in MARKERS)


def find_workspace(env_file: str | Path | None = AUTO, *, environ: Mapping[str, str] | None = None) -> Workspace:
    """The current folder, then the user's config folder; an explicit env file wins."""
    cwd = Path(".")
    if env_file is None:
        return Workspace(cwd, None, "none")
    if env_file != AUTO:
        path = Path(env_file)
        return Workspace(path.parent, path if path.is_file() else None, "--env-file")
    for folder, source in ((cwd, "current folder"), (user_config_dir(environ), "config folder")):
        if is_configured(folder):
            env = folder / ".env"
            return Workspace(folder, env if env.is_file() else None, source)
    return Workspace(cwd, None, "none")


def profile_names(environ: Mapping[str, str], dotenv: Mapping[str, Any]) -> list[str]:
    """Profiles defined by OUTREACH_PROFILE_<NAME>_... keys, lower-cased, sorted."""
    names = set()
    for key in (*environ, *dotenv):
        if key.startswith("OUTREACH_PROFILE_"):
            names.add(key[len("OUTREACH_PROFILE_"):].split("_", 1)[0].lower())
    return sorted(n for n in names if n)


def _check_profile(profile: str | None, environ: Mapping[str, str], dotenv: Mapping[str, Any]) -> str | None:
    if not profile:
        return None
    known = profile_names(environ, dotenv)
    if not PROFILE_NAME.fullmatch(profile) or profile.lower() not in known:
        have = f"profiles set up: {', '.join(known)}" if known else "no profile is set up yet"
        raise ConfigError(
            f"no profile called {profile!r} ({have}); add OUTREACH_PROFILE_{profile.upper()}_FROM=... and its "
            "servers to .env (letters and digits only in the name), or drop --profile"
        )
    return profile.lower()


def _path(text: str, base: Path | None) -> Path:
    """A path from .env counts from the .env's folder (the config folder, say), others from here."""
    path = Path(text).expanduser()
    return base / path if base is not None and not path.is_absolute() else path


def load_settings(
    flags: Mapping[str, Any] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    env_file: str | Path | None = AUTO,
) -> Settings:
    """Resolve every setting once. `flags` keys are lower-case setting names (e.g. `db`);
    `flags["profile"]` picks a profile. `env_file`: AUTO finds the workspace, None reads no file."""
    environ = os.environ if environ is None else environ
    flags = dict(flags or {})
    workspace = find_workspace(env_file, environ=environ)
    dotenv = dotenv_values(workspace.env_file) if workspace.env_file else {}
    profile_flag = flags.pop("profile", None) or environ.get("OUTREACH_PROFILE") or dotenv.get("OUTREACH_PROFILE")
    profile = _check_profile(profile_flag, environ, dotenv)
    lookup = _Lookup(flags, environ, dotenv, profile)
    base = workspace.folder if workspace.folder.resolve() != Path.cwd().resolve() else None

    def path_setting(key: str, default: str) -> Path:
        value = lookup.get(key)
        from_file = value is not None and lookup.source(key) is not None and lookup.source(key) not in environ and key.lower() not in lookup.flags
        if value is None:  # defaults live in the workspace found; --env-file leaves them here
            return _path(default, base if workspace.source == "config folder" else None)
        return _path(str(value), base if from_file else None)

    provider = _choice(_name("PROVIDER", lookup), lookup.get("PROVIDER", "custom"), tuple(_known_providers()))
    preset = preset_for(provider)
    from_address = lookup.get("FROM")
    username_default = bare_address(from_address)
    signature = lookup.get("SIGNATURE")
    folders = lookup.get("IMAP_FOLDERS", "INBOX,\\Junk")
    ca_file = lookup.get("CA_FILE")
    return Settings(
        db_path=path_setting("DB", "outreach.db"),
        templates_dir=path_setting("TEMPLATES_DIR", "templates"),
        outbox_dir=path_setting("OUTBOX_DIR", "outbox"),
        from_address=from_address,
        signature=signature.replace("\\n", "\n") if signature else None,
        provider=provider,
        smtp=_server(lookup, "smtp", preset.smtp_host, preset.smtp_port, preset.smtp_security, username_default),
        imap=_server(lookup, "imap", preset.imap_host, preset.imap_port, preset.imap_security, username_default),
        ca_file=path_setting("CA_FILE", "") if ca_file else None,
        allow_plaintext_login=_parse_bool("OUTREACH_ALLOW_PLAINTEXT_LOGIN", str(lookup.get("ALLOW_PLAINTEXT_LOGIN", "no"))),
        sent_copy=_choice(_name("SENT_COPY", lookup), lookup.get("SENT_COPY", "auto"), SENT_COPY_MODES),
        timezone=lookup.get("TIMEZONE", "America/New_York"),
        gap=parse_gap(str(lookup.get("GAP", "45-120"))),
        daily_cap=_parse_int(_name("DAILY_CAP", lookup), lookup.get("DAILY_CAP", preset.daily_cap)),
        hourly_cap=_parse_int(_name("HOURLY_CAP", lookup), lookup.get("HOURLY_CAP", preset.hourly_cap)),
        domain_cap=_parse_int(_name("DOMAIN_CAP", lookup), lookup.get("DOMAIN_CAP", preset.domain_cap)),
        send_window=lookup.get("SEND_WINDOW") or None,
        imap_folders=tuple(f.strip() for f in str(folders).split(",") if f.strip()),
        followup_days=_parse_int("OUTREACH_FOLLOWUP_DAYS", lookup.get("FOLLOWUP_DAYS", 7)),
        away_days=_parse_int("OUTREACH_AWAY_DAYS", lookup.get("AWAY_DAYS", 14)),
        profile=profile,
        env_file=workspace.env_file,
        source=workspace.source,
        busy_timeout=_parse_seconds("OUTREACH_BUSY_TIMEOUT", lookup.get("BUSY_TIMEOUT", 5)),
        outcomes=tuple(n.strip() for n in str(lookup.get("OUTCOMES", "")).split(",") if n.strip()),
        profiles=tuple(profile_names(environ, dotenv)),
    )


def _name(key: str, lookup: _Lookup) -> str:
    """The setting's name as the user wrote it (profile key or plain), for error messages."""
    return lookup.source(key) or f"OUTREACH_{key}"


def _known_providers() -> list[str]:
    return list(PRESETS)


def bare_address(from_address: str | None) -> str | None:
    """The address of OUTREACH_FROM: "ada@x.org" from "Ada Obi, MD <ada@x.org>" too (parseaddr
    alone reads an unquoted comma as two addresses and gives "Ada")."""
    if not from_address:
        return None
    angle = re.search(r"<([^<>\s]+)>\s*$", from_address)
    return angle.group(1) if angle else parseaddr(from_address)[1] or None
