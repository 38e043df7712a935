"""Pure pacing logic: when may the next message go without putting the account at risk?

Nothing here sends, sleeps or reads the database. The campaign code builds a `Pacer` from the
account's recent sends, asks `earliest_send_time` for each message, sleeps on an injected `Clock`
until then, and calls `record_sent`. Tests drive the same code with a fake clock and exact times.

All limits hold together:
- a random gap between consecutive sends (drawn once per message);
- rolling caps: per 24 hours and per hour for the whole account, per 24 hours per recipient
  domain. Rolling, not calendar: a send 23 h 59 min ago still counts, one 24 h 1 min ago doesn't;
- an optional send window (days and hours) in the recipient's local time.
A cap or gap of 0 means "no limit" (for local testing).
"""

from __future__ import annotations

import random
from bisect import bisect_right, insort
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from outreach.config import Settings, parse_gap
from outreach.errors import ConfigError
from outreach.sending.window import SendWindow, as_utc
from outreach.timezones import recipient_timezone, zone

DAY = timedelta(hours=24)
HOUR = timedelta(hours=1)


# --- clocks -----------------------------------------------------------------------------------


class Clock(Protocol):
    def now(self) -> datetime: ...  # aware, UTC

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """Real time."""

    def now(self) -> datetime:
        return datetime.now(timezone.utc)

    async def sleep(self, seconds: float) -> None:
        import asyncio  # lazy: the outbox imports this module, and asyncio costs 20 ms of start-up

        await asyncio.sleep(max(0.0, seconds))


async def sleep_until(clock: Clock, when: datetime, *, step: float = 60.0) -> None:
    """Sleep until `when` in slices of at most `step` seconds, re-reading the wall clock each time,
    so a laptop that was suspended mid-wait doesn't oversleep (asyncio's clock stops in suspend)."""
    while (remaining := (when - clock.now()).total_seconds()) > 0:
        await clock.sleep(min(remaining, step))


# --- limits -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Limits:
    """How fast one sending account may go. Caps count that account's sends across all campaigns."""

    gap: tuple[float, float]
    daily_cap: int
    hourly_cap: int
    domain_cap: int  # 0 = no limit, for every cap
    window: SendWindow | None = None
    default_timezone: str = "America/New_York"

    def __post_init__(self) -> None:
        low, high = self.gap
        if low < 0 or high < low:
            raise ConfigError(f"gap {low:g}-{high:g}: need 0 <= MIN <= MAX seconds")
        for name in ("daily_cap", "hourly_cap", "domain_cap"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name.replace('_', ' ')} {getattr(self, name)} must be 0 or more (0 means no limit)")
        zone(self.default_timezone)

    def __str__(self) -> str:
        """'gap 45-120 s, 100/day, 20/hour, 3 per domain/day, Mon-Fri 08:00-17:00 recipient time'."""
        low, high = self.gap
        parts = [
            "no gap" if not high else f"gap {low:g}-{high:g} s" if low != high else f"gap {low:g} s",
            f"{self.daily_cap}/day" if self.daily_cap else "no daily cap",
            f"{self.hourly_cap}/hour" if self.hourly_cap else "no hourly cap",
            f"{self.domain_cap} per domain/day" if self.domain_cap else "no domain cap",
        ]
        if self.window:
            parts.append(f"{self.window} recipient time (else {self.default_timezone})")
        return ", ".join(parts)

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> Limits:
        """Limits from the settings (whose caps default to the provider preset), with `overrides`
        (e.g. a campaign's options or command-line flags) on top. None overrides are ignored, so
        unset flags can be passed straight through. Keys: gap ("45-120", 30 or (45, 120)),
        daily_cap, hourly_cap, domain_cap, window / send_window ("Mon-Fri 9-17" or a SendWindow),
        default_timezone / timezone."""
        given = {_OVERRIDE_NAMES.get(k, k): v for k, v in overrides.items() if v is not None}
        unknown = set(given) - set(_OVERRIDE_NAMES.values())
        if unknown:
            raise TypeError(f"unknown Limits override(s): {', '.join(sorted(unknown))}")
        gap = given.get("gap", settings.gap)
        if isinstance(gap, str):
            gap = parse_gap(gap)
        elif isinstance(gap, (int, float)):
            gap = (float(gap), float(gap))
        window = given.get("window", settings.send_window)
        if isinstance(window, str):
            window = SendWindow.parse(window) if window.strip() else None
        return cls(
            gap=(float(gap[0]), float(gap[1])),
            daily_cap=int(given.get("daily_cap", settings.daily_cap)),
            hourly_cap=int(given.get("hourly_cap", settings.hourly_cap)),
            domain_cap=int(given.get("domain_cap", settings.domain_cap)),
            window=window,
            default_timezone=given.get("default_timezone", settings.timezone) or "America/New_York",
        )


