"""`outreach replies ...`: read new mail, list who answered, take up suggested contacts."""

from __future__ import annotations

import signal
import threading
from datetime import date, datetime, time, timezone
from typing import Any

import click

from outreach.replies import poll as replies
from outreach.replies.watch import watch

from . import App, local_time, pass_app, print_json

KIND_CHOICES = click.Choice(["human_reply", "auto_reply", "bounce", "unsubscribe", "other"])


@click.group("replies")
def replies_group() -> None:
    """Replies: who answered, who bounced, who is away, and who they pointed you to.

    \b
    outreach replies poll            # read new mail once (INBOX and Junk)
    outreach replies watch           # keep reading as mail arrives (Ctrl-C stops)
    outreach replies import Inbox.mbox   # exported mail, when IMAP is blocked
    outreach replies list --since 2026-03-01
    outreach replies add-suggested maria.lopez@mercy.example.org --tag physicians
    """


@replies_group.command("poll")
@click.option("--folder", "folders", multiple=True, help="Folder to read (repeatable); \\Junk means the special-use Junk folder. Default: OUTREACH_IMAP_FOLDERS.")
@click.option("--json", "as_json", is_flag=True, help="Print the counts as one JSON object (a list of them, one per account, "
              "with --all-profiles).")
@click.option("--all-profiles", is_flag=True, help="Read every account's mailbox in turn: this one and every profile set up.")
@pass_app
def poll_command(app: App, folders: tuple[str, ...], as_json: bool, all_profiles: bool) -> None:
    """Read new mail once, match it to what you sent, and update contacts.

    Mail is never marked read, moved or deleted (except a follow-up draft of ours whose contact
    has since answered: it leaves Drafts). Only messages newer than the last poll are fetched;
    mail that answers nothing you sent is left alone. Follow-up drafts you sent from your mail
    program are found in Sent and recorded as sent.

    \b
    outreach replies poll
    outreach replies poll --json
    outreach replies poll --all-profiles     # every account's mailbox, one summary each
    """
    if all_profiles:
        from .replies_all import poll_all  # every account in turn (cli/replies_all.py)

        return poll_all(app, folders, as_json)
    result = replies.poll(app.db, app.settings, folders=folders or None)
    if not as_json:
        for folder in result.folders:
            click.echo(f"{folder['folder']:<12} {folder['fetched']:>6} new  {folder['matched']:>5} matched")
    _print_result(result, as_json, read="new", nothing="No new mail since the last poll.",
                  others="answer nothing you sent and were left untouched", drafts_of=app)


@replies_group.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=str))
@click.option("--json", "as_json", is_flag=True, help="Print the counts as one JSON object (as `replies poll --json`).")
@pass_app
def import_command(app: App, paths: tuple[str, ...], as_json: bool) -> None:
    """Read replies from exported mail: .eml files, an mbox file or a Maildir folder.

    For accounts that block IMAP: export the mail (most webmail and desktop clients can), then
    import it. Messages are matched to what you sent exactly as `replies poll` matches them;
    importing the same files again changes nothing. A file that is not mail is named and skipped.

    \b
    outreach replies import ~/Downloads/reply.eml
    outreach replies import Inbox.mbox --json
    outreach replies import ~/Mail/outreach/        # a Maildir, or a folder of .eml files
    """
    from outreach.replies.mailfiles import import_paths  # reads mailbox formats: only this command needs them

    result = import_paths(app.db, app.settings, paths)
    _print_result(result, as_json, read="read", nothing="No messages found to import.",
                  others="answer nothing you sent or were imported before")


def _print_result(result: replies.PollResult, as_json: bool, *, read: str, nothing: str, others: str,
                  drafts_of: App | None = None) -> None:
    """The counts of a poll or an import, then one line per stored reply. `drafts_of`: after a
    poll (IMAP is there), reconcile that app's follow-up drafts; an import of files never does."""
    for note in result.notes:
        click.echo(f"Note: {note}", err=True)
    if drafts_of is not None:
        _follow_drafts(drafts_of)
    if result.unclassified:  # on stderr with --json, so that stdout stays one JSON document
        click.echo(_unclassified_line(result.unclassified), err=as_json)
    if as_json:
        print_json(result.to_json())
        return
    counts = result.to_json()
    if not counts["fetched"]:
        click.echo(nothing)
        return
    click.echo(
        f"{counts['matched']} matched of {counts['fetched']} {read}: {counts['human_reply']} replied, "
        f"{counts['auto_reply']} auto-replies, {counts['bounce']} bounced, {counts['unsubscribe']} opted out"
    )
    if counts["fetched"] > counts["matched"]:
        click.echo(f"The other {counts['fetched'] - counts['matched']} {others}.")
    for reply in result.replies:
        click.echo(_reply_line(reply))
    _propose_domains(result.replies)


