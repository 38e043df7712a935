"""`outreach doctor`: try the account the way a send and a poll will, before the first real send.

Each check says what it found and, when something is wrong, what to do. It signs in to SMTP and
IMAP for real (the same sign-in code as sending and polling, outreach/mail/auth.py), notes the TLS
version and certificate, finds Sent / Drafts / Junk by SPECIAL-USE and shows the caps and the
window in force. Nothing is sent. Every secret used is scrubbed from the results, whatever a
server or a library put in an error text.
"""

from __future__ import annotations

import asyncio
import ssl
import stat
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import aiosmtplib

from outreach.config import Settings
from outreach.errors import ConfigError, OutreachError
from outreach.mail.imap import LoginRefused, connect_imap
from outreach.mail.auth import Credentials, credentials, imap_credentials, smtp_login
from outreach.mail.tls import require_safe_login, ssl_context
from outreach.providers import NEEDS_OAUTH2, login_refused_hint

SMTP_TIMEOUT = 20.0
SPECIAL = (("Sent", b"\\Sent"), ("Drafts", b"\\Drafts"), ("Junk", b"\\Junk"))


@dataclass
class Check:
    """One line of the report. status: ok | warn | fail | skip."""

    name: str
    status: str
    detail: str
    fix: str | None = None


@dataclass
class Diagnosis:
    account: dict[str, Any]
    checks: list[Check] = field(default_factory=list)
    secrets: list[str] = field(default_factory=list, repr=False)

    @property
    def ok(self) -> bool:
        return not any(c.status == "fail" for c in self.checks)

    def add(self, name: str, status: str, detail: str, fix: str | None = None) -> Check:
        check = Check(name, status, self._scrub(detail), self._scrub(fix) if fix else None)
        self.checks.append(check)
        return check

    def _scrub(self, text: str) -> str:
        for secret in self.secrets:
            if secret and len(secret) >= 3:
                text = text.replace(secret, "***")
        return text

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "account": self.account, "checks": [asdict(c) for c in self.checks]}


def diagnose(settings: Settings, *, limits_text: str, progress: Callable[[Check], None] | None = None) -> Diagnosis:
    """Run every check against `settings`; `progress` sees each check as it finishes."""
    report = Diagnosis(account=_account(settings, limits_text))
    checks: list[Callable[[Settings, Diagnosis], None]] = [_check_settings, _check_smtp, _check_imap]
    for check in checks:
        before = len(report.checks)
        check(settings, report)
        if progress:
            for item in report.checks[before:]:
                progress(item)
    return report


def _account(settings: Settings, limits_text: str) -> dict[str, Any]:
    return {
        "profile": settings.profile,
        "from": settings.from_address,
        "provider": settings.provider,
        "settings": str(settings.env_file) if settings.env_file else None,
        "found_in": settings.source,
        "smtp": f"{settings.smtp.address} ({settings.smtp.security}, sign-in: {settings.smtp.auth_method})",
        "imap": f"{settings.imap.address} ({settings.imap.security}, sign-in: {settings.imap.auth_method})",
        "limits": limits_text,
        "database": str(settings.db_path),
        "templates": str(settings.templates_dir),
    }


def _check_settings(settings: Settings, report: Diagnosis) -> None:
    if settings.env_file is None:
        report.add("settings", "warn", "no .env here or in the config folder; using the environment only",
                   "run `outreach init` to write one")
    else:
        mode = stat.S_IMODE(settings.env_file.stat().st_mode)
        if mode & 0o077:
            report.add("settings", "warn", f"{settings.env_file} is readable by others (mode {mode:o})",
                       f"chmod 600 {settings.env_file}")
        else:
            report.add("settings", "ok", f"{settings.env_file} ({settings.source}, mode {mode:o})")
    for server in (settings.smtp, settings.imap):
        if settings.preset.name in NEEDS_OAUTH2 and server.auth_method == "password":
            report.add(f"{server.kind.lower()} sign-in method", "warn", f"{settings.provider} refuses passwords for {server.kind}",
                       login_refused_hint(settings.provider, "password", server.kind))
    if not settings.from_address:
        report.add("from", "fail", "OUTREACH_FROM is not set", "add OUTREACH_FROM=\"Your Name <you@example.com>\" to .env (or run `outreach init`)")
    else:
        report.add("from", "ok", settings.from_address)
    if settings.templates_dir.is_dir():
        count = len(list(settings.templates_dir.glob("*.txt")))
        report.add("templates", "ok" if count else "warn", f"{count} template(s) in {settings.templates_dir}",
                   None if count else "run `outreach init` to copy the starter templates")
    else:
        report.add("templates", "warn", f"no templates folder at {settings.templates_dir}", "run `outreach init` to copy the starter templates")


