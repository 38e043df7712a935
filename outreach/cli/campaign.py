"""`outreach campaign ...`: create, list, show, pause, resume, send (a dry run unless --live), resolve."""

from __future__ import annotations

import asyncio
import dataclasses
import signal
import sys
from datetime import date, datetime, timezone
from typing import Any

import click
from rich.console import Console

from outreach.sending import campaigns
from outreach.sending import sender
from outreach.config import parse_gap
from outreach.errors import OutreachError
from outreach.templates.problems import group_problems
from outreach.sending.pacing import Limits, SystemClock, format_slot
from . import App, pass_app, print_json, where_option

FIRST_RUN_LIMIT = 10
"""The first live run of a campaign sends at most this many unless told otherwise (mailmerge style):
check a few real messages arrived well before the rest go."""


def _local(moment: datetime | None) -> str:
    """A time for people: local, with the date when it isn't today."""
    return format_slot(moment, now=datetime.now(timezone.utc)) if moment else "-"


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
@pass_app
def create(app: App, name: str, template: str, tags: tuple[str, ...], where: dict[str, str], gap: str | None,
           daily_cap: int | None, hourly_cap: int | None, domain_cap: int | None, send_window: str | None, tz: str | None) -> None:
    """Create a campaign (a draft: nothing is frozen or sent until the first live send).

    Pacing given here is kept with the campaign and used by every `send`; a flag on `send` wins
    for that run. Caps of 0 mean no extra limit from the campaign.

    \b
    outreach campaign create spring --template observership-request --tag physicians --where state=OH
    outreach campaign create spring --template observership-request --daily-cap 20 --send-window "Mon-Fri 9-16"
    """
    options = {k: v for k, v in {"gap": gap, "daily_cap": daily_cap, "hourly_cap": hourly_cap, "domain_cap": domain_cap}.items() if v is not None}
    Limits.from_settings(app.settings, **options, send_window=send_window, timezone=tz)  # a typo fails now, not at send time
    campaign = campaigns.create_campaign(
        app.db, name, template=template, templates_dir=app.settings.templates_dir, tags=tags, where=where,
        send_window=send_window, timezone=tz, options=options,
    )
    plan = campaigns.plan_selection(app.db, campaign)
    skipped = f", {len(plan.skipped)} would be skipped (see `outreach campaign show {name}`)" if plan.skipped else ""
    click.echo(f"Created campaign {name!r} with template {template!r}: {_contacts(len(plan.included))} selected{skipped}.")
    if not plan.included:
        click.echo("  No contact matches the selection yet: check --tag/--where against `outreach contacts list`.")
    click.echo(f"  Pacing: {campaigns.campaign_limits(app.settings, campaign)}")
    click.echo(f"Next: outreach campaign send {name}   (a dry run: writes the messages to {campaigns.eml_folder(app.settings, campaign)})")


def _contacts(n: int) -> str:
    return f"{n} contact" + ("" if n == 1 else "s")


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
    rows = campaigns.list_campaigns(app.db)
    if as_json:
        print_json([{"name": c["name"], "status": c["status"], "template": c["template"], "counts": c["counts"],
                     "skipped": len(c["skipped"]), "remaining": c["remaining"]} for c in rows])
        return
    if not rows:
        click.echo("No campaigns yet: outreach campaign create NAME --template TEMPLATE --tag TAG")
    for c in rows:
        click.echo(f"{c['name']:<20} {c['status']:<7} {c['template']:<28} {_counts_line(c['counts']) if c['started_at'] else 'not started'}")


