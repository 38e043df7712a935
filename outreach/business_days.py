"""Business days as US hospitals keep them: weekends and federal holidays (observed) are off.

Follow-up steps wait N business days (outreach/followups/sequence.py); an introduction is
answered within one (outreach/intros/)."""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    """The n-th `weekday` (0 = Monday) of a month; n = -1 for the last one."""
    if n > 0:
        first = date(year, month, 1)
        return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
    last = date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def _observed(day: date) -> date:
    """A holiday on Saturday is observed on Friday, on Sunday on Monday (as US offices do)."""
    if day.weekday() == 5:
        return day - timedelta(days=1)
    if day.weekday() == 6:
        return day + timedelta(days=1)
    return day


@lru_cache(maxsize=64)
def us_holidays(year: int) -> frozenset[date]:
    """US federal holidays (observed dates): hospitals run thin and nobody reads cold email."""
    fixed = [date(year, 1, 1), date(year, 6, 19), date(year, 7, 4), date(year, 11, 11), date(year, 12, 25)]
    moving = [
        _nth_weekday(year, 1, 0, 3),  # Martin Luther King Jr. Day
        _nth_weekday(year, 2, 0, 3),  # Presidents' Day
        _nth_weekday(year, 5, 0, -1),  # Memorial Day
        _nth_weekday(year, 9, 0, 1),  # Labor Day
        _nth_weekday(year, 10, 0, 2),  # Columbus Day
        _nth_weekday(year, 11, 3, 4),  # Thanksgiving
    ]
    return frozenset([_observed(d) for d in fixed] + moving)


def is_business_day(day: date) -> bool:
    return day.weekday() < 5 and day not in us_holidays(day.year) and day not in us_holidays(day.year + 1)


def add_business_days(start: date, days: int) -> date:
    """The `days`-th business day after `start` (start itself never counts)."""
    day, left = start, days
    while left > 0:
        day += timedelta(days=1)
        if is_business_day(day):
            left -= 1
    return day


def next_business_day(day: date) -> date:
    """`day` itself if it is a business day, else the next one."""
    while not is_business_day(day):
        day += timedelta(days=1)
    return day
