"""Campaigns as sequences, and new campaigns that leave out people already in a conversation."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from click.testing import CliRunner

from outreach.cli import cli
from outreach.db import open_db
from tests.campaign_fixtures import add_contacts, write_template

REPO = Path(__file__).resolve().parent.parent


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


def setup(folder: Path):
    write_template(folder)
    for name in ("followup-1", "followup-2", "thank-you"):
        shutil.copy(REPO / "templates" / f"{name}.txt", folder / "templates" / f"{name}.txt")
    db = open_db(folder / "outreach.db")
    people = add_contacts(db, 4)
    db.execute("UPDATE contacts SET stage = 'replied', replied_at = '2026-03-03T10:00:00+00:00' WHERE id = ?", [people[0]["id"]])
    db.execute("UPDATE contacts SET status = 'opted_out' WHERE id = ?", [people[1]["id"]])
    db.conn.commit()
    return db, people


def steps(db, name: str) -> list[tuple[int, str, int]]:
    return db.execute("SELECT cs.step, cs.template, cs.delay_days FROM campaign_steps cs JOIN campaigns c ON c.id = cs.campaign_id "
                      "WHERE c.name = ? ORDER BY step", [name]).fetchall()


def test_a_new_campaign_is_a_sequence_with_two_follow_ups_by_default(hermetic, monkeypatch):
    monkeypatch.setenv("OUTREACH_FROM", "Ada Obi <ada@example.com>")
    db, _people = setup(hermetic)
    created = run("campaign", "create", "spring", "--template", "hello", "--tag", "physicians")
    assert created.exit_code == 0, created.output
    assert "Sequence: hello, then followup-1 after 3 business days, then followup-2 after 7 business days" in created.output
    assert steps(db, "spring") == [(0, "hello", 0), (1, "followup-1", 3), (2, "followup-2", 7)]

    assert run("campaign", "create", "one", "--template", "hello", "--followup", "followup-2:5").exit_code == 0
    assert steps(db, "one") == [(0, "hello", 0), (1, "followup-2", 5)]
    assert run("campaign", "create", "none", "--template", "hello", "--no-followups").exit_code == 0
    assert steps(db, "none") == [(0, "hello", 0)]

    bad = run("campaign", "create", "bad", "--template", "hello", "--followup", "missing:3")
    assert bad.exit_code == 1 and bad.output.startswith("Error: no template 'missing'")
    many = run("campaign", "create", "many", "--template", "hello", *[f"--followup=followup-1:{n}" for n in range(1, 7)])
    assert many.exit_code == 1 and "at most 4" in many.output

    shown = run("campaign", "steps", "spring", "followup-1:4", "followup-2:10")
    assert shown.exit_code == 0 and "step 3: followup-2, 10 business day(s) after step 2" in shown.output
    assert steps(db, "spring")[1:] == [(1, "followup-1", 4), (2, "followup-2", 10)]
    assert run("campaign", "steps", "spring", "--no-followups").exit_code == 0
    assert steps(db, "spring") == [(0, "hello", 0)]
    show = json.loads(run("campaign", "show", "one", "--json").stdout)
    assert show["steps"] == [{"step": 1, "template": "hello", "delay_days": 0}, {"step": 2, "template": "followup-2", "delay_days": 5}]


def test_new_campaigns_leave_out_people_already_in_a_conversation(hermetic, monkeypatch):
    monkeypatch.setenv("OUTREACH_FROM", "Ada Obi <ada@example.com>")
    _db, people = setup(hermetic)
    created = run("campaign", "create", "spring", "--template", "hello", "--tag", "physicians")
    assert "2 contacts selected, 2 would be skipped" in created.output
    shown = run("campaign", "show", "spring").output
    assert f"{people[0]['email']}: already in a conversation (replied 2026-03-03); use --include-replied to write anyway" in shown
    assert f"{people[1]['email']}: status opted_out" in shown

    included = run("campaign", "create", "again", "--template", "hello", "--tag", "physicians", "--include-replied")
    assert "3 contacts selected, 1 would be skipped" in included.output  # never someone who opted out

    thanks = run("campaign", "create", "thanks", "--template", "thank-you", "--tag", "physicians", "--no-followups")
    assert "3 contacts selected" in thanks.output  # the template asks for it: include_replied: true


def test_follow_up_templates_are_steps_not_first_emails(hermetic, monkeypatch):
    monkeypatch.setenv("OUTREACH_FROM", "Ada Obi <ada@example.com>")
    setup(hermetic)
    checked = run("templates", "check", "followup-1", "--tag", "physicians")
    assert "Warning: followup-1 is a follow-up template" in checked.output
    assert "Warning" not in run("templates", "check", "hello", "--tag", "physicians").output
    created = run("campaign", "create", "oops", "--template", "followup-2", "--no-followups")
    assert created.exit_code == 0 and "Warning: 'followup-2' is a follow-up template" in created.output