def _limits(app: App, campaign: dict[str, Any] | None = None, **flags: Any) -> Limits:
    return campaigns.campaign_limits(app.settings, campaign, **flags)


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
    db = app.db
    now = SystemClock().now()
    summary = campaigns.campaign_summary(db, campaigns.get_campaign(db, name), now=now)
    limits = _limits(app, summary)
    next_at = sender.next_send_time(db, summary, limits, now)
    if not summary["started_at"]:
        plan = campaigns.plan_selection(db, summary)
        summary["would_include"] = len(plan.included)
        summary["skipped"] = [{"email": c["email"], "reason": r} for c, r in plan.skipped]
    summary["next_send_at"] = next_at
    summary["uncertain_messages"] = campaigns.uncertain_messages(db, summary["id"])
    if as_json:
        print_json(summary)
        return
    sel = summary["selection"]
    where = ", ".join(f"{k}={v}" for k, v in (sel.get("where") or {}).items())
    click.echo(f"Campaign {summary['name']}: {summary['status']}" + (f" ({summary['status_reason']})" if summary["status_reason"] else ""))
    click.echo(f"  template:  {summary['template']}")
    click.echo(f"  selection: {'tags ' + ', '.join(sel['tags']) if sel.get('tags') else 'every contact'}" + (f"; where {where}" if where else ""))
    click.echo(f"  pacing:    {limits}")
    if summary["started_at"]:
        click.echo(f"  started:   {_day(datetime.fromisoformat(summary['started_at']))} from {summary['account']}")
        click.echo(f"  messages:  {_counts_line(summary['counts'])}")
    else:
        click.echo(f"  not started yet: {_contacts(summary['would_include'])} would be written to")
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
            click.echo(f"  next send: not before {_local(next_at)}")


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

    Its queued messages and frozen .eml files go with it. A campaign that has sent is kept (the
    caps and the "never the same template twice" rule rely on it): pause it instead.

    \b
    outreach campaign delete sprng
    outreach campaign delete test-run --yes
    """
    from outreach.sending.delete import delete_campaign, plan_delete

    plan = plan_delete(app.db, name)
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
    changed = campaigns.resolve_uncertain(app.db, campaign["id"], action=action, message_ids=message_ids or None)
    if not changed:
        click.echo(f"Campaign {name} has no uncertain messages{' with those Message-IDs' if message_ids else ''}: nothing changed.")
        return
    click.echo(f"{changed} uncertain message(s) marked {'sent' if action == 'sent' else 'for resending'}.")


class _Display:
    """Progress on stderr: a live line on a terminal, nothing when piped."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.status = console.status("starting", spinner="dots") if console.is_terminal else None

    def __enter__(self) -> _Display:
        if self.status:
            self.status.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.status:
            self.status.__exit__(*exc)

    def around(self, question):
        """`question` asked with the live line out of the way."""

        def ask(*args: Any) -> Any:
            if self.status:
                self.status.stop()
            try:
                return question(*args)
            finally:
                if self.status:
                    self.status.start()

        return ask

    def __call__(self, info: dict[str, Any]) -> None:
        wait = (info["next_at"] - datetime.now(timezone.utc)).total_seconds()
        if not self.status:
            if wait >= 30:  # piped or logged: one line per real wait
                click.echo(f"next send {_local(info['next_at'])} to {info['to']} ({info['why']}); {info['sent']} sent so far", err=True)
            return
        usage = info["usage"]
        cap = f"/{usage['daily_cap']}" if usage["daily_cap"] else ""
        self.status.update(
            f"sent {info['sent']} · remaining {info['remaining']} · today {usage['last_24h']}{cap} · "
            f"next send {_local(info['next_at'])}" + (f" ({info['why']})" if info["why"] and wait > 1 else "") + f" · ETA {_local(info['eta'])}"
        )


def _ask_uncertain(rows: list[dict[str, Any]]) -> str | None:
    click.echo(f"{len(rows)} message(s) are uncertain: the server may or may not have them.", err=True)
    for row in rows:
        click.echo(f"  {row['to_address']}  {row['subject']}  {row['message_id']}", err=True)
    answer = click.prompt("Did they go out? [s]ent / [r]esend / [l]eave for now", type=click.Choice(["s", "r", "l"]), default="l", err=True)
    return {"s": "sent", "r": "resend", "l": None}[answer]


