"""Campaigns: a named template + selection, frozen into a durable outbox when sending starts.

A campaign is created as a `draft`. Its first live send *freezes* it: every selected contact gets a
`campaign_contacts` row (included, or skipped with a reason) and every included contact a
`messages` row in state `queued`, with its Message-ID, subject and attachment digests decided
up front, before any SMTP conversation. From then on the outbox, not the contact list, is the
truth: re-importing contacts or editing tags doesn't change who this campaign writes to.

Message states (see migrations.py): queued -> sending -> sent | failed | deferred | uncertain.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from outreach.config import Settings
from outreach.contacts.store import (
    get_contact_by_id,
    iter_contacts,
    needs_smtputf8,
)
from outreach.db import Database, parse_utc, record_event, utc_now
from outreach.errors import NotFoundError, OutreachError, TemplateError
from outreach.mail.message import RenderedMessage
from outreach.sending.eml import read_frozen
from outreach.sending.outbox import QueuedMessage
from outreach.sending.pacing import Limits
from outreach.sending.selection import (  # noqa: F401 (re-exported)
    CONTACTED_STATES,
    Selection,
    _already_contacted,
    _named,
    frozen_selection,
    plan_counts,
    plan_selection,
    skip_reasons,
)

if TYPE_CHECKING:
    from outreach.sending.freeze import Planned

MESSAGE_STATES = ("queued", "sending", "deferred", "sent", "failed", "uncertain", "bounced", "cancelled")
OPEN_STATES = ("queued", "deferred", "sending", "uncertain")
"""States that still need something to happen (a send, or a decision)."""


class CampaignTemplateError(OutreachError):
    """The template fails for some selected contacts; nothing is sent until every one renders."""

    def __init__(self, template: str, problems: list[TemplateError]) -> None:
        self.problems = problems
        contacts = {p.contact for p in problems if p.contact}
        super().__init__(
            f"template {template!r} has {len(problems)} problem(s) for {len(contacts) or 'the'} selected contact(s); "
            f"nothing was sent. Fix them (see `outreach templates check {template}`) and run again"
        )


# --- create / read -------------------------------------------------------------------------------


NAME_LENGTH = 64
_NAME = re.compile(rf"(?!\.)[\w.-]{{1,{NAME_LENGTH}}}")


def check_campaign_name(name: str) -> str:
    """The name, trimmed, if it is safe as a folder name under the outbox (`..` or `a/b` is
    not); OutreachError saying what a name may hold otherwise."""
    name = name.strip()
    if not _NAME.fullmatch(name):
        raise OutreachError(
            f"campaign name {name!r} is not allowed: use letters, digits, '-', '_' and '.' (not first), "
            f"at most {NAME_LENGTH} characters, e.g. spring-2026 (it becomes a folder name)"
        )
    return name


def create_campaign(
    db: Database,
    name: str,
    *,
    template: str,
    templates_dir: Path,
    tags: Iterable[str] = (),
    where: Mapping[str, str] | None = None,
    account: str | None = None,
    profile: str | None = None,
    timezone: str | None = None,
    send_window: str | None = None,
    options: Mapping[str, Any] | None = None,
    followups: Sequence[tuple[str, int]] = (),
) -> dict[str, Any]:
    """A new draft campaign. The template must exist now, so a typo fails here, not at send time.

    `followups` are the sequence's later steps, (template, business days after the step before);
    a template whose front matter says `include_replied: true` also writes to people who replied."""
    name = check_campaign_name(name)
    # lazy: start-up time (Jinja2 loads when a campaign is made, not for `replies poll`)
    from outreach.templates.render import load_template

    if load_template(templates_dir, template).include_replied:
        options = {**(options or {}), "include_replied": True}
    if db.execute("SELECT 1 FROM campaigns WHERE name = ?", [name]).fetchone():
        raise OutreachError(f"a campaign called {name!r} already exists: pick another name, or `outreach campaign show {name}`")
    now = utc_now()
    with db.atomic():
        campaign_id = db.table("campaigns").insert(
            {
                "name": name,
                "template": template,
                "selection": json.dumps({"tags": sorted(set(tags)), "where": dict(where or {})}),
                "status": "draft",
                "account": account,
                "profile": profile,
                "timezone": timezone,
                "send_window": send_window,
                "options": json.dumps(dict(options or {})),
                "created_at": now,
            }
        ).last_pk
        db.table("campaign_steps").insert_all(
            [{"campaign_id": campaign_id, "step": 0, "template": template, "delay_days": 0}]
            + [{"campaign_id": campaign_id, "step": n, "template": t, "delay_days": int(d)} for n, (t, d) in enumerate(followups, start=1)]
        )
        record_event(db, "campaign_created", campaign_id=campaign_id, at=now, name=name, template=template)
    return get_campaign(db, name)


def _decode(row: Mapping[str, Any]) -> dict[str, Any]:
    campaign = dict(row)
    campaign["selection"] = json.loads(campaign.get("selection") or "{}")
    campaign["options"] = json.loads(campaign.get("options") or "{}")
    return campaign


PACING_OPTIONS = ("gap", "daily_cap", "hourly_cap", "domain_cap")
"""Per-campaign pacing kept in `campaigns.options` (the window and time zone have columns)."""


def campaign_limits(settings: Settings, campaign: Mapping[str, Any] | None, **flags: Any) -> Limits:
    """The limits a send uses: flags > the campaign's own choices > settings.

    Gap, send window and time zone from the campaign replace the settings'. The caps count the
    whole account's sends (all campaigns), so a campaign's cap is an extra limit, never a looser
    one: without a flag the stricter of the campaign's cap and the settings' cap applies (0 = no
    limit). A flag on `send` replaces both for that run. The one place pacing is resolved: a
    campaign being created passes {"options": ..., "send_window": ..., "timezone": ...}."""
    chosen = {k: v for k, v in flags.items() if v is not None}
    if campaign:
        options = campaign.get("options") or {}
        base = Limits.from_settings(settings)
        for name in PACING_OPTIONS:
            value = options.get(name)
            if value is None or name in chosen:
                continue
            if name == "gap":
                chosen[name] = value
            else:
                own, account = int(value), getattr(base, name)
                chosen[name] = min(own, account) if own and account else own or account
        for column in ("send_window", "timezone"):
            if campaign.get(column) and column not in chosen:
                chosen[column] = campaign[column]
    return Limits.from_settings(settings, **chosen)


def get_campaign(db: Database, name: str) -> dict[str, Any]:
    """The campaign called `name`, or NotFoundError (the one place that error is worded)."""
    rows = list(db.query("SELECT * FROM campaigns WHERE name = ?", [name]))
    if not rows:
        raise NotFoundError(f"no campaign called {name!r}: see `outreach campaign list`")
    return _decode(rows[0])


def message_counts(db: Database, campaign_id: int) -> dict[str, int]:
    """Messages (not tests) of a campaign by state; every state present, zero when none."""
    counts = {state: 0 for state in MESSAGE_STATES}
    sql = "SELECT state, count(*) FROM messages WHERE campaign_id = ? AND kind != 'test' GROUP BY state"
    for state, count in db.execute(sql, [campaign_id]).fetchall():
        counts[state] = count
    return counts


def first_live_run(db: Database, campaign: Mapping[str, Any]) -> bool:
    """True until a live run has tried to send one of the campaign's messages."""
    if not campaign["started_at"]:
        return True
    return not db.execute(
        "SELECT 1 FROM messages WHERE campaign_id = ? AND kind != 'test' AND state NOT IN ('queued') LIMIT 1", [campaign["id"]]
    ).fetchone()


