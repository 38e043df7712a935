"""`outreach init`: from a few answers to a working folder (a `.env` readable only by you, the
starter templates and the example contacts). The CLI asks the questions; this module decides
what they mean and writes the files, and never prints.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from email.utils import formataddr
from pathlib import Path

from email_validator import EmailNotValidError, validate_email

from outreach.config import SECURITY_MODES
from outreach.errors import ConfigError, OutreachError
from outreach.onboard.starter import Copied, copy_starters
from outreach.providers import NEEDS_OAUTH2, PRESETS, preset_for

SECRET_SOURCES = ("env", "command", "oauth")
DOMAIN_PROVIDERS = {
    "gmail.com": "gmail", "googlemail.com": "gmail",
    "outlook.com": "outlook", "hotmail.com": "outlook", "live.com": "outlook", "msn.com": "outlook",
    "yahoo.com": "yahoo", "ymail.com": "yahoo",
    "icloud.com": "icloud", "me.com": "icloud", "mac.com": "icloud",
}


@dataclass(frozen=True)
class Answers:
    """Everything `init` needs. No secret here: passwords go into .env by the user or a command."""

    provider: str
    name: str
    address: str
    secret_source: str
    password_command: str | None = None
    token_command: str | None = None
    smtp_host: str | None = None
    smtp_port: int | None = None
    smtp_security: str | None = None
    imap_host: str | None = None
    imap_port: int | None = None
    imap_security: str | None = None


def guess_provider(address: str | None) -> str | None:
    """gmail for @gmail.com and so on; None for a domain we cannot tell (a university, say)."""
    if not address or "@" not in address:
        return None
    return DOMAIN_PROVIDERS.get(address.rsplit("@", 1)[1].strip().lower())


def default_secret_source(provider: str) -> str:
    return "oauth" if provider in NEEDS_OAUTH2 else "env"


def check_address(address: str) -> str:
    """The address, normalised; ConfigError with the reason when it is not one."""
    try:
        return validate_email(address.strip(), check_deliverability=False).normalized
    except EmailNotValidError as error:
        raise ConfigError(f"{address!r} is not an email address ({error}); give the address you send from") from None


def check_answers(answers: Answers) -> Answers:
    if answers.provider not in PRESETS:
        raise ConfigError(f"provider {answers.provider!r}: use one of {', '.join(PRESETS)}")
    if answers.secret_source not in SECRET_SOURCES:
        raise ConfigError(f"secret source {answers.secret_source!r}: use one of {', '.join(SECRET_SOURCES)}")
    for value in (answers.name, answers.password_command or "", answers.token_command or ""):
        if any(ch in value for ch in "\r\n\0"):
            raise ConfigError("answers must be one line each")
    for security in (answers.smtp_security, answers.imap_security):
        if security and security not in SECURITY_MODES:
            raise ConfigError(f"security {security!r}: use one of {', '.join(SECURITY_MODES)}")
    return answers


def _quote(value: str) -> str:
    """A .env value in double quotes (python-dotenv unescapes \\" and \\\\ inside them)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def from_header(name: str, address: str) -> str:
    return formataddr((name.strip(), address)) if name.strip() else address


def env_text(answers: Answers, *, password: str | None = None) -> str:
    """The .env `init` writes: only what this account needs, with the next step beside each gap.
    `password` (typed at a hidden prompt, never a flag) fills both password lines."""
    answers = check_answers(answers)
    preset = preset_for(answers.provider)
    lines = [
        "# outreach settings, written by `outreach init`. Readable only by you (mode 0600).",
        "# Every setting is described in .env.example; `outreach doctor` checks them.",
        f"OUTREACH_PROVIDER={answers.provider}",
        f"OUTREACH_FROM={_quote(from_header(answers.name, answers.address))}",
        "",
    ]
    if answers.provider == "custom":
        lines += _custom_servers(answers)
    lines += _sign_in_lines(answers, preset.name, password)
    lines += [
        "",
        "# Pacing: the provider preset's caps are well under its published limits; 0 means no limit.",
        f"# OUTREACH_DAILY_CAP={preset.daily_cap}",
        f"# OUTREACH_HOURLY_CAP={preset.hourly_cap}",
        '# OUTREACH_SEND_WINDOW="Mon-Fri 08:00-17:00"',
        "",
    ]
    return "\n".join(lines)


def _custom_servers(answers: Answers) -> list[str]:
    lines = ["# Your mail servers (your provider's 'email client settings' page lists them)"]
    for kind, host, port, security, default_port, default_security in (
        ("SMTP", answers.smtp_host, answers.smtp_port, answers.smtp_security, 587, "starttls"),
        ("IMAP", answers.imap_host, answers.imap_port, answers.imap_security, 993, "tls"),
    ):
        lines.append(f"OUTREACH_{kind}_HOST={host}" if host else f"# OUTREACH_{kind}_HOST=mail.example.edu   <- fill in")
        lines.append(f"OUTREACH_{kind}_PORT={port or default_port}")
        lines.append(f"OUTREACH_{kind}_SECURITY={security or default_security}")
    return lines + [""]


def _sign_in_lines(answers: Answers, provider: str, password: str | None) -> list[str]:
    if answers.secret_source == "oauth":
        command = answers.token_command or f"oama access {answers.address}"
        prefix = "" if answers.token_command else "# "
        return [
            "# Sign-in: OAuth2 (XOAUTH2). The command prints a fresh access token on its first line.",
            f"{prefix}OUTREACH_OAUTH2_TOKEN_CMD={_quote(command)}",
        ]
    if answers.secret_source == "command":
        command = answers.password_command or f"pass show email/{answers.address}"
        prefix = "" if answers.password_command else "# "
        return [
            "# Sign-in: the password comes from a command (a keychain, `pass`), first line of its output.",
            f"{prefix}OUTREACH_SMTP_PASSWORD_CMD={_quote(command)}",
            f"{prefix}OUTREACH_IMAP_PASSWORD_CMD={_quote(command)}",
        ]
    what = "app password" if provider not in ("custom",) else "password (an app password if your provider offers one)"
    if password and any(ch in password for ch in "\r\n\0"):
        raise ConfigError("the password must be one line")
    value = _quote(password) if password else ""
    return [
        f"# Sign-in: your {what} (never your main password).",
        f"OUTREACH_SMTP_PASSWORD={value}",
        f"OUTREACH_IMAP_PASSWORD={value}",
    ]


def write_env(path: Path, text: str, *, overwrite: bool = False) -> None:
    """Write .env readable and writable by its owner only (0600), even over an older file."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if overwrite else os.O_EXCL)
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError:
        raise OutreachError(f"{path} already exists; it was left as it is (use --force to replace it)") from None
    except OSError as error:
        raise OutreachError(f"cannot write {path}: {error.strerror}") from None
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        os.fchmod(handle.fileno(), 0o600)
        handle.write(text)


@dataclass
class InitResult:
    folder: Path
    env_file: Path
    starters: Copied


def initialise(folder: Path, answers: Answers, *, overwrite_env: bool = False, password: str | None = None) -> InitResult:
    """Create `folder` if needed, write its .env (0600) and copy the starters beside it."""
    text = env_text(answers, password=password)
    folder.mkdir(parents=True, exist_ok=True)
    env_file = folder / ".env"
    write_env(env_file, text, overwrite=overwrite_env)
    return InitResult(folder, env_file, copy_starters(folder))