def _run_async(coro_factory) -> Any:
    """Run the send loop; Ctrl-C sets a stop flag so the current message finishes cleanly."""

    async def main() -> Any:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        try:
            loop.add_signal_handler(signal.SIGINT, stop.set)
            handled = True
        except (RuntimeError, ValueError, NotImplementedError):  # not the main thread
            handled = False
        try:
            return await coro_factory(stop)
        finally:
            if handled:
                loop.remove_signal_handler(signal.SIGINT)

    return asyncio.run(main())


@campaign_group.command(name="send")
@click.argument("name")
@click.option("--live", is_flag=True, help="Really send. Without it: a dry run that writes .eml files and sends nothing.")
@click.option("--limit", type=click.IntRange(min=1), help=f"Send at most N in this run (first live run default: {FIRST_RUN_LIMIT}; later runs: no limit, the caps pace them).")
@click.option("--no-limit", is_flag=True, help="No per-run limit, even on the first live run (caps still apply).")
@click.option("--gap", help="Seconds between messages: N or MIN-MAX (default: the campaign's --gap, else OUTREACH_GAP, 45-120; 0 = none).")
@click.option("--daily-cap", type=click.IntRange(min=0), help="At most N per rolling 24 h for the account, all campaigns; for this run it "
              "replaces both OUTREACH_DAILY_CAP and the campaign's own cap (0 = no limit).")
@click.option("--hourly-cap", type=click.IntRange(min=0), help="At most N per rolling hour, account-wide; replaces the settings' and campaign's cap for this run (0 = no limit).")
@click.option("--domain-cap", type=click.IntRange(min=0), help="At most N per recipient domain per 24 h; replaces the settings' and campaign's cap for this run (0 = no limit).")
@click.option("--ignore-window", is_flag=True, help="For this run only, send outside the send window (caps and gap still apply).")
@click.option("--test-to", "test_to", metavar="ADDRESS", help="Send ONE rendered sample to yourself ([TEST] in the subject) and stop.")
@click.option("--resend-uncertain", is_flag=True, help="Messages left uncertain by a crash did NOT go out: send them again.")
@click.option("--mark-uncertain-sent", is_flag=True, help="Messages left uncertain by a crash DID go out: record them as sent.")
@click.option("--yes", "-y", is_flag=True, help="Never ask (uncertain messages are left as they are unless a flag above says otherwise).")
@click.option("--json", "as_json", is_flag=True, help='Print {"sent","failed","deferred","uncertain","skipped","remaining"}.')
@pass_app
def send(app: App, name: str, live: bool, limit: int | None, no_limit: bool, gap: str | None, daily_cap: int | None,
         hourly_cap: int | None, domain_cap: int | None, ignore_window: bool, test_to: str | None, resend_uncertain: bool,
         mark_uncertain_sent: bool, yes: bool, as_json: bool) -> None:
    """Send a campaign: a dry run unless --live.

    A dry run renders every message, writes them as .eml files to OUTREACH_OUTBOX_DIR/NAME/ and
    sends nothing. The first live send freezes the selection and queues one message per contact;
    every later run continues where the last stopped and never sends a message twice. Exit 3 when
    the run finished but some messages failed. Pacing: flags here > the campaign's own (set at
    `campaign create`) > settings; contacts who are away are held until they are back.

    \b
    outreach campaign send spring                       # dry run
    outreach campaign send spring --test-to me@example.com
    outreach campaign send spring --live                # at most 10 on the first live run
    outreach campaign send spring --live --no-limit --gap 60-180 --daily-cap 40
    """
    if limit and no_limit:
        raise click.UsageError("use --limit N or --no-limit, not both")
    if resend_uncertain and mark_uncertain_sent:
        raise click.UsageError("use --resend-uncertain or --mark-uncertain-sent, not both")
    if gap is not None:
        parse_gap(gap)
    campaign = campaigns.get_campaign(app.db, name)
    limits = _limits(app, campaign, gap=gap, daily_cap=daily_cap, hourly_cap=hourly_cap, domain_cap=domain_cap)
    if ignore_window:
        limits = dataclasses.replace(limits, window=None)
    err = Console(stderr=True)
    try:
        if test_to:
            return _send_test(app, campaign, test_to, as_json)
        if not live:
            return _dry_run(app, campaign, limit if not no_limit else None, as_json)
        _send_live(app, campaign, limits, limit=limit, no_limit=no_limit, as_json=as_json, err=err,
                   uncertain="resend" if resend_uncertain else "sent" if mark_uncertain_sent else None, yes=yes)
    except campaigns.CampaignTemplateError as error:
        for group in group_problems(error.problems):
            click.echo(f"  {group}", err=True)
        raise


