"""`outreach contacts ...`: thin commands over contacts.py/csv_import.py (`suppress` is in suppress.py)."""

from __future__ import annotations

import itertools
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import click

from outreach.contacts import store
from outreach.contacts.export import export_csv, write_csv, write_json
from outreach.contacts.fields import parse_mapping
from outreach.contacts.importer import ImportReport, RowProblem, import_csv
from outreach.db import Database
from outreach.errors import OutreachError
from outreach.reports.outcomes import check_outcome, known_outcomes

from . import App, local_time, pass_app, print_json, where_option

SHOW_AT_MOST = 50  # per list of errors/warnings in human output; --json has them all


def _print_problems(title: str, problems: list[RowProblem]) -> None:
    if not problems:
        return
    click.echo(f"\n{title.format(n=len(problems))}:" if "{n}" in title else f"\n{title} ({len(problems)}):")
    for problem in problems[:SHOW_AT_MOST]:
        click.echo(f"  {problem}")
    if len(problems) > SHOW_AT_MOST:
        click.echo(f"  ... and {len(problems) - SHOW_AT_MOST} more (use --json to get every error)")


def _skipped_because(report: ImportReport) -> str:
    """'  (2 errors, 1 repeated address)': the skipped count broken down, so it adds up with the
    lists below it (every data row is inserted, updated, unchanged or skipped)."""
    kept = report.skipped - len(report.errors) - report.duplicates
    parts = [f"{len(report.errors)} with errors" if report.errors else "",
             f"{report.duplicates} repeated address{'es' if report.duplicates != 1 else ''}" if report.duplicates else "",
             f"{kept} already contacts (--keep-existing)" if kept > 0 else ""]
    parts = [p for p in parts if p]
    return f"  ({', '.join(parts)})" if parts else ""


def _print_report(report: ImportReport, tags: tuple[str, ...]) -> None:
    encoding = {"utf-8-sig": "UTF-8 with BOM", "utf-8": "UTF-8", "cp1252": "Windows-1252", "utf-16": "UTF-16", "utf-8+cp1252": "UTF-8 and Windows-1252 lines"}[report.encoding]
    delimiter = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}[report.delimiter]
    prefix = "Dry run (nothing written): would import" if report.dry_run else "Imported"
    click.echo(f"{prefix} {report.file} ({encoding}, {delimiter}-separated, {report.rows} row{'' if report.rows == 1 else 's'})")
    mapped = [f"{h} -> {t.replace('custom:', 'custom field ')}" for h, t in report.columns.items() if t != "ignore"]
    click.echo("Columns: " + "; ".join(mapped))
    for label in ("inserted", "updated", "unchanged", "skipped"):
        click.echo(f"  {label:<10}{getattr(report, label):>7}{_skipped_because(report) if label == 'skipped' else ''}")
    click.echo(f"  {'total':<10}{report.rows:>7}  data rows in the file")
    extras = []
    if report.role_addresses:
        extras.append(f"{report.role_addresses} role address(es) like info@ (a desk, not a person), marked (role) in contacts list")
    if report.duplicates:
        extras.append(f"{report.duplicates} repeated address(es) merged")
    if report.suppressed:
        extras.append(f"{report.suppressed} suppressed address(es) imported but never sent to")
    if extras:
        click.echo("  " + "; ".join(extras))
    for note in report.notes:
        click.echo(f"Note: {note}")
    _print_problems("Errors ({n} rows skipped)", report.errors)
    _print_problems("Warnings", report.warnings)
    if report.dry_run:
        click.echo("\nRun again without --dry-run to import.")
    elif report.inserted or report.updated:
        selector = f" --tag {tags[0]}" if tags else ""
        click.echo(f"\nNext: outreach contacts list{selector}")


@click.group("contacts")
def contacts_group() -> None:
    """Import, list, tag and export the people you write to.

    \b
    Examples:
      outreach contacts import contacts/physicians.csv --tag physicians
      outreach contacts list --tag physicians --where state=NY
      outreach contacts show jane.okafor@mercy.example.org
      outreach contacts export --csv physicians-backup.csv --tag physicians
    """


