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