def _follow_drafts(app: App) -> None:
    """Follow-up drafts saved for review: record those sent from Sent, delete those whose
    contact has answered meanwhile (see followups/drafts.py). A failure here is a note, not a
    failed poll: the replies are already stored."""
    # imported here: the follow-up stage loads Jinja2, which `replies` commands otherwise never need
    from outreach.errors import OutreachError
    from outreach.followups.reconcile import reconcile_drafts

    try:
        lines = reconcile_drafts(app.db, app.settings).lines()
    except OutreachError as error:
        lines = [f"could not check the follow-up drafts ({error}); the next poll tries again"]
    for line in lines:
        click.echo(f"Follow-ups: {line}", err=True)


@replies_group.command("watch")
@click.option("--interval", type=click.FloatRange(min=5), default=60, show_default=True, help="Seconds between polls when the server has no IDLE.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per poll that found something.")
@pass_app
def watch_command(app: App, interval: float, as_json: bool) -> None:
    """Keep a connection open and process new mail within seconds (IMAP IDLE).

    Falls back to polling every --interval seconds on servers without IDLE, and reconnects
    after a dropped connection. Ctrl-C stops it (exit 130); `kill` stops it too (exit 0).

    \b
    outreach replies watch
    outreach replies watch --interval 120 --json
    """
    stop = threading.Event()
    db, settings = app.db, app.settings

    def on_result(result: replies.PollResult) -> None:
        for note in result.notes:
            click.echo(f"Note: {note}", err=True)
        _follow_drafts(app)
        if result.unclassified:
            click.echo(_unclassified_line(result.unclassified), err=True)
        if not result.matched:
            return
        if as_json:
            print_json(result.to_json())
        else:
            for reply in result.replies:
                click.echo(_reply_line(reply))

    def on_error(error: Exception, pause: float) -> None:
        click.echo(f"Connection problem: {error}; retrying in {pause:.0f}s", err=True)

    click.echo(f"Watching {settings.imap.username} on {settings.imap.address} (Ctrl-C to stop)", err=True)
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())  # `kill` stops it cleanly too
    interrupted = False
    try:
        watch(db, settings, on_result=on_result, stop_event=stop, on_error=on_error, poll_interval=interval)
    except KeyboardInterrupt:
        stop.set()
        interrupted = True
    finally:
        signal.signal(signal.SIGTERM, previous)
    click.echo("Stopped.", err=True)
    if interrupted:
        click.get_current_context().exit(130)  # Ctrl-C, after the clean stop (INTERFACE.md)


@replies_group.command("list")
@click.option("--campaign", help="Only replies to this campaign.")
@click.option("--kind", type=KIND_CHOICES, help="Only this kind of reply.")
@click.option("--since", help="Only replies received since DATE (YYYY-MM-DD, local time) or an ISO timestamp.")
@click.option("--explain", is_flag=True, help="Under each reply, the rule that decided its kind and the words it matched.")
@click.option("--json", "as_json", is_flag=True, help='Print {"replies": [...], "suggested_contacts": [...]}.')
@pass_app
def list_command(app: App, campaign: str | None, kind: str | None, since: str | None, explain: bool, as_json: bool) -> None:
    """Replies received, newest first, with a one-line snippet of each reply's own words,
    then the new contacts people suggested (a colleague they copied in or named).

    \b
    outreach replies list --kind human_reply --since 2026-03-01
    """
    # lazy here and below: `replies poll` loads this module and must not pay for the stores
    from outreach.replies.store import list_replies
    from outreach.replies.suggestions import list_suggestions

    rows = list_replies(app.db, campaign=campaign, kind=kind, since=_parse_since(since))
    suggestions = list_suggestions(app.db)
    if as_json:
        print_json({"replies": rows, "suggested_contacts": suggestions})
        return
    if not rows:
        filtered = campaign or kind or since
        click.echo("No replies match these filters." if filtered else "No replies yet. Run `outreach replies poll` to read new mail.")
    for row in rows:
        click.echo(_reply_line(row))
        if explain:
            click.echo(f"    rule: {row.get('rule') or '- (read before explanations were stored)'}")
            if row.get("evidence"):
                click.echo(f"    matched: {row['evidence']}")
    _propose_domains(rows)
    if suggestions:
        click.echo("\nSuggested new contacts:")
        for s in suggestions:
            who = f"{s['name']} <{s['email']}>" if s["name"] else s["email"]
            click.echo(f"  {who}  referred by {s['referred_by']}")
        click.echo("Add one with: outreach replies add-suggested EMAIL [--tag TAG]")


