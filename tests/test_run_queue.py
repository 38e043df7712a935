"""The send run's queue: what is left to go, counted without copying it (asked before every message)."""

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
