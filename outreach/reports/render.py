"""The report for people: a terminal view (rich tables, bars with their intervals, a sparkline),
a CSV file for spreadsheets and one self-contained HTML file (charts from charts.py).

Nothing here queries the database: everything comes from a `Report`.
"""

from __future__ import annotations

import csv
import html
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from outreach.contacts.store import spreadsheet_safe
from outreach.errors import InputFileError
from outreach.reports.report import FUNNEL_STAGES, Group, Report

BAR_WIDTH = 40
SPARKS = "▁▂▃▄▅▆▇█"
SPARK_WIDTH = 60


def percent(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value * 100:.{digits}f}%"


def duration(seconds: float | None) -> str:
    """3 h 20 min, 2.5 days: how a person says how long someone took."""
    if seconds is None:
        return "-"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def interval_text(group: Group) -> str:
    bounds = group.interval
    return "-" if bounds is None else f"{percent(bounds[0])}–{percent(bounds[1])}"


def title(report: Report) -> str:
    scope = f"campaign {report.campaign}" if report.campaign else "all campaigns"
    by = f", by {report.by}" if report.by else ""
    since = f", messages sent since {report.since[:10]}" if report.since else ""
    return f"Replies: {scope}{by}{since}"


def _after_steps(group: Group) -> str:
    if not group.replied_after_step:
        return "-"
    return ", ".join(f"{'first' if step == 0 else f'f-up {step}'} {n}" for step, n in sorted(group.replied_after_step.items()))


def replies_table(report: Report) -> Table:
    table = Table(title=title(report), box=None, header_style="bold", title_justify="left")
    for name in ("group", "contacted", "delivered", "bounced", "replied", "reply rate", "95% interval", "auto",
                 "opt-outs", "median reply", "90% within", "replied after", "warm / cold"):
        table.add_column(name, justify="left" if name in ("group", "replied after", "warm / cold") else "right", overflow="fold")
    for g in report.groups:
        table.add_row(
            g.label, str(g.contacted), str(g.delivered), f"{g.bounced} ({percent(g.bounce_rate, 0)})", str(g.replied),
            percent(g.reply_rate), interval_text(g), str(g.auto_replied), str(g.opted_out), duration(g.median_seconds),
            duration(g.p90_seconds), _after_steps(g),
            f"{g.warm.replied}/{g.warm.delivered} · {g.cold.replied}/{g.cold.delivered}",
        )
    return table


def funnel_table(report: Report) -> Table:
    table = Table(title="Outcomes (contacts reaching each stage)", box=None, header_style="bold", title_justify="left")
    table.add_column("group")
    for stage in FUNNEL_STAGES:
        table.add_column(stage, justify="right")
    for g in report.groups:
        table.add_row(g.label, str(g.contacted), str(g.replied), *(str(g.funnel.get(s, 0)) for s in FUNNEL_STAGES[2:]))
    return table


def bar(group: Group, scale: float, width: int = BAR_WIDTH) -> Text:
    """Reply rate as a bar, its 95% interval as a whisker: ██████▓▓▓───┤"""
    text = Text()
    bounds = group.interval
    if bounds is None or scale <= 0:
        return text.append("no delivered messages", style="dim")
    low, high = (round(b / scale * width) for b in bounds)
    mid = round((group.reply_rate or 0) / scale * width)
    text.append("█" * low, style="cyan")
    text.append("▓" * max(0, mid - low), style="blue")
    text.append("─" * max(0, high - max(mid, low) - 1), style="dim")
    if high > mid:
        text.append("┤", style="dim")
    text.append(" " * max(0, width - max(high, mid)))
    text.append(f" {percent(group.reply_rate)} ({interval_text(group)})")
    return text


def bars(report: Report) -> Table:
    table = Table(title="Reply rate, 95% interval: █ at least, ▓ best guess, ─┤ up to",
                  box=None, show_header=False, title_justify="left")
    table.add_column("group", no_wrap=True)
    table.add_column("bar", no_wrap=True)
    scale = max((g.interval[1] for g in report.groups if g.interval), default=0.0)
    for g in report.groups:
        table.add_row(g.label, bar(g, scale))
    return table


