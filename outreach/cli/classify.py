"""`outreach classify FILE...`: classify saved messages (.eml) without touching the database."""

from __future__ import annotations

import json
import sys

import click

from outreach.classify.classifier import classify_message
from outreach.errors import OutreachError
from outreach.mail.files import read_message_file, read_message_stream


@click.command("classify")
@click.argument("files", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per file, one per line.")
@click.option("--explain", is_flag=True, help="Say which rule decided each message and the text it matched.")
def classify_command(files: tuple[str, ...], as_json: bool, explain: bool) -> None:
    """Classify saved messages as human_reply, auto_reply, bounce, unsubscribe or other.

    FILE is a raw RFC 5322 message (.eml); `-` reads one from stdin. A file that cannot be read
    is reported on stderr and skipped; the exit code is then 1.

    \b
    Example:
      outreach classify inbox/*.eml --json
      {"file": "inbox/1.eml", "kind": "bounce", "bounce_type": "hard",
       "bounced_addresses": ["jane@example.org"], "return_date": null, "rule": ..., ...}
      outreach classify reply.eml --explain
    """
    failed = False
    rows = []
    for path in files:
        try:
            raw = read_message_stream(sys.stdin.buffer) if path == "-" else read_message_file(path)
        except OutreachError as error:
            click.echo(f"Error: {error}", err=True)
            failed = True
            continue
        result = classify_message(raw, source=path).to_json(path)
        if result["error"]:
            click.echo(f"Error: {path} could not be classified ({result['error']}); see the log", err=True)
            failed = True
        if as_json:
            click.echo(json.dumps(result, ensure_ascii=False))
        else:
            rows.append(result)
    if explain and not as_json:
        for r in rows:
            click.echo(_explanation(r))
    elif not as_json and rows:
        width = max(len(r["file"]) for r in rows)
        click.echo(f"{'FILE':<{width}}  {'KIND':<11}  {'BOUNCE':<6}  {'BACK ON':<10}  BOUNCED ADDRESSES")
        for r in rows:
            click.echo(
                f"{r['file']:<{width}}  {r['kind']:<11}  {r['bounce_type'] or '-':<6}  "
                f"{r['return_date'] or '-':<10}  {', '.join(r['bounced_addresses']) or '-'}"
            )
        for r in rows:
            if r["suppress_domain"]:
                click.echo(f"{r['file']} asks for everyone at {r['suppress_domain']}: confirm with `outreach suppress add {r['suppress_domain']}`")
    if failed:
        click.get_current_context().exit(1)


def _explanation(r: dict) -> str:
    """Several lines per file: the verdict, the rule that decided, and the words it matched."""
    verdict = r["kind"]
    if r["bounce_type"]:
        verdict += f" ({r['bounce_type']})"
    lines = [f"{r['file']}: {verdict}", f"  rule:     {r['rule'] or '-'}"]
    if r["evidence"]:
        lines.append(f"  matched:  {r['evidence']}")
    if r["bounced_addresses"]:
        lines.append(f"  bounced:  {', '.join(r['bounced_addresses'])}")
    if r["return_date"]:
        lines.append(f"  back on:  {r['return_date']}")
    if r["suggested_outcome"]:
        lines.append(f"  suggested outcome: {r['suggested_outcome']}")
    if r["suppress_domain"]:
        lines.append(f"  asks for the whole organisation: confirm with `outreach suppress add {r['suppress_domain']}`")
    return "\n".join(lines)


COMMANDS: list[click.Command] = [classify_command]