@contacts_group.command("import")
@click.argument("file", type=click.Path(dir_okay=True, path_type=Path))
@click.option("--tag", "tags", multiple=True, metavar="TAG", help="Tag every imported row (repeatable).")
@click.option("--map", "maps", multiple=True, metavar="'CSV column=field'", help="Say which field a column holds, overriding the automatic header matching (repeatable). Field 'ignore' drops a column; 'custom:NAME' keeps it as a custom field.")
@click.option("--keep-existing", is_flag=True, help="Leave contacts already in the database exactly as they are (the default updates them).")
@click.option("--dry-run", is_flag=True, help="Check the file and report the counts; write nothing.")
@click.option("--json", "as_json", is_flag=True, help='Print {"inserted","updated","unchanged","skipped","errors"} as JSON.')
@pass_app
def import_command(app: App, file: Path, tags: tuple[str, ...], maps: tuple[str, ...], keep_existing: bool, dry_run: bool, as_json: bool) -> None:
    """Import a CSV contact list (Excel or Google Sheets export) into the database.

    Headers are matched loosely: Email / E-mail / Email Address, First Name / Given name,
    Last Name / Surname, Name or Full Name (split into title, first, middle, last, suffix),
    Title, Specialty, Hospital / Institution / Organization, City, State, Medical School,
    Graduation Year / Class of, NPI, Notes, Tags. Other columns are kept as custom fields
    named in snake_case ("Residency Program" -> residency_program), usable in templates.
    UTF-8 (with or without BOM), UTF-16 and Windows-1252; comma, semicolon or tab.

    Existing contacts (same address, any letter case) are UPDATED by default: non-empty cells
    replace stored values, blank cells never erase anything, --tag adds tags. With
    --keep-existing they are left exactly as they are. Importing the same file again changes
    nothing. Bad rows are listed by line number and skipped; the good rows still import.

    \b
    Examples:
      outreach contacts import contacts/physicians.csv --tag physicians
      outreach contacts import contacts/alumni.csv --tag alumni --dry-run
      outreach contacts import list.csv --map "E-mail addr=email" --map "Dept=specialty"
      outreach contacts import list.csv --keep-existing --json
    """
    try:
        mapping = parse_mapping(maps)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--map") from None
    with _progress_bar(file) as progress:
        report = import_csv(app.db, file, tags=tags, mapping=mapping, policy="keep" if keep_existing else "update", dry_run=dry_run, progress=progress)
    if as_json:
        print_json(report.to_json())
    else:
        _print_report(report, tags)


class _progress_bar:
    """A rich progress bar on stderr for files over 1 MB, only when stderr is a terminal."""

    def __init__(self, file: Path) -> None:
        self.progress: Any = None
        try:
            big = file.is_file() and file.stat().st_size > 1_000_000
        except OSError:
            big = False
        if big and sys.stderr.isatty():
            # rich's progress bar loads only for a big file on a terminal (startup time)
            from rich.console import Console
            from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

            self.progress = Progress("Importing", BarColumn(), DownloadColumn(), TimeRemainingColumn(), console=Console(stderr=True), transient=True)
            self.task = self.progress.add_task("import", total=file.stat().st_size)

    def __enter__(self) -> Any:
        if self.progress is None:
            return None
        self.progress.start()
        return lambda done, total: self.progress.update(self.task, completed=done, total=total)

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()


def _display_name(contact: dict[str, Any]) -> str:
    return " ".join(str(contact[k]) for k in ("title", "first_name", "middle_name", "last_name") if contact.get(k)) + (
        f", {contact['suffix']}" if contact.get("suffix") else ""
    )


PAGE = 50  # rows in the terminal table; --all for every row, --csv/--json for machines


@contacts_group.command("list")
@click.option("--tag", "tags", multiple=True, metavar="TAG", help="Only contacts with this tag (repeat: all of them).")
@where_option
@click.option("--outcome", help="Only contacts whose current outcome is this (positive, call, declined, offer, ...).")
@click.option("--json", "as_json", is_flag=True, help="A JSON array of contacts with every field (every match).")
@click.option("--csv", "as_csv", is_flag=True, help="CSV on stdout, every match (formula cells neutralised).")
@click.option("--all", "show_all", is_flag=True, help=f"Show every match in the table, not only the first {PAGE}.")
@pass_app
def list_command(app: App, tags: tuple[str, ...], where: dict[str, str], outcome: str | None, as_json: bool, as_csv: bool, show_all: bool) -> None:
    """List contacts, optionally by tag and field values.

    The table shows the first 50 matches and how many there are; --all shows every one, and
    --csv / --json write every match for other programs.

    \b
    Examples:
      outreach contacts list --tag physicians
      outreach contacts list --where state=NY --where specialty=Cardiology
      outreach contacts list --tag alumni --json | jq '.[].email'
      outreach contacts list --outcome offer
      outreach contacts list --csv > contacts.csv
    """
    if as_json and as_csv:
        raise click.UsageError("choose one of --json and --csv")
    if outcome:
        where = {**where, "outcome": check_outcome(outcome, known_outcomes(app.settings.outcomes)) or ""}
    stdout = sys.stdout
    if as_json:
        write_json(store.iter_contacts(app.db, tags=tags, where=where), stdout)
        return
    if as_csv:
        write_csv(app.db, stdout, tags=tags, where=where)
        return
    total = store.count_contacts(app.db, tags=tags, where=where)
    if not total:
        click.echo("No contacts match." if tags or where else "No contacts yet. Start with: outreach contacts import contacts/physicians.csv --tag physicians")
        return
    found = store.iter_contacts(app.db, tags=tags, where=where)
    _print_table(found if show_all else itertools.islice(found, PAGE), total)