def _login(settings: Settings, report: Diagnosis, kind: str) -> Credentials | None:
    server = settings.smtp if kind == "SMTP" else settings.imap
    try:
        require_safe_login(server, settings, what=kind)
        creds = credentials(server) if kind == "SMTP" else imap_credentials(server)
    except ConfigError as error:
        report.add(f"{kind.lower()} sign-in", "fail", str(error), "fix that setting in .env, then run `outreach doctor` again")
        return None
    if creds.secret:
        report.secrets.append(creds.secret)
    return creds


# --- SMTP -------------------------------------------------------------------------------------


def _check_smtp(settings: Settings, report: Diagnosis) -> None:
    creds = _login(settings, report, "SMTP")
    if creds is None:
        return
    try:
        asyncio.run(_smtp_probe(settings, creds, report))
    except Exception as error:  # a library error we did not foresee still becomes one line
        report.add("smtp", "fail", f"{settings.smtp.address}: {type(error).__name__}: {error}", "check OUTREACH_SMTP_HOST, _PORT and _SECURITY")


async def _smtp_probe(settings: Settings, creds: Credentials, report: Diagnosis) -> None:
    server = settings.smtp
    secure = server.security in ("tls", "starttls")
    client = aiosmtplib.SMTP(
        hostname=server.host, port=server.port, use_tls=server.security == "tls", start_tls=server.security == "starttls",
        tls_context=ssl_context(settings) if secure else None, timeout=SMTP_TIMEOUT,
    )
    try:
        await client.connect()
    except (aiosmtplib.SMTPException, OSError, ssl.SSLError) as error:
        report.add("smtp connection", "fail", f"{server.address}: {_why(error)}", _connection_fix(error, "SMTP"))
        return
    try:
        report.add("smtp connection", "ok", f"{server.address} {_tls_text(client.get_transport_info('ssl_object'), server.security)}")
        if server.security == "none" and not server.is_loopback:
            report.add("smtp tls", "warn", "the connection is not encrypted", "use OUTREACH_SMTP_SECURITY=tls (port 465) or starttls (587)")
        if creds.method == "none":
            report.add("smtp sign-in", "ok", "no sign-in (OUTREACH_SMTP_USERNAME is empty: a relay that needs none)")
            return
        try:
            await smtp_login(client, creds)
        except aiosmtplib.SMTPAuthenticationError as error:
            report.add("smtp sign-in", "fail", f"{error.code} {error.message} from {server.host} for {creds.username}",
                       login_refused_hint(settings.provider, creds.method, "SMTP"))
            return
        except ConfigError as error:
            report.add("smtp sign-in", "fail", str(error), "sign in with a password instead (OUTREACH_SMTP_PASSWORD)")
            return
        except (aiosmtplib.SMTPException, OSError) as error:
            report.add("smtp sign-in", "fail", f"{_why(error)}", "check the username and the server's sign-in methods")
            return
        how = "OAuth2 (XOAUTH2)" if creds.method == "xoauth2" else "password"
        extras = [name for name in ("smtputf8", "8bitmime", "pipelining") if client.supports_extension(name)]
        report.add("smtp sign-in", "ok", f"signed in as {creds.username} with {how}; server offers {', '.join(extras) or 'no extensions we use'}")
    finally:
        try:
            await client.quit()
        except Exception:
            client.close()


# --- IMAP -------------------------------------------------------------------------------------


