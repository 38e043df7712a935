"""`outreach intros ...`: warm introductions, from the ask to the thank-you."""

from __future__ import annotations

from typing import Any

import click

from . import App, in_mailbox, local_time, pass_app, print_json

# The introductions stage is imported inside each command: it pulls in Jinja2 and the IMAP client,
# which every other command's start-up should not pay for.


@click.group(name="intros")
def intros_group() -> None:
    """Warm introductions: ask an alumnus, answer the introduction, thank them when it leads somewhere.

    \b
    outreach intros ask eze@alumni.example.org --target maria.chen@ucsf.example.edu
    outreach campaign send intro-eze --live    # the ask (one gentle follow-up at most)
    outreach replies poll                       # an alumnus Cc'ing or forwarding to the target is captured
    outreach intros due                         # introductions to answer, oldest first
    outreach intros draft                       # the answers (introducer in Bcc) into your Drafts folder
    outreach contacts outcome maria.chen@ucsf.example.edu offer   # drafts the thank-you to the alumnus
    outreach intros report                      # warm against cold, and what each alumnus's introductions led to
    """


@intros_group.command("ask")
@click.argument("alumnus")
@click.option("--target", "target_email", metavar="EMAIL", help="The physician to meet, already a contact.")
@click.option("--target-name", metavar="NAME", help='Or just a name ("Dr. Maria Chen")...')
@click.option("--target-hospital", metavar="NAME", help="...and an institution or programme.")
@click.option("--campaign", metavar="NAME", help="Name of the campaign that carries the ask (default intro-<alumnus>).")
@click.option("--template", default="alumni-introduction", show_default=True, help="The ask's template.")
@pass_app
def ask_command(app: App, alumnus: str, target_email: str | None, target_name: str | None, target_hospital: str | None,
                campaign: str | None, template: str) -> None:
    """Ask ALUMNUS (a contact) to introduce you to someone, with a paragraph they can forward.

    Creates a one-person campaign with the ask and one gentle follow-up 5 business days later
    (none once they answer). Send it like any campaign: a dry run first, then --live.

    \b
    outreach intros ask eze@alumni.example.org --target maria.chen@ucsf.example.edu
    outreach intros ask eze@alumni.example.org --target-name "Dr. Maria Chen" --target-hospital "UCSF"
    """
    from outreach.intros.ask import MAX_PARAGRAPH, ask_introduction  # lazy: the stage loads Jinja2 and the IMAP client

    asked = ask_introduction(app.db, app.settings, alumnus, target_email=target_email, target_name=target_name,
                             target_hospital=target_hospital, campaign=campaign, template=template)
    click.echo(f"Ask recorded: {asked.alumnus} to introduce you to {asked.target} (campaign {asked.campaign}).")
    click.echo(f"Subject: {asked.subject}")
    if asked.paragraph:
        size = len(asked.paragraph)
        note = "" if size <= MAX_PARAGRAPH else f" - {size} characters: shorten it so it can be forwarded unchanged"
        click.echo(f"Forwardable paragraph ({size} characters{note}):\n  {asked.paragraph}")
    click.echo(f"Next: `outreach campaign send {asked.campaign}` (a dry run), then `outreach campaign send {asked.campaign} --live`"
               + ("; one gentle follow-up is due 5 business days later if they have not answered." if asked.followup else "."))


@intros_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array of asks.")
@pass_app
def list_command(app: App, as_json: bool) -> None:
    """Every introduction you asked for: sent, answered, introduced.

    \b
    Example:
      outreach intros list
    """
    from outreach.intros.run import list_requests  # lazy: the stage loads Jinja2 and the IMAP client

    rows = list_requests(app.db)
    if as_json:
        print_json(rows)
        return
    if not rows:
        click.echo("No introduction asked for yet: `outreach intros ask ALUMNUS --target EMAIL`.")
    for r in rows:
        state = "introduced" if r["status"] == "introduced" else ("answered" if r["alumnus_replied_at"] else
                                                                   "sent" if r["sent_at"] else "not sent yet")
        click.echo(f"{local_time(r['created_at'])}  {r['alumnus']} -> {r['target']}{' (' + r['hospital'] + ')' if r['hospital'] else ''}"
                   f"  [{r['campaign']}]  {state}")


