"""`outreach replies review`: walk the human replies not yet triaged, an outcome per key.

It belongs to the `replies` group; it lives apart so that `replies poll` loads none of it.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from . import App, local_time, pass_app, print_json
from .replies import replies_group
from .thanks import thank_introducer

if TYPE_CHECKING:
    from outreach.reports import triage as triage_stage

KEYS = {"p": "positive", "c": "call", "d": "declined", "o": "offer"}
"""One key per outcome in `replies review`; s skips for good, n leaves it for later, q quits."""


def _show(item: triage_stage.PendingReply, position: int, total: int) -> None:
    who = f"{item.name} <{item.email}>" if item.name else item.email
    click.echo(click.style(f"\n[{position}/{total}] {who}", bold=True)
               + f"  {item.campaign or '(no campaign)'}  {local_time(item.received_at)}")
    if item.subject:
        click.echo(f"Subject: {item.subject}")
    click.echo(item.text.strip() or "(no text of their own)")
    hint = f" · Enter: {item.suggested_outcome} (suggested)" if item.suggested_outcome in KEYS.values() else ""
    click.echo(f"p positive · c call · d declined · o offer · s skip · n later · q quit{hint}")


@replies_group.command("review")
@click.option("--campaign", help="Only replies to this campaign.")
@click.option("--json", "as_json", is_flag=True, help='Print [{"email","campaign","received_at","text","suggested_outcome"}].')
@pass_app
def review_command(app: App, campaign: str | None, as_json: bool) -> None:
    """Walk the human replies not yet triaged and give each an outcome with one key.

    p positive, c call, d declined, o offer, s skip (no outcome; not shown again), n later (shown
    next time), q quit; Enter takes the suggested outcome when there is one. Other outcomes:
    `outreach contacts outcome EMAIL OUTCOME`. Without a terminal (a pipe, a script) it lists
    them and asks nothing; --json lists them as JSON.

    \b
    outreach replies poll && outreach replies review
    outreach replies review --json | jq '.[] | select(.suggested_outcome == "declined")'
    """
    from outreach.reports import triage as triage_stage  # lazy: `replies poll` loads this module too

    pending = triage_stage.untriaged(app.db, campaign=campaign)
    if as_json:
        print_json([item.to_json() for item in pending])
        return
    if not pending:
        click.echo("Nothing to review: no human reply is waiting for an outcome.")
        return
    if not _interactive():
        for item in pending:
            click.echo(f"{local_time(item.received_at)}  {item.email}  [{item.campaign or '-'}]  "
                       f"{' '.join(item.text.split())[:100]}" + (f"  (suggested: {item.suggested_outcome})" if item.suggested_outcome else ""))
        click.echo(f"{len(pending)} repl(ies) to review: run `outreach replies review` in a terminal, or "
                   "`outreach contacts outcome EMAIL OUTCOME`.", err=True)
        return
    done = _walk(app, pending)
    click.echo(f"\nTriaged {done} of {len(pending)}." + (" The rest wait for next time." if done < len(pending) else ""))


def _interactive() -> bool:
    """Ask only when a person is at a terminal: never wait on a pipe or a script."""
    return sys.stdin.isatty()


def _walk(app: App, pending: list[triage_stage.PendingReply]) -> int:
    from outreach.reports.triage import triage  # lazy: `replies poll` loads this module too

    done = 0
    for position, item in enumerate(pending, start=1):
        _show(item, position, len(pending))
        while True:
            key = click.getchar().lower()
            if key in ("\r", "\n") and item.suggested_outcome in KEYS.values():
                key = next(k for k, v in KEYS.items() if v == item.suggested_outcome)  # Enter takes the suggestion
            if key in KEYS or key in ("s", "n", "q"):
                break
            click.echo("Press p, c, d, o, s, n or q" + (" (Enter: the suggestion)." if item.suggested_outcome else "."))
        if key == "q":
            break
        if key == "n":
            continue
        outcome = KEYS.get(key)
        triage(app.db, item, outcome)
        if item.contact_id is not None:
            thank_introducer(app, item.contact_id, outcome)
        click.echo(f"-> {outcome or 'skipped'}")
        done += 1
    return done


COMMANDS: list[click.Command] = []
"""Nothing new at the top level: the command above joins the `replies` group."""
