"""`watch`: IDLE picks up new mail within seconds; drops are survived with a growing pause."""

from __future__ import annotations

import sys
import threading
import time

import pytest

from outreach.db import open_db
from outreach.errors import MailServerError
from outreach.mail.imap import LoginRefused, connect_imap
from outreach.replies.poll import PollResult
from outreach.replies.watch import watch
from tests.test_replies import append, db, reply, send, settings  # noqa: F401  (db is a fixture)


class FakeClock:
    """Sleeping records the pause instead of waiting."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_watch_picks_up_a_message_appended_while_idling(db, smtp_server, certs, imap_account):
    sent = send(db, smtp_server, certs, "jane.okafor@mercy.example.org")
    stop = threading.Event()
    results: list[PollResult] = []
    idling = threading.Event()

    def on_result(result: PollResult) -> None:
        results.append(result)
        idling.set()  # the first (empty) poll is done: the watcher goes into IDLE next
        if result.matched:
            stop.set()

    config = settings()

    def run() -> None:  # a connection of its own: sqlite connections stay in their thread
        watch(open_db("outreach.db"), config, on_result=on_result, stop_event=stop, idle_check=0.2)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    assert idling.wait(5)
    started = time.monotonic()
    time.sleep(0.3)  # let the watcher enter IDLE before the message lands
    append(imap_account, reply(sent, "Yes, May works for us."))
    worker.join(timeout=5)
    assert not worker.is_alive(), "watch did not notice the new message"
    assert time.monotonic() - started < 3
    assert results[0].matched == 0 and results[-1].to_json()["human_reply"] == 1
    assert db.execute("SELECT stage FROM contacts WHERE id = ?", [sent.contact_id]).fetchone()[0] == "replied"


def test_watch_reconnects_after_failures_with_a_growing_pause(mail_env, db):
    stop = threading.Event()
    clock = FakeClock()
    errors: list[tuple[str, float]] = []
    attempts = {"n": 0}

    def flaky_connect(config):
        attempts["n"] += 1
        if attempts["n"] <= 3:
            raise MailServerError("connection refused", host="127.0.0.1", port=1)
        return connect_imap(config)

    def on_result(result: PollResult) -> None:
        stop.set()

    watch(db, settings(), on_result=on_result, stop_event=stop, clock=clock, connect=flaky_connect,
          on_error=lambda error, pause: errors.append((str(error), pause)))
    assert clock.sleeps == [1.0, 2.0, 4.0]
    assert [pause for _, pause in errors] == [1.0, 2.0, 4.0] and "connection refused" in errors[0][0]
    assert attempts["n"] == 4


def test_watch_without_idle_polls_on_an_interval(mail_env, db):
    stop = threading.Event()
    clock = FakeClock()
    polls: list[PollResult] = []

    def no_idle_connect(config):
        client = connect_imap(config)
        client.has_capability = lambda name: False if name == "IDLE" else True
        return client

    def on_result(result: PollResult) -> None:
        polls.append(result)
        if len(polls) == 3:
            stop.set()

    watch(db, settings(), on_result=on_result, stop_event=stop, clock=clock, connect=no_idle_connect, poll_interval=30)
    assert len(polls) == 3 and clock.sleeps == [30, 30]


def test_watch_gives_up_at_once_when_the_password_is_wrong(mail_env, db):
    def refused(config):
        raise LoginRefused("IMAP login refused", host="127.0.0.1", port=1)

    with pytest.raises(LoginRefused):
        watch(db, settings(), on_result=lambda r: None, stop_event=threading.Event(), clock=FakeClock(), connect=refused)


def test_watch_reconnects_when_the_connection_drops_while_idling(mail_env, db):
    from imapclient.exceptions import IMAPClientAbortError

    stop = threading.Event()
    clock = FakeClock()
    connections: list[object] = []
    polls: list[PollResult] = []

    def dropping_connect(config):
        client = connect_imap(config)
        connections.append(client)
        if len(connections) == 1:
            def idle_check(timeout=None):
                client.shutdown()
                raise IMAPClientAbortError("socket error: EOF")
            client.idle_check = idle_check
        return client

    def on_result(result: PollResult) -> None:
        polls.append(result)
        if len(connections) == 2:
            stop.set()

    problems: list[float] = []
    watch(db, settings(), on_result=on_result, stop_event=stop, clock=clock, connect=dropping_connect,
          on_error=lambda error, pause: problems.append(pause))
    assert len(connections) == 2 and len(polls) == 2 and problems == [1.0]


def test_replies_watch_stops_cleanly_on_ctrl_c(mail_env):
    import signal
    import subprocess

    process = subprocess.Popen([sys.executable, "-m", "outreach", "replies", "watch"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert process.stderr.readline().startswith(b"Watching ")
        time.sleep(0.5)  # into IDLE
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130 and err.decode().strip().endswith("Stopped.") and b"Traceback" not in err
