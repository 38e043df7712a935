"""`outreach replies poll --all-profiles`: every account's mailbox in turn, one summary each.

Kept apart from cli/replies.py, which only hands over to `poll_all` when the flag is given.
"""

from __future__ import annotations

import click

from outreach.config import Settings
from outreach.errors import OutreachError
from outreach.replies.accounts import AccountPoll, accounts, poll_each

from . import App, print_json


def poll_all(app: App, folders: tuple[str, ...], as_json: bool) -> None:
    """Poll every account; `--json` prints one list, one object per account (its profile, its
    mailbox and the `replies poll --json` counts)."""
    if app.chosen_profile:
        raise click.UsageError("use --profile NAME (that account) or --all-profiles (every account), not both")

    def follow_drafts(settings: Settings, part: AccountPoll) -> None:
        from outreach.followups.reconcile import reconcile_drafts  # lazy, as `replies poll` does

        try:
            lines = reconcile_drafts(app.db, settings).lines()
        except OutreachError as error:
            lines = [f"could not check the follow-up drafts ({error}); the next poll tries again"]
        for line in lines:
            click.echo(f"Follow-ups ({_label(part)}): {line}", err=True)

    parts = poll_each(app.db, app.settings_for, accounts(app.settings), folders=folders or None, after=follow_drafts)
    for part in parts:
        _print_part(part, as_json)
    if as_json:
        print_json([p.to_json() for p in parts])
    failed = [p for p in parts if p.error]
    if failed:
        raise OutreachError(f"{len(failed)} of {len(parts)} mailboxes could not be read ({', '.join(_label(p) for p in failed)}: "
                            "see above); the others were read")
    if all(p.skipped for p in parts):
        raise OutreachError("no account has an IMAP server set up: set OUTREACH_IMAP_HOST or OUTREACH_PROVIDER "
                            "(OUTREACH_PROFILE_<NAME>_PROVIDER for a profile)")


def _print_part(part: AccountPoll, as_json: bool) -> None:
    """One account's summary, as `replies poll` prints it, under the account's name."""
    from .replies import _print_result  # the one-account summary

    if part.skipped or part.error:
        click.echo(f"{_label(part)}: {part.mailbox}: not read ({part.skipped or part.error})", err=as_json or bool(part.error))
        return
    if as_json:
        for note in part.result.notes:
            click.echo(f"Note ({_label(part)}): {note}", err=True)
        return
    click.echo(f"{_label(part)}: {part.mailbox}")
    for folder in part.result.folders:
        click.echo(f"  {folder['folder']:<12} {folder['fetched']:>6} new  {folder['matched']:>5} matched")
    _print_result(part.result, False, read="new", nothing="  No new mail since the last poll.",
                  others="answer nothing you sent and were left untouched")


def _label(part: AccountPoll) -> str:
    return f"profile {part.profile}" if part.profile else "plain account"
