"""Campaigns as a user drives them: create, dry run, skip reasons, template errors, pause/resume,
a test message, Sent-folder copies and uncertain messages resolved from the real Dovecot."""

from __future__ import annotations

import json
from datetime import timedelta
from email import message_from_bytes
from email.policy import default
from pathlib import Path

from click.testing import CliRunner

from outreach.cli import cli
from outreach.config import load_settings
from outreach.contacts.store import add_suppression
from outreach.mail.imap_folders import append_to_sent, find_in_sent
from outreach.sending import campaigns
from outreach.sending.window import SendWindow
from tests.campaign_fixtures import (
    START,
    add_contacts,
    db_open,
    limits,
    received_ids,
    run_send,
    started_campaign,
    states,
    write_template,
)
from tests.clocks import FakeClock


def outreach(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_create_needs_an_existing_template_and_a_new_name(mail_env, hermetic):
    write_template(hermetic)
    missing = outreach("campaign", "create", "spring", "--template", "nope", "--tag", "physicians")
    assert missing.exit_code == 1 and "no template 'nope'" in missing.stderr
    assert outreach("campaign", "create", "spring", "--template", "hello").exit_code == 0
    again = outreach("campaign", "create", "spring", "--template", "hello")
    assert again.exit_code == 1 and "already exists" in again.stderr


def test_dry_run_writes_eml_files_and_changes_nothing(mail_env, smtp_server, hermetic):
    write_template(hermetic)
    db = db_open()
    add_contacts(db, 3)
    assert outreach("campaign", "create", "spring", "--template", "hello", "--tag", "physicians").exit_code == 0
    result = outreach("campaign", "send", "spring")
    assert result.exit_code == 0
    assert result.stdout.strip().endswith("Nothing was sent. Run again with --live to send.")
    files = sorted((hermetic / "outbox" / "spring").glob("*.eml"))
    assert [f.name for f in files] == [f"{n:04d}-doc{n}@hospital{n}.example.org.eml" for n in (1, 2, 3)]
    preview = message_from_bytes(files[0].read_bytes(), policy=default)
    assert preview["Subject"] == "Observership inquiry — Cardiology at Mercy 1"
    assert smtp_server.received == []
    assert campaigns.get_campaign(db, "spring")["status"] == "draft"
    assert db.execute("SELECT count(*) FROM messages").fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM campaign_contacts").fetchone()[0] == 0
    as_json = outreach("campaign", "send", "spring", "--json")
    assert json.loads(as_json.stdout) == {"sent": 0, "failed": 0, "deferred": 0, "uncertain": 0, "skipped": 0, "remaining": 3}


def test_live_json_summary_has_exactly_the_interface_keys(mail_env, smtp_server, hermetic):
    write_template(hermetic)
    add_contacts(db_open(), 3)
    outreach("campaign", "create", "spring", "--template", "hello", "--tag", "physicians")
    result = outreach("campaign", "send", "spring", "--live", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {"sent": 3, "failed": 0, "deferred": 0, "uncertain": 0, "skipped": 0, "remaining": 0}
    assert len(smtp_server.received) == 3


def test_the_first_live_run_sends_at_most_ten_unless_told(mail_env, smtp_server, hermetic):
    write_template(hermetic)
    add_contacts(db_open(), 12)
    outreach("campaign", "create", "spring", "--template", "hello", "--tag", "physicians")
    first = outreach("campaign", "send", "spring", "--live")
    assert "Sent 10" in first.stdout and "again" in first.stdout
    second = outreach("campaign", "send", "spring", "--live", "--json")
    assert json.loads(second.stdout)["sent"] == 2 and len(smtp_server.received) == 12


def test_suppressed_bounced_and_already_contacted_contacts_are_skipped_with_reasons(mail_env, smtp_server, hermetic):
    write_template(hermetic)
    db = db_open()
    add_contacts(db, 2, tag="first-wave")
    add_contacts(db, 5, start=1, tag="physicians", domain="clinic.example.com")
    add_suppression(db, "doc2@clinic.example.com", reason="asked not to be contacted")
    db.execute("UPDATE contacts SET status = 'opted_out' WHERE email = 'doc3@clinic.example.com'")
    db.execute("UPDATE contacts SET status = 'bounced' WHERE email = 'doc4@clinic.example.com'")
    db.conn.commit()
    run_send(db, started_campaign(db, "wave1", tag="first-wave"))
    # doc1@hospital1 got the template in wave1; tag it into this campaign's selection too
    db.execute("INSERT INTO contact_tags SELECT c.id, t.id FROM contacts c, tags t WHERE c.email = 'doc1@hospital1.example.org' AND t.name = 'physicians'")
    db.conn.commit()
    campaign = started_campaign(db, "wave2")
    reasons = {r["email"]: r["reason"] for r in campaigns.skipped_contacts(db, campaign["id"])}
    assert reasons == {
        "doc1@hospital1.example.org": "already sent template 'hello' in campaign 'wave1'",
        "doc2@clinic.example.com": "suppressed address (asked not to be contacted)",
        "doc3@clinic.example.com": "status opted_out",
        "doc4@clinic.example.com": "status bounced",
    }
    report = run_send(db, campaign)
    assert (report.sent, report.skipped) == (2, 4)
    assert {r.rcpt_tos[0] for r in smtp_server.received[2:]} == {"doc1@clinic.example.com", "doc5@clinic.example.com"}


def test_the_selection_is_frozen_when_the_campaign_starts(mail_env, smtp_server, hermetic):
    write_template(hermetic)
    db = db_open()
    add_contacts(db, 2)
    campaign = started_campaign(db)
    add_contacts(db, 2, start=3)  # imported later with the same tag
    assert run_send(db, campaign).sent == 2


def test_a_template_problem_for_any_contact_stops_before_the_first_email(mail_env, smtp_server, hermetic):
    write_template(hermetic, text="---\nsubject: Hello {{ hospital }}\n---\nDear {{ salutation }}, about {{ research_topic }}.\n")
    db = db_open()
    add_contacts(db, 2)
    add_contacts(db, 1, start=3, custom=json.dumps({"research_topic": "heart failure"}))
    outreach("campaign", "create", "spring", "--template", "hello", "--tag", "physicians")
    result = CliRunner().invoke(cli, ["campaign", "send", "spring", "--live"])
    assert result.exit_code == 1
    assert "nothing was sent" in result.stderr and "doc1@hospital1.example.org" in result.stderr and "doc2@" in result.stderr
    assert smtp_server.received == []
    assert db.execute("SELECT count(*) FROM messages").fetchone()[0] == 0
    assert campaigns.get_campaign(db, "spring")["status"] == "draft"


def test_pause_and_resume(mail_env, smtp_server, hermetic):
    write_template(hermetic)
    db = db_open()
    add_contacts(db, 4)
    outreach("campaign", "create", "spring", "--template", "hello", "--tag", "physicians")
    assert outreach("campaign", "send", "spring", "--live", "--limit", "1").exit_code == 0
    assert outreach("campaign", "pause", "spring", "--reason", "waiting for replies").exit_code == 0
    refused = CliRunner().invoke(cli, ["campaign", "send", "spring", "--live"])
    assert refused.exit_code == 1 and "paused (waiting for replies)" in refused.stderr
    shown = outreach("campaign", "show", "spring")
    assert "paused (waiting for replies)" in shown.stdout and "1 sent, 3 queued" in shown.stdout
    assert outreach("campaign", "resume", "spring").exit_code == 0
    assert json.loads(outreach("campaign", "send", "spring", "--live", "--json").stdout)["sent"] == 3
    assert len(set(received_ids(smtp_server))) == 4
    listed = json.loads(outreach("campaign", "list", "--json").stdout)
    assert listed[0]["status"] == "done" and listed[0]["counts"]["sent"] == 4


def test_test_to_sends_one_sample_to_yourself_and_contacts_nobody(mail_env, smtp_server, hermetic):
    write_template(hermetic)
    db = db_open()
    add_contacts(db, 3)
    outreach("campaign", "create", "spring", "--template", "hello", "--tag", "physicians")
    result = outreach("campaign", "send", "spring", "--test-to", "me@example.net")
    assert result.exit_code == 0, result.output
    [received] = smtp_server.received
    assert received.rcpt_tos == ["me@example.net"]
    assert received.message["Subject"].startswith("[TEST]")
    assert db.execute("SELECT kind, state FROM messages").fetchall() == [("test", "sent")]
    assert {s for (s,) in db.execute("SELECT stage FROM contacts")} == {"new"}
    assert campaigns.get_campaign(db, "spring")["status"] == "draft"


def test_sent_copies_are_appended_to_the_imap_sent_folder(mail_env, smtp_server, hermetic):
    write_template(hermetic)
    db = db_open()
    add_contacts(db, 2)
    report = run_send(db, started_campaign(db))  # provider "custom" doesn't file sent mail itself
    assert report.sent == 2 and not report.warnings
    ids = [mid for (mid,) in db.execute("SELECT message_id FROM messages WHERE sent_copy_saved = 1")]
    assert len(ids) == 2
    assert find_in_sent(load_settings(env_file=None), ids) == set(ids)


def test_uncertain_messages_are_resolved_from_the_sent_folder_never_resent(mail_env, smtp_server, hermetic, monkeypatch):
    monkeypatch.setenv("OUTREACH_PROVIDER", "gmail")  # Gmail files SMTP-sent mail in Sent itself
    write_template(hermetic)
    db = db_open()
    add_contacts(db, 4)
    campaign = started_campaign(db)
    settings = load_settings(env_file=None)
    # A crash left two messages mid-send: the server took doc1's (it is in Sent), not doc2's.
    rows = {r["to_address"]: r for r in db.query("SELECT * FROM messages")}
    db.execute("UPDATE messages SET state = 'sending', attempts = 1, sending_at = ? WHERE to_address IN (?, ?)",
               [START.isoformat(), "doc1@hospital1.example.org", "doc2@hospital2.example.org"])
    db.conn.commit()
    append_to_sent(settings, Path(rows["doc1@hospital1.example.org"]["eml_path"]).read_bytes())

    report = run_send(db, campaign)
    assert report.sent == 2 and report.uncertain == 1
    assert states(db, campaign) == {"doc1@hospital1.example.org": "sent", "doc2@hospital2.example.org": "uncertain",
                                    "doc3@hospital3.example.org": "sent", "doc4@hospital4.example.org": "sent"}
    assert {r.rcpt_tos[0] for r in smtp_server.received} == {"doc3@hospital3.example.org", "doc4@hospital4.example.org"}
    shown = outreach("campaign", "show", "spring")
    assert "uncertain: doc2@hospital2.example.org" in shown.stdout
    # The user checked: it never went. --resend-uncertain sends it, once.
    result = outreach("campaign", "send", "spring", "--live", "--resend-uncertain", "--json")
    assert json.loads(result.stdout)["sent"] == 1 and len(smtp_server.received) == 3


def test_mark_uncertain_sent_records_them_without_sending(mail_env, smtp_server, hermetic):
    write_template(hermetic)
    db = db_open()
    add_contacts(db, 2)
    started_campaign(db)
    db.execute("UPDATE messages SET state = 'sending' WHERE to_address = 'doc1@hospital1.example.org'")
    db.conn.commit()
    first = json.loads(outreach("campaign", "send", "spring", "--live", "--json").stdout)
    assert (first["sent"], first["uncertain"]) == (1, 1)
    second = json.loads(outreach("campaign", "send", "spring", "--live", "--mark-uncertain-sent", "--json").stdout)
    assert (second["sent"], second["uncertain"], second["remaining"]) == (0, 0, 0)
    assert len(smtp_server.received) == 1
    assert campaigns.get_campaign(db, "spring")["status"] == "done"


# --- pacing with an injected clock: no real sleeping ---------------------------------------------


def test_the_daily_cap_counts_every_campaign_of_the_account(mail_env, smtp_server, hermetic):
    write_template(hermetic)
    db = db_open()
    add_contacts(db, 2, tag="a")
    add_contacts(db, 5, start=3, tag="b")
    run_send(db, started_campaign(db, "first", tag="a"))
    clock = FakeClock(START + timedelta(hours=1))
    report = run_send(db, started_campaign(db, "second", tag="b"), clock=clock, lim=limits(daily_cap=4))
    assert (report.sent, report.remaining, report.waiting) == (2, 3, 3)
    # the next slot opens when the oldest of the four sends leaves the rolling 24 hours
    assert report.next_send_at == START + timedelta(hours=24)
    later = run_send(db, campaigns.get_campaign(db, "second"), clock=FakeClock(START + timedelta(hours=25, minutes=1)),
                     lim=limits(daily_cap=4))
    assert later.sent == 3


def test_the_gap_is_waited_on_the_injected_clock(mail_env, smtp_server, hermetic):
    write_template(hermetic)
    db = db_open()
    add_contacts(db, 4)
    clock = FakeClock(START)
    report = run_send(db, started_campaign(db), clock=clock, lim=limits(gap=(45, 120)))
    assert report.sent == 4
    sent = [campaigns.parse_utc(t) for (t,) in db.execute("SELECT sent_at FROM messages ORDER BY sent_at")]
    gaps = [(b - a).total_seconds() for a, b in zip(sent, sent[1:])]
    assert all(44 <= g <= 121 for g in gaps), gaps


def test_hourly_and_domain_caps_hold_together(mail_env, smtp_server, hermetic):
    write_template(hermetic)
    db = db_open()
    add_contacts(db, 4, domain="mercy.example.org")
    add_contacts(db, 2, start=5)
    clock = FakeClock(START)
    report = run_send(db, started_campaign(db), clock=clock, lim=limits(hourly_cap=3, domain_cap=2))
    domains = [r.rcpt_tos[0].split("@")[1] for r in smtp_server.received]
    assert domains.count("mercy.example.org") == 2 and report.sent == 4 and report.remaining == 2
    assert clock.now() - START >= timedelta(hours=1)  # the 4th waited out the hourly cap


def test_send_window_uses_the_recipients_local_time(mail_env, smtp_server, hermetic):
    write_template(hermetic)
    db = db_open()
    add_contacts(db, 1, state="OH")  # 09:00 in Ohio at START
    add_contacts(db, 1, start=2, state="CA")  # 06:00 in California: window opens in 2 h
    campaign = started_campaign(db)
    report = run_send(db, campaign, lim=limits(window=SendWindow.parse("Mon-Fri 08:00-17:00")))
    assert [r.rcpt_tos[0] for r in smtp_server.received] == ["doc1@hospital1.example.org"]
    assert report.next_send_at == START + timedelta(hours=2)  # 08:00 Pacific = 16:00 UTC


def test_where_selects_by_field_and_a_malformed_where_is_a_usage_error(mail_env, hermetic):
    write_template(hermetic)
    db = db_open()
    add_contacts(db, 2)
    add_contacts(db, 1, start=3, state="NY")
    created = outreach("campaign", "create", "spring", "--template", "hello", "--where", "state=ny")
    assert created.exit_code == 0 and "1 contact selected" in created.stdout
    bad = outreach("campaign", "create", "autumn", "--template", "hello", "--where", "state")
    assert bad.exit_code == 2 and "'state' is not FIELD=VALUE" in bad.stderr
