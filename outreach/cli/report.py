"""`outreach report`: reply rates you can trust, by template, step, tag, specialty, state, ..."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from outreach.reports.report import BY_CHOICES, build_report

from . import App, pass_app, print_json
from .replies import _parse_since


@click.command("report")
@click.option("--campaign", help="Only this campaign (default: every campaign).")
@click.option("--by", type=click.Choice(BY_CHOICES), help="One row per template, step (0 = first email), tag, specialty, state, "
              "recipient domain, week sent, import file (source), campaign or introducer (who introduced or "
              "referred the contact; the alumni asked and the cold contacts in rows of their own). "
              "Default: one row for everything.")
@click.option("--since", help="Only messages sent since DATE (YYYY-MM-DD, local time) or an ISO timestamp.")
@click.option("--json", "as_json", is_flag=True, help='Print {"groups": [...], "comparisons": [...], ...} as JSON.')
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False, path_type=Path), help="Write one row per group to this CSV file.")
@click.option("--html", "html_path", type=click.Path(dir_okay=False, path_type=Path), help="Write a self-contained HTML page with charts (opens offline).")
@pass_app
def report_command(app: App, campaign: str | None, by: str | None, since: str | None, as_json: bool,
                   csv_path: Path | None, html_path: Path | None) -> None:
    """Who answers: reply rates per group with their 95% intervals, time to reply, opt-outs,
    bounces, warm (introduced) against cold, and what came of it (positive, offer, letter).

    A reply rate is human replies / delivered. With counts this small, 6% against 9% is often
    noise: the report says how likely one group's true rate is higher, and when it is noise.

    \b
    outreach report
    outreach report --by template
    outreach report --campaign spring --by step --since 2026-03-01
    outreach report --by specialty --html report.html
    outreach report --by introducer
    outreach report --by state --json | jq '.groups[] | {group, reply_rate}'
    """
    if sum(bool(x) for x in (as_json, csv_path, html_path)) > 1:
        raise click.UsageError("choose one of --json, --csv FILE and --html FILE")
    report = build_report(app.db, by=by, campaign=campaign, since=_parse_since(since))
    from outreach.reports import render  # rich tables and csv only when printing: every command starts faster

    if as_json:
        print_json(report.to_json())
    elif csv_path:
        render.write_csv(report, csv_path)
        click.echo(f"Wrote {len(report.groups)} group(s) to {csv_path}")
    elif html_path:
        render.write_html(report, html_path)
        click.echo(f"Wrote {html_path} (self-contained; open it in any browser, offline)")
    else:
        render.print_report(report, render.console_for(sys.stdout.isatty()))


COMMANDS: list[click.Command] = [report_command]
