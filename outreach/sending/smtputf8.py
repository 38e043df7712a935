"""Does the SMTP server offer SMTPUTF8 (RFC 6531)? Asked once, when a campaign starts with
contacts whose address has non-ASCII before the @ (`zoë.adeyemi@...`): they are queued only if
it does, and skipped with the reason otherwise, so they never block the rest of the campaign."""

from __future__ import annotations

from outreach.config import Settings
from outreach.mail.smtp import SmtpConnection


async def offers_smtputf8(settings: Settings) -> bool:
    """Connect, log in, read the EHLO answer, leave. A wrong password or certificate fails here,
    as the send would."""
    connection = SmtpConnection(settings)
    await connection.open()
    try:
        assert connection.client is not None
        return connection.client.supports_extension("smtputf8")
    finally:
        await connection.close()