@intros_group.command("due")
@click.option("--json", "as_json", is_flag=True, help='Print [{"email","introduced_by","received_at"}], oldest first.')
@pass_app
def due_command(app: App, as_json: bool) -> None:
    """Introductions not yet answered, oldest first (answer within one business day).

    \b
    Example:
      outreach intros due
      outreach intros due --json
    """
    from outreach.intros.answer import unanswered  # lazy: the stage loads Jinja2 and the IMAP client

    items = unanswered(app.db, app.settings)
    if as_json:
        print_json([i.to_json() for i in items])
        return
    if not items:
        click.echo("No introduction waits for an answer.")
    for i in items:
        state = "answer in Drafts, not sent yet" if i.drafted else "to answer"
        click.echo(f"{local_time(i.received_at)}  {i.email}  introduced by {i.introducer_name} <{i.introduced_by}>  "
                   f"{state}, by {i.due_on:%a %d %b}")
    if any(not i.drafted for i in items):
        click.echo("Next: `outreach intros draft` saves the answers in your Drafts folder.", err=True)


@intros_group.command("draft")
@click.option("--no-poll", is_flag=True, help="Do not read new mail first.")
@pass_app
def draft_command(app: App, no_poll: bool) -> None:
    """Save the answers to introductions (Reply-All, the introducer moved to Bcc and thanked in the
    first line) and the thank-yous owed to introducers in your Drafts folder. Nothing is sent.
    An ask sent from a profile (a campaign created with --profile) is answered from that
    profile's mailbox; with asks from several accounts, each mailbox in turn (a --profile before
    the command: only that one).

    \b
    Example:
      outreach intros draft
    """
    from outreach.intros import accounts  # lazy: the stage loads Jinja2 and the IMAP client

    split = accounts.plan(app.db, app.settings, chosen=app.chosen_profile)
    parts = accounts.draft_each(app.db, app.settings_for, split, poll_first=not no_poll)
    for part in parts:
        _print_drafted(part.report, in_mailbox(part.profile, part.account, len(parts)))
    if not any(p.report.answers or p.report.thanks or p.report.answered or p.report.resumed for p in parts):
        click.echo("Nothing to draft: no introduction waits for an answer and no thank-you is owed.")
    elif any(p.report.answers or p.report.thanks for p in parts):
        click.echo("Review and send them from your mail program; `outreach intros draft` again records them as sent.")
    for profile in split.left:
        click.echo(f"Left for their own account: introductions asked from profile {profile}; run "
                   f"`outreach --profile {profile} intros draft`, or drop --profile to handle every account.", err=True)
    for address in sorted(set(split.elsewhere.values())):
        click.echo(f"Left for their own account: introductions asked from {address} are answered from that address; "
                   "run with its settings.", err=True)


def _print_drafted(report: Any, mailbox: str) -> None:
    for email in report.answered:
        click.echo(f"answer to {email} found in Sent{mailbox}: recorded as answered")
    for a in report.answers:
        click.echo(f"answer to {a['email']} (introduced by {a['introduced_by']}) saved in {a['folder']}{mailbox}: {a['subject']}")
    for t in report.thanks:
        click.echo(f"thank-you to {t['email']} (for introducing {t['introduced']}) saved in {t['folder']}{mailbox}")


@intros_group.command("report")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object: warm, cold, introducers.")
@pass_app
def report_command(app: App, as_json: bool) -> None:
    """Warm against cold (reply rate, positive outcomes) and, per alumnus, the introductions made
    and where they led.

    \b
    Example:
      outreach intros report
      outreach intros report --json
    """
    from outreach.reports.introducers import intros_report  # lazy: start-up time

    report = intros_report(app.db)
    if as_json:
        print_json(report)
        return
    for side in ("warm", "cold"):
        s = report[side]
        rate = f"{s['reply_rate']:.0%}" if s["reply_rate"] is not None else "-"
        click.echo(f"{side:<5} contacted {s['contacted']:>4}  replied {s['replied']:>4} ({rate})  positive outcomes {s['positive']}")
    if not report["introducers"]:
        click.echo("No introductions yet.")
    for a in report["introducers"]:
        click.echo(f"{a['name']} <{a['introducer']}>: asked {a['asked']}, introductions {a['introductions']}, positive {a['positive']}")
        for led in a["led_to"]:
            tail = ", thanked" if led["thanked"] else ""
            click.echo(f"  -> {led['email']}: {led['outcome'] or ('replied' if led['replied'] else 'answered' if led['answered'] else 'waiting')}{tail}")


COMMANDS: list[click.Command] = [intros_group]
