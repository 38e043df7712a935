"""`outreach campaign ...`: create, list, show, pause, resume, send (a dry run unless --live), resolve, delete."""

from __future__ import annotations

import sys
from datetime import date, datetime
from typing import Any

import click

from outreach.errors import OutreachError
from outreach.followups import sequence
from outreach.sending import campaigns, outbox, sender
from outreach.sending.account import account_of
from outreach.sending.delete import delete_campaign, plan_delete
from outreach.sending.eml import eml_folder
from outreach.sending.pacing import Limits, SystemClock
from outreach.templates.render import load_template

from . import App, pass_app, print_json, where_option
from .campaign_send import contacts_count, local_moment, send


def _day(moment: datetime) -> str:
    return f"{moment.astimezone():%a %d %b %Y %H:%M}"


@click.group(name="campaign")
def campaign_group() -> None:
    """Campaigns: send one template to a selection of contacts, safely paced.

    \b
    outreach campaign create spring --template observership-request --tag physicians
    outreach campaign send spring                 # dry run: writes .eml files, sends nothing
    outreach campaign send spring --test-to me@example.com
    outreach campaign send spring --live          # first live run sends at most 10
    outreach campaign show spring
    """


@campaign_group.command(name="create")
@click.argument("name")
@click.option("--template", "template", required=True, help="Template NAME (templates/NAME.txt).")
@click.option("--tag", "tags", multiple=True, help="Only contacts with this tag (repeat: all of them).")
@where_option
@click.option("--gap", help="Seconds between messages for this campaign: N or MIN-MAX (default OUTREACH_GAP).")
@click.option("--daily-cap", type=click.IntRange(min=0), help="At most N per rolling 24 h while this campaign sends. "
              "Counts every send from the account; the account's own cap (OUTREACH_DAILY_CAP) still applies, the stricter wins.")
@click.option("--hourly-cap", type=click.IntRange(min=0), help="At most N per rolling hour (account-wide count; the stricter of this and OUTREACH_HOURLY_CAP).")
@click.option("--domain-cap", type=click.IntRange(min=0), help="At most N per recipient domain per 24 h (the stricter of this and OUTREACH_DOMAIN_CAP).")
@click.option("--send-window", help='Only send in the recipient\'s local hours, e.g. "Mon-Fri 08:00-17:00".')
@click.option("--timezone", "tz", help="Time zone for recipients without a US state (default OUTREACH_TIMEZONE).")
@click.option("--followup", "followups", multiple=True, metavar="TEMPLATE:DAYS",
              help="A follow-up step: its template and business days after the step before (repeatable, in order). "
              "Default: followup-1:3 followup-2:7.")
@click.option("--no-followups", is_flag=True, help="No follow-ups: the campaign is just the first email.")
@click.option("--include-replied", is_flag=True, help="Also write to people already in a conversation (replied, declined); "
              "a template can ask for this with `include_replied: true` in its front matter.")
