"""`outreach report`: the counts from queries.py turned into rates a user can trust.

Definitions (the README's "Reports" section says the same in plain words):
- contacted: threads (one contact in one campaign) with at least one message that went out;
- bounced: threads whose message bounced; delivered = contacted - bounced;
- replied: threads with a human reply (auto-replies and opt-outs are counted apart);
- reply rate = replied / delivered, with its 95% Wilson interval;
- time to first reply: from the message the first human reply answered to that reply;
- replied after step s: threads whose first human reply answered step s (0 = first email);
- warm: contacts someone introduced or referred (contacts.referred_by); the rest are cold.
- by introducer: one group per person who introduced or referred contacts, one for the alumni
  asked for introductions and one for the cold contacts (reports/introducers.py says who is who).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from outreach.db import Database, utc_now
from outreach.errors import NotFoundError, OutreachError
from outreach.reports import introducers, queries, stats
from outreach.reports.outcomes import FUNNEL

BY_CHOICES = ("template", "step", "tag", "specialty", "state", "domain", "week", "source", "campaign", "introducer")
NONE_LABEL = "(none)"
ALL_LABEL = "all"


@dataclass
class Side:
    """Warm or cold part of a group."""

    contacted: int
    delivered: int
    replied: int

    @property
    def rate(self) -> float | None:
        return stats.rate(self.replied, self.delivered)

    def to_json(self) -> dict[str, Any]:
        return {"contacted": self.contacted, "delivered": self.delivered, "replied": self.replied, "reply_rate": _round(self.rate)}


@dataclass
class Group:
    """One row of the report."""

    group: Any
    label: str
    contacted: int
    delivered: int
    bounced: int
    replied: int
    auto_replied: int
    opted_out: int
    median_seconds: float | None
    p90_seconds: float | None
    replied_after_step: dict[int, int]
    warm: Side
    cold: Side
    funnel: dict[str, int]

    @property
    def reply_rate(self) -> float | None:
        return stats.rate(self.replied, self.delivered)

    @property
    def interval(self) -> tuple[float, float] | None:
        return stats.wilson(self.replied, self.delivered)

    @property
    def bounce_rate(self) -> float | None:
        return stats.rate(self.bounced, self.contacted)

    def to_json(self) -> dict[str, Any]:
        low, high = self.interval or (None, None)
        return {
            "group": self.group, "label": self.label, "contacted": self.contacted, "delivered": self.delivered,
            "bounced": self.bounced, "bounce_rate": _round(self.bounce_rate), "replied": self.replied,
            "auto_replied": self.auto_replied, "opted_out": self.opted_out, "reply_rate": _round(self.reply_rate),
            "reply_rate_low": _round(low), "reply_rate_high": _round(high),
            "median_seconds_to_reply": self.median_seconds, "p90_seconds_to_reply": self.p90_seconds,
            "replied_after_step": {str(step): n for step, n in sorted(self.replied_after_step.items())},
            "warm": self.warm.to_json(), "cold": self.cold.to_json(),
            "funnel": {"contacted": self.contacted, "replied": self.replied, **self.funnel},
        }


@dataclass
class Comparison:
    """How sure we are that group a's true reply rate is higher than group b's."""

    a: str
    b: str
    probability: float
    noise: bool
    text: str

    def to_json(self) -> dict[str, Any]:
        return {"a": self.a, "b": self.b, "probability": round(self.probability, 4), "within_noise": self.noise, "text": self.text}


@dataclass
class Report:
    by: str | None
    campaign: str | None
    since: str | None
    groups: list[Group]
    comparisons: list[Comparison]
    warm_vs_cold: Comparison | None
    replies_per_day: list[tuple[str, int]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "by": self.by, "campaign": self.campaign, "since": self.since,
            "groups": [g.to_json() for g in self.groups],
            "comparisons": [c.to_json() for c in self.comparisons],
            "warm_vs_cold": self.warm_vs_cold.to_json() if self.warm_vs_cold else None,
            "replies_per_day": [{"day": d, "replied": n} for d, n in self.replies_per_day],
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def label_for(by: str | None, key: Any, names: dict[int, str]) -> str:
    """How a group is named to a person."""
    if by is None:
        return ALL_LABEL
    if key is None or key == "":
        return NONE_LABEL
    if by == "step":
        return "first email" if key == 0 else f"follow-up {key}"
    if by == "campaign":
        return names.get(key, f"campaign {key}")
    if by == "week":
        return f"week of {key}"
    if by == "introducer":
        return names.get(key) or introducers.LABELS.get(key) or f"contact {key}"
    return str(key)


def _group(by: str | None, counts: queries.GroupCounts, names: dict[Any, str], keys: dict[Any, str] | None = None) -> Group:
    delivered = counts.contacted - counts.bounced
    warm = Side(counts.warm_contacted, counts.warm_contacted - counts.warm_bounced, counts.warm_replied)
    cold = Side(counts.contacted - warm.contacted, delivered - warm.delivered, counts.replied - warm.replied)
    label = label_for(by, counts.key, names)
    if by is None:
        key: Any = ALL_LABEL
    elif counts.key is None:
        key = NONE_LABEL
    elif by == "campaign":
        key = label
    else:
        key = (keys or {}).get(counts.key, counts.key)  # an introducer: their email
    return Group(
        group=key, label=label, contacted=counts.contacted, delivered=delivered, bounced=counts.bounced,
        replied=counts.replied, auto_replied=counts.auto_replied, opted_out=counts.opted_out,
        median_seconds=stats.percentile(counts.first_reply_seconds, 50),
        p90_seconds=stats.percentile(counts.first_reply_seconds, 90),
        replied_after_step=dict(counts.replied_after_step), warm=warm, cold=cold, funnel=dict(counts.funnel),
    )


def _order(by: str | None, groups: list[Group]) -> list[Group]:
    """Steps and weeks in time order; everything else by how many were contacted."""
    if by in ("step", "week"):
        return sorted(groups, key=lambda g: (g.group == NONE_LABEL, str(g.group).zfill(12)))
    return sorted(groups, key=lambda g: (-g.contacted, g.label.lower()))


NOUNS = {"template": "Template", "step": "The", "tag": "Tag", "specialty": "Specialty", "state": "State",
         "domain": "Domain", "week": "The", "source": "Source", "campaign": "Campaign", "introducer": ""}


def _possessive(name: str) -> str:
    return name + ("'" if name.endswith("s") else "'s")


def compare(a: str, ka: int, na: int, b: str, kb: int, nb: int, *, noun: str = "") -> Comparison:
    """The plain-language line: which true rate is higher, how surely, and whether it is noise."""
    p = stats.prob_greater(ka, na, kb, nb)
    if p < 0.5:  # always say it the way round that reads naturally: the likelier-higher first
        a, ka, na, b, kb, nb, p = b, kb, nb, a, ka, na, 1 - p
    noise = stats.within_noise(p, na, nb)
    who = f"{noun} {a}".strip()
    shown = "> 0.99" if p > 0.99 else f"{p:.2f}"
    text = f"{_possessive(who)} true reply rate is higher than {_possessive(b)} with probability {shown}"
    if noise:
        few = min(na, nb) < stats.SMALL_COUNT
        text += ": within noise at these counts" + (f" (only {min(na, nb)} delivered)" if few else "")
    return Comparison(a, b, p, noise, text[0].upper() + text[1:] + ".")


def _comparisons(by: str | None, groups: list[Group]) -> list[Comparison]:
    """Each group against the one with the highest reply rate (k-1 lines, not every pair)."""
    rated = [g for g in groups if g.delivered]
    if by is None or len(rated) < 2:
        return []
    best = max(rated, key=lambda g: ((g.replied + 1) / (g.delivered + 2), g.delivered))
    noun = NOUNS.get(by, "")
    return [compare(best.label, best.replied, best.delivered, g.label, g.replied, g.delivered, noun=noun)
            for g in rated if g is not best]


def _warm_vs_cold(by: str | None, groups: list[Group]) -> Comparison | None:
    """Warm against cold over the whole selection: the groups' sums when every thread is in
    exactly one group; None for overlapping groupings (tags, steps: run without --by)."""
    if by not in queries.PARTITIONING or not groups:
        return None
    warm = Side(*(sum(getattr(g.warm, f) for g in groups) for f in ("contacted", "delivered", "replied")))
    cold = Side(*(sum(getattr(g.cold, f) for g in groups) for f in ("contacted", "delivered", "replied")))
    if not warm.delivered or not cold.delivered:
        return None
    return compare("warm (introduced) contacts", warm.replied, warm.delivered, "cold contacts", cold.replied, cold.delivered)


def build_report(db: Database, *, by: str | None = None, campaign: str | None = None, since: datetime | None = None) -> Report:
    """The whole report for the selection: groups, comparisons, warm vs cold, replies per day."""
    if by is not None and by not in BY_CHOICES:
        raise OutreachError(f"cannot group by {by!r}: use one of {', '.join(BY_CHOICES)}")
    campaign_id = None
    if campaign:
        campaign_id = queries.campaign_id(db, campaign)
        if campaign_id is None:
            raise NotFoundError(f"no campaign called {campaign!r}: see `outreach campaign list`")
    filters = queries.Filters(campaign_id=campaign_id, since=utc_now(since) if since else None)
    names: dict[Any, str] = queries.campaign_names(db) if by == "campaign" else {}
    keys: dict[Any, str] = {}
    if by == "introducer":
        people = introducers.introducers(db)
        names, keys = {k: name for k, (_e, name) in people.items()}, {k: email for k, (email, _n) in people.items()}
    groups = _order(by, [_group(by, c, names, keys) for c in queries.group_counts(db, by, filters).values()])
    return Report(
        by=by, campaign=campaign, since=filters.since, groups=groups, comparisons=_comparisons(by, groups),
        warm_vs_cold=_warm_vs_cold(by, groups), replies_per_day=queries.replies_per_day(db, filters),
    )


def campaign_reply_counts(db: Database) -> dict[str, Group]:
    """Replied, opted out, bounced and the reply rate of every campaign, by name (for `campaign list/show`)."""
    names = queries.campaign_names(db)
    counts = queries.group_counts(db, "campaign", queries.Filters())
    return {names[key]: _group("campaign", c, names) for key, c in counts.items() if key in names}


FUNNEL_STAGES = ("contacted", "replied") + tuple(stage for stage, _ in FUNNEL)
