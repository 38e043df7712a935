"""The send run's small parts: its queue (what is left, counted without a copy), what it reads ahead, and its commit in two turns."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from outreach.sending.outbox import QueuedMessage
from outreach.sending.run_queue import RunQueue

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=timezone.utc)


def _messages(n: int) -> list[QueuedMessage]:
    return [QueuedMessage(id=i, kind="campaign", campaign_id=1, contact_id=i, to_address=f"doc{i}@example.org",
                          to_domain="example.org", message_id=f"<m{i}@example.com>", state="queued") for i in range(n)]


def test_the_count_of_what_is_left_matches_the_list_with_a_limit_and_retries():
    queue = RunQueue(_messages(5), limit=3)
    assert queue.upcoming_count() == len(queue.upcoming()) == 3
    first = queue.pop(NOW)
    assert first is not None
    queue.retry_at(NOW + timedelta(minutes=1), first)
    assert queue.upcoming_count() == len(queue.upcoming()) == 3  # two more within the limit, one retry
    assert [m.id for m in queue.upcoming()] == [1, 2, 0]


def test_without_a_limit_everything_waiting_is_left():
    queue = RunQueue(_messages(1000), limit=None)
    queue.pop(NOW)
    assert queue.upcoming_count() == len(queue.upcoming()) == 999


def test_what_is_read_ahead_serves_only_that_message_and_its_file_only_once(tmp_path):
    from outreach.sending.look_ahead import LookAhead
    from tests.clocks import FakeClock

    first, second = _messages(2)
    second.eml_path = str(tmp_path / "0002.eml")
    (tmp_path / "0002.eml").write_bytes(b"Message-ID: <m1@example.com>\r\nSubject: Hi\r\n\r\nHello\r\n")
    asked: list[int] = []

    def check(message, _now):
        asked.append(message.id)
        return ("drop", "suppressed") if message.id == 1 else None

    ahead = LookAhead(check, FakeClock(NOW))
    assert ahead.frozen(second) is None  # nothing read yet
    ahead.read(second)
    assert ahead.contact_check(second, NOW) == ("drop", "suppressed") and asked == [1]  # read ahead, not asked again
    assert ahead.contact_check(first, NOW) is None and asked == [1, 0]  # another message: asked now
    assert ahead.frozen(first) is None  # another message's file is never served ...
    ahead.read(second)
    assert ahead.frozen(second).startswith(b"Message-ID: <m1@example.com>")
    assert ahead.frozen(second) is None  # ... and each file once


def test_a_look_ahead_runs_on_the_next_turn_unless_dropped_first(tmp_path):
    """read_soon reads on the event loop's next turn (while the server takes DATA); one dropped
    before that turn (the reply came first) never reads."""
    import asyncio

    from outreach.sending.look_ahead import LookAhead
    from tests.clocks import FakeClock

    _first, second = _messages(2)
    asked: list[int] = []
    ahead = LookAhead(lambda message, _now: asked.append(message.id), FakeClock(NOW))

    async def scenario() -> None:
        ahead.read_soon(second)
        assert asked == []  # not yet: DATA goes out first
        await asyncio.sleep(0)
        assert asked == [1]
        ahead.read_soon(second)
        ahead.drop_unread()
        await asyncio.sleep(0)
        assert asked == [1]  # dropped: the run asks itself, in order

    asyncio.run(scenario())


def test_a_look_ahead_that_fails_keeps_nothing_and_raises_nothing(tmp_path):
    """The look-ahead runs while the current reply is awaited: a problem with the next message
    must not disturb that; the run asks again in its own order and meets it there."""
    from outreach.sending.look_ahead import LookAhead
    from tests.clocks import FakeClock

    _first, second = _messages(2)
    second.eml_path = str(tmp_path)  # a folder where the file should be: reading it fails
    ahead = LookAhead(lambda _m, _now: None, FakeClock(NOW))
    ahead.read(second)
    assert ahead.frozen(second) is None

    def busy(_message, _now):
        raise RuntimeError("database is locked")

    ahead = LookAhead(busy, FakeClock(NOW))
    ahead.read(second)  # no exception
    assert ahead.frozen(second) is None


def test_a_commit_in_two_turns_writes_then_commits_and_settles_what_is_left(tmp_path):
    """The send run's combined commit: written on the event loop's next turn, committed on the
    turn after commit_soon(); settle() does what the loop has not, in that order; a failed
    write is rolled back and never committed."""
    import asyncio
    import sqlite3

    import pytest

    from outreach.db import open_db
    from outreach.sending.next_turn import CommitInTwoTurns

    db = open_db(tmp_path / "outreach.db")
    db.execute("CREATE TABLE notes (n INTEGER)")

    def on_disk() -> list[int]:
        with sqlite3.connect(tmp_path / "outreach.db") as other:
            return [n for (n,) in other.execute("SELECT n FROM notes ORDER BY n")]

    def fails() -> None:
        db.execute("INSERT INTO notes VALUES (3)")
        raise sqlite3.OperationalError("disk I/O error")

    async def scenario() -> None:
        first = CommitInTwoTurns(db, lambda: db.execute("INSERT INTO notes VALUES (1)"))
        await asyncio.sleep(0)
        assert db.conn.in_transaction and on_disk() == []  # written, not committed
        first.commit_soon()
        await asyncio.sleep(0)
        assert not db.conn.in_transaction and on_disk() == [1]
        first.settle()  # nothing left to do

        second = CommitInTwoTurns(db, lambda: db.execute("INSERT INTO notes VALUES (2)"))
        second.settle()  # before the loop turned: both steps now
        assert on_disk() == [1, 2]
        await asyncio.sleep(0)
        assert on_disk() == [1, 2] and not db.conn.in_transaction  # and never again

        third = CommitInTwoTurns(db, fails)
        third.commit_soon()
        await asyncio.sleep(0)
        with pytest.raises(sqlite3.OperationalError, match="disk I/O error"):
            third.settle()
        assert on_disk() == [1, 2] and not db.conn.in_transaction

    asyncio.run(scenario())
