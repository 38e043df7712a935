"""A campaign's sequence: the first email, then follow-up steps a few business days apart.

Steps live in `campaign_steps` (step 0 is the first email, 1.. the follow-ups; the public JSON
counts from 1). Each follow-up waits `delay_days` business days after the step before it,
counted in the recipient's own time zone (from their US state), skipping weekends and US federal
holidays: a note "sent Friday + 3 business days" lands on Wednesday, not Monday, and never on
the Fourth of July.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from outreach.business_days import add_business_days, is_business_day, next_business_day, us_holidays  # noqa: F401
from outreach.db import Database, record_event
from outreach.errors import OutreachError
from outreach.templates.render import load_template
from outreach.timezones import recipient_timezone

DEFAULT_FOLLOWUPS: tuple[tuple[str, int], ...] = (("followup-1", 3), ("followup-2", 7))
"""A new campaign's follow-ups: `followup-1` 3 business days after the first email, `followup-2`
7 business days after that."""
MAX_FOLLOWUPS = 4
"""At most this many follow-ups (five messages in all): more reads as pestering."""
MAX_DELAY = 60


@dataclass(frozen=True)
class Step:
    """One message of a sequence: `number` 0 is the first email."""

    number: int
    template: str
    delay_days: int

    @property
    def public(self) -> int:
        """The step as users and the JSON count it: 1 is the first email."""
        return self.number + 1

    @property
    def label(self) -> str:
        return "first email" if self.number == 0 else f"follow-up {self.number}"


_STEP = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9_.-]*)\s*:\s*(\d+)\s*$")


def parse_step(text: str) -> tuple[str, int]:
    """`followup-1:3` -> ("followup-1", 3); OutreachError naming the expected shape otherwise."""
    match = _STEP.match(text or "")
    if not match:
        raise OutreachError(f"{text!r} is not TEMPLATE:DAYS (e.g. followup-1:3, a template name and business days)")
    days = int(match.group(2))
    if not 1 <= days <= MAX_DELAY:
        raise OutreachError(f"{text!r}: the delay must be 1 to {MAX_DELAY} business days")
    return match.group(1), days


def check_followups(followups: Sequence[tuple[str, int]]) -> list[tuple[str, int]]:
    steps = [(template, int(days)) for template, days in followups]
    if len(steps) > MAX_FOLLOWUPS:
        raise OutreachError(f"{len(steps)} follow-ups is too many: at most {MAX_FOLLOWUPS} (a courteous sequence is short)")
    for template, days in steps:
        if not 1 <= days <= MAX_DELAY:
            raise OutreachError(f"follow-up {template}: the delay must be 1 to {MAX_DELAY} business days")
    return steps


def campaign_steps(db: Database, campaign: dict[str, Any]) -> list[Step]:
    """The sequence, first email first. A campaign with no stored step 0 uses its own template."""
    rows = db.execute(
        "SELECT step, template, delay_days FROM campaign_steps WHERE campaign_id = ? ORDER BY step", [campaign["id"]]
    ).fetchall()
    steps = [Step(n, t, d) for n, t, d in rows]
    if not steps or steps[0].number != 0:
        steps.insert(0, Step(0, campaign["template"], 0))
    return steps


def set_followups(db: Database, campaign: dict[str, Any], followups: Sequence[tuple[str, int]], *, templates_dir=None) -> list[Step]:
    """Replace the follow-up steps (the first email stays). Steps already used by a message
    keep their number, so a change never re-sends a step someone already got."""
    steps = check_followups(followups)
    if templates_dir is not None:
        for template, _days in steps:
            load_template(templates_dir, template)
    with db.atomic():
        db.execute("DELETE FROM campaign_steps WHERE campaign_id = ? AND step > 0", [campaign["id"]])
        db.execute(
            "INSERT OR IGNORE INTO campaign_steps (campaign_id, step, template, delay_days) VALUES (?, 0, ?, 0)",
            [campaign["id"], campaign["template"]],
        )
        for number, (template, days) in enumerate(steps, start=1):
            db.execute("INSERT INTO campaign_steps (campaign_id, step, template, delay_days) VALUES (?, ?, ?, ?)",
                       [campaign["id"], number, template, days])
        record_event(db, "campaign_steps", campaign_id=campaign["id"], steps=[f"{t}:{d}" for t, d in steps])
    return campaign_steps(db, campaign)


# --- business days: outreach/business_days.py (re-exported for the callers here) ---------------


def local_date(moment: datetime, state: str | None, default_timezone: str) -> date:
    """The date it is (or was) at `moment` where the recipient works."""
    return moment.astimezone(recipient_timezone(state, default_timezone)).date()


def due_date(last_sent: datetime, delay_days: int, state: str | None, default_timezone: str) -> date:
    """The recipient's local date a step becomes due: `delay_days` business days after the day
    (in their time zone) the step before it went."""
    return add_business_days(local_date(last_sent, state, default_timezone), delay_days)


def describe(steps: Iterable[Step]) -> str:
    """`observership-request, then followup-1 after 3 business days, then ...`"""
    steps = list(steps)
    parts = [steps[0].template] + [f"{s.template} after {s.delay_days} business day{'s' if s.delay_days != 1 else ''}" for s in steps[1:]]
    return ", then ".join(parts) + ("" if len(steps) > 1 else " (no follow-ups)")