def _check_imap(settings: Settings, report: Diagnosis) -> None:
    if _login(settings, report, "IMAP") is None:
        return
    try:
        client = connect_imap(settings)
    except LoginRefused as error:
        report.add("imap sign-in", "fail", str(error), login_refused_hint(settings.provider, settings.imap.auth_method, "IMAP"))
        return
    except OutreachError as error:
        report.add("imap connection", "fail", str(error), "without IMAP, replies cannot be polled: fix the IMAP settings above "
                   "(or read exported mail with `outreach replies import`)")
        return
    try:
        sock = client.socket()
        report.add("imap connection", "ok", f"{settings.imap.address} {_tls_text(sock if isinstance(sock, ssl.SSLSocket) else None, settings.imap.security)}")
        report.add("imap sign-in", "ok", f"signed in as {settings.imap.username} with "
                   f"{'OAuth2 (XOAUTH2)' if settings.imap.auth_method == 'xoauth2' else 'password'}")
        _check_folders(client, settings, report)
    except Exception as error:
        report.add("imap folders", "fail", f"{type(error).__name__}: {error}", "run `outreach doctor` again; if it repeats, check the IMAP server")
    finally:
        try:
            client.logout()
        except Exception:
            pass


def _check_folders(client: Any, settings: Settings, report: Diagnosis) -> None:
    listed = client.list_folders()
    by_flag = {flag: name for flags, _sep, name in listed for flag in flags}
    for label, flag in SPECIAL:
        if flag in by_flag:
            report.add(f"{label.lower()} folder", "ok", f"{by_flag[flag]!r} (SPECIAL-USE {flag.decode()})")
            continue
        guess = client.find_special_folder(flag)
        if guess:
            report.add(f"{label.lower()} folder", "ok", f"{guess!r} (by its name; the server does not flag {flag.decode()})")
        else:
            needed = {"Sent": "copies of sent mail", "Drafts": "follow-up drafts", "Junk": "replies filed as spam"}[label]
            status = "warn" if label == "Junk" else "fail" if label == "Sent" and settings.sent_copy != "no" and not settings.preset.saves_sent_copy else "warn"
            report.add(f"{label.lower()} folder", status, f"no {label} folder found (needed for {needed})",
                       f"create a folder called {label} in your mail program")
    for name in settings.imap_folders:
        if name.startswith("\\"):
            continue
        if name.upper() != "INBOX" and not client.folder_exists(name):
            report.add("reply folders", "fail", f"OUTREACH_IMAP_FOLDERS names {name!r}, which does not exist",
                       "fix OUTREACH_IMAP_FOLDERS (comma-separated; \\Junk means the Junk folder)")


# --- wording ----------------------------------------------------------------------------------


def _tls_text(ssl_object: ssl.SSLObject | ssl.SSLSocket | None, security: str) -> str:
    if ssl_object is None:
        return "(not encrypted)"
    cert = ssl_object.getpeercert() or {}
    subject = dict(item[0] for item in cert.get("subject", ()) if item)
    issuer = dict(item[0] for item in cert.get("issuer", ()) if item)
    who = subject.get("commonName") or ", ".join(v for k, v in cert.get("subjectAltName", ())[:2]) or "?"
    by = issuer.get("organizationName") or issuer.get("commonName") or "?"
    until = cert.get("notAfter", "?")
    return f"({security}, {ssl_object.version()}, certificate for {who} from {by} verified, valid until {until})"


def _why(error: BaseException) -> str:
    cause = error.__cause__ or error.__context__
    if isinstance(cause, ssl.SSLCertVerificationError) and not isinstance(error, ssl.SSLError):
        error = cause
    if isinstance(error, ssl.SSLCertVerificationError):
        return f"the TLS certificate is not trusted ({error.verify_message})"
    return str(error) or type(error).__name__


def _connection_fix(error: BaseException, kind: str) -> str:
    text = _why(error)
    if "certificate" in text:
        return f"if this is your own server with a self-signed certificate, set OUTREACH_CA_FILE to its CA file; otherwise check OUTREACH_{kind}_HOST"
    if isinstance(error, ssl.SSLError) or "TLS" in text or "SSL" in text:
        return f"check OUTREACH_{kind}_SECURITY against the port (SMTP: tls for 465, starttls for 587)"
    return f"check OUTREACH_{kind}_HOST and OUTREACH_{kind}_PORT, and your network"