_OVERRIDE_NAMES = {
    "gap": "gap",
    "daily_cap": "daily_cap",
    "hourly_cap": "hourly_cap",
    "domain_cap": "domain_cap",
    "window": "window",
    "send_window": "window",
    "default_timezone": "default_timezone",
    "timezone": "default_timezone",
}


@dataclass(frozen=True)
class SentRecord:
    at: datetime
    domain: str


@dataclass(frozen=True)
class Delay:
    """Why a message can't go now: the binding constraint and when it lifts."""

    reason: str
    until: datetime


# --- pacer ------------------------------------------------------------------------------------


@dataclass
class _Sends:
    """Send times, oldest first; only the last 24 hours are ever needed."""

    times: list[datetime] = field(default_factory=list)

    def add(self, at: datetime) -> None:
        if self.times and at < self.times[-1]:
            insort(self.times, at)
        else:
            self.times.append(at)
        # forget what can no longer count; trim in batches so this stays O(1) amortised
        cut = bisect_right(self.times, self.times[-1] - DAY)
        if cut > 64 or cut > len(self.times) // 2:
            del self.times[:cut]

    def count_since(self, start: datetime) -> int:
        """Sends after `start` (later ones included: a send recorded 'in the future' still counts)."""
        return len(self.times) - bisect_right(self.times, start)

    def free_at(self, cap: int, span: timedelta) -> datetime | None:
        """When fewer than `cap` sends lie in the rolling `span` again: once the cap-th newest send
        has aged out. None when `cap` is 0 (no limit) or not yet reached."""
        if cap <= 0 or len(self.times) < cap:
            return None
        return self.times[-cap] + span


