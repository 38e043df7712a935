"""The order of one send run: the outbox in order, and retries as they come due."""

from __future__ import annotations

import heapq
import itertools
from collections import deque
from datetime import datetime

from outreach.sending.outbox import QueuedMessage


class RunQueue:
    """This run's messages: the outbox in order, and retries as they come due. `--limit` counts
    only messages really attempted."""

    def __init__(self, messages: list[QueuedMessage], limit: int | None) -> None:
        self.waiting = deque(messages)
        self.retries: list[tuple[datetime, int, QueuedMessage]] = []
        self.order = itertools.count()
        self.limit = limit
        self.taken = 0
        self.premarked: QueuedMessage | None = None  # already in `sending`, to go at once

    def _room(self) -> bool:
        return self.limit is None or self.taken < self.limit

    def _retry_due(self, now: datetime) -> bool:
        return bool(self.retries) and self.retries[0][0] <= now

    def pop(self, now: datetime) -> QueuedMessage | None:
        """A due retry first, then the next queued message, then a retry not yet due."""
        if self._retry_due(now):
            return heapq.heappop(self.retries)[2]
        if self.waiting and self._room():
            self.taken += 1
            return self.waiting.popleft()
        if self.retries:
            return heapq.heappop(self.retries)[2]
        return None

    def put_back(self, message: QueuedMessage) -> None:
        """Not attempted after all: it doesn't use up this run's --limit."""
        if message.tries_this_run == 0:
            self.taken -= 1

    def retry_at(self, due: datetime, message: QueuedMessage) -> None:
        heapq.heappush(self.retries, (due, next(self.order), message))

    def following(self, now: datetime) -> QueuedMessage | None:
        """The message that goes right after the current one, if nothing else comes first."""
        return self.waiting[0] if self.waiting and self._room() and not self._retry_due(now) else None

    def take_premarked(self, message: QueuedMessage | None) -> None:
        """`message` (from `following`) was marked `sending` with the last commit: it goes next."""
        if message is not None and message.premarked:
            self.waiting.popleft()
            self.taken += 1
            self.premarked = message

    def _room_left(self) -> int | None:
        return None if self.limit is None else max(0, self.limit - self.taken)

    def upcoming(self) -> list[QueuedMessage]:
        """The messages still to go in this run, in order (a copy: only for the ETA forecast)."""
        return list(itertools.islice(self.waiting, 0, self._room_left())) + [message for _due, _order, message in self.retries]

    def upcoming_count(self) -> int:
        """len(upcoming()) without the copy: asked before every message, so it must not grow with the queue."""
        room = self._room_left()
        return (len(self.waiting) if room is None else min(room, len(self.waiting))) + len(self.retries)
