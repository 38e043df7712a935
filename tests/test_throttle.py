"""The pacer decides when each message may go. Every test moves an injected clock; none sleeps."""

from __future__ import annotations

import asyncio
import random
import time as stopwatch
from dataclasses import replace
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from outreach.config import load_settings
from outreach.errors import ConfigError
from outreach.sending.pacing import Limits, Pacer, SentRecord, SystemClock, sleep_until
from outreach.sending.window import SendWindow
from tests.clocks import FakeClock

UTC = timezone.utc
NEW_YORK = ZoneInfo("America/New_York")
WED = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)  # Wednesday 10:00 in New York, 07:00 in California
OPEN = Limits(gap=(0, 0), daily_cap=0, hourly_cap=0, domain_cap=0)  # no limits at all


def limits(**changes) -> Limits:
    """No limits except the ones a test names."""
    return replace(OPEN, **changes)


def sent(*moments: datetime, domain: str = "example.org") -> list[SentRecord]:
    return [SentRecord(at=m, domain=domain) for m in moments]


def ago(**delta: float) -> datetime:
    return WED - timedelta(**delta)


def later(**delta: float) -> datetime:
    return WED + timedelta(**delta)


# --- clocks ------------------------------------------------------------------------------------


def test_fake_clock_sleeps_instantly_and_remembers_each_sleep() -> None:
    clock = FakeClock(WED)
    asyncio.run(clock.sleep(90))
    clock.advance(10)
    assert clock.now() == later(seconds=100)
    assert clock.sleeps == [90]


def test_sleep_until_wakes_at_the_target_in_slices() -> None:
    clock = FakeClock(WED)
    asyncio.run(sleep_until(clock, later(minutes=3), step=60))
    assert clock.now() == later(minutes=3)
    assert clock.sleeps == [60, 60, 60]
    asyncio.run(sleep_until(clock, WED))  # already past: returns at once
    assert clock.sleeps == [60, 60, 60]


def test_system_clock_tells_aware_utc_time() -> None:
    now = SystemClock().now()
    assert now.tzinfo is not None and now.utcoffset() == timedelta(0)


def test_naive_times_are_refused_rather_than_guessed() -> None:
    with pytest.raises(ValueError, match="naive"):
        Pacer(OPEN).earliest_send_time(now=datetime(2026, 11, 25, 15, 0), domain="a.org", state=None)


# --- no limits ---------------------------------------------------------------------------------


def test_with_every_limit_at_zero_everything_may_go_now() -> None:
    pacer = Pacer(OPEN, history=sent(*(ago(seconds=s) for s in range(1000))))
    assert pacer.earliest_send_time(now=WED, domain="example.org", state="CA") == WED
    assert pacer.blocked_by(WED, "example.org", "CA") is None


# --- rolling daily cap -------------------------------------------------------------------------


def test_daily_cap_waits_until_the_oldest_send_leaves_the_rolling_24_hours() -> None:
    pacer = Pacer(limits(daily_cap=3), history=sent(ago(hours=20), ago(hours=10), ago(hours=1)))
    assert pacer.earliest_send_time(now=WED, domain="other.org", state=None) == later(hours=4)


def test_daily_cap_below_the_limit_does_not_wait() -> None:
    pacer = Pacer(limits(daily_cap=3), history=sent(ago(hours=10), ago(hours=1)))
    assert pacer.earliest_send_time(now=WED, domain="a.org", state=None) == WED


def test_daily_cap_is_rolling_not_calendar_day() -> None:
    """A send 23 h 59 min ago still counts; one 24 h 1 min ago no longer does."""
    still_counts = Pacer(limits(daily_cap=1), history=sent(ago(hours=23, minutes=59)))
    assert still_counts.earliest_send_time(now=WED, domain="a.org", state=None) == later(minutes=1)
    aged_out = Pacer(limits(daily_cap=1), history=sent(ago(hours=24, minutes=1)))
    assert aged_out.earliest_send_time(now=WED, domain="a.org", state=None) == WED


def test_a_send_exactly_24_hours_ago_has_just_left_the_window() -> None:
    pacer = Pacer(limits(daily_cap=1), history=sent(ago(hours=24)))
    assert pacer.earliest_send_time(now=WED, domain="a.org", state=None) == WED


