"""`outreach followups ...`: who is due for which follow-up, drafts for review, paced sends."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime
from pathlib import Path
from typing import Any

import click

from outreach.sending.campaigns import CampaignTemplateError
from outreach.sending.pacing import SystemClock

from . import App, account_label, in_mailbox, pass_app, print_json
from .campaign_send import _Display, _run_async

# The follow-up stage is imported inside each command: it pulls in Jinja2 and the IMAP client,
# which every other command's start-up (`campaign send` in a loop, say) should not pay for.


def _as_of(_ctx: click.Context, _param: click.Parameter, value: str | None) -> date | datetime | None:
    """An ISO date (2026-03-10) or timestamp (2026-03-10T15:00:00Z); a naive timestamp is local."""
    if not value:
        return None
    text = value.strip()
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return moment if moment.tzinfo else moment.astimezone()
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date like 2026-03-10 or a timestamp like 2026-03-10T15:00") from None


campaign_option = click.option("--campaign", "campaign", metavar="NAME", help="Only this campaign.")
as_of_option = click.option("--as-of", "as_of", metavar="DATE", callback=_as_of,
                            help="As if today were DATE (ISO date or timestamp): plan ahead.")


@click.group(name="followups")
def followups_group() -> None:
    """Follow-ups: the next step of each campaign's sequence, as a reply in the same thread.

    A campaign's sequence is its first email plus follow-up steps (default: followup-1 three
    business days later, followup-2 seven business days after that; see `campaign steps`).
    Nobody who replied, opted out, bounced, is suppressed or has an outcome recorded is ever due;
    someone away is due after they are back.

    \b
    outreach followups due                    # who is due for which step, and why
    outreach followups draft                  # save them in your Drafts folder to review and send
    outreach followups send                   # dry run: writes .eml files
    outreach followups send --live            # send them, paced, like `campaign send`
    """


def _refreshed(refreshed: Any, mailbox: str = "") -> None:
    if refreshed.polled:
        click.echo(f"Read new mail first{mailbox}: {refreshed.replies} new answer(s) matched.", err=True)
    for line in refreshed.reconciled.lines():
        click.echo(f"  {line}", err=True)


@followups_group.command(name="due")
@campaign_option
@as_of_option
@click.option("--json", "as_json", is_flag=True, help='Print a JSON array of {"email", "campaign", "step"} (step 1 = first email).')
@click.option("--all", "show_all", is_flag=True, help="Also list everyone not due, each with the reason.")
@pass_app
def due_command(app: App, campaign: str | None, as_of: date | datetime | None, as_json: bool, show_all: bool) -> None:
    """List who is due for which follow-up, and why (reads the database only; no mail is read).

    \b
    outreach followups due
    outreach followups due --campaign spring --as-of 2026-03-10 --all
    """
    from outreach.followups import due as due_stage  # see the note at the top

    found = due_stage.candidates(app.db, app.settings, campaign=campaign, as_of=as_of)
    ready = [c for c in found if c.due]
    if as_json:
        print_json([c.to_json() for c in ready])
        return
    for c in ready:
        click.echo(f"{c.email:<36} {c.campaign['name']:<16} step {c.due_step.public} ({c.due_step.template}): {c.reason}")
    if not ready:
        click.echo("Nobody is due for a follow-up" + (f" on {as_of}" if as_of else " today") + ".")
    waiting = [c for c in found if not c.due]
    if show_all:
        for c in waiting:
            click.echo(f"  not due  {c.email:<36} {c.campaign['name']:<16} {c.reason}")
    elif waiting:
        kinds = Counter(c.reason.split(":")[0].split(" (")[0] for c in waiting)
        click.echo("Not due: " + ", ".join(f"{n} {k}" for k, n in kinds.most_common()) + " (--all lists them).")
    if ready:
        click.echo("Next: outreach followups draft   (into your Drafts folder to review), or outreach followups send --live")


def _problems(error: CampaignTemplateError) -> None:
    for problem in error.problems:
        click.echo(f"  {problem}", err=True)


@followups_group.command(name="draft")
@campaign_option
@as_of_option
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array of the drafts saved.")
@pass_app
def draft_command(app: App, campaign: str | None, as_of: date | datetime | None, as_json: bool) -> None:
    """Save each due follow-up in your mailbox's Drafts folder, as a reply in its thread.

    New mail is read first, so a reply that just arrived stops its follow-up. Read and edit the
    drafts in your mail program and send them from there; `outreach replies poll` then records
    each one you sent. Running it again never duplicates a draft still waiting. A campaign
    created with --profile has its follow-ups drafted into that profile's mailbox; with several
    profiles, each mailbox in turn (a --profile before the command: only that one).

    \b
    outreach followups draft
    outreach followups draft --campaign spring --json
    """
    from outreach.followups import accounts  # see the note at the top

    run = accounts.plan(app.db, app.settings, chosen=app.chosen_profile, campaign=campaign)
    try:
        parts = accounts.draft_each(app.db, app.settings_for, run, as_of=as_of)
    except CampaignTemplateError as error:
        _problems(error)
        raise
    for part in parts:
        _refreshed(part.report.refreshed, _mailbox(part, len(parts)))
    if as_json:
        print_json([item for part in parts for item in part.report.drafted])
    elif not parts:
        click.echo("Nothing to draft for this account.")
    else:
        for part in parts:
            _print_drafts(part, len(parts))
    _left(app, run, as_of, "draft")


def _mailbox(part: Any, count: int) -> str:
    return in_mailbox(part.profile, part.account, count)


def _print_drafts(part: Any, count: int) -> None:
    report = part.report
    for item in report.drafted:
        click.echo(f"drafted  {item['email']:<36} {item['campaign']:<16} step {item['step']} ({item['template']}): {item['subject']}")
    if report.resumed:
        click.echo(f"Finished saving {report.resumed} draft(s) an earlier run left unsaved{_mailbox(part, count)}.")
    if report.drafted:
        click.echo(f"{len(report.drafted)} follow-up(s) saved in {report.folder}{_mailbox(part, count)}. Review and send them "
                   "from your mail program; `outreach replies poll` records the ones you send.")
    elif count == 1:
        click.echo("Nothing to draft: nobody is due (see `outreach followups due --all`).")
    else:
        click.echo(f"Nothing to draft{_mailbox(part, count)}.")


def _left(app: App, run: Any, as_of: date | datetime | None, verb: str) -> None:
    """Say which campaigns this run left to another account, and the command that handles them."""
    from outreach.followups.accounts import left_due  # see the note at the top

    for who, names in left_due(app.db, app.settings, run, as_of=as_of).items():
        if who.startswith("profile "):
            how = f"run `outreach --{who} followups {verb}`, or drop --profile to handle every account"
        else:
            how = ("they go from the address the first emails went from: "
                   + ("drop --profile" if app.chosen_profile else f"run with the settings of that account (its FROM is {who})"))
        click.echo(f"Left for their own account: follow-ups due in {', '.join(names)} ({who}); {how}.", err=True)


@followups_group.command(name="send")
@campaign_option
@click.option("--live", is_flag=True, help="Really send. Without it: a dry run that writes .eml files and sends nothing.")
@click.option("--limit", type=click.IntRange(min=1), help="Send at most N in this run.")
@as_of_option
@click.option("--json", "as_json", is_flag=True, help='Print {"sent","failed","deferred","uncertain","skipped","remaining"}.')
@pass_app
def send_command(app: App, campaign: str | None, live: bool, limit: int | None, as_of: date | datetime | None, as_json: bool) -> None:
    """Send due follow-ups through the paced outbox (a dry run unless --live).

    Each goes as a reply in its thread (Re: subject, In-Reply-To, References), with the
    campaign's pacing and caps; new mail is read first so a fresh reply stops its follow-up.
    A campaign created with --profile sends its follow-ups through that profile's account and
    caps; with several profiles, each account in turn (a --profile before the command: only that
    one). Exit 3 when some failed.

    \b
    outreach followups send                  # dry run: .eml files, nothing sent
    outreach followups send --live --campaign spring
    """
    from outreach.followups import accounts  # see the note at the top

    run = accounts.plan(app.db, app.settings, chosen=app.chosen_profile, campaign=campaign)
    try:
        with _Display() as display:
            each = _run_async(lambda stop: accounts.send_each(
                app.db, app.settings_for, run, clock=SystemClock(), live=live, limit=limit, as_of=as_of,
                progress=display if live else None, stop=stop))
    except CampaignTemplateError as error:
        _problems(error)
        raise
    for part in each.parts:
        _refreshed(part.report.refreshed, _mailbox(part, len(each.parts)))
    report = each.merged
    if as_json:
        print_json(report.to_json())
    else:
        _print(report, each.parts)
    for result in report.runs.values():
        for warning in result.warnings:
            click.echo(f"Warning: {warning}", err=True)
    _left(app, run, as_of, "send" + (" --live" if live else ""))
    if report.error:
        raise report.error
    if live and report.total("failed"):
        click.get_current_context().exit(3)


def _print(report: Any, parts: list[Any]) -> None:
    for part in parts:
        if len(parts) > 1 and part.report.planned:
            click.echo(f"From {account_label(part.profile)} ({part.account}):")
        for item in part.report.planned:
            click.echo(f"{'queued' if report.live else 'would send'}  {item['email']:<36} {item['campaign']:<16} "
                       f"step {item['step']} ({item['template']}): {item['subject']}")
    if not parts:
        click.echo("Nothing to send for this account. Nothing was sent.")
        return
    if not report.planned and not report.runs:
        click.echo("Nobody is due for a follow-up (see `outreach followups due --all`). Nothing was sent.")
        return
    if not report.live:
        click.echo(f"Dry run: {len(report.planned)} follow-up(s) rendered" + (f" to {Path(report.planned[0]['eml']).parent}" if report.planned else "")
                   + ". Nothing was sent. Run again with --live to send.")
        return
    click.echo(f"Sent {report.total('sent')}, failed {report.total('failed')}; {report.total('remaining')} still to send, "
               f"{report.total('uncertain')} uncertain.")
    for run in report.runs.values():
        for failure in run.failures:
            click.echo(f"  failed: {failure['to']}: {failure['response']}")
        if run.stopped:
            click.echo(f"Stopped: {run.stopped}")
        if run.waiting and run.next_send_at:
            click.echo(f"{run.waiting} follow-up(s) wait (sending limits, or the contact is away); run again later.")


COMMANDS: list[click.Command] = [followups_group]