COLUMNS = ("email", "name", "specialty", "hospital", "state", "tags", "status", "stage")


def _print_table(contacts: Iterable[dict[str, Any]], total: int) -> None:
    """Contacts as a rich table, then how many there are.

    A long list (--all) prints PAGE rows at a time, each page a table with the first page's
    column widths and no header of its own, so it prints as it reads instead of holding every row."""
    # lazy: start-up time (rich loads only when there is a table to print)
    from rich.console import Console
    from rich.table import Table

    console = Console(width=None if sys.stdout.isatty() else 200)
    widths: list[int] | None = None
    first: list[tuple[str, ...]] = []
    count = 0
    for number, page in enumerate(_pages(contacts, PAGE)):
        rows = [_table_row(contact) for contact in page]
        if number == 1:  # a second page: fix the widths to the first page's (long cells fold)
            widths = [min(max(len(column), *(len(row[i]) for row in first)), 60) for i, column in enumerate(COLUMNS)]
        table = Table(show_lines=False, box=None, header_style="bold", show_header=number == 0)
        for index, column in enumerate(COLUMNS):
            width = widths[index] if widths else None
            if column == "email":
                table.add_column(column, no_wrap=True, width=width)
            else:
                table.add_column(column, overflow="fold", width=width)
        for row in rows:
            table.add_row(*row)
        console.print(table)
        first, count = rows, count + len(rows)
    if count < total:
        console.print(f"Showing the first {count:,} of {total:,} contact(s); every one: --all, or --csv / --json for a file.", style="dim")
    else:
        console.print(f"{total} contact(s)", style="dim")


def _table_row(contact: dict[str, Any]) -> tuple[str, ...]:
    email = contact["email"] + (" (role)" if contact["is_role_address"] else "")
    return (email, _display_name(contact), contact["specialty"] or "", contact["hospital"] or "", contact["state"] or "", ", ".join(contact["tags"]), contact["status"], contact["stage"])


