"""The SMTP protocol: one reused connection per account and what each server reply means.

This module knows SMTP, not campaigns: it hands one message to the server and says what came of
it (`Outcome`). The send run (sending/sender.py) decides what to record and when; the hooks of
`SmtpConnection.transmit` let it commit to the database at the right instants of the transaction.

Server replies are read as a careful person would: 4xx -> try again later; 5xx on a recipient ->
hard bounce; a daily-quota reply -> stop sending from the account; 5xx on MAIL FROM -> the sender
address is wrong; a connection lost once DATA began -> nobody knows whether the message went.
"""

from __future__ import annotations

import re
import ssl
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import format_datetime, getaddresses

import aiosmtplib

from outreach.config import Settings
from outreach.errors import ConfigError, MailServerError
from outreach.mail.auth import credentials, smtp_login
from outreach.mail.tls import require_safe_login, ssl_context
from outreach.providers import login_refused_hint

IDLE_CHECK = 30.0  # seconds idle after which the connection is checked with NOOP before use

QUOTA_TEXT = re.compile(
    r"\b5\.4\.5\b|daily (user )?sending (quota|limit)|sending (quota|limit) exceeded|quota exceeded"
    r"|exceeded the (daily|sending) (limit|quota)|too many messages sent",
    re.I,
)
USER_UNKNOWN_TEXT = re.compile(r"\b5\.1\.\d\b|user unknown|no such user|does not exist|mailbox (unavailable|not found)|unknown recipient", re.I)


class SmtpLoginError(MailServerError):
    """The server refused our username/password: retrying would only lock the account."""


class SmtpTlsError(MailServerError):
    """The secure connection could not be set up (certificate, protocol): never fall back to plain."""


@dataclass
class Outcome:
    kind: str  # sent | deferred | retry_now | hard_bounce | rejected | quota | uncertain | sender_refused
    code: int | None = None
    text: str = ""

    @property
    def response(self) -> str:
        return f"{self.code} {self.text}".strip() if self.code else self.text


def classify_reply(code: int, text: str, *, phase: str) -> str:
    """What a careful person would make of an SMTP error reply in MAIL/RCPT/DATA."""
    if code >= 500 and QUOTA_TEXT.search(text) or (code == 554 and "5.2.0" in text) or (code == 421 and QUOTA_TEXT.search(text)):
        return "quota"
    if 400 <= code < 500:
        return "deferred"
    if phase == "mail":
        return "sender_refused"
    if phase == "rcpt":
        return "hard_bounce"
    if code in (550, 551, 553) or USER_UNKNOWN_TEXT.search(text):
        return "hard_bounce"
    return "rejected"  # e.g. 552 too big, 554 content refused: not the address's fault


# --- the SMTP connection -------------------------------------------------------------------------