def _send_test(app: App, campaign: dict[str, Any], address: str, as_json: bool) -> None:
    row, outcome = asyncio.run(sender.send_test(app.db, app.settings, campaign, address, clock=SystemClock()))
    if as_json:
        print_json({"sent": int(outcome.kind == "sent"), "failed": int(outcome.kind != "sent"), "deferred": 0,
                    "uncertain": int(outcome.kind == "uncertain"), "skipped": 0, "remaining": 0})
    if outcome.kind != "sent":
        raise OutreachError(f"the test message to {row['to_address']} was not accepted: {outcome.response}")
    if not as_json:
        click.echo(f"Sent a test to {row['to_address']}: {row['subject']!r} ({outcome.response}). No contact was written to.")


def _dry_run(app: App, campaign: dict[str, Any], limit: int | None, as_json: bool) -> None:
    db, settings = app.db, app.settings
    if campaign["started_at"]:
        due = sender.due_messages(db, campaign["id"])
        counts = campaigns.message_counts(db, campaign["id"])
        skipped = len(campaigns.skipped_contacts(db, campaign["id"]))
        folder = campaigns.eml_folder(settings, campaign)
        would = due[:limit] if limit else due
        summary = {"sent": 0, "failed": 0, "deferred": counts["deferred"], "uncertain": counts["uncertain"],
                   "skipped": skipped, "remaining": len(due)}
        lines = [f"Dry run of {campaign['name']} (started {_local(datetime.fromisoformat(campaign['started_at']))}): {len(would)} message(s) would be sent now, "
                 f"{len(due)} still to send; {counts['sent']} sent already, {counts['uncertain']} uncertain.",
                 f"The frozen messages are in {folder}"]
    else:
        plan = campaigns.plan_selection(db, campaign)
        rendered = campaigns.render_all(settings, campaign, plan.included)
        folder = campaigns.eml_folder(settings, campaign)
        if folder.is_dir():
            for old in folder.glob("*.eml"):
                old.unlink()
        for index, message in enumerate(rendered, start=1):
            campaigns.write_eml(folder, index, message.to_address, message.as_bytes())
        summary = {"sent": 0, "failed": 0, "deferred": 0, "uncertain": 0, "skipped": len(plan.skipped), "remaining": len(rendered)}
        first = min(len(rendered), limit or FIRST_RUN_LIMIT)
        lines = [f"Dry run of {campaign['name']}: {len(rendered)} message(s) rendered to {folder}"]
        if plan.skipped:
            lines.append(f"  {_contacts(len(plan.skipped))} would be skipped:")
            lines += [f"    {c['email']}: {reason}" for c, reason in plan.skipped]
        else:
            lines.append("  No selected contact is skipped.")
        away = [c for c in plan.included if c["status"] == "away"]
        if away:
            lines.append(f"  {_contacts(len(away))} away: their message waits until they are back ({', '.join(c['email'] for c in away[:3])}{', ...' if len(away) > 3 else ''}).")
        if rendered:
            lines.append(f"  The first live run would send {first} of them (--limit N or --no-limit to change), "
                         f"paced: {campaigns.campaign_limits(settings, campaign)}.")
        elif plan.skipped:
            lines.append("  Every selected contact is skipped, so there is nothing to send.")
        else:
            lines.append("  No contact matches the selection: check --tag/--where against `outreach contacts list`.")
    if as_json:
        print_json(summary)
        click.echo("Nothing was sent. Run again with --live to send.", err=True)
        return
    for line in lines:
        click.echo(line)
    click.echo("Nothing was sent. Run again with --live to send.")