def test_daily_cap_counts_every_campaign_of_the_account() -> None:
    """The caller passes the account's history, whatever campaign each send belonged to."""
    history = sent(ago(hours=5), domain="hospital-a.org") + sent(ago(hours=3), domain="clinic-b.com")
    pacer = Pacer(limits(daily_cap=2), history=history)
    assert pacer.earliest_send_time(now=WED, domain="third.edu", state=None) == later(hours=19)


def test_daily_cap_holds_after_sends_recorded_during_the_run() -> None:
    pacer = Pacer(limits(daily_cap=2))
    pacer.record_sent(at=WED, domain="a.org")
    assert pacer.earliest_send_time(now=WED, domain="b.org", state=None) == WED
    pacer.record_sent(at=later(minutes=5), domain="b.org")
    assert pacer.earliest_send_time(now=later(minutes=5), domain="c.org", state=None) == later(hours=24)


# --- hourly cap --------------------------------------------------------------------------------


def test_hourly_cap_waits_for_the_rolling_hour() -> None:
    pacer = Pacer(limits(hourly_cap=2, daily_cap=100), history=sent(ago(minutes=50), ago(minutes=20)))
    assert pacer.earliest_send_time(now=WED, domain="a.org", state=None) == later(minutes=10)


def test_hourly_cap_forgets_sends_older_than_an_hour() -> None:
    pacer = Pacer(limits(hourly_cap=2), history=sent(ago(minutes=61), ago(minutes=20)))
    assert pacer.earliest_send_time(now=WED, domain="a.org", state=None) == WED


# --- per-domain cap ----------------------------------------------------------------------------


def test_domain_cap_holds_back_one_department_but_not_other_domains() -> None:
    pacer = Pacer(limits(domain_cap=2), history=sent(ago(hours=2), ago(hours=1), domain="cardiology.example.edu"))
    assert pacer.earliest_send_time(now=WED, domain="cardiology.example.edu", state=None) == later(hours=22)
    assert pacer.earliest_send_time(now=WED, domain="other.org", state=None) == WED


def test_domain_cap_ignores_case_and_a_trailing_dot() -> None:
    pacer = Pacer(limits(domain_cap=1))
    pacer.record_sent(at=ago(hours=1), domain="Mayo.EDU")
    assert pacer.earliest_send_time(now=WED, domain="mayo.edu.", state=None) == later(hours=23)


def test_domain_cap_is_rolling_24_hours() -> None:
    pacer = Pacer(limits(domain_cap=1), history=sent(ago(hours=24, minutes=1)))
    assert pacer.earliest_send_time(now=WED, domain="example.org", state=None) == WED


# --- gap between messages ----------------------------------------------------------------------


def test_no_gap_before_the_very_first_message() -> None:
    pacer = Pacer(limits(gap=(45, 120)), rng=random.Random(1))
    assert pacer.earliest_send_time(now=WED, domain="a.org", state=None) == WED


def test_fixed_gap_is_exact() -> None:
    pacer = Pacer(limits(gap=(30, 30)), history=sent(ago(seconds=10)))
    assert pacer.earliest_send_time(now=WED, domain="a.org", state=None) == later(seconds=20)


def test_gap_counts_from_the_last_send_of_an_earlier_run() -> None:
    pacer = Pacer(limits(gap=(30, 30)), history=sent(ago(seconds=100), ago(seconds=5)))
    assert pacer.earliest_send_time(now=WED, domain="a.org", state=None) == later(seconds=25)


def test_random_gap_stays_within_bounds_and_varies() -> None:
    pacer = Pacer(limits(gap=(45, 120)), rng=random.Random(7))
    at, gaps = WED, []
    for _ in range(200):
        pacer.record_sent(at=at, domain="a.org")
        nxt = pacer.earliest_send_time(now=at, domain="a.org", state=None)
        gaps.append((nxt - at).total_seconds())
        at = nxt
    assert all(45 <= g <= 120 for g in gaps)
    assert len({round(g) for g in gaps}) > 40  # really random, not one fixed pause
    assert min(gaps) < 55 and max(gaps) > 110  # spread over the whole range


def test_gap_is_drawn_once_per_message_and_repeatable_from_a_seed() -> None:
    def gaps(seed: int) -> list[datetime]:
        pacer = Pacer(limits(gap=(45, 120)), history=sent(WED), rng=random.Random(seed))
        first = pacer.earliest_send_time(now=WED, domain="a.org", state=None)
        # asking again (e.g. once per progress refresh) must not re-roll the dice
        assert pacer.earliest_send_time(now=later(seconds=30), domain="b.org", state="CA") == first
        pacer.record_sent(at=first, domain="a.org")
        return [first, pacer.earliest_send_time(now=first, domain="a.org", state=None)]

    assert gaps(3) == gaps(3)
    assert gaps(3) != gaps(4)


