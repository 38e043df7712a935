"""Replies in one line per campaign, for `campaign list` and `campaign show`."""

from __future__ import annotations

from typing import Any

from outreach.db import Database
from outreach.reports.report import campaign_reply_counts

NO_REPLIES: dict[str, Any] = {"delivered": 0, "replied": 0, "opted_out": 0, "bounced": 0, "auto_replied": 0,
                              "reply_rate": None, "reply_rate_low": None, "reply_rate_high": None}


def campaign_replies(db: Database) -> dict[str, dict[str, Any]]:
    """Every campaign's replied / opted out / bounced counts and reply rate (with its interval), by name."""
    result = {}
    for name, group in campaign_reply_counts(db).items():
        data = group.to_json()
        result[name] = {key: data[key] for key in NO_REPLIES}
    return result


def percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def replies_line(counts: dict[str, Any]) -> str:
    """`3 replied (12.0% of 25 delivered, 95%: 4.2–30.0%), 1 opted out`: the bounces are already on
    the messages line of `campaign list/show` (a bounced message is in state bounced)."""
    if not counts["delivered"] and not counts["bounced"]:
        return "no replies yet (nothing delivered)"
    interval = ""
    if counts["reply_rate_low"] is not None:
        interval = f", 95%: {percent(counts['reply_rate_low'])}–{percent(counts['reply_rate_high'])}"
    return (f"{counts['replied']} replied ({percent(counts['reply_rate'])} of {counts['delivered']} delivered{interval}), "
            f"{counts['opted_out']} opted out")
