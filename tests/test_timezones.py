"""A contact's state tells us their working hours: examples of the state -> time zone mapping."""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from outreach.errors import ConfigError
from outreach.timezones import STATES, recipient_timezone, state_code


@pytest.mark.parametrize(
    "text, code",
    [
        ("TX", "TX"),
        ("tx", "TX"),
        ("Texas", "TX"),
        ("TEXAS", "TX"),
        (" new  york ", "NY"),
        ("N.Y.", "NY"),
        ("Washington", "WA"),
        ("Washington, D.C.", "DC"),
        ("D.C.", "DC"),
        ("District of Columbia", "DC"),
        ("puerto rico", "PR"),
        ("U.S. Virgin Islands", "VI"),
        ("Virgin Islands", "VI"),
        ("Northern Mariana Islands", "MP"),
        ("New-York", "NY"),  # spreadsheet spellings the CSV importer meets
        ("WashingtonDC", "DC"),
        ("usvirginislands", "VI"),
    ],
)
def test_state_code_accepts_codes_and_names_in_any_case(text: str, code: str) -> None:
    assert state_code(text) == code


@pytest.mark.parametrize("text", [None, "", "   ", "Ontario", "XX", "Tex", "England"])
def test_state_code_is_none_for_anything_else(text: str | None) -> None:
    assert state_code(text) is None


@pytest.mark.parametrize(
    "state, zone",
    [
        ("CA", "America/Los_Angeles"),
        ("NY", "America/New_York"),
        ("TX", "America/Chicago"),  # El Paso is Mountain, but most Texans are Central
        ("FL", "America/New_York"),  # the western panhandle is Central
        ("IN", "America/Indiana/Indianapolis"),
        ("AZ", "America/Phoenix"),
        ("HI", "Pacific/Honolulu"),
        ("AK", "America/Anchorage"),
        ("TN", "America/Chicago"),
        ("KY", "America/New_York"),
        ("MI", "America/Detroit"),
        ("ID", "America/Boise"),
        ("DC", "America/New_York"),
        ("PR", "America/Puerto_Rico"),
        ("GU", "Pacific/Guam"),
        ("VI", "America/St_Thomas"),
        ("AS", "Pacific/Pago_Pago"),
        ("MP", "Pacific/Saipan"),
    ],
)
def test_states_spanning_zones_use_the_majority_zone(state: str, zone: str) -> None:
    assert recipient_timezone(state, "America/New_York") == ZoneInfo(zone)


def test_full_names_work_like_codes() -> None:
    assert recipient_timezone("california", "America/New_York") == ZoneInfo("America/Los_Angeles")


def test_all_fifty_states_dc_and_territories_have_a_real_zone() -> None:
    assert len(STATES) == 50 + 1 + 5
    for code, (name, zone) in STATES.items():
        assert recipient_timezone(code, "UTC").key == zone
        assert state_code(name) == code


@pytest.mark.parametrize("state", [None, "", "Ontario", "ZZ"])
def test_unknown_or_blank_state_falls_back_to_the_campaign_zone(state: str | None) -> None:
    assert recipient_timezone(state, "America/Denver") == ZoneInfo("America/Denver")


@pytest.mark.parametrize("default", ["Mars/Olympus_Mons", "", "EST5EDT/../x", "new york"])
def test_an_unknown_default_zone_is_a_config_error_naming_it(default: str) -> None:
    with pytest.raises(ConfigError, match="unknown time zone") as caught:
        recipient_timezone("CA", default)  # checked even when the state decides
    assert repr(default) in str(caught.value)
    assert "America/New_York" in str(caught.value)  # says what a valid name looks like


def test_arizona_keeps_standard_time_all_year() -> None:
    phoenix = recipient_timezone("Arizona", "UTC")
    la = recipient_timezone("California", "UTC")
    july = datetime(2026, 7, 1, 19, 0, tzinfo=timezone.utc)
    january = datetime(2026, 1, 15, 19, 0, tzinfo=timezone.utc)
    assert july.astimezone(phoenix).hour == july.astimezone(la).hour == 12  # same clock in summer
    assert january.astimezone(phoenix).hour == 12
    assert january.astimezone(la).hour == 11  # an hour apart in winter