def test_gap_of_zero_means_no_gap() -> None:
    pacer = Pacer(limits(gap=(0, 0)), history=sent(WED))
    assert pacer.earliest_send_time(now=WED, domain="example.org", state=None) == WED


# --- send window in the recipient's time zone --------------------------------------------------

WORK_HOURS = SendWindow.parse("Mon-Fri 08:00-17:00")


def test_same_instant_is_working_hours_in_new_york_but_too_early_in_california() -> None:
    pacer = Pacer(limits(window=WORK_HOURS))
    assert pacer.earliest_send_time(now=WED, domain="a.org", state="NY") == WED  # 10:00 in NY
    # 07:00 in Los Angeles: wait for 08:00 Pacific = 16:00 UTC
    assert pacer.earliest_send_time(now=WED, domain="a.org", state="California") == later(hours=1)


def test_contacts_without_a_state_use_the_campaign_time_zone() -> None:
    pacer = Pacer(limits(window=WORK_HOURS, default_timezone="America/Los_Angeles"))
    assert pacer.earliest_send_time(now=WED, domain="a.org", state=None) == later(hours=1)
    assert pacer.earliest_send_time(now=WED, domain="a.org", state="Ontario") == later(hours=1)


def test_arizona_keeps_the_same_utc_window_all_year() -> None:
    pacer = Pacer(limits(window=WORK_HOURS))
    winter = datetime(2026, 1, 14, 14, 0, tzinfo=UTC)  # Wed 07:00 in Phoenix
    summer = datetime(2026, 7, 1, 14, 0, tzinfo=UTC)  # Wed 07:00 in Phoenix, no DST
    assert pacer.earliest_send_time(now=winter, domain="a.org", state="AZ") == winter + timedelta(hours=1)
    assert pacer.earliest_send_time(now=summer, domain="a.org", state="AZ") == summer + timedelta(hours=1)
    # California moves with DST: 08:00 Pacific is 15:00 UTC in summer, 16:00 UTC in winter
    assert pacer.earliest_send_time(now=summer, domain="a.org", state="CA") == summer + timedelta(hours=1)
    assert pacer.earliest_send_time(now=winter, domain="a.org", state="CA") == winter + timedelta(hours=2)


def test_a_send_must_start_inside_the_window() -> None:
    pacer = Pacer(limits(window=WORK_HOURS))
    just_inside = datetime(2026, 11, 25, 21, 59, 59, tzinfo=UTC)  # Wed 16:59:59 in New York
    closing = datetime(2026, 11, 25, 22, 0, tzinfo=UTC)  # Wed 17:00: closed
    thursday_8am = datetime(2026, 11, 26, 13, 0, tzinfo=UTC)
    assert pacer.earliest_send_time(now=just_inside, domain="a.org", state="NY") == just_inside
    assert pacer.earliest_send_time(now=closing, domain="a.org", state="NY") == thursday_8am


def test_the_weekend_is_skipped() -> None:
    pacer = Pacer(limits(window=WORK_HOURS))
    friday_evening = datetime(2026, 11, 27, 23, 0, tzinfo=UTC)  # Fri 18:00 in New York
    saturday = datetime(2026, 11, 28, 15, 0, tzinfo=UTC)
    monday_8am = datetime(2026, 11, 30, 13, 0, tzinfo=UTC)
    assert pacer.earliest_send_time(now=friday_evening, domain="a.org", state="NY") == monday_8am
    assert pacer.earliest_send_time(now=saturday, domain="a.org", state="NY") == monday_8am


def test_listed_days_only() -> None:
    pacer = Pacer(limits(window=SendWindow.parse("Mon,Wed,Fri 9-12")))
    wednesday_noon = datetime(2026, 11, 25, 17, 0, tzinfo=UTC)
    friday_9am = datetime(2026, 11, 27, 14, 0, tzinfo=UTC)  # Thursday is not listed
    assert pacer.earliest_send_time(now=wednesday_noon, domain="a.org", state="NY") == friday_9am


