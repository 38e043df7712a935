"""One set of connection-security rules for SMTP and IMAP: TLS by default, certificates verified,
no password over plain text except to loopback (or when the user explicitly allows it)."""

from __future__ import annotations

import ssl

from outreach.config import ServerSettings, Settings
from outreach.errors import ConfigError


def ssl_context(settings: Settings) -> ssl.SSLContext:
    """A verifying client context that also trusts OUTREACH_CA_FILE (for self-signed test servers)."""
    context = ssl.create_default_context()
    if settings.ca_file:
        if not settings.ca_file.is_file():
            raise ConfigError(f"OUTREACH_CA_FILE {settings.ca_file} does not exist")
        context.load_verify_locations(cafile=str(settings.ca_file))
    return context


def require_safe_login(server: ServerSettings, settings: Settings, *, what: str) -> None:
    """Refuse to send a password unencrypted to anything but this machine (a relay that needs no
    login, username set empty, sends no password)."""
    if server.host is None:
        raise ConfigError(f"no {what} server set: set OUTREACH_{what}_HOST or OUTREACH_PROVIDER")
    if server.security == "none" and server.auth_method != "none" and not server.is_loopback and not settings.allow_plaintext_login:
        raise ConfigError(
            f"{what} security is 'none' for {server.address}: the password would cross the network "
            f"unencrypted. Use OUTREACH_{what}_SECURITY=tls or starttls "
            "(or OUTREACH_ALLOW_PLAINTEXT_LOGIN=yes if you really mean it)"
        )