def hard_bounce_counts(db: Database, campaign_id: int) -> tuple[int, int]:
    """(messages the server took or refused for good, of which hard bounces) for a campaign."""
    attempted, hard = db.execute(
        """SELECT sum(state IN ('sent', 'bounced') OR (state = 'failed' AND error LIKE 'hard bounce%')),
                  sum(state = 'bounced' OR (state = 'failed' AND error LIKE 'hard bounce%'))
           FROM messages WHERE campaign_id = ? AND kind != 'test'""",
        [campaign_id],
    ).fetchone()
    return attempted or 0, hard or 0


def skipped_contacts(db: Database, campaign_id: int) -> list[dict[str, Any]]:
    sql = """SELECT c.email, cc.skip_reason FROM campaign_contacts cc JOIN contacts c ON c.id = cc.contact_id
             WHERE cc.campaign_id = ? AND cc.included = 0 ORDER BY c.email"""
    return [{"email": e, "reason": r} for e, r in db.execute(sql, [campaign_id]).fetchall()]


def next_attempt_at(db: Database, campaign_id: int) -> datetime | None:
    """The earliest time a deferred message of this campaign is due for another try."""
    row = db.execute(
        "SELECT min(next_attempt_at) FROM messages WHERE campaign_id = ? AND state = 'deferred'", [campaign_id]
    ).fetchone()
    return parse_utc(row[0]) if row and row[0] else None