def test_window_opens_at_local_08_00_on_the_day_clocks_spring_forward() -> None:
    pacer = Pacer(limits(window=SendWindow.parse("daily 08:00-17:00")))
    saturday_evening = datetime(2026, 3, 7, 23, 0, tzinfo=UTC)  # Sat 18:00 EST
    sunday_8am_edt = datetime(2026, 3, 8, 12, 0, tzinfo=UTC)  # one hour earlier in UTC than Saturday's 13:00
    assert pacer.earliest_send_time(now=saturday_evening, domain="a.org", state="NY") == sunday_8am_edt
    assert sunday_8am_edt.astimezone(NEW_YORK).hour == 8


def test_window_opens_at_local_08_00_on_the_day_clocks_fall_back() -> None:
    pacer = Pacer(limits(window=SendWindow.parse("daily 08:00-17:00")))
    saturday_evening = datetime(2026, 10, 31, 22, 0, tzinfo=UTC)  # Sat 18:00 EDT
    sunday_8am_est = datetime(2026, 11, 1, 13, 0, tzinfo=UTC)
    assert pacer.earliest_send_time(now=saturday_evening, domain="a.org", state="NY") == sunday_8am_est


def test_a_window_opening_in_the_skipped_hour_opens_at_the_jump() -> None:
    pacer = Pacer(limits(window=SendWindow.parse("Sun 02:30-05:00")))
    before = datetime(2026, 3, 8, 5, 0, tzinfo=UTC)  # Sun 00:00 EST; clocks jump 02:00 -> 03:00 that night
    opened = pacer.earliest_send_time(now=before, domain="a.org", state="NY")
    assert opened == datetime(2026, 3, 8, 7, 0, tzinfo=UTC)  # 03:00 EDT: the first moment at or after 02:30
    assert opened.astimezone(NEW_YORK).time() == time(3, 0)


def test_a_window_entirely_in_the_skipped_hour_waits_a_week() -> None:
    pacer = Pacer(limits(window=SendWindow.parse("Sun 02:15-02:45")))
    before = datetime(2026, 3, 8, 5, 0, tzinfo=UTC)
    assert pacer.earliest_send_time(now=before, domain="a.org", state="NY") == datetime(2026, 3, 15, 6, 15, tzinfo=UTC)


def test_a_window_opening_in_the_repeated_hour_opens_the_first_time_round() -> None:
    pacer = Pacer(limits(window=SendWindow.parse("Sun 01:30-04:00")))
    before = datetime(2026, 11, 1, 4, 0, tzinfo=UTC)  # Sun 00:00 EDT; 01:00-02:00 happens twice
    assert pacer.earliest_send_time(now=before, domain="a.org", state="NY") == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)


def test_a_window_may_end_at_midnight() -> None:
    pacer = Pacer(limits(window=SendWindow.parse("Sat 20:00-24:00")))
    saturday_late = datetime(2026, 11, 29, 4, 59, tzinfo=UTC)  # Sat 23:59 in New York: still open
    sunday_midnight = datetime(2026, 11, 29, 5, 0, tzinfo=UTC)  # closed until next Saturday 20:00
    assert pacer.earliest_send_time(now=saturday_late, domain="a.org", state="NY") == saturday_late
    assert pacer.earliest_send_time(now=sunday_midnight, domain="a.org", state="NY") == datetime(
        2026, 12, 6, 1, 0, tzinfo=UTC
    )


# --- all constraints together ------------------------------------------------------------------


def test_a_cap_that_frees_up_at_night_waits_for_the_window() -> None:
    # daily cap reached by sends last night; the oldest ages out at Wed 22:00 NY, after closing
    history = sent(datetime(2026, 11, 25, 3, 0, tzinfo=UTC), datetime(2026, 11, 25, 3, 5, tzinfo=UTC))
    pacer = Pacer(limits(daily_cap=2, window=WORK_HOURS), history=history)
    thursday_8am = datetime(2026, 11, 26, 13, 0, tzinfo=UTC)
    assert pacer.earliest_send_time(now=WED, domain="a.org", state="NY") == thursday_8am


def test_a_window_opening_still_respects_the_domain_cap() -> None:
    # at Friday's closing time: the window pushes to Monday, the domain cap is long free by then
    pacer = Pacer(limits(domain_cap=1, window=WORK_HOURS), history=sent(datetime(2026, 11, 27, 21, 0, tzinfo=UTC)))
    friday_close = datetime(2026, 11, 27, 22, 0, tzinfo=UTC)
    assert pacer.earliest_send_time(now=friday_close, domain="example.org", state="NY") == datetime(
        2026, 11, 30, 13, 0, tzinfo=UTC
    )
    # but when the window opens first, the cap decides: Thursday 08:00 NY is earlier than 24 h on
    pacer = Pacer(limits(domain_cap=1, window=WORK_HOURS), history=sent(datetime(2026, 11, 25, 21, 0, tzinfo=UTC)))
    wed_close = datetime(2026, 11, 25, 22, 0, tzinfo=UTC)
    assert pacer.earliest_send_time(now=wed_close, domain="example.org", state="NY") == datetime(
        2026, 11, 26, 21, 0, tzinfo=UTC
    )


