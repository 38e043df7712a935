"""What campaign commands print, read as a first-time user would."""

from __future__ import annotations

from click.testing import CliRunner

from outreach.cli import cli
from outreach.contacts.store import add_suppression
from tests.campaign_fixtures import add_contacts, db_open, write_template


def outreach(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_a_dry_run_with_nobody_skipped_says_so_without_a_dangling_list(mail_env, hermetic):
    write_template(hermetic)
    add_contacts(db_open(), 2)
    outreach("campaign", "create", "spring", "--template", "hello", "--tag", "physicians")
    out = outreach("campaign", "send", "spring").stdout
    assert "would be skipped" not in out and "  No selected contact is skipped.\n" in out
    assert "The first live run would send 2 of them" in out and "paced: no gap" in out


def test_a_dry_run_lists_who_is_skipped_and_why(mail_env, hermetic):
    write_template(hermetic)
    db = db_open()
    add_contacts(db, 2)
    add_suppression(db, "doc2@hospital2.example.org", reason="asked not to")
    db.conn.commit()
    outreach("campaign", "create", "spring", "--template", "hello", "--tag", "physicians")
    out = outreach("campaign", "send", "spring").stdout
    assert "  1 contact would be skipped:\n    doc2@hospital2.example.org: suppressed address (asked not to)\n" in out


def test_everyone_already_in_another_campaign_is_explained_not_reported_as_no_match(mail_env, smtp_server, hermetic):
    write_template(hermetic)
    add_contacts(db_open(), 1)
    outreach("campaign", "create", "spring", "--template", "hello", "--tag", "physicians")
    outreach("campaign", "send", "spring", "--live", "--limit", "1")
    outreach("campaign", "create", "again", "--template", "hello", "--tag", "physicians")
    out = outreach("campaign", "send", "again").stdout
    assert "doc1@hospital1.example.org: already sent template 'hello' in campaign 'spring'" in out
    assert "Every selected contact is skipped, so there is nothing to send." in out


def test_show_for_a_draft_says_when_it_will_send(mail_env, hermetic):
    write_template(hermetic)
    add_contacts(db_open(), 3)
    outreach("campaign", "create", "spring", "--template", "hello", "--tag", "physicians", "--daily-cap", "5")
    out = outreach("campaign", "show", "spring").stdout
    assert "  not started yet: 3 contacts would be written to\n" in out
    assert "  pacing:    no gap, 5/day, no hourly cap, no domain cap\n" in out
    assert "  skipped:   none\n" in out
    assert "  next send: when the campaign starts (the first `outreach campaign send spring --live`)\n" in out


def test_an_empty_selection_is_pointed_out_at_create(mail_env, hermetic):
    write_template(hermetic)
    out = outreach("campaign", "create", "spring", "--template", "hello", "--tag", "nobody").stdout
    assert "0 contacts selected" in out and "No contact matches the selection yet" in out


def test_list_resume_and_resolve_say_plainly_when_there_is_nothing_yet(mail_env, hermetic):
    write_template(hermetic)
    add_contacts(db_open(), 1)
    outreach("campaign", "create", "spring", "--template", "hello", "--tag", "physicians")
    assert outreach("campaign", "list").stdout.rstrip().endswith("not started")
    outreach("campaign", "pause", "spring")
    assert outreach("campaign", "resume", "spring").stdout == (
        "Resumed spring (not started yet). Next: outreach campaign send spring   (a dry run first)\n")
    assert outreach("campaign", "resolve", "spring", "--sent").stdout == (
        "Campaign spring has no uncertain messages: nothing changed.\n")