@click.option("--profile", metavar="NAME", help="Send from account NAME (OUTREACH_PROFILE_<NAME>_*); every later send uses it.")
@pass_app
def create(app: App, name: str, template: str, tags: tuple[str, ...], where: dict[str, str], gap: str | None,
           daily_cap: int | None, hourly_cap: int | None, domain_cap: int | None, send_window: str | None, tz: str | None,
           followups: tuple[str, ...], no_followups: bool, include_replied: bool, profile: str | None) -> None:
    """Create a campaign (a draft: nothing is frozen or sent until the first live send).

    Pacing given here is kept with the campaign and used by every `send`; a flag on `send` wins
    for that run. Caps of 0 mean no extra limit from the campaign. The campaign is a sequence:
    the first email, then follow-ups in the same thread (see `outreach followups --help`).
    People who already replied, declined or opted out are left out unless --include-replied.

    \b
    outreach campaign create spring --template observership-request --tag physicians --where state=OH
    outreach campaign create spring --template observership-request --daily-cap 20 --send-window "Mon-Fri 9-16"
    outreach campaign create spring --template observership-request --followup followup-1:4 --followup followup-2:10
    """
    app.use_profile(profile)
    options = {k: v for k, v in {"gap": gap, "daily_cap": daily_cap, "hourly_cap": hourly_cap, "domain_cap": domain_cap}.items() if v is not None}
    # a typo fails now, not at send time
    campaigns.campaign_limits(app.settings, {"options": options, "send_window": send_window, "timezone": tz})
    if include_replied:
        options["include_replied"] = True
    steps, missing = _followup_steps(app, template, followups, no_followups)
    campaign = campaigns.create_campaign(
        app.db, name, template=template, templates_dir=app.settings.templates_dir, tags=tags, where=where,
        send_window=send_window, timezone=tz, options=options, followups=steps, **account_of(app.settings),
    )
    plan = campaigns.plan_counts(app.db, campaign)
    skipped = f", {len(plan.skipped)} would be skipped (see `outreach campaign show {name}`)" if plan.skipped else ""
    click.echo(f"Created campaign {name!r} with template {template!r}: {contacts_count(plan.included)} selected{skipped}.")
    click.echo(f"  Sequence: {sequence.describe(sequence.campaign_steps(app.db, campaign))}")
    if missing:
        click.echo(f"Warning: no template {', '.join(missing)} in {app.settings.templates_dir}: create it before the follow-ups "
                   f"are due, or change the steps with `outreach campaign steps {name} TEMPLATE:DAYS ...`.", err=True)
    if not plan.included:
        click.echo("  No contact matches the selection yet: check --tag/--where against `outreach contacts list`.")
    click.echo(f"  Pacing: {campaigns.campaign_limits(app.settings, campaign)}")
    click.echo(f"Next: outreach campaign send {name}   (a dry run: writes the messages to {eml_folder(app.settings, campaign)})")


def _followup_steps(app: App, template: str, followups: tuple[str, ...], no_followups: bool) -> tuple[list[tuple[str, int]], list[str]]:
    """The follow-up steps asked for (default: followup-1:3 followup-2:7) and the default ones
    whose template does not exist yet (a warning, not an error: they are days away)."""
    if followups and no_followups:
        raise click.UsageError("use --followup TEMPLATE:DAYS or --no-followups, not both")
    steps = [] if no_followups else [sequence.parse_step(f) for f in followups] or list(sequence.DEFAULT_FOLLOWUPS)
    sequence.check_followups(steps)
    missing = []
    for step_template, _days in steps:
        try:
            load_template(app.settings.templates_dir, step_template)
        except OutreachError:
            if followups:
                raise
            missing.append(step_template)
    if load_template(app.settings.templates_dir, template).is_followup:
        click.echo(f"Warning: {template!r} is a follow-up template (a reply in a thread); use it as a step "
                   f"(--followup {template}:3), not as a campaign's first email.", err=True)
    return steps, missing


def _counts_line(counts: dict[str, int]) -> str:
    shown = [f"{counts[s]} {s}" for s in ("sent", "queued", "deferred", "failed", "uncertain", "bounced") if counts[s]]
    return ", ".join(shown) or "no messages yet"


@campaign_group.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@pass_app
def list_(app: App, as_json: bool) -> None:
    """List campaigns with their status and message counts.

    \b
    outreach campaign list
    outreach campaign list --json
    """
    # lazy: the reports stage is not needed by `campaign send`, which shares this module
    from outreach.reports.summary import NO_REPLIES, campaign_replies, replies_line

    rows = campaigns.list_campaigns(app.db)
    replies = campaign_replies(app.db)
    if as_json:
        print_json([{"name": c["name"], "status": c["status"], "template": c["template"], "counts": c["counts"],
                     "skipped": len(c["skipped"]), "remaining": c["remaining"], "replies": replies.get(c["name"], NO_REPLIES)} for c in rows])
        return
    if not rows:
        click.echo("No campaigns yet: outreach campaign create NAME --template TEMPLATE --tag TAG")
    for c in rows:
        answers = f"; {replies_line(replies[c['name']])}" if c["name"] in replies else ""
        click.echo(f"{c['name']:<20} {c['status']:<7} {c['template']:<28} {_counts_line(c['counts']) if c['started_at'] else 'not started'}{answers}")


