"""The report's grouped aggregates, in SQL: one pass over the messages for every count, one over
the human replies for the times and steps, one per day for the sparkline.

Two units, chosen by what the grouping describes:
- a contact's attribute or campaign (tag, specialty, state, domain, source, campaign, or no
  grouping): the *thread*, one contact in one campaign, whatever follow-ups it took;
- a message's own attribute (template, step, week sent): the *message*. A reply counts for the
  message it answered (`replies.message_id`), so with `--by step` a reply to the first follow-up
  counts for step 1, and with `--by template` for the template that follow-up used. For steps
  the two units are the same (one message per contact per step).
Only messages that went out count (state sent or bounced; never test sends). The answer to an
introduction (kind `intro_answer`) has no campaign: its thread is the contact's own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from outreach.db import Database
from outreach.reports import introducers
from outreach.reports.outcomes import FUNNEL

THREAD_KEYS = {
    # --by NAME: the group key from the thread's contact (c) or campaign (th.cid)
    "campaign": "th.cid",
    "tag": "t.name",
    "specialty": "c.specialty",
    "state": "upper(c.state)",
    "domain": "lower(substr(c.email, instr(c.email, '@') + 1))",
    "source": "c.source",
    "introducer": introducers.GROUP_KEY,
}
MESSAGE_KEYS = {
    # --by NAME: the group key from each message (m). Weeks are folded from days in Python:
    # date() on 300,000 rows cost more than the rest of the query.
    "template": "m.template",
    "step": "m.step",
    "week": "substr(m.sent_at, 1, 10)",
}
PARTITIONING = (*(key for key in THREAD_KEYS if key != "tag"), None)
"""Groupings where every thread is in exactly one group (tags overlap; so do a thread's steps)."""

WENT_OUT = "m.kind != 'test' AND m.state IN ('sent', 'bounced')"
WARM = "(c.referred_by IS NOT NULL)"
WARM_OR_INTRODUCED = f"({introducers.BROUGHT_BY} IS NOT NULL)"
"""Warm: contacts someone referred (a suggestion taken up) or, once the introductions stage adds
`contacts.introduced_by`, introduced."""


def warm_sql(db: Database) -> str:
    columns = {row[1] for row in db.execute("PRAGMA table_info(contacts)").fetchall()}
    return WARM_OR_INTRODUCED if "introduced_by" in columns else WARM
TAG_JOIN = "LEFT JOIN contact_tags ct ON ct.contact_id = {alias}.pid LEFT JOIN tags t ON t.id = ct.tag_id"


def week_of(day: str | None) -> str | None:
    """The Monday (UTC) of the week containing an ISO day."""
    if not day:
        return None
    value = date.fromisoformat(day)
    return (value - timedelta(days=value.weekday())).isoformat()


@dataclass(frozen=True)
class Filters:
    """Which messages the report looks at."""

    campaign_id: int | None = None
    since: str | None = None  # ISO-8601 UTC: messages sent at or after

    def sql(self) -> tuple[str, list[Any]]:
        clauses: list[str] = [WENT_OUT]
        params: list[Any] = []
        if self.campaign_id is not None:
            clauses.append("m.campaign_id = ?")
            params.append(self.campaign_id)
        if self.since:
            clauses.append("m.sent_at >= ?")
            params.append(self.since)
        return " AND ".join(clauses), params


@dataclass
class GroupCounts:
    """Raw counts of one group, straight from SQL (in units: threads or messages, see above)."""

    key: Any
    contacted: int = 0
    bounced: int = 0
    replied: int = 0
    auto_replied: int = 0
    opted_out: int = 0
    warm_contacted: int = 0
    warm_bounced: int = 0
    warm_replied: int = 0
    funnel: dict[str, int] = field(default_factory=dict)
    first_reply_seconds: list[int] = field(default_factory=list)
    replied_after_step: dict[int, int] = field(default_factory=dict)

    def add(self, numbers: list[Any], stages: list[str]) -> None:
        """Add one SQL row's sums (several rows fold into one week)."""
        contacted, bounced, human, auto, unsub, warm, warm_bounced, warm_human, *funnel = (n or 0 for n in numbers)
        self.contacted += contacted
        self.bounced += bounced
        self.replied += human
        self.auto_replied += auto
        self.opted_out += unsub
        self.warm_contacted += warm
        self.warm_bounced += warm_bounced
        self.warm_replied += warm_human
        for stage, n in zip(stages, funnel):
            self.funnel[stage] += n


def _funnel_sql() -> str:
    """Per contact: 1 when its outcome history reached each funnel stage."""
    columns = []
    for stage, outcomes in FUNNEL:
        names = ", ".join(f"'{o}'" for o in outcomes)  # our own constants, never user text
        columns.append(f"max(outcome IN ({names})) AS {stage}")
    return f"SELECT contact_id, {', '.join(columns)} FROM contact_outcomes GROUP BY contact_id"


def _units(by: str | None, where: str) -> tuple[str, str, str, str]:
    """(units CTE, replies-per-unit CTE, final key, extra joins): the SQL that differs by unit."""
    if by in MESSAGE_KEYS:
        units = f"""SELECT {MESSAGE_KEYS[by]} AS g, m.id AS uid, m.contact_id AS pid, m.state = 'bounced' AS bounced
                    FROM messages m WHERE {where}"""
        replies = """SELECT r.message_id AS uid, max(r.kind = 'human_reply') AS human, max(r.kind = 'auto_reply') AS auto,
                            max(r.kind = 'unsubscribe') AS unsub FROM replies r GROUP BY r.message_id"""
        return units, replies, "th.g", ""
    units = f"""SELECT m.campaign_id AS cid, m.contact_id AS pid, ifnull(m.campaign_id, '') || ':' || m.contact_id AS uid,
                       max(m.state = 'bounced') AS bounced
                FROM messages m WHERE {where} GROUP BY m.campaign_id, m.contact_id"""
    replies = f"""SELECT ifnull(m.campaign_id, '') || ':' || m.contact_id AS uid, max(r.kind = 'human_reply') AS human,
                         max(r.kind = 'auto_reply') AS auto, max(r.kind = 'unsubscribe') AS unsub
                  FROM replies r JOIN messages m ON m.id = r.message_id WHERE {where} GROUP BY m.campaign_id, m.contact_id"""
    key = THREAD_KEYS[by] if by else "NULL"
    return units, replies, key, TAG_JOIN.format(alias="th") if by == "tag" else ""


def group_counts(db: Database, by: str | None, filters: Filters) -> dict[Any, GroupCounts]:
    """Every count of every group in one query; keyed by the group's raw value (None = missing).

    Threads are aggregated first (the messages_report index walks them in order without
    touching the table), and replies separately (few), so each contact is looked up once per unit."""
    where, params = filters.sql()
    units, replies, key, joins = _units(by, where)
    warm = warm_sql(db)
    stages = [stage for stage, _ in FUNNEL]
    funnel_sums = ", ".join(f"sum(f.{s})" for s in stages)
    sql = f"""
        WITH f AS ({_funnel_sql()}), th AS ({units}), rp AS ({replies})
        SELECT {key}, count(*), sum(th.bounced), sum(rp.human), sum(rp.auto), sum(rp.unsub),
               sum({warm}), sum({warm} AND th.bounced), sum({warm} AND rp.human), {funnel_sums}
        FROM th JOIN contacts c ON c.id = th.pid {joins}
        LEFT JOIN rp ON rp.uid = th.uid
        LEFT JOIN f ON f.contact_id = th.pid
        GROUP BY 1
    """
    groups: dict[Any, GroupCounts] = {}
    for row in db.execute(sql, params * (1 if by in MESSAGE_KEYS else 2)).fetchall():
        g, *numbers = row
        if by == "week":
            g = week_of(g)
        counts = groups.setdefault(g, GroupCounts(key=g, funnel={s: 0 for s in stages}))
        counts.add(numbers, stages)
    _add_first_replies(db, by, where, params, groups)
    return groups


def _add_first_replies(db: Database, by: str | None, where: str, params: list[Any], groups: dict[Any, GroupCounts]) -> None:
    """Each replied unit's first human reply: how long after the message it answered (as stored
    by `replies poll`) and that message's step (0 = the first email). SQLite takes the bare
    columns of an aggregate query from the row that gave min(received_at)."""
    if by in MESSAGE_KEYS:
        per, inner, key = "r.message_id", MESSAGE_KEYS[by], "x.g"
    elif by in ("campaign", None):
        per, inner, key = "m.campaign_id, m.contact_id", "m.campaign_id" if by else "NULL", "x.g"
    else:
        per, inner, key = "m.campaign_id, m.contact_id", "NULL", THREAD_KEYS[by]
    joins = TAG_JOIN.format(alias="x") if by == "tag" else ""
    sql = f"""
        SELECT {key}, x.step, x.seconds
        FROM (SELECT {inner} AS g, m.contact_id AS pid, m.step AS step, r.seconds_to_reply AS seconds, min(r.received_at)
              FROM replies r JOIN messages m ON m.id = r.message_id
              WHERE r.kind = 'human_reply' AND {where} GROUP BY {per}) x
        {"" if key == "x.g" else "JOIN contacts c ON c.id = x.pid"} {joins}
    """
    for g, step, seconds in db.execute(sql, params).fetchall():
        if by == "week":
            g = week_of(g)
        counts = groups.get(g)
        if counts is None:
            continue
        counts.replied_after_step[step] = counts.replied_after_step.get(step, 0) + 1
        if seconds is not None:
            counts.first_reply_seconds.append(seconds)


def replies_per_day(db: Database, filters: Filters) -> list[tuple[str, int]]:
    """Human replies per local day (the user's calendar), oldest first."""
    where, params = filters.sql()
    sql = f"""SELECT date(r.received_at, 'localtime') AS day, count(*)
              FROM replies r JOIN messages m ON m.id = r.message_id
              WHERE r.kind = 'human_reply' AND {where} GROUP BY day ORDER BY day"""
    return [(day, n) for day, n in db.execute(sql, params).fetchall() if day]


def campaign_names(db: Database) -> dict[int, str]:
    return dict(db.execute("SELECT id, name FROM campaigns").fetchall())


def campaign_id(db: Database, name: str) -> int | None:
    row = db.execute("SELECT id FROM campaigns WHERE name = ?", [name]).fetchone()
    return row[0] if row else None
