"""The SMTP side of a campaign: one connection per account, paced sends, careful retries.

The durable outbox (outbox.py) records each message before and after its SMTP transaction; this
module holds the conversation itself and what each server reply means. When the next message may
go at once, its "sending" commit is made while its MAIL FROM is on the wire and before its DATA
(see `Run._record` and `SmtpConnection.transmit`): the disk works while the server does.

Server replies are handled as a careful person would: 4xx -> retry later with exponential
backoff; 5xx on a recipient -> hard bounce, address suppressed; a daily-quota reply -> stop all
sending from the account for 24 h; bad login or TLS -> stop at once; a burst of hard bounces ->
pause the campaign.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import json
import re
import ssl
import time
from collections import deque
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import format_datetime, getaddresses, make_msgid
from typing import Any

import aiosmtplib
from sqlite_utils import Database

from outreach.sending import campaigns
from outreach.sending import outbox
from outreach.config import Settings
from outreach.contacts.store import email_domain
from outreach.db import parse_utc, record_event, utc_now
from outreach.errors import ConfigError, MailServerError, OutreachError
from outreach.sending.pacing import Clock, Limits, Pacer
from outreach.sending.outbox import (  # re-exported: `sender.send_lock`, `sender.due_messages`, ... are used elsewhere
    account_pause, due_messages, load_raw, pacing_history, recover_interrupted, resolve_from_sent_folder, send_lock,
)
from outreach.mail.tls import require_safe_login, ssl_context

BACKOFF_BASE = 60.0  # seconds before the first retry after a 4xx; doubles each time
BACKOFF_MAX = 3600.0
MAX_ATTEMPTS = 6  # a message still refused with 4xx after this many tries is failed
SAME_RUN_RETRY = 300.0  # retries due within this many seconds happen in the same run
MAX_WAIT = 65 * 60.0  # a run waits this long for pacing (gap, hourly cap); longer -> next run
QUOTA_PAUSE = timedelta(hours=24)
BOUNCE_BURST_IN_A_ROW = 5
BOUNCE_BURST_RATE = 0.03
BOUNCE_BURST_MIN_SENDS = 20
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


class AccountPaused(OutreachError):
    """The provider said the daily quota is used up; sending from the account waits until then."""


@dataclass
class SendReport:
    sent: int = 0
    failed: int = 0
    deferred: int = 0
    uncertain: int = 0
    skipped: int = 0
    remaining: int = 0
    waiting: int = 0  # messages this run left for later because pacing would wait too long, or the contact is away
    away: int = 0  # of those, held until the contact is back
    next_send_at: datetime | None = None
    wait_reason: str | None = None  # what holds the earliest waiting message: the window, a cap, a retry
    stopped: str | None = None  # why the run ended before the outbox was empty
    error: OutreachError | None = None  # a fatal error (login, TLS, quota): the run stopped there
    warnings: list[str] = field(default_factory=list)
    failures: list[dict[str, Any]] = field(default_factory=list)
    uncertain_messages: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, int]:
        """The INTERFACE.md summary, exactly these keys."""
        return {k: getattr(self, k) for k in ("sent", "failed", "deferred", "uncertain", "skipped", "remaining")}


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


def backoff_seconds(attempts: int) -> float:
    return min(BACKOFF_BASE * 2 ** max(0, attempts - 1), BACKOFF_MAX)


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
        if server.username and not server.password:
            raise ConfigError("OUTREACH_SMTP_PASSWORD is not set (put it in .env; it is never stored or printed)")
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
        if server.username:
            try:
                await client.login(server.username, server.password or "")
            except aiosmtplib.SMTPAuthenticationError as error:
                client.close()
                raise self._error(
                    SmtpLoginError,
                    f"login refused for {server.username} ({error.code} {error.message}); check OUTREACH_SMTP_USERNAME and "
                    "OUTREACH_SMTP_PASSWORD (Gmail, Yahoo and iCloud need an app password). Stopped without retrying",
                ) from None
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

    async def transmit(self, sender: str, recipients: list[str], raw: bytes, *, after_mail: Callable[[], None] | None = None) -> Outcome:
        """One SMTP transaction. Only a connection lost once DATA began leaves the outcome unknown.

        `after_mail` runs once MAIL FROM is on the wire, while the server works on it: the place
        for the previous message's commit, so the db and the server work at the same time."""
        assert self.client is not None
        client, phase = self.client, "mail"
        utf8 = not all(r.isascii() for r in recipients)  # RFC 6531: only with SMTPUTF8, never downgraded
        if utf8 and not client.supports_extension("smtputf8"):
            return Outcome("rejected", None, f"{self.server.address} does not offer SMTPUTF8, which this address needs")
        options, encoding = (["SMTPUTF8"], "utf-8") if utf8 else ([], "ascii")
        try:
            if after_mail is None:
                await client.mail(sender, options=options, encoding=encoding)
            else:
                command = asyncio.ensure_future(client.mail(sender, options=options, encoding=encoding))
                await asyncio.sleep(0)  # let it write MAIL FROM
                try:
                    after_mail()
                except BaseException:
                    command.cancel()
                    self.drop()
                    raise
                await command
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
                error = refused[recipients[0]]
                await self._reset()
                return Outcome(classify_reply(error.code, error.message, phase="rcpt"), error.code, error.message)
            phase = "data"
            outbox.step_pause()
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


