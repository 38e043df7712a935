"""Copies of sent messages in the IMAP Sent folder, for providers that don't file SMTP mail there."""

from __future__ import annotations

from contextlib import suppress
from datetime import datetime
from typing import TYPE_CHECKING

from outreach.config import Settings
from outreach.errors import ConfigError

if TYPE_CHECKING:
    from imapclient import IMAPClient


def copies_wanted(settings: Settings) -> bool:
    """OUTREACH_SENT_COPY: yes, no, or auto (only where the provider doesn't keep its own copy)."""
    if settings.sent_copy == "no":
        return False
    if settings.sent_copy == "yes":
        if not settings.imap.host:
            raise ConfigError("OUTREACH_SENT_COPY=yes needs an IMAP server: set OUTREACH_IMAP_HOST (or a provider preset)")
        return True
    return bool(settings.imap.host) and not settings.preset.saves_sent_copy


class SentCopier:
    """Copies sent messages to the IMAP Sent folder on one reused connection; never fails a send."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.client: IMAPClient | None = None
        self.broken: str | None = None

    def save(self, raw: bytes, when: datetime) -> bool:
        if self.broken:
            return False
        # lazy: the IMAP client library is 25 ms of start-up, and most sends make no copy
        from outreach.mail.imap import connect_imap
        from outreach.mail.imap_folders import append_to_sent

        try:
            if self.client is None:
                self.client = connect_imap(self.settings)
            append_to_sent(self.settings, raw, when=when, client=self.client)
            return True
        except Exception as error:  # noqa: BLE001 - a failed copy must never turn a sent message into a failure
            self.broken = f"could not save copies in the Sent folder ({error}); messages were sent, the copies are missing"
            self.close()
            return False

    def close(self) -> None:
        if self.client is not None:
            with suppress(Exception):
                self.client.logout()
        self.client = None
