"""`outreach campaign send`: a dry run unless --live; a test sample with --test-to."""

from __future__ import annotations

import asyncio
import dataclasses
import signal
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import click

from outreach.config import parse_gap
from outreach.errors import OutreachError
from outreach.sending import campaigns, outbox, sender
from outreach.sending.eml import eml_folder
from outreach.sending.pacing import Limits, SystemClock, format_slot
from outreach.sending.run import SendReport
from outreach.templates.problems import group_problems

from . import App, pass_app, print_json

if TYPE_CHECKING:
    from rich.status import Status

FIRST_RUN_LIMIT = 10
"""The first live run of a campaign sends at most this many unless told otherwise (mailmerge style):
check a few real messages arrived well before the rest go."""


def local_moment(moment: datetime | None) -> str:
    """A time for people: local, with the date when it isn't today."""
    return format_slot(moment, now=datetime.now(timezone.utc)) if moment else "-"


def contacts_count(n: int) -> str:
    return f"{n} contact" + ("" if n == 1 else "s")


class _Display:
    """Progress on stderr: a live line on a terminal, nothing when piped."""

    def __init__(self) -> None:
        self.status: Status | None = None
        if sys.stderr.isatty():
            # lazy: rich is 25 ms of every send's start-up, and piped there is nothing to draw
            from rich.console import Console

            console = Console(stderr=True)
            if console.is_terminal:
                self.status = console.status("starting", spinner="dots")

    def __enter__(self) -> _Display:
        if self.status:
            self.status.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.status:
            self.status.__exit__(*exc)

    def around(self, question: Callable[..., Any]) -> Callable[..., Any]:
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

    @property
    def wants_eta(self) -> bool:
        """Only the live status line shows the ETA (sending/run.py skips the forecast otherwise)."""
        return self.status is not None

    def __call__(self, info: dict[str, Any]) -> None:
        wait = (info["next_at"] - datetime.now(timezone.utc)).total_seconds()
        if not self.status:
            if wait >= 30:  # piped or logged: one line per real wait
                click.echo(f"next send {local_moment(info['next_at'])} to {info['to']} ({info['why']}); {info['sent']} sent so far", err=True)
            return
        usage = info["usage"]
        cap = f"/{usage['daily_cap']}" if usage["daily_cap"] else ""
        self.status.update(
            f"sent {info['sent']} · remaining {info['remaining']} · today {usage['last_24h']}{cap} · "
            f"next send {local_moment(info['next_at'])}" + (f" ({info['why']})" if info["why"] and wait > 1 else "") + f" · ETA {local_moment(info['eta'])}"
        )


def _ask_uncertain(rows: list[dict[str, Any]]) -> str | None:
    click.echo(f"{len(rows)} message(s) are uncertain: the server may or may not have them.", err=True)
    for row in rows:
        click.echo(f"  {row['to_address']}  {row['subject']}  {row['message_id']}", err=True)
    answer = click.prompt("Did they go out? [s]ent / [r]esend / [l]eave for now", type=click.Choice(["s", "r", "l"]), default="l", err=True)
    return {"s": "sent", "r": "resend", "l": None}[answer]


def _run_async(coro_factory: Callable[[asyncio.Event], Awaitable[Any]]) -> Any:
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


@click.command(name="send")
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
    app.use_profile(campaign.get("profile"))
    limits = campaigns.campaign_limits(app.settings, campaign, gap=gap, daily_cap=daily_cap, hourly_cap=hourly_cap, domain_cap=domain_cap)
    if ignore_window:
        limits = dataclasses.replace(limits, window=None)
    try:
        if test_to:
            return _send_test(app, campaign, test_to, as_json)
        if not live:
            return _dry_run(app, campaign, limit if not no_limit else None, as_json)
        _send_live(app, campaign, limits, limit=limit, no_limit=no_limit, as_json=as_json,
                   uncertain="resend" if resend_uncertain else "sent" if mark_uncertain_sent else None, yes=yes)
    except campaigns.CampaignTemplateError as error:
        for group in group_problems(error.problems):
            click.echo(f"  {group}", err=True)
        raise


