"""Send windows: the days and hours in which a message may start, in the recipient's local time.

"Mon-Fri 08:00-17:00", "Mon,Wed,Fri 9-12" or "weekdays 9am-5:30pm"; the pacer asks `next_open`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from outreach.errors import ConfigError
def as_utc(moment: datetime) -> datetime:
    """The same instant in UTC; a naive time is a bug in the caller."""
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment!r}: pass an aware (UTC) time")
    return moment.astimezone(timezone.utc)


DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_WORDS = {
    "weekdays": range(0, 5),
    "weekday": range(0, 5),
    "weekends": range(5, 7),
    "weekend": range(5, 7),
    "daily": range(0, 7),
    "everyday": range(0, 7),
    "all": range(0, 7),
}
_WINDOW_HELP = 'use DAYS HH:MM-HH:MM, e.g. "Mon-Fri 08:00-17:00", "Mon,Wed,Fri 9-12" or "weekdays 9am-5:30pm"'


def _parse_day(word: str, text: str) -> int:
    key = word.strip().lower()[:3]
    if len(word.strip()) < 3 or key not in DAY_NAMES:
        raise ConfigError(f"send window {text!r}: {word.strip()!r} is not a day name; {_WINDOW_HELP}")
    return DAY_NAMES.index(key)


def _parse_days(spec: str, text: str) -> frozenset[int]:
    days: set[int] = set()
    for part in spec.split(","):
        part = part.strip()
        if part.lower() in _DAY_WORDS:
            days.update(_DAY_WORDS[part.lower()])
        elif "-" in part:
            first, last = (_parse_day(p, text) for p in part.split("-", 1))
            days.update((first + i) % 7 for i in range((last - first) % 7 + 1))  # Fri-Mon wraps
        else:
            days.add(_parse_day(part, text))
    return frozenset(days)


def _parse_clock(word: str, text: str) -> time:
    match = re.fullmatch(r"(\d{1,2})(?:[:.](\d{2}))?\s*([ap]\.?m\.?)?", word.strip().lower())
    if not match:
        raise ConfigError(f"send window {text!r}: {word.strip()!r} is not a time of day; {_WINDOW_HELP}")
    hour, minute, meridiem = int(match[1]), int(match[2] or 0), (match[3] or "")[:1]
    if meridiem and not 1 <= hour <= 12:
        raise ConfigError(f"send window {text!r}: {word.strip()!r} is not a time of day (1-12 with am/pm)")
    if meridiem:
        hour = hour % 12 + (12 if meridiem == "p" else 0)  # 12am = 00:00, 12pm = noon
    if hour == 24 and minute == 0:
        return time(0)  # "17:00-24:00": the window ends at midnight
    if hour > 23 or minute > 59:
        raise ConfigError(f"send window {text!r}: {word.strip()!r} is not a time of day (00:00-24:00)")
    return time(hour, minute)


@dataclass(frozen=True)
class SendWindow:
    """Days (0=Monday) and hours in which a send may *start*, in the recipient's local time.
    `end` of 00:00 means midnight at the end of the day."""

    days: frozenset[int]
    start: time
    end: time

    def __post_init__(self) -> None:
        if not self.days or not self.days <= frozenset(range(7)):
            raise ConfigError(f"send window days {sorted(self.days)}: need at least one of 0 (Monday) to 6 (Sunday)")
        if self.end != time(0) and self.end <= self.start:
            raise ConfigError(
                f"send window: the end ({self.end:%H:%M}) must be after the start ({self.start:%H:%M}); "
                "write 9-17 or 9am-5pm, not 9-5; windows across midnight are not supported"
            )

    @classmethod
    def parse(cls, text: str) -> SendWindow:
        """'Mon-Fri 08:00-17:00', 'Mon,Wed,Fri 9-12', 'weekdays 9am-5:30pm', or just '9-17' (every day)."""
        # "Mon - Fri  9 am - 5 pm" and en dashes are fine too
        tidy = re.sub(r"\s*([-,])\s*", r"\1", (text or "").replace("\u2013", "-"))
        parts = re.sub(r"(\d)\s+([aApP]\.?[mM])", r"\1\2", tidy).split()
        if not parts or len(parts) > 2:
            raise ConfigError(f"send window {text!r}: {_WINDOW_HELP}")
        days = _parse_days(parts[0], text) if len(parts) == 2 else frozenset(range(7))
        hours = parts[-1]
        if not re.search(r"\d", hours):
            raise ConfigError(f"send window {text!r}: no hours given; {_WINDOW_HELP}")
        if hours.count("-") != 1:
            raise ConfigError(f"send window {text!r}: hours {hours!r} need a start and an end; {_WINDOW_HELP}")
        start, end = (_parse_clock(p, text) for p in hours.split("-"))
        try:
            return cls(days=days, start=start, end=end)
        except ConfigError as error:
            raise ConfigError(str(error).replace("send window", f"send window {text!r}", 1)) from None

    def __str__(self) -> str:
        """'Mon-Fri 08:00-17:00', 'Mon,Wed,Fri 09:00-12:00': the form `parse` reads back."""
        runs: list[list[int]] = []  # consecutive days: [[0, 1, 2, 3, 4]] -> "Mon-Fri"
        for day in sorted(self.days):
            if runs and runs[-1][-1] == day - 1:
                runs[-1].append(day)
            else:
                runs.append([day])
        names = [[DAY_NAMES[d].title() for d in run] for run in runs]
        days = ",".join(f"{n[0]}-{n[-1]}" if len(n) > 2 else ",".join(n) for n in names)
        return f"{days} {self.start:%H:%M}-{'24:00' if self.end == time(0) else format(self.end, '%H:%M')}"

    def _bounds(self, day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
        """The UTC instants at which this window opens and closes on local `day` (equal when a
        spring-forward jump skips the whole window that day)."""
        closes_day = day + timedelta(days=1) if self.end == time(0) else day
        return _first_instant(day, self.start, tz), _first_instant(closes_day, self.end, tz)

    def next_open(self, moment: datetime, tz: ZoneInfo) -> datetime:
        """`moment` if it lies inside the window in zone `tz`, else the window's next opening."""
        moment = as_utc(moment)
        today = moment.astimezone(tz).date()
        # -1: a window ending at midnight may still be open from yesterday; two weeks: a DST jump
        # can swallow a one-day window once
        for offset in range(-1, 15):
            day = today + timedelta(days=offset)
            if day.weekday() not in self.days:
                continue
            opens, closes = self._bounds(day, tz)
            if moment < closes and opens < closes:
                return max(moment, opens)
        raise AssertionError("a window with at least one day opens within two weeks")  # pragma: no cover


def _first_instant(day: date, clock: time, tz: ZoneInfo) -> datetime:
    """The first UTC instant at which the local clock in `tz` reads `clock` on `day` or later.
    Usually just that local time (the first of two in a fall-back hour); when a spring-forward
    jump skips it (02:30 on the second Sunday of March), the instant of the jump."""
    wall = datetime.combine(day, clock, tzinfo=tz)
    instant = wall.astimezone(timezone.utc)
    if instant.astimezone(tz).replace(tzinfo=None) == wall.replace(tzinfo=None):
        return instant
    # skipped: fold=1 reads the wall time with the offset after the jump, landing before it
    before, after = int(wall.replace(fold=1).timestamp()), int(instant.timestamp())
    offset_after = instant.astimezone(tz).utcoffset()
    while after - before > 1:  # zone transitions fall on whole seconds
        middle = (before + after) // 2
        if datetime.fromtimestamp(middle, tz).utcoffset() == offset_after:
            after = middle
        else:
            before = middle
    return datetime.fromtimestamp(after, timezone.utc)
