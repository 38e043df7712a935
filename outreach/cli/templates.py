"""`outreach templates ...`: list, show, preview and check the message templates."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import click

from outreach.contacts.store import get_contact, iter_contacts, suppression_reason
from outreach.errors import ConfigError, NotFoundError, OutreachError, TemplateError
from outreach.sending.campaigns import get_campaign
from outreach.templates.render import ATTACHMENT_AS, Sender, check_template, load_template, render_message, template_names
from . import App, pass_app, print_json, where_option

# "Firstname Lastname", not "Your Name": templates also say {{ sender.first_name }} would be grateful.
PLACEHOLDER_SENDER = Sender("Firstname Lastname", "you@example.com", None)


def _sender(app: App) -> Sender:
    """The configured sender, or a labelled placeholder so a preview/check works before set-up."""
    try:
        return Sender.from_settings(app.settings)
    except ConfigError as error:
        click.echo(f"Warning: {error}. Using {PLACEHOLDER_SENDER.name} <{PLACEHOLDER_SENDER.address}> for now.", err=True)
        return PLACEHOLDER_SENDER


def _campaign(app: App, name: str | None) -> dict[str, Any] | None:
    if not name:
        return None
    return get_campaign(app.db, name)


@click.group(name="templates")
def templates_group() -> None:
    """Message templates: templates/NAME.txt (+ optional NAME.html or NAME.md).

    \b
    NAME.txt starts with front matter, then the Jinja2 body:
      ---
      description: First email to a physician (shown by `templates list`)
      subject: Observership request — {{ specialty }} at {{ hospital }}
      attachments:
        - attachments/cv.pdf as "{{ sender.name }} - CV.pdf"
      ---
      Dear {{ salutation }},

    \b
    A blank field is an error unless the template gives a fallback:
      {{ hospital | or_default("your hospital") }}
      {% if hospital %} at {{ hospital }}{% endif %}
    Run `outreach templates check NAME --tag TAG` before a campaign.
    """


@templates_group.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="One JSON array on stdout.")
@pass_app
def list_command(app: App, as_json: bool) -> None:
    """List the templates with when to use each.

    \b
    Example:
      outreach templates list
    """
    folder = app.settings.templates_dir
    rows = []
    for name in template_names(folder):
        try:
            template = load_template(folder, name)
        except OutreachError as error:
            rows.append({"name": name, "description": None, "has_html": False, "attachments": [], "error": str(error)})
            continue
        rows.append(
            {
                "name": name,
                "description": template.description,
                "kind": template.kind,
                "has_html": template.has_html,
                "attachments": template.attachments,
                "error": None,
            }
        )
    if as_json:
        print_json(rows)
        return
    if not rows and app.settings.source == "none" and not folder.exists():
        raise ConfigError(
            "nothing is set up here: run `outreach init` (it writes .env and copies the starter templates and "
            "example contacts), or cd to the folder you set up"
        )
    if not rows:
        click.echo(
            f"No templates in {folder}/ (a template is NAME.txt with a front-matter block). "
            "If yours are elsewhere, use --templates-dir or OUTREACH_TEMPLATES_DIR.",
            err=True,
        )
        return
    width = max(len(r["name"]) for r in rows)
    for row in rows:
        extras = (["html"] if row["has_html"] else []) + [f"attaches {_attachment_path(a)}" for a in row["attachments"]]
        note = f"BROKEN: {row['error']}" if row["error"] else (row["description"] or "(no description: add a description: line to its front matter)")
        click.echo(f"{row['name']:<{width}}  {note}" + (f"  [{', '.join(extras)}]" if extras else ""))


def _attachment_path(item: str) -> str:
    """`attachments/cv.pdf as "{{ sender.name }} - CV.pdf"` -> attachments/cv.pdf: the file, not the syntax."""
    match = ATTACHMENT_AS.match(item)
    return match["path"] if match else item


@templates_group.command(name="show")
@click.argument("name")
@click.option("--html", "show_html", is_flag=True, help="Show NAME.html / NAME.md instead of NAME.txt.")
@pass_app
def show_command(app: App, name: str, show_html: bool) -> None:
    """Print a template's source as written.

    \b
    Example:
      outreach templates show observership-request
    """
    template = load_template(app.settings.templates_dir, name)
    if show_html:
        if template.html_path is None:
            raise NotFoundError(f"template {name!r} has no {name}.html or {name}.md")
        click.echo(template.html_path.read_text(encoding="utf-8"), nl=False)
    else:
        click.echo(template.source, nl=False)


@templates_group.command(name="preview")
@click.argument("name")
@click.option("--contact", "email", required=True, help="Email address of a contact in the database.")
@click.option("--campaign", "campaign_name", help="Render with this campaign's details.")
@pass_app
def preview_command(app: App, name: str, email: str, campaign_name: str | None) -> None:
    """Print the exact RFC 5322 message that would be sent to one contact.

    The message goes to stdout (save it as .eml to open it in a mail client); a summary of
    its parts and attachments goes to stderr.

    \b
    Example:
      outreach templates preview observership-request --contact jane.okafor@mercy.example.org > preview.eml
    """
    template = load_template(app.settings.templates_dir, name)
    contact = get_contact(app.db, email)
    if contact is None:
        raise NotFoundError(f"no contact {email!r}; import it first: outreach contacts import FILE")
    rendered = render_message(template, contact, sender=_sender(app), campaign=_campaign(app, campaign_name))
    blocked = suppression_reason(app.db, contact["email"]) or (
        f"contact status is {contact['status']}" if contact.get("status") not in (None, "active") else None
    )
    click.echo(rendered.as_bytes(), nl=False)  # bytes: written unchanged to the binary stdout
    message = rendered.message
    click.echo("", err=True)
    for header in ("From", "To", "Cc", "Reply-To", "Subject"):
        if message[header]:
            click.echo(f"{header + ':':<10}{message[header]}", err=True)
    parts = [p.get_content_type() for p in message.walk() if not p.is_multipart() and not p.is_attachment()]
    click.echo(f"{'Parts:':<10}{', '.join(parts)}", err=True)
    for info in rendered.attachments:
        click.echo(f"{'Attached:':<10}{info.name} ({_size(info.size)}, sha256 {info.sha256[:12]})", err=True)
    if blocked:
        click.echo(f"Note: a campaign would not write to this contact: {blocked}.", err=True)


def _size(size: int) -> str:
    for unit in ("bytes", "KB", "MB"):
        if size < 1024 or unit == "MB":
            return f"{size} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return str(size)


@templates_group.command(name="check")
@click.argument("name")
@click.option("--tag", "tags", multiple=True, help="Only contacts with this tag (repeat for several).")
@where_option
@click.option("--campaign", "campaign_name", help="Render with this campaign's details.")
@click.option("--json", "as_json", is_flag=True, help="One JSON document on stdout.")
@pass_app
def check_command(
    app: App, name: str, tags: tuple[str, ...], where: dict[str, str], campaign_name: str | None, as_json: bool
) -> None:
    """Render a template for every selected contact and list every problem.

    Exits 1 when any contact cannot be rendered, so it can gate a campaign or a script.

    \b
    Example:
      outreach templates check observership-request --tag physicians
      outreach templates check alumni-introduction --tag alumni --where state=OH
    """
    seen = _Seen()
    try:
        template = load_template(app.settings.templates_dir, name)
    except TemplateError as error:
        template, problems = None, [error]
    else:
        contacts = seen.track(iter_contacts(app.db, tags=tags, where=where))
        first = next(contacts, None)
        if first is None:
            raise NotFoundError("no contacts match this selection; check the --tag/--where values (outreach contacts list)")
        contacts = itertools.chain([first], contacts)
        problems = check_template(template, contacts, sender=_sender(app), campaign=_campaign(app, campaign_name))
    failing = len({p.contact for p in problems if p.contact})
    if template is not None and template.is_followup:  # checked here as a first email: no thread, no previous message
        click.echo(f"Warning: {name} is a follow-up template: it belongs in a campaign's sequence "
                   f"(`outreach campaign create ... --followup {name}:3`), not as a first email.", err=True)
    if as_json:
        print_json(
            {
                "template": name,
                "checked": seen.count,
                "failing_contacts": failing,
                "problems": [
                    {"file": p.template, "line": p.line, "contact": p.contact, "reason": p.reason} for p in problems
                ],
            }
        )
    else:
        for problem in problems:
            where_text = f"{problem.template}:{problem.line}" if problem.line else str(problem.template)
            click.echo(f"{where_text}  {problem.contact or '-'}  {problem.reason}")
        if problems:
            click.echo(f"{len(problems)} problem(s) in {failing} of {seen.count} contact(s); fix them before sending.", err=True)
        else:
            click.echo(f"OK: {name} renders for all {seen.count} selected contact(s).", err=True)
        if seen.roles:
            shown = ", ".join(seen.roles[:3]) + (" ..." if seen.role_count > 3 else "")
            click.echo(
                f"Note: {seen.role_count} of them {'reaches' if seen.role_count == 1 else 'reach'} a desk, not a person ({shown}); "
                "preview their letter before sending, or untag them.",
                err=True,
            )
    if problems:
        raise click.exceptions.Exit(1)


class _Seen:
    """Counts the contacts a check reads as they stream past, and the first role addresses."""

    def __init__(self) -> None:
        self.count = 0
        self.role_count = 0
        self.roles: list[str] = []

    def track(self, contacts: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for contact in contacts:
            self.count += 1
            if contact.get("is_role_address"):
                self.role_count += 1
                if len(self.roles) < 3:
                    self.roles.append(contact["email"])
            yield contact


COMMANDS: list[click.Command] = [templates_group]