def _send_live(app: App, campaign: dict[str, Any], limits: Limits, *, limit: int | None, no_limit: bool, as_json: bool,
               err: Console, uncertain: str | None, yes: bool) -> None:
    db, settings = app.db, app.settings
    if campaign["status"] == "paused":
        raise OutreachError(f"campaign {campaign['name']!r} is paused ({campaign['status_reason'] or 'no reason given'}); "
                            f"run `outreach campaign resume {campaign['name']}` first")
    first_run = not campaign["started_at"] or not db.execute(
        "SELECT 1 FROM messages WHERE campaign_id = ? AND kind != 'test' AND state NOT IN ('queued') LIMIT 1", [campaign["id"]]
    ).fetchone()
    smtputf8 = False
    if campaigns.needs_smtputf8_probe(db, campaign):
        from outreach.sending.smtputf8 import server_offers_smtputf8

        smtputf8 = server_offers_smtputf8(settings)
    campaign = campaigns.freeze_campaign(db, settings, campaign, smtputf8=smtputf8)
    if no_limit:
        limit = None
    elif limit is None and first_run:
        limit = FIRST_RUN_LIMIT
    interactive = uncertain is None and not yes and not as_json and sys.stdin.isatty()
    with _Display(err) as display:
        report = _run_async(lambda stop: sender.send_campaign(
            db, settings, campaign, limits=limits, clock=SystemClock(), limit=limit, uncertain=uncertain,
            decide_uncertain=display.around(_ask_uncertain) if interactive else None, progress=display, stop=stop))
    if as_json:
        print_json(report.to_json())
    elif not (report.error and not report.sent and not report.failed):  # else the error line says it all
        _print_report(campaign, report, limit_used=limit if first_run and limit == FIRST_RUN_LIMIT else None)
    for warning in report.warnings:
        click.echo(f"Warning: {warning}", err=True)
    if report.error:
        raise report.error
    if report.failed:
        click.get_current_context().exit(3)
    if report.stopped and "Ctrl-C" in report.stopped:
        click.get_current_context().exit(130)  # stopped cleanly after the current message (INTERFACE.md)


def _print_report(campaign: dict[str, Any], report: sender.SendReport, *, limit_used: int | None) -> None:
    name = campaign["name"]
    click.echo(f"Sent {report.sent}, failed {report.failed}; {report.remaining} still to send "
               f"({report.deferred} deferred), {report.uncertain} uncertain, {report.skipped} contact(s) skipped.")
    for failure in report.failures:
        click.echo(f"  failed: {failure['to']}: {failure['response']}")
    for row in report.uncertain_messages:
        click.echo(f"  uncertain: {row['to_address']} {row['message_id']}")
    if report.uncertain:
        click.echo(f"  Uncertain messages are never resent on their own. Check your Sent folder, then "
                   f"`outreach campaign resolve {name} --sent` or `--resend`.")
    if report.stopped:
        click.echo(f"Stopped: {report.stopped}")
    if report.away:
        click.echo(f"{report.away} message(s) wait until the contact is back from away (see `outreach campaign show {name}`).")
    if report.waiting > report.away and report.next_send_at:
        reason = report.wait_reason or "the sending limits"
        hint = " (or add --ignore-window for one run)" if "send window" in reason else ""
        click.echo(f"{report.waiting - report.away} message(s) wait: {reason}. Next possible send {_local(report.next_send_at)}. "
                   f"Run `outreach campaign send {name} --live` again then{hint}.")
    elif report.remaining > report.away and limit_used and not report.stopped and not report.error:
        click.echo(f"First live run: stopped after {limit_used} (the default). Check they arrived, then run "
                   f"`outreach campaign send {name} --live` again (or --no-limit).")


COMMANDS: list[click.Command] = [campaign_group]