class SmtpConnection:
    """One authenticated connection per account, reused across messages and reopened if dropped."""

    def __init__(self, settings: Settings, *, timeout: float = 60.0) -> None:
        self.settings = settings
        self.server = settings.smtp
        self.timeout = timeout
        self.client: aiosmtplib.SMTP | None = None
        self.last_used = 0.0
        self.connects = 0

    def _error(self, cls: type[MailServerError], text: str) -> MailServerError:
        return cls(text, host=self.server.host, port=self.server.port)

    async def open(self) -> None:
        server, settings = self.server, self.settings
        require_safe_login(server, settings, what="SMTP")
        creds = credentials(server)
        secure = server.security in ("tls", "starttls")
        client = aiosmtplib.SMTP(
            hostname=server.host,
            port=server.port,
            use_tls=server.security == "tls",
            start_tls=server.security == "starttls",
            tls_context=ssl_context(settings) if secure else None,
            timeout=self.timeout,
        )
        try:
            await client.connect()
        except (ssl.SSLError, aiosmtplib.SMTPException, OSError) as error:
            cause = error if isinstance(error, ssl.SSLError) else error.__cause__ or error.__context__
            if isinstance(cause, ssl.SSLError) or "STARTTLS" in str(error) or "TLS" in str(error):
                raise self._error(SmtpTlsError, f"secure connection failed ({cause or error}); check OUTREACH_SMTP_SECURITY and OUTREACH_CA_FILE. Nothing more was sent") from None
            raise self._error(MailServerError, f"cannot connect to the SMTP server ({error}); check OUTREACH_SMTP_HOST/PORT and your network") from None
        if creds.method != "none":
            try:
                await smtp_login(client, creds)
            except aiosmtplib.SMTPAuthenticationError as error:
                client.close()
                raise self._error(
                    SmtpLoginError,
                    f"login refused for {server.username} ({error.code} {error.message}): "
                    f"{login_refused_hint(settings.provider, creds.method, 'SMTP')}. Stopped without retrying",
                ) from None
            except ConfigError:
                client.close()
                raise
            except (aiosmtplib.SMTPException, OSError) as error:
                client.close()
                raise self._error(MailServerError, f"login failed ({error}); stopped without retrying") from None
        self.client = client
        self.connects += 1
        self.last_used = time.monotonic()

    async def ensure(self) -> None:
        """An open, logged-in connection; a NOOP first if it sat idle (servers drop idle ones)."""
        if self.client is not None and self.client.is_connected and time.monotonic() - self.last_used > IDLE_CHECK:
            try:
                await self.client.noop()
            except (aiosmtplib.SMTPException, OSError):
                self.drop()
        if self.client is None or not self.client.is_connected:
            self.drop()
            await self.open()

    def drop(self) -> None:
        if self.client is not None:
            with suppress(Exception):
                self.client.close()
        self.client = None

    async def close(self) -> None:
        if self.client is not None and self.client.is_connected:
            with suppress(Exception):
                await self.client.quit()
        self.drop()

    async def _reset(self) -> None:
        if self.client is not None and self.client.is_connected:
            try:
                await self.client.rset()
            except (aiosmtplib.SMTPException, OSError):
                self.drop()

    async def transmit(self, sender: str, recipients: list[str], raw: bytes, *,
                       after_mail: Callable[[], None] | None = None,
                       before_data: Callable[[], None] | None = None) -> Outcome:
        """One SMTP transaction. Only a connection lost once DATA began leaves the outcome unknown.

        `after_mail` runs once the server accepted MAIL FROM (the caller may hand the event loop
        work for the wait on RCPT TO). `before_data` runs once the recipients are accepted, right
        before DATA: the last moment at which nothing has been handed over (the caller's check that
        its record is on disk, or a test hook); if it raises, nothing is handed over and this
        connection is not reused."""
        assert self.client is not None
        client, phase = self.client, "mail"
        utf8 = not all(r.isascii() for r in recipients)  # RFC 6531: only with SMTPUTF8, never downgraded
        options, encoding = (["SMTPUTF8"], "utf-8") if utf8 else ([], "ascii")
        try:
            if utf8 and not client.supports_extension("smtputf8"):
                return Outcome("rejected", None, f"{self.server.address} does not offer SMTPUTF8, which this address needs")
            await client.mail(sender, options=options, encoding=encoding)
            if after_mail is not None:
                after_mail()
            phase = "rcpt"
            refused: dict[str, aiosmtplib.SMTPRecipientRefused] = {}
            for recipient in recipients:
                try:
                    await client.rcpt(recipient, encoding=encoding)
                except aiosmtplib.SMTPRecipientRefused as error:
                    if not client.is_connected:
                        raise
                    refused[recipient] = error
            if recipients[0] in refused:  # the contact's own address; a refused Cc doesn't stop it
                refusal = refused[recipients[0]]
                await self._reset()
                return Outcome(classify_reply(refusal.code, refusal.message, phase="rcpt"), refusal.code, refusal.message)
            if before_data is not None:
                try:
                    before_data()
                except BaseException:
                    self.drop()  # a transaction is open on the server: this connection is not reused
                    raise
            phase = "data"
            response = await client.data(raw)
            return Outcome("sent", response.code, response.message)
        except aiosmtplib.SMTPResponseException as error:
            if error.code == 421 or not client.is_connected:
                self.drop()  # the server is closing this connection; reconnect for the next try
            else:
                await self._reset()
            return Outcome(classify_reply(error.code, error.message, phase=phase), error.code, error.message)
        except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError, OSError) as error:
            self.drop()
            if phase == "data":
                return Outcome("uncertain", None, f"connection lost during DATA: {error}")
            return Outcome("retry_now", None, f"connection lost before the message was handed over: {error}")
        finally:
            self.last_used = time.monotonic()


# --- preparing the bytes -------------------------------------------------------------------------

_DATE = re.compile(rb"^Date:[^\r\n]*\r?\n", re.M | re.I)
_BCC = re.compile(rb"^Bcc:[^\r\n]*\r?\n(?:[ \t][^\r\n]*\r?\n)*", re.M | re.I)
_HAS_COPIES = re.compile(rb"^(?:Cc|Bcc):", re.M | re.I)


def prepare(raw: bytes, to_address: str, when: datetime) -> tuple[bytes, list[str]]:
    """Stamp the real send time in Date, strip Bcc, and list the envelope recipients (To first)."""
    split = raw.find(b"\r\n\r\n")
    split = split + 2 if split >= 0 else raw.find(b"\n\n") + 1
    head, body = raw[:split], raw[split:]
    stamp = b"Date: " + format_datetime(when.astimezone()).encode() + b"\r\n"
    head = _DATE.sub(lambda _m: stamp, head, count=1)
    recipients = [to_address]
    if _HAS_COPIES.search(head):
        headers = BytesHeaderParser(policy=compat32).parsebytes(head)
        for _name, address in getaddresses(headers.get_all("Cc", []) + headers.get_all("Bcc", [])):
            if address and address.lower() not in {r.lower() for r in recipients}:
                recipients.append(address)
        head = _BCC.sub(b"", head)
    return head + body, recipients
