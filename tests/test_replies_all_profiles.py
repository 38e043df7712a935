"""`replies poll --all-profiles` on the real Dovecot: the plain account's mailbox (user A) and
profile work's (user B) read in turn into one database, one summary each (a JSON list with
--json), a profile without IMAP named and skipped, and each mailbox's follow-up drafts followed
with that account's own settings. Without the flag, `replies poll --json` is the one object."""

from __future__ import annotations

import json

from click.testing import CliRunner

from outreach.cli import cli
from tests.test_followups_flow import _delete, append, at, sent_as
from tests.test_followups_profiles import ALUMNI, PLAIN, drafts_to, state, two_accounts  # noqa: F401 (a fixture)
from tests.test_replies import reply


def test_every_accounts_mailbox_is_read_in_turn(two_accounts):
    db, runner = two_accounts.db, CliRunner()
    append(two_accounts.plain, reply(sent_as(db, PLAIN[0]), "Yes, please send your CV.", when=at(3)))
    append(two_accounts.work, reply(sent_as(db, ALUMNI[0]), "Happy to help - call me on Friday.", when=at(3)))
    append(two_accounts.work, reply(sent_as(db, ALUMNI[1]), "Sure, let us talk next week.", when=at(4)))

    one = runner.invoke(cli, ["replies", "poll", "--json"])  # the account in force only, exactly as before
    assert one.exit_code == 0, one.output
    assert json.loads(one.stdout) == {"fetched": 1, "matched": 1, "human_reply": 1, "auto_reply": 0, "bounce": 0, "unsubscribe": 0}

    every = runner.invoke(cli, ["replies", "poll", "--all-profiles", "--json"])
    assert every.exit_code == 0, every.output
    parts = json.loads(every.stdout)
    assert [(p["profile"], p["fetched"], p["matched"], p["human_reply"]) for p in parts] == [
        (None, 0, 0, 0), ("home", 0, 0, 0), ("work", 2, 2, 2)]  # the plain one was read just before
    assert parts[0]["mailbox"] == f"{two_accounts.plain.username} on 127.0.0.1:{two_accounts.plain.tls_port}"
    assert parts[1]["skipped"] == "no IMAP server set up for this account" and "error" not in parts[2]
    assert {e: db.execute("SELECT stage FROM contacts WHERE email = ?", [e]).fetchone()[0] for e in ALUMNI[:2]} == dict.fromkeys(ALUMNI[:2], "replied")

    again = runner.invoke(cli, ["replies", "poll", "--all-profiles"])
    assert again.exit_code == 0, again.output
    assert f"plain account: {two_accounts.plain.username} on " in again.stdout
    assert f"profile work: {two_accounts.work.username} on " in again.stdout
    assert again.stdout.count("No new mail since the last poll.") == 2
    assert "profile home: no IMAP set up: not read (no IMAP server set up for this account)" in again.stdout

    both = runner.invoke(cli, ["--profile", "work", "replies", "poll", "--all-profiles"])
    assert both.exit_code == 2 and "not both" in both.output


def test_each_mailbox_follows_its_own_follow_up_drafts(two_accounts):
    db, runner = two_accounts.db, CliRunner()
    assert runner.invoke(cli, ["followups", "draft", "--as-of", "2026-03-05"]).exit_code == 0
    work_drafts = drafts_to(two_accounts.work)
    _delete(two_accounts.work, "Drafts", work_drafts[ALUMNI[2]]["Message-ID"])  # the user decided not to send this one

    polled = runner.invoke(cli, ["replies", "poll", "--all-profiles"])
    assert polled.exit_code == 0, polled.output
    assert f"Follow-ups (profile work): draft to {ALUMNI[2]} is gone from Drafts and was not sent" in polled.stderr
    assert state(db, ALUMNI[2]) == "cancelled"
    assert {state(db, e) for e in PLAIN + ALUMNI[:2]} == {"drafted"}  # every other draft where it was
