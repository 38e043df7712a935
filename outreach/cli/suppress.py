"""`outreach suppress ...`: thin commands over contacts/suppression.py (moved from cli/contacts.py)."""

from __future__ import annotations

from pathlib import Path

import click

from outreach.contacts import store
from outreach.contacts.importer import import_suppressions
from outreach.errors import OutreachError

from . import App, local_time, pass_app, print_json
from .contacts import _print_problems


@click.group("suppress")
def suppress_group() -> None:
    """Addresses and domains that must never be written to, whatever list they come back in.

    \b
    Examples:
      outreach suppress add someone@example.org --reason "asked not to be contacted"
      outreach suppress add competitor.example.com
      outreach suppress import do-not-contact.txt
      outreach suppress list
    """


@suppress_group.command("add")
@click.argument("value", metavar="EMAIL|DOMAIN")
@click.option("--reason", help="Why (shown by `suppress list` and when a send is skipped).")
@pass_app
def suppress_add(app: App, value: str, reason: str | None) -> None:
    """Never send to this address, or to anyone at this domain (and its subdomains).

    \b
    Examples:
      outreach suppress add jane.okafor@mercy.example.org --reason "asked to stop"
      outreach suppress add mercy.example.org
    """
    try:
        with app.db.atomic():
            added = store.add_suppression(app.db, value, reason=reason)
    except store.InvalidEmail as error:
        raise OutreachError(f"{error}; give an address (name@example.org) or a domain (example.org)") from None
    click.echo(f"Suppressed {value.strip()}" if added else f"{value.strip()} was already suppressed")


@suppress_group.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--reason", help="Reason recorded for every entry.")
@click.option("--json", "as_json", is_flag=True, help='Print {"added","already","errors":[{"line","reason"}]}.')
@pass_app
def suppress_import(app: App, file: Path, reason: str | None, as_json: bool) -> None:
    """Suppress every address or domain in a file.

    The file is either one address or domain per line (blank lines and # comments are
    ignored) or a CSV with an email column. Bad lines are reported and skipped.

    \b
    Examples:
      outreach suppress import do-not-contact.txt --reason "opted out last year"
      outreach suppress import unsubscribes.csv
    """
    result = import_suppressions(app.db, file, reason=reason)
    if as_json:
        print_json(result.to_json())
        return
    click.echo(f"{file}: {result.added} added, {result.already} already suppressed, {len(result.errors)} bad line(s)")
    _print_problems("Bad lines, skipped", result.errors)


@suppress_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="A JSON array of {value, kind, reason, source, created_at}.")
@pass_app
def suppress_list(app: App, as_json: bool) -> None:
    """Show every suppressed address and domain.

    \b
    Example:
      outreach suppress list --json
    """
    entries = store.list_suppressions(app.db)
    if as_json:
        print_json(entries)
        return
    if not entries:
        click.echo("Nothing is suppressed.")
        return
    width = max(len(e["value"]) for e in entries)
    for e in entries:
        click.echo(f"{e['value']:<{width}}  {e['kind']:<7}  {local_time(e['created_at'])}  {e['source']}" + (f": {e['reason']}" if e["reason"] else ""))


@suppress_group.command("remove")
@click.argument("value", metavar="EMAIL|DOMAIN")
@pass_app
def suppress_remove(app: App, value: str) -> None:
    """Lift a suppression (the same address or domain that was added).

    \b
    Example:
      outreach suppress remove mercy.example.org
    """
    try:
        with app.db.atomic():
            removed = store.remove_suppression(app.db, value)
    except store.InvalidEmail as error:
        raise OutreachError(str(error)) from None
    if not removed:
        raise OutreachError(f"{value.strip()} is not suppressed; see `outreach suppress list`")
    click.echo(f"No longer suppressed: {value.strip()}")


COMMANDS: list[click.Command] = [suppress_group]
