"""`replies watch`: keep a connection open and process new mail as it arrives (IMAP IDLE, or
polling on servers without it), reconnecting with a growing pause after drops."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

from outreach.config import Settings
from outreach.db import Database
from outreach.errors import MailServerError
from outreach.mail.imap import LoginRefused, connect_imap, imap_error
from outreach.replies.poll import Connect, PollResult, poll_client


class WatchClock(Protocol):
    def monotonic(self) -> float: ...
    def sleep(self, seconds: float) -> None: ...


class SystemWatchClock:
    """Real time; sleeping ends early when `stop` is set."""

    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        self.stop.wait(seconds)


def watch(
    db: Database,
    settings: Settings,
    *,
    on_result: Callable[[PollResult], None],
    stop_event: threading.Event,
    clock: WatchClock | None = None,
    connect: Connect = connect_imap,
    on_error: Callable[[Exception, float], None] | None = None,
    idle_check: float = 1.0,
    idle_restart: float = 300.0,
    poll_interval: float = 60.0,
    max_backoff: float = 300.0,
) -> None:
    """Keep a connection open and process new mail as it arrives, until `stop_event` is set.

    With IDLE the server pushes "new mail" and we poll at once; every `idle_restart` seconds we
    poll anyway (that also reads the Junk folder and notices a dead connection). Without IDLE we
    poll every `poll_interval` seconds. After a drop we reconnect with a growing pause.
    """
    clock = clock or SystemWatchClock(stop_event)
    backoff = 1.0
    while not stop_event.is_set():
        try:
            client = connect(settings)
        except LoginRefused:
            raise
        except MailServerError as error:
            backoff = _pause(error, backoff, max_backoff, clock, on_error)
            continue
        try:
            with client:
                backoff = 1.0
                _watch_connection(db, settings, client, on_result, stop_event, clock, idle_check, idle_restart, poll_interval)
        except (IMAPClientError, OSError, MailServerError) as error:
            if isinstance(error, LoginRefused):
                raise
            backoff = _pause(imap_error(error, settings, doing="watching for new mail"), backoff, max_backoff, clock, on_error)


def _pause(error: Exception, backoff: float, max_backoff: float, clock: WatchClock, on_error: Any) -> float:
    if on_error:
        on_error(error, backoff)
    clock.sleep(backoff)
    return min(backoff * 2, max_backoff)


def _watch_connection(
    db: Database, settings: Settings, client: IMAPClient, on_result: Callable[[PollResult], None],
    stop_event: threading.Event, clock: WatchClock, idle_check: float, idle_restart: float, poll_interval: float,
) -> None:
    can_idle = client.has_capability("IDLE")
    while not stop_event.is_set():
        on_result(poll_client(db, settings, client))
        if stop_event.is_set():
            return
        if not can_idle:
            clock.sleep(poll_interval)
            continue
        client.select_folder("INBOX", readonly=True)
        client.idle()
        started = clock.monotonic()
        try:
            while not stop_event.is_set() and clock.monotonic() - started < idle_restart:
                responses = client.idle_check(timeout=idle_check)
                if any(_is_new_mail(r) for r in responses):
                    break
        finally:
            client.idle_done()


def _is_new_mail(response: Any) -> bool:
    return isinstance(response, tuple) and len(response) >= 2 and response[1] in (b"EXISTS", b"RECENT")