def test_the_latest_of_gap_and_caps_wins() -> None:
    history = sent(ago(minutes=59), ago(minutes=30), ago(seconds=10))
    pacer = Pacer(limits(gap=(60, 60), hourly_cap=3), history=history)
    assert pacer.earliest_send_time(now=WED, domain="a.org", state=None) == later(minutes=1)  # hourly: 1 min
    pacer = Pacer(limits(gap=(120, 120), hourly_cap=3), history=history)
    assert pacer.earliest_send_time(now=WED, domain="a.org", state=None) == later(seconds=110)  # gap: 110 s


def _allowed(at: datetime, history: list[SentRecord], lim: Limits, gap: float, domain: str, state: str | None) -> bool:
    """An independent, brute-force statement of the rules, to check the pacer against."""
    from outreach.timezones import recipient_timezone

    def count(span: timedelta, dom: str | None = None) -> int:
        return sum(1 for r in history if r.at > at - span and (dom is None or r.domain == dom))

    if history and at < max(r.at for r in history) + timedelta(seconds=gap):
        return False
    for cap, n in ((lim.daily_cap, count(timedelta(hours=24))), (lim.hourly_cap, count(timedelta(hours=1))),
                   (lim.domain_cap, count(timedelta(hours=24), domain))):
        if cap and n >= cap:
            return False
    if lim.window:
        local = at.astimezone(recipient_timezone(state, lim.default_timezone))
        end_ok = lim.window.end == time(0) or local.time() < lim.window.end
        return local.weekday() in lim.window.days and lim.window.start <= local.time() and end_ok
    return True


@pytest.mark.parametrize("seed", range(40))
def test_earliest_time_is_allowed_and_nothing_earlier_is(seed: int) -> None:
    """Random histories and limits: the answer obeys every rule, and no minute before it does."""
    rng = random.Random(seed)
    domains = ["a.edu", "b.org", "c.com"]
    weeks = [WED, datetime(2026, 3, 5, tzinfo=UTC), datetime(2026, 10, 29, tzinfo=UTC)]  # both DST changes
    now = rng.choice(weeks) + timedelta(minutes=rng.randrange(0, 7 * 24 * 60))
    history = sorted(
        (SentRecord(now - timedelta(minutes=rng.randrange(1, 26 * 60)), rng.choice(domains)) for _ in range(rng.randrange(0, 12))),
        key=lambda r: r.at,
    )
    lim = limits(
        gap=(rng.choice([0, 60, 600]),) * 2,
        daily_cap=rng.choice([0, 3, 8]),
        hourly_cap=rng.choice([0, 1, 2]),
        domain_cap=rng.choice([0, 1, 2]),
        window=rng.choice([None, WORK_HOURS, SendWindow.parse("Tue-Thu 08:30-11:00"), SendWindow.parse("Sat,Sun 18-24"),
                           SendWindow.parse("daily 01:00-03:00"), SendWindow.parse("Sun 02:30-02:45")]),
    )
    state = rng.choice(["CA", "NY", "AZ", "HI", None])
    pacer = Pacer(lim, history=history)
    earliest = pacer.earliest_send_time(now=now, domain="a.edu", state=state)
    assert earliest >= now
    assert _allowed(earliest, history, lim, lim.gap[0], "a.edu", state)
    probe = now
    while probe < earliest - timedelta(minutes=1):
        assert not _allowed(probe, history, lim, lim.gap[0], "a.edu", state), probe
        probe += timedelta(minutes=1)


def test_a_simulated_run_never_breaks_a_limit() -> None:
    """How the campaign code uses the pacer: ask, sleep on the clock, send, record."""
    lim = limits(gap=(45, 120), daily_cap=40, hourly_cap=10, domain_cap=3, window=WORK_HOURS)
    clock = FakeClock(WED)
    pacer = Pacer(lim, rng=random.Random(0))
    contacts = [(f"dept{i % 15}.example.edu", ["NY", "CA", "TX", None][i % 4]) for i in range(60)]
    log: list[SentRecord] = []

    async def run() -> None:
        for domain, state in contacts:
            await sleep_until(clock, pacer.earliest_send_time(now=clock.now(), domain=domain, state=state))
            assert _allowed(clock.now(), log, lim, 45, domain, state)
            pacer.record_sent(at=clock.now(), domain=domain)
            log.append(SentRecord(clock.now(), domain))

    asyncio.run(run())
    assert len(log) == 60
    assert log[-1].at - log[0].at > timedelta(hours=24)  # 60 messages at 40 a day take more than a day
    assert pacer.usage(clock.now())["last_24h"] <= 40


