"""Charts for the HTML report, drawn by matplotlib as static SVG text to inline in the page.

Imported only for `report --html` (matplotlib takes ~0.3 s to import). Text stays text
(`svg.fonttype: none`), so the page uses the reader's own fonts and fetches nothing; ids are
salted and prefixed per chart so several SVGs can live in one page. Every bar carries an id
(`rate-bar-N`, `funnel-bar-N-STAGE`, `days-bar-N`) so tests and scripts can find them.
"""

from __future__ import annotations

import io
import re

import matplotlib
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from outreach.reports.render import daily_series
from outreach.reports.report import FUNNEL_STAGES, Report

matplotlib.rcParams.update({"svg.fonttype": "none", "svg.hashsalt": "outreach", "font.size": 9})
COLOURS = ["#2b6cb0", "#dd6b20", "#38a169", "#805ad5", "#d53f8c", "#319795", "#718096", "#b7791f"]


def _svg(figure: Figure, prefix: str) -> str:
    """The figure as an <svg> element: no XML prolog or DOCTYPE, ids unique to this chart."""
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None, "Creator": None})
    text = buffer.getvalue()
    text = text[text.index("<svg"):]
    text = re.sub(r"<metadata>.*?</metadata>", "", text, flags=re.S)
    text = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{prefix}-{m.group(1)}"', text)
    return re.sub(r"url\(#([^)]+)\)|href=\"#([^\"]+)\"",
                  lambda m: f"url(#{prefix}-{m.group(1)})" if m.group(1) else f'href="#{prefix}-{m.group(2)}"', text)


def rate_chart(report: Report) -> str:
    """Reply rate by group, one horizontal bar each, with its 95% interval as a whisker."""
    groups = report.groups
    figure = Figure(figsize=(7, 0.45 * len(groups) + 1.2))
    axes = figure.subplots()
    rates = [100 * (g.reply_rate or 0) for g in groups]
    low = [100 * ((g.reply_rate or 0) - g.interval[0]) if g.interval else 0 for g in groups]
    high = [100 * (g.interval[1] - (g.reply_rate or 0)) if g.interval else 0 for g in groups]
    positions = list(range(len(groups)))[::-1]
    bars = axes.barh(positions, rates, xerr=[low, high], color=COLOURS[0], ecolor="#333", capsize=3, height=0.6)
    for n, patch in enumerate(bars.patches):
        patch.set_gid(f"bar-{n}")
    axes.set_yticks(positions, [f"{g.label} ({g.replied}/{g.delivered})" for g in groups])
    axes.set_xlabel("human reply rate, % of delivered (whiskers: 95% interval)")
    axes.set_xlim(0, max([r + h for r, h in zip(rates, high)] + [1]) * 1.1)
    axes.spines[["top", "right"]].set_visible(False)
    return _svg(figure, "rate")


def funnel_chart(report: Report) -> str:
    """Contacted -> replied -> positive -> offer -> completed -> letter, one bar per group per stage."""
    groups = report.groups
    figure = Figure(figsize=(7, 3.2))
    axes = figure.subplots()
    width = 0.8 / max(1, len(groups))
    for n, g in enumerate(groups):
        values = [g.contacted, g.replied, *(g.funnel.get(s, 0) for s in FUNNEL_STAGES[2:])]
        xs = [i + (n - (len(groups) - 1) / 2) * width for i in range(len(FUNNEL_STAGES))]
        bars = axes.bar(xs, values, width=width, color=COLOURS[n % len(COLOURS)], label=g.label)
        for stage, patch in zip(FUNNEL_STAGES, bars.patches):
            patch.set_gid(f"bar-{n}-{stage}")
    axes.set_xticks(range(len(FUNNEL_STAGES)), list(FUNNEL_STAGES))
    if max((g.contacted for g in groups), default=0) > 200:  # letters would vanish next to thousands contacted
        axes.set_yscale("symlog", linthresh=10)
    else:
        axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_ylabel("contacts")
    if len(groups) > 1:
        axes.legend(fontsize=8, frameon=False)
    axes.spines[["top", "right"]].set_visible(False)
    return _svg(figure, "funnel")


def replies_chart(report: Report) -> str:
    """Human replies per day, from the first to the last."""
    series = daily_series(report.replies_per_day)
    figure = Figure(figsize=(7, 2.4))
    axes = figure.subplots()
    bars = axes.bar(range(len(series)), [n for _, n in series], color=COLOURS[2], width=0.9)
    for n, patch in enumerate(bars.patches):
        patch.set_gid(f"bar-{n}")
    step = max(1, len(series) // 8)
    axes.set_xticks(range(0, len(series), step), [d for d, _ in series][::step], rotation=30, ha="right")
    axes.set_ylabel("replies")
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.spines[["top", "right"]].set_visible(False)
    return _svg(figure, "days")


def all_charts(report: Report) -> list[tuple[str, str, str]]:
    """(id, caption, svg) for every chart of the page."""
    charts = [
        ("chart-reply-rate", "Reply rate by group, with 95% intervals", rate_chart(report)),
        ("chart-funnel", "From contacted to a letter: contacts reaching each stage", funnel_chart(report)),
    ]
    if report.replies_per_day:
        charts.append(("chart-replies-per-day", "Human replies per day", replies_chart(report)))
    return charts
