"""Replies keep the reason for their kind: stored with the reply, shown by `replies list --explain`,
organisation-wide opt-outs proposed (never applied) and messages a rule failed on counted."""

from __future__ import annotations

import json

from click.testing import CliRunner

from outreach.classify import classifier
from outreach.cli import cli
from tests.test_replies import append, db, reply, replies_rows, send  # noqa: F401  (db is a fixture)


def test_poll_stores_the_explanation_and_replies_list_shows_it(db, smtp_server, certs, imap_account):
    jane = send(db, smtp_server, certs, "jane.okafor@mercy.example.org")
    ravi = send(db, smtp_server, certs, "ravi.shah@mercy.example.org", first_name="Ravi")
    append(imap_account, reply(jane, "Thank you for writing. Unfortunately we do not offer observerships."))
    append(imap_account, reply(ravi, "Please do not email our physicians again.", sender="GME Office <gme@mercy.example.org>"))
    runner = CliRunner()
    polled = runner.invoke(cli, ["replies", "poll"], catch_exceptions=False)
    assert polled.exit_code == 0
    assert "outreach suppress add mercy.example.org" in polled.output

    rows = {r["from_address"]: r for r in replies_rows(db)}
    declined = rows["jane.okafor@mercy.example.org"]
    assert (declined["kind"], declined["suggested_outcome"], declined["rule"]) == ("human_reply", "declined", "human reply (declines)")
    opt_out = rows["gme@mercy.example.org"]
    assert (opt_out["kind"], opt_out["rule"], opt_out["suppress_domain"]) == ("unsubscribe", "opt-out negated-contact (en)", "mercy.example.org")
    assert opt_out["evidence"] == "Please do not email our physicians again."
    # Proposed, not applied: the domain is suppressed only when the user says so.
    assert db.execute("SELECT count(*) FROM suppressions WHERE value = 'mercy.example.org'").fetchone()[0] == 0

    listed = runner.invoke(cli, ["replies", "list", "--explain"], catch_exceptions=False).output
    assert "reply (declined)" in listed
    assert "    rule: opt-out negated-contact (en)\n    matched: Please do not email our physicians again." in listed
    assert "outreach suppress add mercy.example.org" in listed
    data = json.loads(runner.invoke(cli, ["replies", "list", "--json"], catch_exceptions=False).output)
    assert {r["suggested_outcome"] for r in data["replies"]} == {"declined", None}


def test_a_message_a_rule_fails_on_is_counted_in_the_poll_summary(db, smtp_server, certs, imap_account, monkeypatch):
    jane = send(db, smtp_server, certs, "jane.okafor@mercy.example.org")
    ravi = send(db, smtp_server, certs, "ravi.shah@mercy.example.org", first_name="Ravi")
    append(imap_account, reply(jane, "Yes, happy to help."))
    append(imap_account, reply(ravi, "TRIGGER a bug"))
    real = classifier.find_opt_out

    def sometimes_broken(text):
        if "TRIGGER" in text:
            raise KeyError("bug in a rule")
        return real(text)

    monkeypatch.setattr(classifier, "find_opt_out", sometimes_broken)
    result = CliRunner().invoke(cli, ["replies", "poll", "--json"], catch_exceptions=False)
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {"fetched": 2, "matched": 2, "human_reply": 1, "auto_reply": 0, "bounce": 0,
                                         "unsubscribe": 0, "unclassified": 1}
    assert "1 message could not be classified; see the log" in result.stderr


def test_the_migration_adds_nullable_explanation_columns(tmp_path):
    from outreach.db import open_db

    fresh = open_db(tmp_path / "fresh.db")
    columns = {c.name: c for c in fresh["replies"].columns}
    for name in ("rule", "evidence", "suggested_outcome", "suppress_domain"):
        assert columns[name].type == "TEXT" and not columns[name].notnull


def test_the_poll_summary_says_how_many_could_not_be_classified(db, smtp_server, certs, imap_account, monkeypatch):
    jane = send(db, smtp_server, certs, "jane.okafor@mercy.example.org")
    append(imap_account, reply(jane, "TRIGGER"))
    monkeypatch.setattr(classifier, "find_opt_out", lambda text: (_ for _ in ()).throw(KeyError("bug")) if "TRIGGER" in text else None)
    result = CliRunner().invoke(cli, ["replies", "poll"], catch_exceptions=False)
    assert "1 message could not be classified; see the log" in result.stdout
    assert [r["kind"] for r in replies_rows(db)] == ["other"]