def _send_test(app: App, campaign: dict[str, Any], address: str, as_json: bool) -> None:
    message, outcome = asyncio.run(sender.send_test(app.db, app.settings, campaign, address, clock=SystemClock()))
    if as_json:
        print_json({"sent": int(outcome.kind == "sent"), "failed": int(outcome.kind != "sent"), "deferred": 0,
                    "uncertain": int(outcome.kind == "uncertain"), "skipped": 0, "remaining": 0})
    if outcome.kind != "sent":
        raise OutreachError(f"the test message to {message.to_address} was not accepted: {outcome.response}")
    if not as_json:
        click.echo(f"Sent a test to {message.to_address}: {message.subject!r} ({outcome.response}). No contact was written to.")


def _dry_run(app: App, campaign: dict[str, Any], limit: int | None, as_json: bool) -> None:
    if campaign["started_at"]:
        summary, lines = _dry_run_started(app, campaign, limit)
    else:
        summary, lines = _dry_run_draft(app, campaign, limit)
    if as_json:
        print_json(summary)
        click.echo("Nothing was sent. Run again with --live to send.", err=True)
        return
    for line in lines:
        click.echo(line)
    click.echo("Nothing was sent. Run again with --live to send.")


def _dry_run_started(app: App, campaign: dict[str, Any], limit: int | None) -> tuple[dict[str, int], list[str]]:
    db = app.db
    due = outbox.due_messages(db, campaign["id"])
    counts = campaigns.message_counts(db, campaign["id"])
    skipped = len(campaigns.skipped_contacts(db, campaign["id"]))
    would = due[:limit] if limit else due
    summary = {"sent": 0, "failed": 0, "deferred": counts["deferred"], "uncertain": counts["uncertain"],
               "skipped": skipped, "remaining": len(due)}
    lines = [f"Dry run of {campaign['name']} (started {local_moment(datetime.fromisoformat(campaign['started_at']))}): "
             f"{len(would)} message(s) would be sent now, "
             f"{len(due)} still to send; {counts['sent']} sent already, {counts['uncertain']} uncertain.",
             f"The frozen messages are in {eml_folder(app.settings, campaign)}"]
    return summary, lines


def _dry_run_draft(app: App, campaign: dict[str, Any], limit: int | None) -> tuple[dict[str, int], list[str]]:
    result = campaigns.dry_run(app.db, app.settings, campaign)
    plan, rendered = result.plan, result.rendered
    summary = {"sent": 0, "failed": 0, "deferred": 0, "uncertain": 0, "skipped": len(plan.skipped), "remaining": rendered}
    first = min(rendered, limit or FIRST_RUN_LIMIT)
    lines = [f"Dry run of {campaign['name']}: {rendered} message(s) rendered to {result.folder}"]
    if plan.skipped:
        lines.append(f"  {contacts_count(len(plan.skipped))} would be skipped:")
        lines += [f"    {c['email']}: {reason}" for c, reason in plan.skipped]
    else:
        lines.append("  No selected contact is skipped.")
    if plan.away_count:
        lines.append(f"  {contacts_count(plan.away_count)} away: their message waits until they are back "
                     f"({', '.join(plan.away)}{', ...' if plan.away_count > 3 else ''}).")
    if rendered:
        lines.append(f"  The first live run would send {first} of them (--limit N or --no-limit to change), "
                     f"paced: {campaigns.campaign_limits(app.settings, campaign)}.")
    elif plan.skipped:
        lines.append("  Every selected contact is skipped, so there is nothing to send.")
    else:
        lines.append("  No contact matches the selection: check --tag/--where against `outreach contacts list`.")
    return summary, lines


def _send_live(app: App, campaign: dict[str, Any], limits: Limits, *, limit: int | None, no_limit: bool, as_json: bool,
               uncertain: str | None, yes: bool) -> None:
    db, settings = app.db, app.settings
    first_run = campaigns.first_live_run(db, campaign)
    if no_limit:
        limit = None
    elif limit is None and first_run:
        limit = FIRST_RUN_LIMIT
    interactive = uncertain is None and not yes and not as_json and sys.stdin.isatty()
    with _Display() as display:
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


def _print_report(campaign: dict[str, Any], report: SendReport, *, limit_used: int | None) -> None:
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
        click.echo(f"{report.waiting - report.away} message(s) wait: {reason}. Next possible send {local_moment(report.next_send_at)}. "
                   f"Run `outreach campaign send {name} --live` again then{hint}.")
    elif report.remaining > report.away and limit_used and not report.stopped and not report.error:
        click.echo(f"First live run: stopped after {limit_used} (the default). Check they arrived, then run "
                   f"`outreach campaign send {name} --live` again (or --no-limit).")


