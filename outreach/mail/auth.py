"""Signing in to SMTP and IMAP, the one place that knows how: a password (from the settings or
from a command, as mutt and isync do), an OAuth2 access token from a command (SASL XOAUTH2), or
no login at all for a relay that needs none (username set empty).

Secret commands run without a shell unless they use shell syntax (a pipe, `$VAR`, `~`...), with a
timeout, only when a login needs them. Their output is the secret: it is never printed, logged
or put in an error message (an error names the setting and the exit status only).
"""

from __future__ import annotations

import shlex
import subprocess
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from outreach.config import ServerSettings
from outreach.errors import ConfigError

if TYPE_CHECKING:  # annotations only: `replies poll` needs no SMTP library, a send no IMAP one
    import aiosmtplib
    from imapclient import IMAPClient

COMMAND_TIMEOUT = 30.0
REUSE_SECONDS = 60.0
"""A command's secret is reused this long within one process (SMTP and IMAP often share one
token command; a passphrase prompt should not appear twice), then asked again (tokens expire)."""
_recent: dict[str, tuple[float, str]] = {}
SHELL_SYNTAX = set("|&;<>()$`*?[]#~{}\n")


@dataclass(frozen=True)
class Credentials:
    """What a login sends. `secret` is a password or an access token; its repr is hidden."""

    method: str
    username: str
    secret: str = field(repr=False, default="")


def credentials(server: ServerSettings) -> Credentials:
    """The username and secret for `server`, running the secret command if one is set.

    Raises ConfigError (naming the setting to fix) when a secret is missing or its command fails."""
    kind = server.kind
    key = f"{server.setting_prefix}{kind}"  # OUTREACH_SMTP, or OUTREACH_PROFILE_WORK_SMTP for a profile
    method = server.auth_method
    if method == "none":
        return Credentials("none", "")
    if not server.username:
        raise ConfigError(
            f"{kind} username missing: set {server.setting_prefix}FROM (or {key}_USERNAME) in .env; "
            f"for a relay that needs no login set {key}_USERNAME= (empty)"
        )
    if method == "xoauth2":
        setting = f"{key}_OAUTH2_CMD (or OUTREACH_OAUTH2_TOKEN_CMD)"
        return Credentials("xoauth2", server.username, run_secret_command(server.oauth2_cmd or "", setting))
    if server.password:
        return Credentials("password", server.username, server.password)
    if server.password_cmd:
        return Credentials("password", server.username, run_secret_command(server.password_cmd, f"{key}_PASSWORD_CMD"))
    raise ConfigError(
        f"no {kind} password: set {key}_PASSWORD (or {key}_PASSWORD_CMD, a command that prints it) "
        "in .env, or run `outreach init`; it is never stored or printed"
    )


def imap_credentials(server: ServerSettings) -> Credentials:
    """As `credentials`, but IMAP always signs in: an empty username is an error here."""
    creds = credentials(server)
    if creds.method == "none":
        raise ConfigError("IMAP always needs a login: set OUTREACH_IMAP_USERNAME (or OUTREACH_FROM); only SMTP may have none")
    return creds


def run_secret_command(command: str, setting: str, *, timeout: float = COMMAND_TIMEOUT) -> str:
    """The first line a secret command prints. Errors name `setting`, never the output."""
    if not command.strip():
        raise ConfigError(f"{setting} is empty: give the command that prints the secret")
    cached = _recent.get(command)
    if cached and time.monotonic() - cached[0] < REUSE_SECONDS:
        return cached[1]
    secret = _run(command, setting, timeout)
    _recent[command] = (time.monotonic(), secret)
    return secret


def _run(command: str, setting: str, timeout: float) -> str:
    use_shell = any(ch in SHELL_SYNTAX for ch in command)
    try:
        argv = command if use_shell else shlex.split(command)
    except ValueError:
        argv, use_shell = command, True
    try:
        done = subprocess.run(
            argv, shell=use_shell, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL, check=False
        )
    except FileNotFoundError:
        raise ConfigError(f"{setting}: command {shlex.split(command)[0]!r} not found; check the command and your PATH") from None
    except PermissionError:
        raise ConfigError(f"{setting}: the command is not executable; check the command") from None
    except subprocess.TimeoutExpired:
        raise ConfigError(
            f"{setting}: the command did not finish within {timeout:.0f} s (is it waiting for a passphrase?); "
            "run it yourself once to unlock it"
        ) from None
    if done.returncode != 0:
        raise ConfigError(
            f"{setting}: the command failed (exit status {done.returncode}); run it yourself to see why "
            "(its output is not shown here because it may hold the secret)"
        )
    lines = done.stdout.decode("utf-8", "replace").splitlines()
    secret = lines[0].strip() if lines else ""
    if not secret:
        raise ConfigError(f"{setting}: the command printed nothing; it must print the secret on its first line")
    return secret


async def smtp_login(client: aiosmtplib.SMTP, creds: Credentials) -> None:
    """Sign in on an open (and, where asked, encrypted) SMTP connection; no-op for a relay.

    Raises aiosmtplib.SMTPAuthenticationError when the server refuses, like `client.login`."""
    if creds.method == "none":
        return
    if creds.method == "xoauth2":
        await client.ehlo()
        if "xoauth2" not in client.server_auth_methods:
            raise ConfigError(
                "OAuth2 sign-in is set (OUTREACH_SMTP_OAUTH2_CMD or OUTREACH_OAUTH2_TOKEN_CMD) but the SMTP server "
                f"does not offer XOAUTH2 (it offers: {', '.join(client.server_auth_methods) or 'no login'}); use a password"
            )
        await client.auth_xoauth2(creds.username, creds.secret)
    else:
        await client.login(creds.username, creds.secret)


def imap_login(client: IMAPClient, creds: Credentials) -> None:
    """Sign in on an open IMAP connection. Raises imapclient's LoginError when refused."""
    if creds.method == "xoauth2":
        client.oauth2_login(creds.username, creds.secret)
    else:
        client.login(creds.username, creds.secret)