# --- one run ---------------------------------------------------------------------------------------


class _SentCopier:
    """Copies sent messages to the IMAP Sent folder on one reused connection; never fails a send."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.client = None
        self.broken: str | None = None

    @staticmethod
    def wanted(settings: Settings) -> bool:
        if settings.sent_copy == "no":
            return False
        if settings.sent_copy == "yes":
            if not settings.imap.host:
                raise ConfigError("OUTREACH_SENT_COPY=yes needs an IMAP server: set OUTREACH_IMAP_HOST (or a provider preset)")
            return True
        return bool(settings.imap.host) and not settings.preset.saves_sent_copy

    def save(self, raw: bytes, when: datetime) -> bool:
        if self.broken:
            return False
        from outreach.mail.imap import append_to_sent, connect_imap

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


Progress = Callable[[dict[str, Any]], None]


class Run:
    """One `campaign send --live`: pacing, the connection, and the per-message state machine."""

    def __init__(self, db: Database, settings: Settings, *, limits: Limits, clock: Clock, account: str,
                 progress: Progress | None = None, stop: asyncio.Event | None = None, rng=None) -> None:
        self.db, self.settings, self.clock, self.account = db, settings, clock, account
        self.limits = limits
        self.pacer = Pacer(limits, history=pacing_history(db, account, clock.now()), rng=rng)
        self.conn = SmtpConnection(settings)
        self.copier = _SentCopier(settings) if _SentCopier.wanted(settings) else None
        self.progress = progress or (lambda _info: None)
        self.progress_off = progress is None
        self._eta: datetime | None = None
        self.stop = stop or asyncio.Event()
        self.report = SendReport()
        self.bounces_in_a_row = 0
        self.candidate: dict[str, Any] | None = None  # the message after this one, if known
        self.pending: Callable[[], None] | None = None  # a 'sent' commit waiting for the next MAIL FROM

    def _flush_for(self, row: dict[str, Any]) -> None:
        self.flush()
        if not row.get("premarked"):  # someone else changed it: never send an unrecorded message
            raise OutreachError(f"message {row['message_id']} changed state during the run; stopped before sending it")

    def flush(self) -> None:
        """Run the waiting commit now (before anything else touches the db or the run ends)."""
        if self.pending is not None:
            commit, self.pending = self.pending, None
            commit()

    def _finish(self, row: dict[str, Any], state: str, event: str, **changes: Any) -> None:
        """Step (c), stamped with the run's clock (see outbox.finish)."""
        outbox.finish(self.db, row, state, event, at=utc_now(self.clock.now()), **changes)

    # one message --------------------------------------------------------------------------------

    async def send_row(self, row: dict[str, Any], raw: bytes) -> Outcome | None:
        """The state machine for one message. None when another process already took it."""
        if row.get("premarked"):  # step (a) goes with the previous message's step (c)
            try:
                await self.conn.ensure()
            except BaseException:
                self.flush()
                outbox.unmark(self.db, row)
                raise
            now = self.clock.now()
        else:
            self.flush()
            await self.conn.ensure()  # login/TLS failures raise here, before the row changes
            now = self.clock.now()
            if not outbox.mark_sending(self.db, row, utc_now(now)):
                return None
        outbox.step_pause()
        data, recipients = prepare(raw, row["to_address"], now)
        # (a) for this message must be committed before DATA: flushed right after MAIL FROM.
        outcome = await self.conn.transmit(self.account, recipients, data, after_mail=self.pending and (lambda: self._flush_for(row)))
        outbox.step_pause()
        self._record(row, outcome, data)
        return outcome

    def _record(self, row: dict[str, Any], outcome: Outcome, data: bytes) -> None:
        self.flush()  # the previous message's commit always lands before this one's
        now = self.clock.now()
        at = utc_now(now)
        reply = {"smtp_code": outcome.code, "smtp_response": outcome.response}
        kind = outcome.kind
        if kind == "sent":
            self.pacer.record_sent(at=now, domain=row["to_domain"] or email_domain(row["to_address"]))
            following = self.candidate
            if following is not None and (self.stop.is_set() or self.copier or self._when(following, now) > now
                                          or self._contact_check(following, now)):
                following = None
            changes = dict(sent_at=at, next_attempt_at=None, error=None, **reply)
            if following is None:
                self._finish(row, "sent", "sent", **changes)
            else:
                # The next message goes at once: commit this one's 'sent' together with the next
                # one's 'sending', once the next MAIL FROM is on its way (see transmit).
                following["premarked"] = True
                self.pending = lambda: self._finish(row, "sent", "sent", next_row=following, **changes)
            self.report.sent += 1
            self.bounces_in_a_row = 0
            if self.copier and self.copier.save(data, now):
                with self.db.atomic():
                    self.db.execute("UPDATE messages SET sent_copy_saved = 1 WHERE id = ?", [row["id"]])
        elif kind in ("deferred", "retry_now"):
            if kind == "deferred":  # the server saw a transaction: the next one still waits the gap
                self._gap_after_refusal(now)
            if row["attempts"] >= MAX_ATTEMPTS:
                self._finish(row, "failed", "failed", failed_at=at, error=f"gave up after {row['attempts']} tries: {outcome.response}", **reply)
                self._failed(row, outcome)
            else:
                wait = 0.0 if kind == "retry_now" else backoff_seconds(row["attempts"])
                row["next_attempt_at"] = utc_now(now + timedelta(seconds=wait))
                self._finish(row, "deferred", "deferred", next_attempt_at=row["next_attempt_at"], error=outcome.response, **reply)
        elif kind == "hard_bounce":
            self._finish(row, "failed", "hard_bounce", failed_at=at, error=f"hard bounce: {outcome.response}", **reply)
            self.pacer.record_sent(at=now, domain=row["to_domain"] or "")
            self._failed(row, outcome)
            self.bounces_in_a_row += 1
        elif kind == "rejected":
            self._finish(row, "failed", "failed", failed_at=at, error=f"refused by the server: {outcome.response}", **reply)
            self.pacer.record_sent(at=now, domain=row["to_domain"] or "")
            self._failed(row, outcome)
        elif kind == "uncertain":
            self._finish(row, "uncertain", "uncertain", error=outcome.response, **reply)
            self.pacer.record_sent(at=now, domain=row["to_domain"] or "")
        elif kind in ("quota", "sender_refused"):
            # Not the message's fault: back to the queue untouched, for when sending may resume.
            self._finish(row, "queued", kind, next_attempt_at=None, error=outcome.response, **reply)
        else:  # pragma: no cover
            raise AssertionError(kind)

    # the contact, right before each send -------------------------------------------------------

    def _contact_check(self, row: dict[str, Any], now: datetime) -> tuple[str, Any] | None:
        return outbox.contact_check(self.db, row, now, default_timezone=self.limits.default_timezone)

    def _skip_contact(self, campaign: dict[str, Any], row: dict[str, Any], now: datetime) -> bool:
        """A held message (contact away) waits for their return, a dropped one is cancelled.
        True if the message must not be sent now."""
        check = self._contact_check(row, now)
        if check is None:
            if row["state"] == "queued" and row.get("next_attempt_at"):
                row["next_attempt_at"] = None  # held while away; they're back
            return False
        self.flush()
        what, detail = check
        if what == "hold":
            outbox.hold(self.db, campaign["id"], row, detail, at=utc_now(now))
            self.report.waiting += 1
            self.report.away += 1
            if detail:
                self.report.next_send_at = min(filter(None, (self.report.next_send_at, detail)))
        else:
            outbox.cancel(self.db, campaign["id"], row, detail, at=utc_now(now))
        return True

    def _gap_after_refusal(self, now: datetime) -> None:
        """A 4xx-refused transaction doesn't count toward the caps, but the server saw it:
        the next message keeps the usual random gap after it, as after a sent one."""
        gap = self.pacer.next_gap()
        if gap > 0:
            self.pacer.hold(until=now + timedelta(seconds=gap), reason=f"waiting {gap:.0f}s between messages (after a refused attempt)")

    def _failed(self, row: dict[str, Any], outcome: Outcome) -> None:
        self.report.failed += 1
        self.report.failures.append({"to": row["to_address"], "response": outcome.response})

    def _pause_account(self, outcome: Outcome) -> AccountPaused:
        until = self.clock.now() + QUOTA_PAUSE
        with self.db.atomic():
            record_event(self.db, "account_paused", account=self.account, until=utc_now(until), reason=outcome.response)
        return AccountPaused(
            f"the provider says {self.account} reached its daily sending quota ({outcome.response}); all sending from "
            f"this account is paused until {until.astimezone():%a %d %b %H:%M}. The message stays queued"
        )

    def _bounce_burst(self, campaign: dict[str, Any]) -> str | None:
        if self.bounces_in_a_row >= BOUNCE_BURST_IN_A_ROW:
            return f"{self.bounces_in_a_row} hard bounces in a row"
        attempted, hard = self.db.execute(
            """SELECT sum(state IN ('sent', 'bounced') OR (state = 'failed' AND error LIKE 'hard bounce%')),
                      sum(state = 'bounced' OR (state = 'failed' AND error LIKE 'hard bounce%'))
               FROM messages WHERE campaign_id = ? AND kind != 'test'""",
            [campaign["id"]],
        ).fetchone()
        attempted, hard = attempted or 0, hard or 0
        if attempted >= BOUNCE_BURST_MIN_SENDS and hard >= 2 and hard > BOUNCE_BURST_RATE * attempted:
            return f"{hard} of {attempted} messages bounced ({hard / attempted:.0%}, above {BOUNCE_BURST_RATE:.0%})"
        return None

    # pacing -------------------------------------------------------------------------------------

    async def _wait_until(self, when: datetime) -> bool:
        """Sleep in short slices so Ctrl-C is noticed between messages. False if stopped."""
        while (remaining := (when - self.clock.now()).total_seconds()) > 0:
            if self.stop.is_set():
                return False
            await self.clock.sleep(min(remaining, 1.0))
        return not self.stop.is_set()

    def _wait_reason(self, row: dict[str, Any], now: datetime, when: datetime) -> str:
        """Why this message cannot go before `when`, in words: the pacer's reason (the send window,
        which cap, the gap), else the retry time a temporary refusal set."""
        _at, delay = self.pacer.explain(now=now, domain=row["to_domain"] or "", state=row.get("contact_state"))
        if delay is not None and delay.until >= when:
            return delay.reason
        return "a retry after the server's temporary refusal"

    def _when(self, row: dict[str, Any], now: datetime) -> datetime:
        when = self.pacer.earliest_send_time(now=now, domain=row["to_domain"] or "", state=row.get("contact_state"))
        not_before = parse_utc(row.get("next_attempt_at"))
        return max(when, not_before) if not_before else when

    async def run_campaign(self, campaign: dict[str, Any], rows: list[dict[str, Any]], *, limit: int | None) -> SendReport:
        report, queue = self.report, deque(rows)
        retries: list[tuple[datetime, int, dict[str, Any]]] = []
        order = itertools.count()
        taken = 0
        premarked: dict[str, Any] | None = None  # already in `sending`, to go at once
        try:
            if queue:
                await self.conn.ensure()  # a wrong password or certificate fails now, not after a wait
            while True:
                if self.stop.is_set():
                    report.stopped = "stopped by Ctrl-C after the current message"
                    break
                now = when = self.clock.now()
                if premarked is not None:
                    row, premarked = premarked, None
                else:
                    if retries and retries[0][0] <= now:
                        row = heapq.heappop(retries)[2]
                    elif queue and (limit is None or taken < limit):
                        row, taken = queue.popleft(), taken + 1
                    elif retries:
                        row = heapq.heappop(retries)[2]
                    else:
                        break
                    if self._skip_contact(campaign, row, now):
                        if row.get("attempts_this_run") is None:
                            taken -= 1
                        continue
                    when = self._when(row, now)
                    if (when - now).total_seconds() > MAX_WAIT:
                        report.waiting += 1
                        if report.next_send_at is None or when < report.next_send_at:
                            report.next_send_at, report.wait_reason = when, self._wait_reason(row, now, when)
                        if row.get("attempts_this_run") is None:
                            taken -= 1  # not attempted: doesn't use up this run's --limit
                        continue
                if not self.progress_off:
                    upcoming = list(itertools.islice(queue, 0, None if limit is None else max(0, limit - taken)))
                    self._progress(campaign, row, upcoming + [r for _d, _o, r in retries], when)
                if not await self._wait_until(when):
                    report.stopped = "stopped by Ctrl-C"
                    break
                if when > now and not row.get("premarked") and self._skip_contact(campaign, row, self.clock.now()):
                    if row.get("attempts_this_run") is None:
                        taken -= 1  # they replied or went away during the wait
                    continue
                raw = load_raw(self.db, self.settings, campaign, row)
                row["attempts_this_run"] = (row.get("attempts_this_run") or 0) + 1
                next_due = bool(retries) and retries[0][0] <= now
                self.candidate = queue[0] if queue and (limit is None or taken < limit) and not next_due else None
                outcome = await self.send_row(row, raw)
                following, self.candidate = self.candidate, None
                if following is not None and following.get("premarked"):
                    queue.popleft()
                    taken += 1
                    premarked = following
                if outcome is None:
                    continue
                if outcome.kind in ("deferred", "retry_now") and row["state"] == "deferred":
                    due = parse_utc(row["next_attempt_at"])
                    if (due - self.clock.now()).total_seconds() <= SAME_RUN_RETRY:
                        heapq.heappush(retries, (due, next(order), row))
                elif outcome.kind == "quota":
                    report.error = self._pause_account(outcome)
                    break
                elif outcome.kind == "sender_refused":
                    report.error = MailServerError(
                        f"the server refused {self.account} as sender ({outcome.response}); check OUTREACH_FROM matches the account",
                        host=self.settings.smtp.host, port=self.settings.smtp.port)
                    break
                elif outcome.kind == "hard_bounce" and (why := self._bounce_burst(campaign)):
                    reason = f"paused automatically: {why}. Check the list, then `outreach campaign resume {campaign['name']}`"
                    campaigns.set_status(self.db, campaign, "paused", reason)
                    report.stopped = reason
                    break
        except (SmtpLoginError, SmtpTlsError, MailServerError, ConfigError) as error:
            report.error = error
        finally:
            self.flush()
            if premarked is not None and premarked.get("premarked"):
                outbox.unmark(self.db, premarked)  # marked with the last commit but never handed over
            await self.conn.close()
            if self.copier:
                self.copier.close()
                if self.copier.broken:
                    report.warnings.append(self.copier.broken)
        return report

    def _progress(self, campaign: dict[str, Any], row: dict[str, Any], upcoming: list[dict[str, Any]], when: datetime) -> None:
        """Tell the display what happens next; the ETA (caps and windows included) is refreshed
        every 25 messages, as it costs one pacing question per remaining message."""
        if self.progress_off:
            return
        now = self.clock.now()
        if self._eta is None or self.report.sent % 25 == 0:
            self._eta = self.pacer.forecast(now=now, recipients=[(r["to_domain"] or "", r.get("contact_state")) for r in [row, *upcoming]])
        reason = None
        if when > now:
            _at, delay = self.pacer.explain(now=now, domain=row["to_domain"] or "", state=row.get("contact_state"))
            reason = delay.reason if delay else "retrying after a temporary refusal"
        self.progress({"campaign": campaign["name"], "sent": self.report.sent, "failed": self.report.failed,
                       "remaining": len(upcoming) + 1, "usage": self.pacer.usage(now), "next_at": when, "why": reason,
                       "to": row["to_address"], "eta": self._eta})