def test_a_quota_error_holds_the_whole_account_until_the_window_passes() -> None:
    pacer = Pacer(limits(window=WORK_HOURS))
    pacer.hold(until=later(hours=24), reason="the provider's daily quota is used up (550 5.4.5)")
    pacer.hold(until=later(hours=1), reason="an earlier, shorter hold does not shorten it")
    assert pacer.earliest_send_time(now=WED, domain="a.org", state="NY") == later(hours=24)
    assert pacer.blocked_by(WED, "a.org", "NY", display_tz=NEW_YORK) == (
        "the provider's daily quota is used up (550 5.4.5); next slot Thu 26 Nov 10:00"
    )
    assert pacer.earliest_send_time(now=later(hours=25), domain="a.org", state="NY") == later(hours=25)


# --- explaining the wait -----------------------------------------------------------------------


def test_blocked_by_names_the_binding_constraint_and_the_next_slot() -> None:
    pacer = Pacer(limits(daily_cap=2, domain_cap=1), history=sent(ago(hours=20), ago(hours=1)))
    assert pacer.blocked_by(WED, "other.org", None, display_tz=NEW_YORK) == (
        "daily cap 2 reached (rolling 24 h); next slot 14:00"
    )
    assert pacer.blocked_by(WED, "example.org", None, display_tz=NEW_YORK) == (  # the later of the two
        "domain cap 1 reached for example.org (rolling 24 h); next slot Thu 26 Nov 09:00"
    )
    pacer = Pacer(limits(domain_cap=1), history=sent(ago(hours=1)))
    assert pacer.blocked_by(WED, "Example.org", None, display_tz=NEW_YORK) == (
        "domain cap 1 reached for example.org (rolling 24 h); next slot Thu 26 Nov 09:00"
    )
    assert pacer.blocked_by(WED, "other.org", None) is None


def test_blocked_by_explains_the_gap_and_the_window() -> None:
    pacer = Pacer(limits(gap=(90, 90), window=WORK_HOURS), history=sent(ago(seconds=30)))
    assert pacer.blocked_by(WED, "a.org", "NY", display_tz=NEW_YORK) == "waiting 1m30s between messages; next slot 10:01:00"
    assert pacer.blocked_by(WED, "a.org", "CA", display_tz=NEW_YORK) == (
        "outside the send window Mon-Fri 08:00-17:00 (recipient's time, America/Los_Angeles); next slot 11:00"
    )


def test_blocked_by_names_both_a_cap_and_the_window_it_runs_into() -> None:
    history = sent(datetime(2026, 11, 25, 3, 0, tzinfo=UTC))  # frees at Wed 22:00 NY, after closing
    pacer = Pacer(limits(daily_cap=1, window=WORK_HOURS), history=history)
    assert pacer.blocked_by(WED, "a.org", "NY", display_tz=NEW_YORK) == (
        "daily cap 1 reached (rolling 24 h), then outside the send window Mon-Fri 08:00-17:00 "
        "(recipient's time, America/New_York); next slot Thu 26 Nov 08:00"
    )


def test_usage_reports_the_rolling_counts_for_the_progress_display() -> None:
    pacer = Pacer(limits(daily_cap=100, hourly_cap=20), history=sent(ago(hours=25), ago(hours=5), ago(minutes=30)))
    pacer.record_sent(at=WED, domain="a.org")
    assert pacer.usage(WED) == {"last_24h": 3, "daily_cap": 100, "last_hour": 2, "hourly_cap": 20}


def test_forecast_gives_an_eta_that_counts_caps_and_windows() -> None:
    pacer = Pacer(limits(gap=(60, 120), daily_cap=100), history=sent(ago(hours=1)), rng=random.Random(5))
    drawn = pacer.next_gap()
    recipients = [(f"d{i}.org", "NY") for i in range(250)]
    # 99 fit under today's cap (90 s apart, the middle of the gap range); 100 more as the first
    # day's sends age out from 23 h on; the last 51 from 47 h on: 49 h 13.5 min, not 250 gaps (6 h)
    eta = pacer.forecast(now=WED, recipients=recipients)
    assert eta == later(hours=48, seconds=49 * 90)
    assert pacer.forecast(now=WED, recipients=[]) is None
    assert pacer.usage(WED)["last_24h"] == 1  # forecasting sends nothing
    assert pacer.next_gap() == drawn


