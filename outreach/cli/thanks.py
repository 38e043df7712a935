"""The thank-you an introduction earns once it led somewhere, drafted when an outcome is recorded
(`contacts outcome`, `replies review`)."""

from __future__ import annotations

import click

from outreach.errors import OutreachError

from . import App


def thank_introducer(app: App, contact_id: int, outcome: str | None) -> None:
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
