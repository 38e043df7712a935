"""The starter letters score zero on SpamAssassin's content rules (local rules only, no network),
and `templates check --spam` reports the content rules that fire on a user's own template."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from outreach.cli import cli
from outreach.contacts.importer import import_csv
from outreach.contacts.store import get_contact
from outreach.db import open_db
from outreach.templates.render import Sender, load_template, render_message, template_names
from outreach.templates.spam import ENVIRONMENT_RULES, check_messages, parse_output

REPO = Path(__file__).resolve().parent.parent
SENDER = Sender(name="Ada Obi", address="ada.obi@example.com", signature="Ada Obi, MD\nLagos, Nigeria")
SAMPLE = {"alumni": "chinedu.eze@summit.example.org", "": "jane.okafor@mercy.example.org"}


@pytest.fixture(scope="module")
def spamassassin() -> None:
    if not shutil.which("spamassassin"):
        pytest.fail("spamassassin is not installed: run scripts/test, or apt-get install spamassassin")


def starter_messages(tmp_path: Path) -> list[tuple[str, bytes]]:
    db = open_db(tmp_path / "starters.db")
    import_csv(db, REPO / "contacts" / "physicians.csv", tags=["physicians"])
    import_csv(db, REPO / "contacts" / "alumni.csv", tags=["alumni"])
    messages = []
    for name in template_names(REPO / "templates"):
        contact = get_contact(db, SAMPLE["alumni" if name.startswith("alumni") else ""])
        rendered = render_message(load_template(REPO / "templates", name), contact, sender=SENDER)
        messages.append((name, rendered.as_bytes()))
    return messages


def test_no_content_rule_fires_on_any_starter_letter(spamassassin, tmp_path):
    messages = starter_messages(tmp_path)
    assert {name for name, _ in messages} >= {"observership-request", "alumni-advice-call", "followup-2"}
    reports = check_messages(messages)
    fired = {r.label: [f"{h.name} ({h.points:+.1f}: {h.description})" for h in r.content_hits] for r in reports}
    assert fired == {name: [] for name, _ in messages}
    # the environment rules really are the only ones, and they cost nothing
    assert all(h.name in ENVIRONMENT_RULES and h.points <= 0.01 for r in reports for h in r.hits)
    assert any(h.name == "NO_RECEIVED" for h in reports[0].hits)  # the run did report rules


def test_templates_check_spam_names_the_content_rules_that_fire(spamassassin, hermetic):
    (hermetic / "templates").mkdir()
    (hermetic / "templates" / "found.txt").write_text(
        "---\nsubject: Hello\n---\nDear {{ salutation }},\n\nI found you through our alumni network and would value "
        "15 minutes of advice.\n\nAda\n")
    CliRunner().invoke(cli, ["contacts", "import", str(REPO / "contacts" / "alumni.csv"), "--tag", "alumni"])
    result = CliRunner().invoke(cli, ["templates", "check", "found", "--tag", "alumni", "--spam"])
    assert result.exit_code == 1, result.output
    assert "FOUND_YOU" in result.stderr and "+1.0" in result.stderr
    fixed = "I was given your name by our alumni network"
    (hermetic / "templates" / "found.txt").write_text((hermetic / "templates" / "found.txt").read_text().replace(
        "I found you through our alumni network", fixed))
    ok = CliRunner().invoke(cli, ["templates", "check", "found", "--tag", "alumni", "--spam", "--json"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["spam"]["content_rules"] == []


def test_templates_check_spam_without_spamassassin_says_how_to_get_it(hermetic, monkeypatch):
    (hermetic / "templates").mkdir()
    (hermetic / "templates" / "hi.txt").write_text("---\nsubject: Hi\n---\nHello\n")
    monkeypatch.setenv("PATH", str(hermetic))
    result = CliRunner().invoke(cli, ["templates", "check", "hi", "--spam"])
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: --spam needs SpamAssassin") and "apt-get install spamassassin" in result.stderr


def test_parse_output_reads_rules_and_points():
    output = """X-Spam-Status: No, score=1.0 required=5.0 tests=FOUND_YOU,NO_RECEIVED,
\tNO_RELAYS autolearn=disabled version=4.0.1
Subject: x

body
Content analysis details:   (1.0 points, 5.0 required)

 pts rule name              description
---- ---------------------- --------------------------------------------------
-0.0 NO_RECEIVED            Informational: message has no Received headers
-0.0 NO_RELAYS              Informational: message was not relayed via SMTP
 1.0 FOUND_YOU              I found you...

"""
    [report] = parse_output(output, ["one"])
    assert report.score == 1.0 and [h.name for h in report.content_hits] == ["FOUND_YOU"]
    assert report.content_hits[0].points == 1.0 and report.content_hits[0].description == "I found you..."