def _finish_report(db: Database, campaign: dict[str, Any], report: SendReport) -> SendReport:
    counts = campaigns.message_counts(db, campaign["id"])
    report.deferred = counts["deferred"]
    report.uncertain = counts["uncertain"]
    report.remaining = counts["queued"] + counts["deferred"]
    report.skipped = db.execute(
        "SELECT count(*) FROM campaign_contacts WHERE campaign_id = ? AND included = 0", [campaign["id"]]
    ).fetchone()[0]
    report.uncertain_messages = campaigns.uncertain_messages(db, campaign["id"])
    if not any(counts[s] for s in campaigns.OPEN_STATES) and campaign["status"] == "active":
        campaigns.set_status(db, campaign, "done", None, finished_at=utc_now())
    return report


async def send_campaign(
    db: Database,
    settings: Settings,
    campaign: dict[str, Any],
    *,
    limits: Limits,
    clock: Clock,
    limit: int | None = None,
    uncertain: str | None = None,
    decide_uncertain: Callable[[list[dict[str, Any]]], str | None] | None = None,
    progress: Progress | None = None,
    stop: asyncio.Event | None = None,
    rng=None,
) -> SendReport:
    """Send a started campaign's due messages. `uncertain`: None (leave), "sent" or "resend".

    Raises before anything is sent when the campaign is paused or the account is quota-paused;
    a fatal error during the run is returned in `report.error` along with what was done.
    """
    if campaign["status"] == "paused":
        raise OutreachError(f"campaign {campaign['name']!r} is paused ({campaign['status_reason'] or 'no reason given'}); "
                            f"run `outreach campaign resume {campaign['name']}` first")
    account = campaign["account"]
    if paused := account_pause(db, account, clock.now()):
        until, reason = paused
        raise AccountPaused(f"sending from {account} is paused until {until.astimezone():%a %d %b %H:%M} "
                            f"after the provider's quota reply ({reason}); run again after that time")
    with send_lock(settings.db_path):
        recover_interrupted(db)
        report = SendReport()
        if uncertain:
            campaigns.resolve_uncertain(db, campaign["id"], action=uncertain)
        _resolved, warning = resolve_from_sent_folder(db, settings, campaign["id"])
        if decide_uncertain and (left := campaigns.uncertain_messages(db, campaign["id"])):
            if action := decide_uncertain(left):
                campaigns.resolve_uncertain(db, campaign["id"], action=action)
        run = Run(db, settings, limits=limits, clock=clock, account=account, progress=progress, stop=stop, rng=rng)
        if warning:
            run.report.warnings.append(warning)
        report = await run.run_campaign(campaign, due_messages(db, campaign["id"]), limit=limit)
        # messages that went uncertain during this run may already be provably sent
        _resolved, warning = resolve_from_sent_folder(db, settings, campaign["id"])
        if warning:
            report.warnings.append(warning)
    return _finish_report(db, campaigns.get_campaign(db, campaign["name"]), report)


