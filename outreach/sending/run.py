"""One send run, message by message, at a safe pace (`campaign send --live` starts it: sender.py).

The durable outbox (outbox.py) records each message before and after its SMTP transaction;
mail/smtp.py holds the conversation and what each server reply means; this module decides, for
each message in turn, when it may go and what its outcome means for the run. When the next
message may go at once, the previous message's outcome and its "sending" mark are written in
one transaction while the server answers its MAIL FROM, committed while it answers RCPT TO,
and on disk before its DATA (`Run._record_sent`, next_turn.py, `Run._before_data`); the next
contact's check and frozen file are read during this message's DATA (look_ahead.py).

What the run does with each outcome, as a careful person would: 4xx -> retry later with
exponential backoff; 5xx on a recipient -> hard bounce, address suppressed; a daily-quota reply ->
stop all sending from the account for 24 h; bad login or TLS -> stop at once; a burst of hard
bounces -> pause the campaign.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from outreach.config import Settings
from outreach.contacts.store import email_domain
from outreach.db import Database, parse_utc, record_event, utc_now
from outreach.errors import ConfigError, MailServerError, OutreachError
from outreach.mail.smtp import Outcome, SmtpConnection, SmtpLoginError, SmtpTlsError, prepare
from outreach.sending import campaigns, outbox
from outreach.sending.identity import DatabaseIdentity
from outreach.sending.look_ahead import LookAhead
from outreach.sending.next_turn import CommitInTwoTurns
from outreach.sending.outbox import QueuedMessage
from outreach.sending.pacing import Clock, Limits, Pacer
from outreach.sending.run_queue import RunQueue
from outreach.sending.send_report import SendReport
from outreach.sending.sent_copy import SentCopier, copies_wanted

BACKOFF_BASE = 60.0  # seconds before the first retry after a 4xx; doubles each time
BACKOFF_MAX = 3600.0
MAX_ATTEMPTS = 6  # a message still refused with 4xx after this many tries is failed
SAME_RUN_RETRY = 300.0  # retries due within this many seconds happen in the same run
MAX_WAIT = 65 * 60.0  # a run waits this long for pacing (gap, hourly cap); longer -> next run
QUOTA_PAUSE = timedelta(hours=24)
BOUNCE_BURST_IN_A_ROW = 5
BOUNCE_BURST_RATE = 0.03
BOUNCE_BURST_MIN_SENDS = 20

step_hook: Callable[[], None] | None = None
"""Called between the steps of each message's state machine. None outside tests: the crash test
sets it (tests/slow_send.py) to slow the steps, so that its SIGKILLs land inside every one."""


def _step() -> None:
    if step_hook is not None:
        step_hook()


class AccountPaused(OutreachError):
    """The provider said the daily quota is used up; sending from the account waits until then."""


def backoff_seconds(attempts: int) -> float:
    return float(min(BACKOFF_BASE * 2 ** max(0, attempts - 1), BACKOFF_MAX))


Progress = Callable[[dict[str, Any]], None]


class Run:
    """One `campaign send --live`: pacing, the connection, and the per-message state machine."""

    def __init__(self, db: Database, settings: Settings, *, limits: Limits, clock: Clock, account: str,
                 progress: Progress | None = None, stop: asyncio.Event | None = None, rng: random.Random | None = None) -> None:
        self.db, self.settings, self.clock, self.account = db, settings, clock, account
        self.database = DatabaseIdentity(settings.db_path)
        self.limits = limits
        self.pacer = Pacer(limits, history=outbox.pacing_history(db, account, clock.now()), rng=rng)
        self.conn = SmtpConnection(settings)
        self.copier = SentCopier(settings) if copies_wanted(settings) else None
        self.progress = progress or (lambda _info: None)
        self.progress_off = progress is None
        self._eta: datetime | None = None
        self.stop = stop or asyncio.Event()
        self.report = SendReport()
        self.bounces_in_a_row = 0
        self.candidate: QueuedMessage | None = None  # the message after this one, if known
        self.ahead = LookAhead(self._contact_check, clock)
        self.pending: CommitInTwoTurns | None = None  # a commit due before the next DATA

    def flush(self) -> None:
        """Settle the commit due (now, if the event loop has not run it yet) and drop a look-ahead
        that has not run: before anything else touches the db or the run ends, and before the next
        DATA. A failed commit's error is raised here."""
        self.ahead.drop_unread()
        if self.pending is not None:
            commit, self.pending = self.pending, None
            commit.settle()

    def _finish(self, message: QueuedMessage, state: str, event: str, **changes: Any) -> None:
        """Step (c), stamped with the run's clock (see outbox.finish)."""
        outbox.finish(self.db, message, state, event, at=utc_now(self.clock.now()), **changes)

    async def close(self) -> None:
        await self.conn.close()
        if self.copier is not None:
            self.copier.close()
            if self.copier.broken:
                self.report.warnings.append(self.copier.broken)

    # one message --------------------------------------------------------------------------------

    async def send_row(self, message: QueuedMessage, raw: bytes) -> Outcome | None:
        """The state machine for one message. None when another process already took it."""
        self.database.check()  # the file we record in is still the database
        if message.premarked:  # step (a) goes with the previous message's step (c)
            try:
                await self.conn.ensure()
            except BaseException:
                self.flush()
                outbox.unmark(self.db, message)
                raise
            now = self.clock.now()
        else:
            self.flush()
            await self.conn.ensure()  # login/TLS failures raise here, before the row changes
            now = self.clock.now()
            if not outbox.mark_sending(self.db, message, utc_now(now)):
                return None
        _step()
        data, recipients = prepare(raw, message.to_address, now)
        # a premarked message's (a) may still be due: _before_data settles it before DATA, never after
        outcome = await self.conn.transmit(self.account, recipients, data, after_mail=self._after_mail,
                                           before_data=lambda: self._before_data(message))
        _step()
        self._record(message, outcome, data)
        return outcome

    def _after_mail(self) -> None:
        """MAIL FROM is accepted: the commit due, if any, runs while the server answers RCPT TO."""
        if self.pending is not None:
            self.pending.commit_soon()

    def _before_data(self, message: QueuedMessage) -> None:
        """The last moment nothing has been handed over: a message the db doesn't record as
        `sending` (e.g. another process changed it before its premark landed) must not go: a kill
        after its DATA would leave no trace, and a resume would send it again. The next message's
        checks are read ahead while the server takes this one."""
        self.flush()  # its `sending` mark, if due, is on disk now (or the run stops here)
        _step()
        if message.state != "sending":
            raise OutreachError(f"message {message.message_id} is not recorded as sending (it changed state during the run); "
                                "stopped before handing it over")
        if self.candidate is not None:
            self.ahead.read_soon(self.candidate)

    def _record(self, message: QueuedMessage, outcome: Outcome, data: bytes) -> None:
        self.flush()  # the previous message's commit always lands before this one's
        now = self.clock.now()
        at = utc_now(now)
        reply = {"smtp_code": outcome.code, "smtp_response": outcome.response}
        kind = outcome.kind
        if kind == "sent":
            self._record_sent(message, data, now, reply)
        elif kind in ("deferred", "retry_now"):
            self._record_refusal(message, outcome, now, reply)
        elif kind in ("hard_bounce", "rejected"):
            event, why = ("hard_bounce", "hard bounce") if kind == "hard_bounce" else ("failed", "refused by the server")
            self._finish(message, "failed", event, failed_at=at, error=f"{why}: {outcome.response}", **reply)
            self.pacer.record_sent(at=now, domain=message.to_domain or "")
            self._failed(message, outcome)
            if kind == "hard_bounce":
                self.bounces_in_a_row += 1
        elif kind == "uncertain":
            self._finish(message, "uncertain", "uncertain", error=outcome.response, **reply)
            self.pacer.record_sent(at=now, domain=message.to_domain or "")
        elif kind in ("quota", "sender_refused"):
            # Not the message's fault: back to the queue untouched, for when sending may resume.
            self._finish(message, "queued", kind, next_attempt_at=None, error=outcome.response, **reply)
        else:  # pragma: no cover
            raise AssertionError(kind)

    def _record_sent(self, message: QueuedMessage, data: bytes, now: datetime, reply: dict[str, Any]) -> None:
        self.pacer.record_sent(at=now, domain=message.to_domain or email_domain(message.to_address))
        following = self.candidate
        if following is not None and (self.stop.is_set() or self.copier is not None or self._when(following, now) > now
                                      or self.ahead.contact_check(following, now)):
            following = None
        changes = dict(sent_at=utc_now(now), next_attempt_at=None, error=None, **reply)
        if following is None:
            self._finish(message, "sent", "sent", **changes)
        else:
            # The next message goes at once: this one's 'sent' and the next one's 'sending' are
            # written together while the server answers the next MAIL FROM and committed while it
            # answers RCPT TO (next_turn.py); on disk before its DATA at the latest (_before_data).
            following.premarked = True  # the commit says whether this process took it; checked before DATA
            self.pending = CommitInTwoTurns(self.db, lambda: outbox.finish_within(
                self.db, message, "sent", "sent", at=utc_now(now), next_message=following, **changes))
        self.report.sent += 1
        self.bounces_in_a_row = 0
        if self.copier is not None and self.copier.save(data, now):
            outbox.record_sent_copy(self.db, message)

    def _record_refusal(self, message: QueuedMessage, outcome: Outcome, now: datetime, reply: dict[str, Any]) -> None:
        """A 4xx, or a connection lost before the message was handed over: try again later."""
        if outcome.kind == "deferred":  # the server saw a transaction: the next one still waits the gap
            self._gap_after_refusal(now)
        if message.attempts >= MAX_ATTEMPTS:
            self._finish(message, "failed", "failed", failed_at=utc_now(now),
                         error=f"gave up after {message.attempts} tries: {outcome.response}", **reply)
            self._failed(message, outcome)
            return
        wait = 0.0 if outcome.kind == "retry_now" else backoff_seconds(message.attempts)
        message.next_attempt_at = utc_now(now + timedelta(seconds=wait))
        self._finish(message, "deferred", "deferred", next_attempt_at=message.next_attempt_at, error=outcome.response, **reply)

    # the contact, right before each send -------------------------------------------------------

    def _contact_check(self, message: QueuedMessage, now: datetime) -> tuple[str, Any] | None:
        return outbox.contact_check(self.db, message, now, default_timezone=self.limits.default_timezone)

    def _skip_contact(self, campaign: dict[str, Any], message: QueuedMessage, now: datetime) -> bool:
        """A held message (contact away) waits for their return, a dropped one is cancelled.
        True if the message must not be sent now."""
        check = self._contact_check(message, now)
        if check is None:
            if message.state == "queued" and message.next_attempt_at:
                message.next_attempt_at = None  # held while away; they're back
            return False
        self.flush()
        what, detail = check
        if what == "hold":
            outbox.hold(self.db, campaign["id"], message, detail, at=utc_now(now))
            self.report.waiting += 1
            self.report.away += 1
            if detail:
                self.report.next_send_at = min(filter(None, (self.report.next_send_at, detail)))
        else:
            outbox.cancel(self.db, campaign["id"], message, detail, at=utc_now(now))
        return True

    def _gap_after_refusal(self, now: datetime) -> None:
        """A 4xx-refused transaction doesn't count toward the caps, but the server saw it:
        the next message keeps the usual random gap after it, as after a sent one."""
        gap = self.pacer.next_gap()
        if gap > 0:
            self.pacer.hold(until=now + timedelta(seconds=gap), reason=f"waiting {gap:.0f}s between messages (after a refused attempt)")

    def _failed(self, message: QueuedMessage, outcome: Outcome) -> None:
        self.report.failed += 1
        self.report.failures.append({"to": message.to_address, "response": outcome.response})

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
        attempted, hard = campaigns.hard_bounce_counts(self.db, campaign["id"])
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

    def _when(self, message: QueuedMessage, now: datetime) -> datetime:
        when = self.pacer.earliest_send_time(now=now, domain=message.to_domain or "", state=message.contact_state)
        not_before = parse_utc(message.next_attempt_at)
        return max(when, not_before) if not_before else when

    # the whole run ------------------------------------------------------------------------------

    async def run_campaign(self, campaign: dict[str, Any], messages: list[QueuedMessage], *, limit: int | None) -> SendReport:
        queue = RunQueue(messages, limit)
        try:
            if queue.waiting:
                await self.conn.ensure()  # a wrong password or certificate fails now, not after a wait
            while (chosen := self._next(campaign, queue)) is not None:
                if not await self._send_next(campaign, queue, *chosen):
                    break
        except (SmtpLoginError, SmtpTlsError, MailServerError, ConfigError) as error:
            self.report.error = error
        finally:
            self.flush()
            if queue.premarked is not None and queue.premarked.premarked:
                outbox.unmark(self.db, queue.premarked)  # marked with the last commit but never handed over
            await self.close()
        return self.report

    def _next(self, campaign: dict[str, Any], queue: RunQueue) -> tuple[QueuedMessage, datetime, datetime] | None:
        """The next message to send, the time it was chosen and the time it may go; None when
        the run is over."""
        report = self.report
        while not self.stop.is_set():
            now = self.clock.now()
            if queue.premarked is not None:
                premarked, queue.premarked = queue.premarked, None
                return premarked, now, now
            message = queue.pop(now)
            if message is None:
                return None
            if self._skip_contact(campaign, message, now):
                queue.put_back(message)
                continue
            when = self._when(message, now)
            if (when - now).total_seconds() > MAX_WAIT:
                report.waiting += 1
                if report.next_send_at is None or when < report.next_send_at:  # name the window, the cap or the retry
                    _at, delay = self.pacer.explain(now=now, domain=message.to_domain or "", state=message.contact_state)
                    report.wait_reason = delay.reason if delay and delay.until >= when else "a retry after a temporary refusal"
                    report.next_send_at = when
                queue.put_back(message)
                continue
            return message, now, when
        report.stopped = "stopped by Ctrl-C after the current message"
        return None

    async def _send_next(self, campaign: dict[str, Any], queue: RunQueue, message: QueuedMessage, now: datetime, when: datetime) -> bool:
        """Wait until `when`, send, and act on the outcome. False when the run must stop."""
        if not self.progress_off:
            self._progress(campaign, message, queue, when)
        if not await self._wait_until(when):
            self.report.stopped = "stopped by Ctrl-C"
            return False
        if when > now and not message.premarked and self._skip_contact(campaign, message, self.clock.now()):
            queue.put_back(message)  # they replied or went away during the wait
            return True
        raw = self.ahead.frozen(message) or campaigns.message_bytes(self.db, self.settings, campaign, message, before_db=self.flush)
        message.tries_this_run += 1
        self.candidate = queue.following(now)
        outcome = await self.send_row(message, raw)
        following, self.candidate = self.candidate, None
        queue.take_premarked(following)
        if outcome is None:
            return True
        return self._after(campaign, queue, message, outcome)

    def _after(self, campaign: dict[str, Any], queue: RunQueue, message: QueuedMessage, outcome: Outcome) -> bool:
        """What a message's outcome means for the rest of the run. False when the run must stop."""
        if outcome.kind in ("deferred", "retry_now") and message.state == "deferred":
            due = parse_utc(message.next_attempt_at)
            if due is not None and (due - self.clock.now()).total_seconds() <= SAME_RUN_RETRY:
                queue.retry_at(due, message)
        elif outcome.kind == "quota":
            self.report.error = self._pause_account(outcome)
            return False
        elif outcome.kind == "sender_refused":
            self.report.error = MailServerError(
                f"the server refused {self.account} as sender ({outcome.response}); check OUTREACH_FROM matches the account",
                host=self.settings.smtp.host, port=self.settings.smtp.port)
            return False
        elif outcome.kind == "hard_bounce" and (why := self._bounce_burst(campaign)):
            reason = f"paused automatically: {why}. Check the list, then `outreach campaign resume {campaign['name']}`"
            campaigns.set_status(self.db, campaign, "paused", reason)
            self.report.stopped = reason
            return False
        return True

    def _progress(self, campaign: dict[str, Any], message: QueuedMessage, queue: RunQueue, when: datetime) -> None:
        """Tell the display what happens next; the ETA (caps and windows included) is refreshed
        every 25 messages, as it costs one pacing question per remaining message, and only for a
        display that shows it (`wants_eta`): piped, that was 7% of a 1,000-message send."""
        now = self.clock.now()
        if getattr(self.progress, "wants_eta", True) and (self._eta is None or self.report.sent % 25 == 0):
            recipients = [message, *queue.upcoming()]
            self._eta = self.pacer.forecast(now=now, recipients=[(m.to_domain or "", m.contact_state) for m in recipients])
        reason = None
        if when > now:
            _at, delay = self.pacer.explain(now=now, domain=message.to_domain or "", state=message.contact_state)
            reason = delay.reason if delay else "retrying after a temporary refusal"
        self.progress({"campaign": campaign["name"], "sent": self.report.sent, "failed": self.report.failed,
                       "remaining": queue.upcoming_count() + 1, "usage": self.pacer.usage(now), "next_at": when, "why": reason,
                       "to": message.to_address, "eta": self._eta})