def test_forecast_uses_the_gap_already_drawn_for_the_next_message() -> None:
    pacer = Pacer(limits(gap=(60, 120)), history=sent(WED), rng=random.Random(5))
    assert pacer.forecast(now=WED, recipients=[("a.org", None)]) == pacer.earliest_send_time(now=WED, domain="a.org", state=None)
    assert pacer.forecast(now=WED, recipients=[("a.org", None)] * 3) == WED + timedelta(seconds=pacer.next_gap() + 2 * 90)


def test_forecast_follows_the_recipients_window() -> None:
    pacer = Pacer(limits(gap=(600, 600), window=WORK_HOURS))
    friday_4pm = datetime(2026, 11, 27, 21, 0, tzinfo=UTC)  # Fri 16:00 in New York: 6 fit before 17:00
    eta = pacer.forecast(now=friday_4pm, recipients=[("a.org", "NY")] * 8)
    assert eta == datetime(2026, 11, 30, 13, 10, tzinfo=UTC)  # the 8th goes Monday 08:10


# --- history handling and speed ----------------------------------------------------------------


def test_history_may_arrive_in_any_order_and_in_any_time_zone() -> None:
    history = [
        SentRecord(ago(hours=1).astimezone(NEW_YORK), "a.org"),
        SentRecord(ago(hours=23), "a.org"),
        SentRecord(ago(hours=5), "a.org"),
    ]
    pacer = Pacer(limits(daily_cap=3), history=history)
    assert pacer.earliest_send_time(now=WED, domain="a.org", state=None) == later(hours=1)


def test_thousands_of_history_records_stay_cheap() -> None:
    history = sent(*(ago(seconds=20 * i) for i in range(5000)), domain="big.org")
    lim = limits(gap=(1, 2), daily_cap=10_000, hourly_cap=500, domain_cap=6000)
    started = stopwatch.perf_counter()
    pacer = Pacer(lim, history=history, rng=random.Random(1))
    now = WED
    for i in range(2000):
        now = pacer.earliest_send_time(now=now, domain=f"d{i % 50}.org", state="NY")
        pacer.record_sent(at=now, domain=f"d{i % 50}.org")
        pacer.usage(now)
    assert stopwatch.perf_counter() - started < 1.0


def test_limits_read_as_a_sentence_for_campaign_show() -> None:
    lim = Limits(gap=(45, 120), daily_cap=100, hourly_cap=20, domain_cap=3, window=WORK_HOURS)
    assert str(lim) == (
        "gap 45-120 s, 100/day, 20/hour, 3 per domain/day, "
        "Mon-Fri 08:00-17:00 recipient time (else America/New_York)"
    )
    assert str(OPEN) == "no gap, no daily cap, no hourly cap, no domain cap"


# --- window text -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, days, start, end",
    [
        ("Mon-Fri 08:00-17:00", {0, 1, 2, 3, 4}, time(8), time(17)),
        ("Mon,Wed,Fri 9-12", {0, 2, 4}, time(9), time(12)),
        ("weekdays 9:00-17:30", {0, 1, 2, 3, 4}, time(9), time(17, 30)),
        ("Tue-Thu 08:30-11:00", {1, 2, 3}, time(8, 30), time(11)),
        ("monday,TUESDAY 7-9", {0, 1}, time(7), time(9)),
        ("Fri-Mon 10-14", {4, 5, 6, 0}, time(10), time(14)),
        ("Sat 18:00-24:00", {5}, time(18), time(0)),
        ("9-17", {0, 1, 2, 3, 4, 5, 6}, time(9), time(17)),
        ("weekdays 9am-5:30pm", {0, 1, 2, 3, 4}, time(9), time(17, 30)),
        ("Sat 12am-12pm", {5}, time(0), time(12)),
        ("Mon - Fri  9:00 - 17:00", {0, 1, 2, 3, 4}, time(9), time(17)),
        ("Mon-Fri 9 AM - 4:30 PM", {0, 1, 2, 3, 4}, time(9), time(16, 30)),
        ("Mon\u2013Fri 9.30-12.00", {0, 1, 2, 3, 4}, time(9, 30), time(12)),
        ("Mon, Wed ,Fri 9-12", {0, 2, 4}, time(9), time(12)),
    ],
)
def test_send_window_text(text: str, days: set[int], start: time, end: time) -> None:
    window = SendWindow.parse(text)
    assert (window.days, window.start, window.end) == (frozenset(days), start, end)
    assert SendWindow.parse(str(window)) == window  # shown the way it can be typed back


