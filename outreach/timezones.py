"""US state -> IANA time zone, so a send window means the *recipient's* working hours.

States that span two zones map to the zone where most of their people live (Texas -> Central,
Florida -> Eastern, Indiana -> Indianapolis). That is the best guess a state alone allows; a
campaign's own time zone covers contacts with no (or an unknown) state.
"""

from __future__ import annotations

import re
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from outreach.errors import ConfigError

# code: (full name, zone of the majority of the population)
STATES: dict[str, tuple[str, str]] = {
    "AL": ("Alabama", "America/Chicago"),
    "AK": ("Alaska", "America/Anchorage"),
    "AZ": ("Arizona", "America/Phoenix"),  # no daylight saving time
    "AR": ("Arkansas", "America/Chicago"),
    "CA": ("California", "America/Los_Angeles"),
    "CO": ("Colorado", "America/Denver"),
    "CT": ("Connecticut", "America/New_York"),
    "DE": ("Delaware", "America/New_York"),
    "DC": ("District of Columbia", "America/New_York"),
    "FL": ("Florida", "America/New_York"),  # the panhandle west of the Apalachicola is Central
    "GA": ("Georgia", "America/New_York"),
    "HI": ("Hawaii", "Pacific/Honolulu"),
    "ID": ("Idaho", "America/Boise"),  # the north (Coeur d'Alene) is Pacific
    "IL": ("Illinois", "America/Chicago"),
    "IN": ("Indiana", "America/Indiana/Indianapolis"),
    "IA": ("Iowa", "America/Chicago"),
    "KS": ("Kansas", "America/Chicago"),
    "KY": ("Kentucky", "America/New_York"),  # Louisville and Lexington are Eastern
    "LA": ("Louisiana", "America/Chicago"),
    "ME": ("Maine", "America/New_York"),
    "MD": ("Maryland", "America/New_York"),
    "MA": ("Massachusetts", "America/New_York"),
    "MI": ("Michigan", "America/Detroit"),
    "MN": ("Minnesota", "America/Chicago"),
    "MS": ("Mississippi", "America/Chicago"),
    "MO": ("Missouri", "America/Chicago"),
    "MT": ("Montana", "America/Denver"),
    "NE": ("Nebraska", "America/Chicago"),
    "NV": ("Nevada", "America/Los_Angeles"),
    "NH": ("New Hampshire", "America/New_York"),
    "NJ": ("New Jersey", "America/New_York"),
    "NM": ("New Mexico", "America/Denver"),
    "NY": ("New York", "America/New_York"),
    "NC": ("North Carolina", "America/New_York"),
    "ND": ("North Dakota", "America/Chicago"),
    "OH": ("Ohio", "America/New_York"),
    "OK": ("Oklahoma", "America/Chicago"),
    "OR": ("Oregon", "America/Los_Angeles"),
    "PA": ("Pennsylvania", "America/New_York"),
    "RI": ("Rhode Island", "America/New_York"),
    "SC": ("South Carolina", "America/New_York"),
    "SD": ("South Dakota", "America/Chicago"),
    "TN": ("Tennessee", "America/Chicago"),  # Nashville and Memphis; Knoxville is Eastern
    "TX": ("Texas", "America/Chicago"),  # El Paso is Mountain
    "UT": ("Utah", "America/Denver"),
    "VT": ("Vermont", "America/New_York"),
    "VA": ("Virginia", "America/New_York"),
    "WA": ("Washington", "America/Los_Angeles"),
    "WV": ("West Virginia", "America/New_York"),
    "WI": ("Wisconsin", "America/Chicago"),
    "WY": ("Wyoming", "America/Denver"),
    "PR": ("Puerto Rico", "America/Puerto_Rico"),
    "GU": ("Guam", "Pacific/Guam"),
    "VI": ("U.S. Virgin Islands", "America/St_Thomas"),
    "AS": ("American Samoa", "Pacific/Pago_Pago"),
    "MP": ("Northern Mariana Islands", "Pacific/Saipan"),
}

_ALIASES = {
    "washington dc": "DC",
    "washington d c": "DC",
    "d c": "DC",
    "virgin islands": "VI",
    "us virgin islands": "VI",
    "united states virgin islands": "VI",
    "northern marianas": "MP",
    "commonwealth of puerto rico": "PR",
}


def _key(text: str) -> str:
    """'  Washington, D.C. ' -> 'washington d c': case, dots, commas and spaces don't matter."""
    return " ".join(re.sub(r"[.,]", " ", text).lower().split())


def _letters(text: str) -> str:
    """'New-York', 'N.Y.', 'WashingtonDC' -> 'newyork', 'ny', 'washingtondc' (spreadsheet spellings)."""
    return re.sub(r"[^a-z]", "", text.lower())


_BY_NAME: dict[str, str] = {_key(name): code for code, (name, _zone) in STATES.items()}
_BY_NAME.update(_ALIASES)
_BY_LETTERS: dict[str, str] = {_letters(name): code for name, code in _BY_NAME.items()}
_BY_LETTERS.update({code.lower(): code for code in STATES})


def state_code(text: str | None) -> str | None:
    """'tx', 'Texas', ' new  york ', 'New-York' -> 'TX', 'NY'; anything else (blank, 'Ontario') -> None.

    The one place that knows the US states and territories: the CSV importer uses it too.
    """
    if not text or not text.strip():
        return None
    compact = text.strip().replace(".", "").upper()
    if compact in STATES:
        return compact
    return _BY_NAME.get(_key(text)) or _BY_LETTERS.get(_letters(text))


@cache
def zone(name: str) -> ZoneInfo:
    """The IANA zone called `name`, or a ConfigError that says how to fix the setting."""
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError, AttributeError):
        raise ConfigError(
            f"unknown time zone {name!r}: use an IANA name such as America/New_York or "
            "America/Los_Angeles (OUTREACH_TIMEZONE)"
        ) from None


def recipient_timezone(state: str | None, default: str) -> ZoneInfo:
    """Where the recipient's working day is: their state's zone, else the campaign's `default`."""
    default_zone = zone(default)  # validated even when unused, so a typo is caught on the first contact
    code = state_code(state)
    return zone(STATES[code][1]) if code else default_zone