def next_send_time(db: Database, campaign: dict[str, Any], limits: Limits, now: datetime) -> datetime | None:
    """The earliest time the campaign's next message may go (pacing, retries, quota pause, away
    contacts); None if nothing is due or the campaign hasn't started.

    The gap is taken at its minimum, not drawn at random: the answer is stable from one call to
    the next and means "not before" (the real run draws a gap in the range and may go later)."""
    if campaign["status"] != "active" or not campaign["started_at"]:
        return None
    account = campaign["account"]
    due = due_messages(db, campaign["id"])
    if not due:
        return None
    pacer = Pacer(replace(limits, gap=(limits.gap[0], limits.gap[0])), history=pacing_history(db, account, now))
    earliest = None
    for row in due[:200]:
        when = pacer.earliest_send_time(now=now, domain=row["to_domain"] or "", state=row.get("contact_state"))
        if row.get("next_attempt_at"):
            when = max(when, parse_utc(row["next_attempt_at"]))
        earliest = when if earliest is None else min(earliest, when)
    if paused := account_pause(db, account, now):
        earliest = max(earliest, paused[0])
    return earliest


async def send_test(db: Database, settings: Settings, campaign: dict[str, Any], to_address: str, *, clock: Clock) -> tuple[dict[str, Any], Outcome]:
    """One rendered sample to the user: subject "[TEST] ...", no Cc/Bcc, never counts as contact."""
    from outreach.contacts.store import normalise_email
    from outreach.templates.render import Sender

    to_address = normalise_email(to_address)
    if campaign["started_at"]:
        selection = campaigns.frozen_selection(db, campaign)
    else:
        selection = campaigns.plan_selection(db, campaign)
    if not selection.included:
        raise OutreachError(f"campaign {campaign['name']!r} selects no contacts, so there is no sample to send")
    [rendered] = campaigns.render_all(settings, campaign, selection.included[:1])
    message = rendered.message
    for name in ("To", "Cc", "Bcc", "Message-ID", "Subject"):
        del message[name]
    sender = Sender.from_settings(settings)
    message["To"] = to_address
    message["Subject"] = f"[TEST] {rendered.subject}"
    message["Message-ID"] = make_msgid(domain=email_domain(sender.address))
    raw = rendered.as_bytes()
    at = utc_now(clock.now())
    account = campaign["account"] or sender.address
    row = {
        "kind": "test", "campaign_id": campaign["id"], "contact_id": None, "step": 0, "template": campaign["template"],
        "account": account, "from_address": account, "to_address": to_address, "to_domain": email_domain(to_address),
        "subject": message["Subject"], "message_id": message["Message-ID"], "state": "queued",
        "attachments": json.dumps([{"name": a.name, "size": a.size, "sha256": a.sha256} for a in rendered.attachments]),
        "queued_at": at, "updated_at": at,
    }
    with db.atomic():
        row["id"] = db.table("messages").insert(row).last_pk
    limits = Limits(gap=(0, 0), daily_cap=0, hourly_cap=0, domain_cap=0)
    with send_lock(settings.db_path):
        run = Run(db, settings, limits=limits, clock=clock, account=account)
        try:
            outcome = await run.send_row(row, raw)
        except OutreachError:
            with db.atomic():
                db.execute("UPDATE messages SET state = 'cancelled', updated_at = ? WHERE id = ?", [utc_now(), row["id"]])
            raise
        finally:
            await run.conn.close()
            if run.copier:
                run.copier.close()
    return row, outcome