@pytest.mark.parametrize(
    "text, hint",
    [
        ("", "e.g. \"Mon-Fri 08:00-17:00\""),
        ("Mon-Fri", "no hours given"),
        ("Funday 9-17", "'Funday' is not a day name"),
        ("Mon-Fri 9-5", "write 9-17 or 9am-5pm, not 9-5"),
        ("Mon-Fri 13pm-14pm", "1-12 with am/pm"),
        ("Mon-Fri 25:00-26:00", "not a time of day"),
        ("Mon-Fri 9:5-17", "not a time of day"),
        ("Mon-Fri 9", "need a start and an end"),
        ("Mon-Fri 9 to 17", "e.g."),
    ],
)
def test_bad_send_window_text_says_how_to_write_it(text: str, hint: str) -> None:
    with pytest.raises(ConfigError, match="send window") as caught:
        SendWindow.parse(text)
    assert hint in str(caught.value)


def test_a_window_built_in_code_is_checked_too() -> None:
    with pytest.raises(ConfigError, match="at least one"):
        SendWindow(days=frozenset(), start=time(9), end=time(17))
    with pytest.raises(ConfigError, match="must be after the start"):
        SendWindow(days=frozenset({0}), start=time(17), end=time(9))


# --- limits from settings ----------------------------------------------------------------------


def settings(**env: str):
    return load_settings(environ={f"OUTREACH_{k.upper()}": v for k, v in env.items()}, env_file=None)


@pytest.mark.parametrize("provider, caps", [("gmail", (100, 20, 3)), ("microsoft365", (300, 60, 3)), ("custom", (50, 10, 2))])
def test_limits_follow_the_provider_preset(provider: str, caps: tuple[int, int, int]) -> None:
    lim = Limits.from_settings(settings(provider=provider))
    assert (lim.daily_cap, lim.hourly_cap, lim.domain_cap) == caps
    assert lim.gap == (45.0, 120.0)
    assert lim.window is None and lim.default_timezone == "America/New_York"


def test_limits_read_every_setting() -> None:
    lim = Limits.from_settings(
        settings(gap="10-20", daily_cap="7", hourly_cap="0", domain_cap="1", send_window="weekdays 9-17", timezone="America/Chicago")
    )
    assert lim == Limits(
        gap=(10.0, 20.0), daily_cap=7, hourly_cap=0, domain_cap=1,
        window=SendWindow.parse("Mon-Fri 09:00-17:00"), default_timezone="America/Chicago",
    )


def test_overrides_win_and_none_means_not_given() -> None:
    base = settings(provider="gmail", send_window="Mon-Fri 8-17")
    lim = Limits.from_settings(base, gap="0", daily_cap=5, hourly_cap=None, domain_cap=0, send_window="Sat 9-12", timezone="America/Denver")
    assert lim.gap == (0.0, 0.0)
    assert (lim.daily_cap, lim.hourly_cap, lim.domain_cap) == (5, 20, 0)
    assert lim.window == SendWindow.parse("Sat 9-12")
    assert lim.default_timezone == "America/Denver"
    assert Limits.from_settings(base, gap=30).gap == (30.0, 30.0)
    assert Limits.from_settings(base, gap=(5, 9), window=SendWindow.parse("Sun 1-2")).gap == (5.0, 9.0)
    assert Limits.from_settings(base, window="").window is None  # a campaign may switch the window off


def test_a_bad_setting_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown time zone 'Mars/Base'"):
        Limits.from_settings(settings(timezone="Mars/Base"))
    with pytest.raises(ConfigError, match="send window"):
        Limits.from_settings(settings(send_window="whenever"))
    with pytest.raises(ConfigError, match="gap"):
        Limits.from_settings(settings(), gap="120-45")
    with pytest.raises(ConfigError, match="daily cap -1 must be 0 or more"):
        Limits.from_settings(settings(), daily_cap=-1)
    with pytest.raises(TypeError, match="dialy_cap"):
        Limits.from_settings(settings(), dialy_cap=5)