def _pages(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    page: list[Any] = []
    for item in items:
        page.append(item)
        if len(page) == size:
            yield page
            page = []
    if page:
        yield page


@contacts_group.command("show")
@click.argument("email")
@click.option("--json", "as_json", is_flag=True, help="The contact, its suppression and its history as one JSON object.")
@pass_app
def show_command(app: App, email: str, as_json: bool) -> None:
    """Everything about one contact: fields, tags, custom fields, messages and replies.

    \b
    Example:
      outreach contacts show jane.okafor@mercy.example.org
    """
    contact = store.require_contact(app.db, email)
    history = store.contact_history(app.db, contact["id"])
    suppressed = store.suppression_reason(app.db, contact["email"])
    from outreach.intros.chain import chain_line, introduced_by  # lazy: the stage loads Jinja2 and the IMAP client

    chain = introduced_by(app.db, contact)
    if as_json:
        print_json({**contact, "introduced_by": chain["email"] if chain else None, "outcome": contact.get("outcome"),
                    "suppressed": suppressed, **history})
        return
    click.echo(f"{_display_name(contact) or '(no name)'} <{contact['email']}>" + (f", {chain_line(chain)}" if chain else ""))
    rows = [(field, contact.get(field)) for field in store.STANDARD_FIELDS]
    rows += [("tags", ", ".join(contact["tags"]) or None), ("status", contact["status"]), ("stage", contact["stage"])]
    rows += [("away until", contact["away_until"]), ("replied", local_time(contact["replied_at"]) or None)]
    rows += [("role address", "yes (reaches a desk, not a person)" if contact["is_role_address"] else None)]
    rows += [("suppressed", suppressed), ("imported from", contact["source"]), ("added", local_time(contact["created_at"])), ("updated", local_time(contact["updated_at"]))]
    rows = [(name, value) for name, value in rows if value not in (None, "")]
    width = max(len(name) for name, _ in [*rows, *contact["custom"].items()]) + 2
    for name, value in rows:
        click.echo(f"  {name:<{width}}{value}")
    if contact["custom"]:
        click.echo("Custom fields (use in templates as {{ name }}):")
        for name, value in contact["custom"].items():
            click.echo(f"  {name:<{width}}{value}")
    click.echo("Messages:" if history["messages"] else "Messages: none yet")
    for m in history["messages"]:
        when = local_time(m["sent_at"] or m["failed_at"] or m["queued_at"])
        step = f" step {m['step']}" if m["step"] else ""
        error = f" - {m['error']}" if m["error"] else ""
        click.echo(f"  {when}  {m['state']:<10} {m['campaign'] or m['kind']}{step}: {m['subject'] or ''}{error}")
    click.echo("Replies:" if history["replies"] else "Replies: none yet")
    for r in history["replies"]:
        detail = r["snippet"] or r["subject"] or ""
        extra = f" (back {r['return_date']})" if r["return_date"] else f" ({r['bounce_type']})" if r["bounce_type"] else ""
        click.echo(f"  {local_time(r['received_at'])}  {r['kind']}{extra}: {detail[:100]}")


@contacts_group.command("tag")
@click.argument("email")
@click.argument("tags", nargs=-1, required=True)
@pass_app
def tag_command(app: App, email: str, tags: tuple[str, ...]) -> None:
    """Add one or more tags to a contact.

    \b
    Example:
      outreach contacts tag jane.okafor@mercy.example.org cardiology priority
    """
    _change_tags(app, email, tags, store.add_tags)


@contacts_group.command("untag")
@click.argument("email")
@click.argument("tags", nargs=-1, required=True)
@pass_app
def untag_command(app: App, email: str, tags: tuple[str, ...]) -> None:
    """Remove tags from a contact.

    \b
    Example:
      outreach contacts untag jane.okafor@mercy.example.org priority
    """
    if not _change_tags(app, email, tags, store.remove_tags):
        click.echo(f"(it had none of: {', '.join(tags)})", err=True)


def _change_tags(app: App, email: str, tags: tuple[str, ...], change: Callable[[Database, int, Iterable[str]], Any]) -> Any:
    """Add or remove tags in one transaction, show the contact's tags as they now are; `change`'s result."""
    contact = store.require_contact(app.db, email)
    with app.db.atomic():
        result = change(app.db, contact["id"], tags)
    remaining = store.require_contact(app.db, contact["email"])["tags"]
    click.echo(f"{contact['email']}: " + (", ".join(remaining) or "no tags"))
    return result


@contacts_group.command("export")
@click.option("--csv", "path", required=True, type=click.Path(dir_okay=False, path_type=Path), help="File to write (UTF-8 with BOM, opens cleanly in Excel).")
@click.option("--tag", "tags", multiple=True, metavar="TAG", help="Only contacts with this tag (repeatable).")
@where_option
@pass_app
def export_command(app: App, path: Path, tags: tuple[str, ...], where: dict[str, str]) -> None:
    """Write contacts to a CSV file that is safe to open in a spreadsheet.

    Cells starting with = + - @ (or tab/CR) get a leading apostrophe so a spreadsheet shows them
    as text instead of running them as formulas. The header uses importable names, so you can
    edit the export and import it again.

    \b
    Example:
      outreach contacts export --csv physicians.csv --tag physicians
    """
    written = export_csv(app.db, path, tags=tags, where=where)
    click.echo(f"Wrote {written} contact(s) to {path}")


@contacts_group.command("delete")
@click.argument("email")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_app
def delete_command(app: App, email: str, yes: bool) -> None:
    """Delete a contact who has never been written to (otherwise suppress them instead).

    \b
    Example:
      outreach contacts delete wrong.address@mercy.example.org --yes
    """
    contact = store.require_contact(app.db, email)
    if not yes:
        if not sys.stdin.isatty():
            raise OutreachError("refusing to delete without confirmation; pass --yes")
        click.confirm(f"Delete {contact['email']}?", abort=True)
    with app.db.atomic():
        store.delete_contact(app.db, contact["id"])
    click.echo(f"Deleted {contact['email']}")


COMMANDS: list[click.Command] = [contacts_group]