class Pacer:
    """Decides when each message may go, from the account's recent sends and the limits."""

    def __init__(
        self,
        limits: Limits,
        *,
        history: Iterable[SentRecord] = (),
        rng: random.Random | None = None,
    ) -> None:
        self.limits = limits
        self.rng = rng or random.Random()
        self._all = _Sends()
        self._by_domain: dict[str, _Sends] = {}
        self._gap: float | None = None  # drawn for the next message, kept until it is sent
        self._hold: tuple[datetime, str] | None = None
        for record in sorted(history, key=lambda r: as_utc(r.at)):
            self.record_sent(at=record.at, domain=record.domain)

    def record_sent(self, *, at: datetime, domain: str) -> None:
        at = as_utc(at)
        self._all.add(at)
        self._by_domain.setdefault(_domain_key(domain), _Sends()).add(at)
        self._gap = None

    def hold(self, *, until: datetime, reason: str) -> None:
        """Send nothing before `until`: e.g. the provider said the daily quota is used up
        ("550 5.4.5"), so the whole account waits out the quota window. The later hold wins."""
        until = as_utc(until)
        if self._hold is None or until > self._hold[0]:
            self._hold = (until, reason)

    def next_gap(self) -> float:
        """The gap (seconds) before the next message: random in [min, max], fixed until it is sent."""
        if self._gap is None:
            low, high = self.limits.gap
            self._gap = self.rng.uniform(low, high) if high > 0 else 0.0
        return self._gap

    def _waits(self, domain: str) -> list[tuple[datetime, str]]:
        """Every lower bound on the send time from the caps and a hold, with the reason behind it."""
        limits = self.limits
        waits: list[tuple[datetime, str]] = [self._hold] if self._hold else []
        caps = (
            (self._all, limits.daily_cap, DAY, f"daily cap {limits.daily_cap} reached (rolling 24 h)"),
            (self._all, limits.hourly_cap, HOUR, f"hourly cap {limits.hourly_cap} reached"),
            (
                self._by_domain.get(_domain_key(domain), _Sends()),
                limits.domain_cap,
                DAY,
                f"domain cap {limits.domain_cap} reached for {_domain_key(domain)} (rolling 24 h)",
            ),
        )
        for sends, cap, span, reason in caps:
            free = sends.free_at(cap, span)
            if free is not None:
                waits.append((free, reason))
        return waits

    def explain(self, *, now: datetime, domain: str, state: str | None) -> tuple[datetime, Delay | None]:
        """The earliest send time and, when it is later than `now`, the constraints that set it.

        Gap and caps only ever give lower bounds that don't move as time passes (nothing is sent
        meanwhile), and the window moves forward only, so the latest bound pushed through the
        window is the fixed point: one pass is enough.
        """
        now = as_utc(now)
        when, reason = max(self._waits(domain), default=(now, None), key=lambda w: w[0])
        if when <= now:
            when, reason = now, None
        routine = False  # the gap is short and routine: not worth naming once the window takes over
        if self._all.times and self.limits.gap[1] > 0:
            gap = self.next_gap()
            after_gap = self._all.times[-1] + timedelta(seconds=gap)
            if after_gap > when:
                when, reason, routine = after_gap, f"waiting {_duration(gap)} between messages", True
        window = self.limits.window
        if window is not None:
            tz = recipient_timezone(state, self.limits.default_timezone)
            opens = window.next_open(when, tz)
            if opens > when:
                outside = f"outside the send window {window} (recipient's time, {tz.key})"
                when, reason = opens, f"{reason}, then {outside}" if reason and not routine else outside
        return when, (Delay(reason, when) if reason and when > now else None)

    def earliest_send_time(self, *, now: datetime, domain: str, state: str | None) -> datetime:
        """The earliest instant >= `now` at which a message to this recipient may go."""
        return self.explain(now=now, domain=domain, state=state)[0]

    def blocked_by(
        self, now: datetime, domain: str, state: str | None, *, display_tz: ZoneInfo | None = None
    ) -> str | None:
        """'daily cap 100 reached (rolling 24 h); next slot 14:05', or None when it may go now.
        The time is shown in `display_tz` (default: this computer's local time zone)."""
        _when, delay = self.explain(now=now, domain=domain, state=state)
        if delay is None:
            return None
        return f"{delay.reason}; next slot {format_slot(delay.until, now=now, tz=display_tz)}"

    def forecast(self, *, now: datetime, recipients: Iterable[tuple[str, str | None]]) -> datetime | None:
        """When the last of `recipients` ((domain, state) pairs, in sending order) would go if each
        message went at its earliest time: the ETA for the progress display, caps and windows
        included (100 a day for 500 contacts is five days, not 500 gaps). Uses the middle of the
        gap range. Costs one `earliest_send_time` per recipient: refresh it now and then."""
        low, high = self.limits.gap
        sim = Pacer(replace(self.limits, gap=((low + high) / 2,) * 2))
        sim._all = _Sends(list(self._all.times))
        sim._by_domain = {key: _Sends(list(sends.times)) for key, sends in self._by_domain.items()}
        sim._gap, sim._hold = self.next_gap(), self._hold  # the same gap the next message will get
        at, last = as_utc(now), None
        for domain, state in recipients:
            at = last = sim.earliest_send_time(now=at, domain=domain, state=state)
            sim.record_sent(at=at, domain=domain)
        return last

    def usage(self, now: datetime) -> dict[str, int]:
        """For the progress display: sends in the rolling day and hour against their caps."""
        now = as_utc(now)
        return {
            "last_24h": self._all.count_since(now - DAY),
            "daily_cap": self.limits.daily_cap,
            "last_hour": self._all.count_since(now - HOUR),
            "hourly_cap": self.limits.hourly_cap,
        }


def _domain_key(domain: str) -> str:
    return (domain or "").strip().lower().rstrip(".")


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    minutes, secs = divmod(seconds, 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def format_slot(when: datetime, *, now: datetime, tz: ZoneInfo | None = None) -> str:
    """'14:05:30' within the hour, '14:05' later today, else 'Tue 26 Nov 08:00' (local time, for people)."""
    local, local_now = (when.astimezone(tz), now.astimezone(tz)) if tz else (when.astimezone(), now.astimezone())
    if local.date() != local_now.date():
        return f"{local:%a %d %b %H:%M}"
    return f"{local:%H:%M:%S}" if when - now < HOUR else f"{local:%H:%M}"
