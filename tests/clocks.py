"""A clock for tests: time that moves only when told to, so pacing is exact and nothing sleeps."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone


class FakeClock:
    """Time that moves only when told to: `sleep` returns at once, having advanced `now`."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError(f"naive datetime {start!r}: pass an aware (UTC) time")
        self._now = start.astimezone(timezone.utc)
        self.sleeps: list[float] = []

    def now(self) -> datetime:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += timedelta(seconds=max(0.0, seconds))

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.advance(seconds)
        await asyncio.sleep(0)  # still let other tasks run, as a real sleep would