def _summary_for_show(app: App, name: str, now: datetime) -> tuple[dict[str, Any], Limits]:
    """What `campaign show` prints (all of it for --json), and the campaign's pacing."""
    from outreach.reports.summary import NO_REPLIES, campaign_replies  # lazy: `campaign send` needs no reports

    db = app.db
    summary = campaigns.campaign_summary(db, campaigns.get_campaign(db, name), now=now)
    app.use_profile(summary.get("profile"))
    limits = campaigns.campaign_limits(app.settings, summary)
    next_at = sender.next_send_time(db, summary, limits, now)
    if not summary["started_at"]:
        plan = campaigns.plan_counts(db, summary)
        summary["would_include"] = plan.included
        summary["skipped"] = [{"email": c["email"], "reason": r} for c, r in plan.skipped]
    summary["next_send_at"] = next_at
    summary["uncertain_messages"] = outbox.uncertain_messages(db, summary["id"])
    summary["replies"] = campaign_replies(db).get(summary["name"], NO_REPLIES)
    summary["steps"] = [{"step": s.public, "template": s.template, "delay_days": s.delay_days}
                        for s in sequence.campaign_steps(db, summary)]
    return summary, limits


@campaign_group.command(name="show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@pass_app
def show(app: App, name: str, as_json: bool) -> None:
    """Show a campaign: its selection, messages by state, skipped contacts and the next send time.

    \b
    outreach campaign show spring
    outreach campaign show spring --json
    """
    from outreach.reports.summary import replies_line  # lazy: `campaign send` needs no reports

    now = SystemClock().now()
    summary, limits = _summary_for_show(app, name, now)
    db, next_at = app.db, summary["next_send_at"]
    if as_json:
        print_json(summary)
        return
    sel = summary["selection"]
    where = ", ".join(f"{k}={v}" for k, v in (sel.get("where") or {}).items())
    click.echo(f"Campaign {summary['name']}: {summary['status']}" + (f" ({summary['status_reason']})" if summary["status_reason"] else ""))
    click.echo(f"  template:  {summary['template']}")
    click.echo(f"  sequence:  {sequence.describe(sequence.campaign_steps(db, summary))}")
    click.echo(f"  selection: {'tags ' + ', '.join(sel['tags']) if sel.get('tags') else 'every contact'}" + (f"; where {where}" if where else ""))
    click.echo(f"  pacing:    {limits}")
    if summary.get("profile"):
        click.echo(f"  account:   profile {summary['profile']} ({summary['account'] or app.settings.from_address})")
    if summary["started_at"]:
        click.echo(f"  started:   {_day(datetime.fromisoformat(summary['started_at']))} from {summary['account']}")
        click.echo(f"  messages:  {_counts_line(summary['counts'])}")
        click.echo(f"  replies:   {replies_line(summary['replies'])}")
    else:
        click.echo(f"  not started yet: {contacts_count(summary['would_include'])} would be written to")
    click.echo(f"  skipped:   {len(summary['skipped']) or 'none'}")
    for item in summary["skipped"]:
        click.echo(f"    {item['email']}: {item['reason']}")
    if summary["away"]:
        click.echo(f"  waiting:   {len(summary['away'])} (held until the contact is back)")
    for item in summary["away"]:
        back = f"away until {date.fromisoformat(item['away_until'][:10]):%a %d %b %Y}" if item["away_until"] else "away (no return date)"
        click.echo(f"    {item['email']}: {back}")
    for row in summary["uncertain_messages"]:
        click.echo(f"  uncertain: {row['to_address']} {row['message_id']} ({row['error']})")
    if summary["status"] == "draft":
        click.echo(f"  next send: when the campaign starts (the first `outreach campaign send {name} --live`)")
    elif summary["status"] == "active":
        if next_at is None:
            click.echo("  next send: nothing is due" + (" until a contact is back" if summary["away"] else ""))
        elif next_at <= now:
            click.echo(f"  next send: now, when you run `outreach campaign send {name} --live`")
        else:
            click.echo(f"  next send: not before {local_moment(next_at)}")


@campaign_group.command(name="steps")
@click.argument("name")
@click.argument("followups", nargs=-1, metavar="[TEMPLATE:DAYS ...]")
@click.option("--no-followups", is_flag=True, help="Remove every follow-up step.")
@pass_app
def steps(app: App, name: str, followups: tuple[str, ...], no_followups: bool) -> None:
    """Show a campaign's sequence, or replace its follow-up steps.

    Each step is a template and the business days (in the recipient's time zone) after the step
    before it. Follow-ups already sent or drafted keep their place; the next one due follows the
    new steps.

    \b
    outreach campaign steps spring
    outreach campaign steps spring followup-1:3 followup-2:7
    outreach campaign steps spring --no-followups
    """
    campaign = campaigns.get_campaign(app.db, name)
    if followups and no_followups:
        raise click.UsageError("give TEMPLATE:DAYS steps or --no-followups, not both")
    if followups or no_followups:
        parsed = [sequence.parse_step(f) for f in followups]
        sequence.set_followups(app.db, campaign, parsed, templates_dir=app.settings.templates_dir)
    shown = sequence.campaign_steps(app.db, campaign)
    click.echo(f"Campaign {name}: {sequence.describe(shown)}")
    for step in shown:
        after = "" if step.number == 0 else f", {step.delay_days} business day(s) after step {step.public - 1}"
        click.echo(f"  step {step.public}: {step.template}{after}")


@campaign_group.command(name="pause")
@click.argument("name")
@click.option("--reason", default="paused by you", show_default=True, help="Why (shown by `campaign show`).")
@pass_app
def pause(app: App, name: str, reason: str) -> None:
    """Pause a campaign: `send` refuses until you resume it. Nothing queued is lost.

    \b
    outreach campaign pause spring --reason "waiting for my new CV"
    """
    campaigns.pause_campaign(app.db, name, reason)
    click.echo(f"Paused {name}. Resume with: outreach campaign resume {name}")


@campaign_group.command(name="resume")
@click.argument("name")
@pass_app
def resume(app: App, name: str) -> None:
    """Resume a paused campaign; the next `send` continues where it stopped.

    \b
    outreach campaign resume spring
    """
    campaign = campaigns.resume_campaign(app.db, name)
    if not campaign["started_at"]:
        click.echo(f"Resumed {name} (not started yet). Next: outreach campaign send {name}   (a dry run first)")
        return
    counts = campaigns.message_counts(app.db, campaign["id"])
    click.echo(f"Resumed {name}: {counts['queued'] + counts['deferred']} message(s) still to send. Next: outreach campaign send {name} --live")


@campaign_group.command(name="delete")
@click.argument("name")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation (needed when not at a terminal).")
@pass_app
def delete(app: App, name: str, yes: bool) -> None:
    """Delete a campaign that never sent anything (a wrong name or tag, a test).

    Its queued messages and its .eml files (frozen, or from its last dry run; never other files
    in its folder) go with it. A campaign that has sent is kept (the
    caps and the "never the same template twice" rule rely on it): pause it instead.

    \b
    outreach campaign delete sprng
    outreach campaign delete test-run --yes
    """
    plan = plan_delete(app.db, app.settings, name)
    what = f"campaign {name!r}" + (f" and its {plan.queued} queued message(s)" if plan.queued else "")
    if not yes:
        if not sys.stdin.isatty():
            raise OutreachError(f"not deleting {what} without confirmation: add --yes")
        click.confirm(f"Delete {what}?", abort=True, err=True)
    delete_campaign(app.db, plan)
    click.echo(f"Deleted {what}.")


@campaign_group.command(name="resolve")
@click.argument("name")
@click.option("--sent", "action", flag_value="sent", help="They did go out: record them as sent.")
@click.option("--resend", "action", flag_value="resend", help="They did not go out: queue them again.")
@click.option("--message-id", "message_ids", multiple=True, help="Only this Message-ID (repeatable); default all uncertain.")
@pass_app
def resolve(app: App, name: str, action: str | None, message_ids: tuple[str, ...]) -> None:
    """Decide what happened to messages left *uncertain* by a crash or a dropped connection.

    \b
    Look in your mail program's Sent folder (or ask the recipient), then:
      outreach campaign resolve spring --sent       # they went; never send again
      outreach campaign resolve spring --resend     # they didn't; the next send retries them
    """
    if not action:
        raise click.UsageError("say what happened: --sent or --resend")
    campaign = campaigns.get_campaign(app.db, name)
    changed = outbox.resolve_uncertain(app.db, campaign["id"], action=action, message_ids=message_ids or None)
    if not changed:
        click.echo(f"Campaign {name} has no uncertain messages{' with those Message-IDs' if message_ids else ''}: nothing changed.")
        return
    click.echo(f"{changed} uncertain message(s) marked {'sent' if action == 'sent' else 'for resending'}.")


campaign_group.add_command(send)

COMMANDS: list[click.Command] = [campaign_group]