def away_messages(db: Database, campaign_id: int, today: str) -> list[dict[str, Any]]:
    """Queued messages held because their contact is away (until a date >= `today`, or no date)."""
    sql = """SELECT c.email, c.away_until FROM messages m JOIN contacts c ON c.id = m.contact_id
             WHERE m.campaign_id = ? AND m.kind != 'test' AND m.state IN ('queued', 'deferred') AND c.status = 'away'
               AND (c.away_until IS NULL OR substr(c.away_until, 1, 10) >= ?) ORDER BY c.away_until, c.email"""
    return [{"email": e, "away_until": u} for e, u in db.execute(sql, [campaign_id, today]).fetchall()]


def campaign_summary(db: Database, campaign: Mapping[str, Any], *, now: datetime | None = None) -> dict[str, Any]:
    """A campaign with its message counts, skipped contacts and contacts it waits for (away)."""
    summary = dict(campaign)
    summary["counts"] = message_counts(db, campaign["id"])
    skipped = skipped_contacts(db, campaign["id"])
    summary["skipped"] = skipped
    summary["away"] = away_messages(db, campaign["id"], utc_now(now)[:10])
    summary["remaining"] = summary["counts"]["queued"] + summary["counts"]["deferred"]
    summary["next_retry_at"] = next_attempt_at(db, campaign["id"])
    return summary


def list_campaigns(db: Database) -> list[dict[str, Any]]:
    return [campaign_summary(db, _decode(row)) for row in db.query("SELECT * FROM campaigns ORDER BY created_at, id")]


# --- status --------------------------------------------------------------------------------------


def set_status(db: Database, campaign: Mapping[str, Any], status: str, reason: str | None = None, **changes: Any) -> None:
    """Change a campaign's status and say why, in one transaction with its event."""
    with db.atomic():
        db.update_row("campaigns", campaign["id"], {"status": status, "status_reason": reason, **changes})
        record_event(db, f"campaign_{status}", campaign_id=campaign["id"], reason=reason)


def pause_campaign(db: Database, name: str, reason: str = "paused by you") -> dict[str, Any]:
    campaign = get_campaign(db, name)
    if campaign["status"] == "done":
        raise OutreachError(f"campaign {name!r} is finished; there is nothing to pause")
    set_status(db, campaign, "paused", reason)
    return get_campaign(db, name)


def resume_campaign(db: Database, name: str) -> dict[str, Any]:
    """A paused campaign becomes active again; the next `send` continues where it stopped."""
    campaign = get_campaign(db, name)
    if campaign["status"] != "paused":
        raise OutreachError(f"campaign {name!r} is {campaign['status']}, not paused; nothing to resume")
    set_status(db, campaign, "active" if campaign["started_at"] else "draft", None)
    return get_campaign(db, name)


# --- freezing (who is selected: selection.py) -----------------------------------------------------


def render_all(settings: Settings, campaign: Mapping[str, Any], contacts: list[dict[str, Any]]) -> list[RenderedMessage]:
    """Render every contact's message once, or raise CampaignTemplateError listing every problem."""
    # lazy: start-up time (Jinja2 loads when a campaign renders, not for `replies poll`)
    from outreach.templates.render import Sender, load_template, render_or_problems

    sender = Sender.from_settings(settings)
    template = load_template(settings.templates_dir, campaign["template"])
    rendered, problems = [], []
    for contact in contacts:
        message, found = render_or_problems(template, contact, sender=sender, campaign=dict(campaign))
        problems.extend(found)
        if message is not None:
            rendered.append(message)
    if problems:
        raise CampaignTemplateError(campaign["template"], problems)
    return rendered


