"""`outreach contacts outcome` and `outreach replies review`: what came of each conversation.

They belong to the `contacts` and `replies` groups; they live here so those modules stay about
importing and reading mail.
"""

from __future__ import annotations

import sys

import click

from outreach.contacts import store
from outreach.errors import OutreachError
from outreach.reports import triage as triage_stage
from outreach.reports.outcomes import check_outcome, known_outcomes, set_outcome

from . import App, local_time, pass_app, print_json
from .contacts import contacts_group
from .replies import replies_group

KEYS = {"p": "positive", "c": "call", "d": "declined", "o": "offer"}
"""One key per outcome in `replies review`; s skips for good, n leaves it for later, q quits."""


@contacts_group.command("outcome")
@click.argument("email")
@click.argument("outcome")
@click.option("--note", help="What happened, in a few words (kept with the outcome).")
@pass_app
def outcome_command(app: App, email: str, outcome: str, note: str | None) -> None:
    """Record what came of writing to a contact: positive, call, declined, offer, completed,
    lor_requested, lor_received (more with OUTREACH_OUTCOMES=name1,name2; `none` clears).

    A declined contact is never selected by a new campaign unless you name them
    (`--where email=ADDRESS`). The report's funnel counts these outcomes.

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
    _thank_introducer(app, contact["id"], value)


def _thank_introducer(app: App, contact_id: int, outcome: str | None) -> None:
    """An introduction that led to an offer, an observership or a letter: a thank-you to the
    alumnus who made it, drafted once (now when IMAP is set up, else by `outreach intros draft`)."""
    from outreach.intros.thanks import owe_thanks  # lazy: the stage loads Jinja2 and the IMAP client

    introducer = owe_thanks(app.db, contact_id, outcome)
    if introducer is None:
        return
    if not app.settings.imap.host:
        click.echo(f"A thank-you to {introducer} is owed: `outreach intros draft` saves it in your Drafts folder.")
        return
    from outreach.intros import accounts  # lazy: the stage loads Jinja2 and the IMAP client

    try:  # into the mailbox of the account the introduction was asked from
        split = accounts.plan(app.db, app.settings, chosen=None, contact_id=contact_id)
        parts = accounts.draft_each(app.db, app.settings_for, split, poll_first=False)
    except OutreachError as error:  # the outcome is recorded; the thank-you waits for the next `intros draft`
        click.echo(f"A thank-you to {introducer} is owed, but saving it in Drafts failed ({error}): "
                   "run `outreach intros draft` later.", err=True)
        return
    thanks = [t for part in parts for t in part.report.thanks]
    for t in thanks:
        click.echo(f"Thank-you to {t['email']} for the introduction saved in {t['folder']}: review and send it.")
    if not thanks:  # asked from another account than this one: its own settings draft it
        click.echo(f"A thank-you to {introducer} is owed: `outreach intros draft` saves it in your Drafts folder.")


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
    next time), q quit; Enter takes the suggested outcome when there is one. Other outcomes: `outreach contacts outcome EMAIL OUTCOME`. Without a
    terminal (a pipe, a script) it lists them and asks nothing; --json lists them as JSON.

    \b
    outreach replies poll && outreach replies review
    outreach replies review --json | jq '.[] | select(.suggested_outcome == "declined")'
    """
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
        triage_stage.triage(app.db, item, outcome)
        if item.contact_id is not None:
            _thank_introducer(app, item.contact_id, outcome)
        click.echo(f"-> {outcome or 'skipped'}")
        done += 1
    return done


COMMANDS: list[click.Command] = []
"""Nothing new at the top level: the commands above join the `contacts` and `replies` groups."""
