"""Mail provider presets: servers, TLS and conservative sending caps well under published limits.

Published limits (2026): Gmail 500/day, Google Workspace 2,000/day, Outlook.com 300/day,
Microsoft 365 10,000 recipients/day and 30/minute, Yahoo ~500/day, iCloud 1,000/day.
We stay far below them: a cold-outreach account that hits a quota is locked for a day.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Preset:
    name: str
    smtp_host: str | None
    smtp_port: int
    smtp_security: str
    imap_host: str | None
    imap_port: int
    imap_security: str
    daily_cap: int
    hourly_cap: int
    domain_cap: int
    saves_sent_copy: bool
    """True when the provider files SMTP-sent mail in Sent itself (no IMAP APPEND needed)."""


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset("gmail", "smtp.gmail.com", 465, "tls", "imap.gmail.com", 993, "tls", 100, 20, 3, True),
        Preset("workspace", "smtp.gmail.com", 465, "tls", "imap.gmail.com", 993, "tls", 300, 50, 3, True),
        Preset("outlook", "smtp-mail.outlook.com", 587, "starttls", "outlook.office365.com", 993, "tls", 100, 20, 3, True),
        Preset("microsoft365", "smtp.office365.com", 587, "starttls", "outlook.office365.com", 993, "tls", 300, 60, 3, True),
        Preset("yahoo", "smtp.mail.yahoo.com", 465, "tls", "imap.mail.yahoo.com", 993, "tls", 100, 20, 3, False),
        Preset("icloud", "smtp.mail.me.com", 587, "starttls", "imap.mail.me.com", 993, "tls", 100, 20, 3, False),
        # Unknown servers get the most conservative caps.
        Preset("custom", None, 587, "starttls", None, 993, "tls", 50, 10, 2, False),
    )
}


def preset_for(name: str | None) -> Preset:
    """The preset called `name`; unknown or missing names get the conservative `custom` one."""
    return PRESETS.get((name or "custom").strip().lower(), PRESETS["custom"])


APP_PASSWORD_HELP: dict[str, tuple[str, ...]] = {
    "gmail": (
        "Gmail needs an app password (your normal password is refused with 535 5.7.8):",
        "  1. Turn on 2-Step Verification: https://myaccount.google.com/signinoptions/twosv",
        "  2. Create an app password: https://myaccount.google.com/apppasswords (name it 'outreach')",
        "  3. Put the 16 letters (without the spaces) in OUTREACH_SMTP_PASSWORD and OUTREACH_IMAP_PASSWORD.",
        "  Or sign in with OAuth2: OUTREACH_OAUTH2_TOKEN_CMD (see the README, 'Sign-in').",
    ),
    "workspace": (
        "Google Workspace needs an app password (or OAuth2 if your admin turned app passwords off):",
        "  1. Turn on 2-Step Verification: https://myaccount.google.com/signinoptions/twosv",
        "  2. Create an app password: https://myaccount.google.com/apppasswords",
        "  3. Put it in OUTREACH_SMTP_PASSWORD and OUTREACH_IMAP_PASSWORD.",
        "  If the page says app passwords are not available, ask your admin or use OUTREACH_OAUTH2_TOKEN_CMD.",
    ),
    "yahoo": (
        "Yahoo needs an app password:",
        "  1. https://login.yahoo.com/account/security -> 'Generate app password' (2-step verification on).",
        "  2. Put it in OUTREACH_SMTP_PASSWORD and OUTREACH_IMAP_PASSWORD.",
    ),
    "icloud": (
        "iCloud Mail needs an app-specific password:",
        "  1. https://account.apple.com -> Sign-In and Security -> App-Specific Passwords -> '+'.",
        "  2. Put it in OUTREACH_SMTP_PASSWORD and OUTREACH_IMAP_PASSWORD; your username is your iCloud address.",
    ),
    "outlook": (
        "Outlook.com refuses passwords (basic authentication is off): sign in with OAuth2.",
        "  Set OUTREACH_OAUTH2_TOKEN_CMD to a command that prints a fresh access token, e.g. `oama access ADDRESS`",
        "  (https://github.com/pdobsan/oama) with the scopes https://outlook.office.com/SMTP.Send and",
        "  https://outlook.office.com/IMAP.AccessAsUser.All. The README, 'Sign-in', walks through it.",
    ),
    "microsoft365": (
        "Microsoft 365 refuses passwords (basic authentication is off): sign in with OAuth2.",
        "  Set OUTREACH_OAUTH2_TOKEN_CMD to a command that prints a fresh access token, e.g. `oama access ADDRESS`",
        "  (scopes https://outlook.office.com/SMTP.Send and https://outlook.office.com/IMAP.AccessAsUser.All).",
        "  Your admin may need to allow 'Authenticated SMTP' for your mailbox. See the README, 'Sign-in'.",
    ),
    "custom": (
        "Your own server: set OUTREACH_SMTP_HOST, OUTREACH_SMTP_PORT and OUTREACH_SMTP_SECURITY",
        "  (tls for port 465, starttls for 587), the same for OUTREACH_IMAP_* (tls for 993, starttls for 143),",
        "  and the passwords in OUTREACH_SMTP_PASSWORD and OUTREACH_IMAP_PASSWORD. Universities often publish",
        "  these on an 'email client settings' page; many need an app password or OAuth2 too.",
    ),
}
"""How to get a secret each provider accepts: shown by `outreach init` and after a refused login."""

NEEDS_OAUTH2 = frozenset({"outlook", "microsoft365"})
"""Providers that refuse passwords for SMTP/IMAP."""


def login_refused_hint(provider: str, method: str, kind: str) -> str:
    """One sentence saying what to do after the server refused our login."""
    if method == "xoauth2":
        return (
            f"the OAuth2 access token from OUTREACH_{kind}_OAUTH2_CMD (or OUTREACH_OAUTH2_TOKEN_CMD) was refused: "
            "it may have expired or lack the mail scope; run the command yourself and check it prints a fresh token"
        )
    name = preset_for(provider).name
    if name in ("gmail", "workspace"):
        return (
            "use an app password: turn on 2-Step Verification, create one at https://myaccount.google.com/apppasswords "
            f"and put it in OUTREACH_{kind}_PASSWORD (or use OAuth2: OUTREACH_OAUTH2_TOKEN_CMD)"
        )
    if name in NEEDS_OAUTH2:
        return "Outlook.com and Microsoft 365 refuse passwords: sign in with OAuth2 (set OUTREACH_OAUTH2_TOKEN_CMD; README, 'Sign-in')"
    if name == "yahoo":
        return f"use a Yahoo app password (login.yahoo.com/account/security -> Generate app password) in OUTREACH_{kind}_PASSWORD"
    if name == "icloud":
        return f"use an app-specific password (account.apple.com -> Sign-In and Security) in OUTREACH_{kind}_PASSWORD"
    return f"check OUTREACH_{kind}_USERNAME and OUTREACH_{kind}_PASSWORD (many providers need an app password)"