@replies_group.command("add-suggested")
@click.argument("email")
@click.option("--tag", "tags", multiple=True, help="Tag the new contact (repeatable).")
@pass_app
def add_suggested_command(app: App, email: str, tags: tuple[str, ...]) -> None:
    """Add a suggested contact, recording who referred them.

    \b
    outreach replies add-suggested maria.lopez@mercy.example.org --tag physicians
    """
    # lazy: see list_command
    from outreach.contacts.store import get_contact_by_id
    from outreach.replies.suggestions import add_suggested

    contact = add_suggested(app.db, email, tags=tags)
    name = " ".join(p for p in (contact.get("title"), contact.get("first_name"), contact.get("last_name")) if p)
    referrer = get_contact_by_id(app.db, contact["referred_by"]) if contact.get("referred_by") else None
    via = f" (referred by {referrer['email']})" if referrer else ""
    who = f"{name} <{contact['email']}>" if name else contact["email"]
    click.echo(f"Added {who}{via}. Next: outreach contacts show {contact['email']}")


@replies_group.command("dismiss")
@click.argument("email")
@pass_app
def dismiss_command(app: App, email: str) -> None:
    """Stop suggesting this address.

    \b
    outreach replies dismiss maria.lopez@mercy.example.org
    """
    from outreach.replies.suggestions import dismiss_suggested  # lazy: see list_command

    dismiss_suggested(app.db, email)
    click.echo(f"Dismissed {email}.")


def _reply_line(row: dict[str, Any]) -> str:
    """One line per reply: local time, kind, who, campaign, what it says or did."""
    shown = local_time(row.get("received_at"), blank="?")
    kind = row["kind"]
    if kind == "bounce":
        kind = f"bounce ({row.get('bounce_type') or '?'})"
    elif kind == "human_reply" and row.get("suggested_outcome"):
        kind = f"reply ({row['suggested_outcome']})"
    elif kind == "auto_reply" and row.get("return_date"):
        kind = f"away until {row['return_date']}"
    campaign = f" [{row['campaign']}]" if row.get("campaign") else ""
    text = row.get("snippet") or row.get("subject") or ""
    effects = row.get("effects")
    tail = f"  -> {'; '.join(effects)}" if effects else ""
    if row.get("unmatched_reason"):
        tail = f"  (unmatched: {row['unmatched_reason']}){tail}"
    return f"{shown}  {kind:<21} {row.get('contact_email') or row.get('from_address')}{campaign}  {text}{tail}"


def _unclassified_line(count: int) -> str:
    return f"{count} message{'s' if count != 1 else ''} could not be classified; see the log"


def _propose_domains(rows: list[dict[str, Any]]) -> None:
    """Organisation-wide opt-outs propose their domain; the user decides (never applied here)."""
    domains = sorted({r["suppress_domain"] for r in rows if r.get("suppress_domain")})
    for domain in domains:
        click.echo(f"Someone at {domain} asked you not to write to anyone there. To honour it: outreach suppress add {domain}")


def _parse_since(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        if len(text.strip()) == 10:
            day = date.fromisoformat(text.strip())
            return datetime.combine(day, time()).astimezone().astimezone(timezone.utc)
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a date (YYYY-MM-DD) or ISO timestamp", param_hint="--since") from None
    return value if value.tzinfo else value.astimezone()


COMMANDS: list[click.Command] = [replies_group]