def needs_smtputf8_probe(db: Database, campaign: Mapping[str, Any]) -> bool:
    """Whether starting this campaign now would skip someone only for want of SMTPUTF8 (then
    it is worth asking the server whether it offers it)."""
    if campaign["started_at"]:
        return False
    # the usual list has no address with a non-ASCII character at all: one scan in SQLite says so
    # (GLOB [^ -~] is anything outside printable ASCII), instead of reading every selected contact
    if not db.execute("SELECT EXISTS (SELECT 1 FROM contacts WHERE email GLOB '*[^ -~]*')").fetchone()[0]:
        return False
    selection = campaign["selection"]
    contacts = iter_contacts(db, tags=selection.get("tags", ()), where=selection.get("where") or None)
    return any(needs_smtputf8(contact["email"]) for contact in contacts)  # streamed: memory flat in the list's size


@dataclass
class DryRun:
    """What a draft's dry run rendered and where; the database keeps only the list of files."""

    plan: Planned
    rendered: int
    folder: Path


def dry_run(db: Database, settings: Settings, campaign: Mapping[str, Any]) -> DryRun:
    """Render every selected contact's message into the campaign's folder, for the user to read.
    One pass in batches, each message rendered once (sending/freeze.py)."""
    # lazy: start-up time (Jinja2 loads when a campaign renders)
    from outreach.sending import freeze

    try:
        planned, folder = freeze.dry_run(db, settings, campaign, skip_reasons(db, campaign))
    except freeze.TemplateProblems as error:
        raise CampaignTemplateError(campaign["template"], error.problems) from None
    return DryRun(planned, planned.included, folder)


def freeze_campaign(
    db: Database, settings: Settings, campaign: Mapping[str, Any], *, now: datetime | None = None, smtputf8: bool = False,
) -> dict[str, Any]:
    """Start the campaign: store the selection and queue one message per included contact.

    Renders everything first (a template problem stops here, before any row or email exists),
    then writes the .eml files and commits the selection and the queued messages together; one
    pass in batches, each message rendered once (sending/freeze.py). Only one freeze wins when
    two processes race.
    """
    if campaign["started_at"]:
        return dict(campaign)
    # lazy: start-up time (Jinja2 loads when a campaign renders)
    from outreach.sending import freeze

    try:
        freeze.freeze(db, settings, campaign, skip_reasons(db, campaign, smtputf8=smtputf8), now=now)
    except freeze.TemplateProblems as error:
        raise CampaignTemplateError(campaign["template"], error.problems) from None
    return get_campaign(db, campaign["name"])


def message_bytes(db: Database, settings: Settings, campaign: Mapping[str, Any], message: QueuedMessage, *,
                  before_db: Callable[[], None] = lambda: None) -> bytes:
    """The frozen .eml; if someone deleted or rewrote it, the same message rendered again with
    the recorded Message-ID (the one a later check of the Sent folder looks for). `before_db`
    runs before the db is read, never for the file alone (the send run settles there the commit
    it has due: Run.flush)."""
    raw = read_frozen(message.eml_path, message.message_id)
    if raw is not None:
        return raw
    before_db()
    if message.kind == "followup":  # rendering the campaign's first email in its place would be wrong
        raise OutreachError(f"the follow-up to {message.to_address} lost its frozen file {message.eml_path}; restore it "
                            "and run again (the message stays queued)")
    contact = get_contact_by_id(db, message.contact_id) if message.contact_id else None
    if contact is None:
        raise OutreachError(f"{message.eml_path} is missing and its contact is gone, so message {message.message_id} cannot be sent")
    [rendered] = render_all(settings, campaign, [contact])
    rendered.message.replace_header("Message-ID", message.message_id)
    return rendered.as_bytes()
