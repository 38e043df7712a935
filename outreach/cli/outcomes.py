"""`outreach contacts outcome`: what came of writing to a contact.

It belongs to the `contacts` group; it lives here so that module stays about importing and
listing. `replies review` (cli/review.py) records the same outcomes one key at a time.
"""

from __future__ import annotations

import click

from outreach.contacts import store
from outreach.reports.outcomes import check_outcome, known_outcomes, set_outcome

from . import App, pass_app
from .contacts import contacts_group
from .thanks import thank_introducer


@contacts_group.command("outcome")
@click.argument("email")
@click.argument("outcome")
@click.option("--note", help="What happened, in a few words (kept with the outcome).")
@pass_app
def outcome_command(app: App, email: str, outcome: str, note: str | None) -> None:
    """Record what came of writing to a contact: positive, call, declined, offer, completed,
    lor_requested, lor_received (more with OUTREACH_OUTCOMES=name1,name2; `none` clears).

    A declined contact is never selected by a new campaign unless you name them
    (`--where email=ADDRESS`). The report's funnel counts these outcomes. Their replies read so
    far leave `replies review`; a later reply is asked about again.

    \b
    outreach contacts outcome jane.okafor@mercy.example.org call --note "Tuesday 4 pm"
    outreach contacts outcome jane.okafor@mercy.example.org offer
    outreach contacts list --outcome offer
    """
    value = check_outcome(outcome, known_outcomes(app.settings.outcomes))
    contact = store.require_contact(app.db, email)
    change = set_outcome(app.db, contact, value, note=note)
    before = f" (was {change.previous})" if change.previous and change.previous != value else ""
    click.echo(f"{contact['email']}: outcome {value or 'cleared'}{before}" + (f" - {note}" if note else ""))
    thank_introducer(app, contact["id"], value)


COMMANDS: list[click.Command] = []
"""Nothing new at the top level: the command above joins the `contacts` group."""