def daily_series(per_day: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """Every day from the first reply to the last, zero where nobody replied."""
    if not per_day:
        return []
    counts = dict(per_day)
    day, last = date.fromisoformat(per_day[0][0]), date.fromisoformat(per_day[-1][0])
    series = []
    while day <= last:
        series.append((day.isoformat(), counts.get(day.isoformat(), 0)))
        day += timedelta(days=1)
    return series


def sparkline(per_day: list[tuple[str, int]], width: int = SPARK_WIDTH) -> str:
    """▁▃█▂: one character per day (per few days when the range is longer than `width`)."""
    values = [n for _, n in daily_series(per_day)]
    if not values:
        return ""
    size = -(-len(values) // width)
    buckets = [sum(values[i:i + size]) for i in range(0, len(values), size)]
    top = max(buckets) or 1
    return "".join(SPARKS[0] if n == 0 else SPARKS[min(len(SPARKS) - 1, round(n / top * (len(SPARKS) - 1)))] for n in buckets)


def spark_line(report: Report) -> str:
    series = daily_series(report.replies_per_day)
    if not series:
        return "Replies per day: none yet."
    days = len(series)
    per = -(-days // SPARK_WIDTH)
    unit = "day" if per == 1 else f"{per} days"
    return (f"Replies per {unit}, {series[0][0]} to {series[-1][0]}: {sparkline(report.replies_per_day)}  "
            f"(busiest day {max(n for _, n in series)}, total {sum(n for _, n in series)})")


def notes(report: Report) -> list[str]:
    lines = [c.text for c in report.comparisons]
    if report.warm_vs_cold:
        lines.append(report.warm_vs_cold.text)
    elif report.by and any(g.warm.delivered for g in report.groups):
        lines.append("Warm against cold over everything: run the report without --by (groups here overlap).")
    return lines


def print_report(report: Report, console: Console) -> None:
    """The terminal view: tables, bars, the sparkline, then the plain-language lines."""
    if not report.groups:
        console.print(title(report))
        console.print("Nothing has been sent in this selection yet: `outreach campaign send NAME --live` first.")
        return
    console.print(replies_table(report))
    console.print()
    console.print(bars(report))
    console.print()
    console.print(funnel_table(report))
    console.print()
    console.print(spark_line(report))
    for line in notes(report):
        console.print(line)
    console.print(Text("Reply rate = human replies / delivered; the interval is where the true rate lies with 95% "
                       "confidence (Wilson). 'median reply' is how long after the message they answered.", style="dim"))


# --- CSV -----------------------------------------------------------------------------------------


def csv_rows(report: Report) -> tuple[list[str], list[list[Any]]]:
    steps = sorted({s for g in report.groups for s in g.replied_after_step})
    header = ["group", "contacted", "delivered", "bounced", "bounce_rate", "replied", "auto_replied", "opted_out",
              "reply_rate", "reply_rate_low", "reply_rate_high", "median_hours_to_reply", "p90_hours_to_reply"]
    header += [f"replied_after_step_{s}" for s in steps]
    header += ["warm_delivered", "warm_replied", "cold_delivered", "cold_replied"] + [f"funnel_{s}" for s in FUNNEL_STAGES[2:]]
    rows = []
    for g in report.groups:
        data = g.to_json()
        hours = [None if v is None else round(v / 3600, 2) for v in (g.median_seconds, g.p90_seconds)]
        row = [spreadsheet_safe(g.label)] + [data[k] for k in header[1:11]] + hours
        row += [g.replied_after_step.get(s, 0) for s in steps]
        row += [g.warm.delivered, g.warm.replied, g.cold.delivered, g.cold.replied] + [g.funnel.get(s, 0) for s in FUNNEL_STAGES[2:]]
        rows.append(["" if v is None else v for v in row])
    return header, rows


def write_csv(report: Report, path: Path) -> None:
    header, rows = csv_rows(report)
    try:
        with path.open("w", encoding="utf-8-sig", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            writer.writerows(rows)
    except OSError as error:
        raise InputFileError(str(path), f"cannot write: {error.strerror}; choose another path") from None


# --- HTML ----------------------------------------------------------------------------------------

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem; color: #222; max-width: 72rem; }
h1 { font-size: 1.4rem; } h2 { font-size: 1.1rem; margin-top: 2rem; }
table { border-collapse: collapse; font-size: 0.9rem; } th, td { padding: 0.25rem 0.6rem; border-bottom: 1px solid #ddd; }
td.n { text-align: right; font-variant-numeric: tabular-nums; } figure { margin: 1rem 0; }
p.note { color: #555; } svg { max-width: 100%; height: auto; }
"""


def _table_html(header: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    number = ' class="n"'
    body = "".join(
        "<tr>" + "".join(f"<td{number if isinstance(v, (int, float)) else ''}>{html.escape(str(v))}</td>" for v in row) + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def html_document(report: Report) -> str:
    """One page, no external resource: inline SVG charts, inline style, no script."""
    from outreach.reports import charts  # matplotlib only loads for --html

    figures = charts.all_charts(report) if report.groups else []
    parts = [f"<h1>{html.escape(title(report))}</h1>"]
    if not report.groups:
        parts.append("<p>Nothing has been sent in this selection yet.</p>")
    parts += [f"<p>{html.escape(line)}</p>" for line in notes(report)]
    for name, caption, svg in figures:
        parts.append(f'<figure id="{name}">{svg}<figcaption>{html.escape(caption)}</figcaption></figure>')
    table_rows = [[g.label, g.contacted, g.delivered, g.bounced, g.replied, percent(g.reply_rate), interval_text(g),
                   g.auto_replied, g.opted_out, duration(g.median_seconds), duration(g.p90_seconds), _after_steps(g),
                   percent(g.warm.rate), percent(g.cold.rate)] for g in report.groups]
    parts.append("<h2>Replies</h2>")
    parts.append(_table_html(["group", "contacted", "delivered", "bounced", "replied", "reply rate", "95% interval", "auto-replies",
                              "opt-outs", "median time to reply", "90% replied within", "replied after", "warm rate", "cold rate"], table_rows))
    parts.append("<h2>Outcomes</h2>")
    parts.append(_table_html(["group", *FUNNEL_STAGES],
                             [[g.label, g.contacted, g.replied, *(g.funnel.get(s, 0) for s in FUNNEL_STAGES[2:])] for g in report.groups]))
    parts.append('<p class="note">Reply rate = human replies / delivered (sent minus bounced). The 95% interval (Wilson) is '
                 "where the true rate lies given these counts; probabilities compare true rates with Beta(1+replied, "
                 "1+delivered-replied) posteriors.</p>")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>"
            f"{html.escape(title(report))}</title><style>{STYLE}</style></head><body>{''.join(parts)}</body></html>\n")


def write_html(report: Report, path: Path) -> None:
    text = html_document(report)
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as error:
        raise InputFileError(str(path), f"cannot write: {error.strerror}; choose another path") from None


def console_for(stdout_is_terminal: bool) -> Console:
    return Console(width=None if stdout_is_terminal else 160)


