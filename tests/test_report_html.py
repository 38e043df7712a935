"""The HTML report in a real browser: Debian's chromium, headless, with its own flags.

The page must load from a file with no network request (chromium's net log records every URL
request; the page's own carry the file:// isolation key) and no console message, and each chart
must be in the DOM after load with one bar per group. Nothing leaves the machine: chromium's
own background traffic goes to a dead proxy on 127.0.0.1.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.test_report_cli import outreach, story  # noqa: F401  (the fixture)

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (scripts/test installs it with apt-get)")


def chromium(page: Path, work: Path, *extra: str) -> subprocess.CompletedProcess:
    profile = work / "profile"
    profile.mkdir(exist_ok=True)
    command = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
        f"--user-data-dir={profile}", "--proxy-server=127.0.0.1:9", "--enable-logging=stderr", "--v=0",
        f"--log-net-log={work / 'net.json'}", *extra, page.as_uri(),
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=90, check=True)


def page_requests(net_log: Path) -> list[str]:
    """URLs the page itself asked for (not chromium's own background requests)."""
    text = net_log.read_text(encoding="utf-8")
    try:
        log = json.loads(text)
    except json.JSONDecodeError:  # a log cut short at exit lacks its closing brackets
        log = json.loads(text.rstrip().rstrip(",") + "]}")
    start = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    return [e["params"]["url"] for e in log["events"]
            if e["type"] == start and "file://" in str(e.get("params", {}).get("network_isolation_key", ""))]


def console_messages(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


def test_the_checks_catch_a_request_and_a_console_error(tmp_path):
    """The control: a page that does both, so a pass below means something."""
    page = tmp_path / "bad.html"
    page.write_text('<!DOCTYPE html><p>x</p><script>console.error("boom")</script><img src="http://127.0.0.1:9/x.png">')
    result = chromium(page, tmp_path, "--dump-dom")
    assert any('"boom"' in line for line in console_messages(result.stderr))
    assert page_requests(tmp_path / "net.json") == ["http://127.0.0.1:9/x.png"]


def test_the_html_report_opens_offline_with_every_chart(story, hermetic):
    outreach("report", "--by", "campaign", "--html", "report.html")
    page = hermetic / "report.html"
    source = page.read_text(encoding="utf-8")
    assert "<script" not in source and "@font-face" not in source and "<link" not in source
    assert set(re.findall(r"https?://[^\"' )]+", source)) <= {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}  # namespaces

    result = chromium(page, hermetic, "--dump-dom")
    assert page_requests(hermetic / "net.json") == []
    assert console_messages(result.stderr) == []
    dom = result.stdout
    for chart in ("chart-reply-rate", "chart-funnel", "chart-replies-per-day"):
        assert f'id="{chart}"' in dom and "<svg" in dom.split(f'id="{chart}"', 1)[1][:400]
    assert sorted(set(re.findall(r'id="rate-bar-(\d+)"', dom))) == ["0", "1", "2"]  # spring, summer, intro
    funnel = set(re.findall(r'id="funnel-bar-(\d+)-(\w+)"', dom))
    assert {group for group, _ in funnel} == {"0", "1", "2"} and len(funnel) == 3 * 6
    assert re.findall(r'id="days-bar-\d+"', dom)
    for name in ("spring", "summer", "intro"):
        assert name in dom

    shot = hermetic / "report.png"
    chromium(page, hermetic, f"--screenshot={shot}", "--window-size=1200,1800", "--hide-scrollbars")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
