"""`outreach status`: the morning view — sends against the cap, new replies, follow-ups, pauses."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone

import click

from outreach.db import Database
from outreach.reports.status import build_status

from . import App, local_time, pass_app, print_json

SHOW_REPLIES = 15


def _followups_due(app: App) -> Callable[[Database, datetime], int] | None:
    """How many follow-ups are due, from the follow-up stage when it is installed."""
    try:
        from outreach.followups.due import due  # the follow-up stage lands from its own branch; until then: unavailable
    except ImportError:
        return None
    return lambda db, now: len(due(db, app.settings, as_of=now))


@click.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--peek", is_flag=True, help="Do not mark the new replies as seen (they show again next time).")
@pass_app
def status_command(app: App, as_json: bool, peek: bool) -> None:
    """What happened since you last looked: sends in the last 24 h against the daily cap, new
    replies (who, a snippet), follow-ups due and paused campaigns with the reason.

    \b
    outreach replies poll && outreach status
    outreach status --json
    """
    status = build_status(app.db, app.settings, now=datetime.now(timezone.utc), mark_seen=not peek, followups_due=_followups_due(app))
    from outreach.intros.answer import unanswered  # lazy: the stage loads Jinja2 and the IMAP client

    intros_due = unanswered(app.db, app.settings)
    if as_json:
        print_json({**status.to_json(), "introductions_due": len(intros_due)})
        return
    cap = f" of {status.daily_cap} allowed" if status.daily_cap else " (no daily cap)"
    click.echo(f"Sent in the last 24 h: {status.sent_last_24h}{cap}" + (f" from {status.account}" if status.account else ""))
    since = f"since {local_time(status.last_look)}" if status.last_look else "so far"
    if not status.new_replies:
        click.echo(f"New replies {since}: none")
    else:
        click.echo(f"New replies {since}: {len(status.new_replies)}")
        for r in status.new_replies[:SHOW_REPLIES]:
            what = "opted out" if r["kind"] == "unsubscribe" else (r["snippet"] or "")
            campaign = f" [{r['campaign']}]" if r["campaign"] else ""
            click.echo(f"  {local_time(r['received_at'])}  {r['email']}{campaign}: {what}")
        if len(status.new_replies) > SHOW_REPLIES:
            click.echo(f"  ... and {len(status.new_replies) - SHOW_REPLIES} more (outreach replies list)")
    if status.untriaged:
        click.echo(f"Replies waiting for an outcome: {status.untriaged} (outreach replies review)")
    due = "unavailable (the follow-up stage is not installed yet)" if status.followups_due is None else str(status.followups_due)
    click.echo(f"Follow-ups due: {due}")
    if intros_due:
        click.echo(f"Introductions to answer: {len(intros_due)}, oldest from {intros_due[0].introducer_name} "
                   f"(answer by {intros_due[0].due_on:%a %d %b}; outreach intros draft)")
    if not status.paused:
        click.echo("Paused campaigns: none")
    for c in status.paused:
        click.echo(f"Paused: {c['name']} ({c['reason']}); resume with `outreach campaign resume {c['name']}`")


COMMANDS: list[click.Command] = [status_command]
