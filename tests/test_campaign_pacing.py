"""Pacing rules that must agree between a running send and a later one, and per-campaign pacing."""

from __future__ import annotations

import json
from datetime import timedelta

from click.testing import CliRunner

from outreach.sending import campaigns
from outreach.sending import outbox, sender
from outreach.cli import cli
from outreach.db import parse_utc
from tests.clocks import FakeClock
from tests.campaign_fixtures import (
    START, add_contacts, db_open, limits, run_send, settings, started_campaign, states, write_template,
)
from tests.smtp_faults import for_address, replies


def outreach(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_a_hard_bounce_counts_toward_the_daily_cap_during_a_run_and_after_a_restart(mail_env, smtp_server, hermetic):
    write_template(hermetic)
    db = db_open()
    add_contacts(db, 4)
    smtp_server.handler.on_rcpt = for_address("doc1@hospital1.example.org", "550 5.1.1 User unknown")
    campaign = started_campaign(db)
    during = run_send(db, campaign, lim=limits(daily_cap=2))
    # doc1 refused (an attempt the provider counts) + doc2 sent = the cap of 2
    assert (during.sent, during.failed, during.waiting) == (1, 1, 2)
    assert during.next_send_at == START + timedelta(hours=24)
    after = run_send(db, campaign, clock=FakeClock(START + timedelta(minutes=5)), lim=limits(daily_cap=2))
    assert (after.sent, after.waiting) == (0, 2)
    assert after.next_send_at == START + timedelta(hours=24)
    assert outbox.pacing_history(db, campaign["account"], START + timedelta(minutes=5))[0].domain == "hospital1.example.org"


def test_a_message_refused_for_its_content_counts_too_but_a_4xx_does_not(mail_env, smtp_server, hermetic):
    write_template(hermetic)
    db = db_open()
    add_contacts(db, 3)
    script = {"doc1@hospital1.example.org": "552 5.3.4 Message too big", "doc2@hospital2.example.org": "451 4.3.0 Try again later"}
    smtp_server.handler.on_data = lambda envelope: script.get(envelope.rcpt_tos[0])
    campaign = started_campaign(db)
    run_send(db, campaign, lim=limits(gap=(0, 0)), limit=2)
    assert sorted(states(db, campaign).values()) == ["deferred", "failed", "queued"]
    history = outbox.pacing_history(db, campaign["account"], START + timedelta(hours=1))
    assert [r.domain for r in history] == ["hospital1.example.org"]  # the 552; the 451s count once it goes


def test_the_gap_follows_a_refused_attempt_too(mail_env, smtp_server, hermetic):
    write_template(hermetic)
    db = db_open()
    add_contacts(db, 3)
    script = replies("451 4.3.0 Temporarily rejected")
    smtp_server.handler.on_data = script
    clock = FakeClock(START)
    campaign = started_campaign(db)
    report = run_send(db, campaign, clock=clock, lim=limits(gap=(60, 60)))
    assert report.sent == 3
    sent = {to: parse_utc(at) for to, at in db.execute("SELECT to_address, sent_at FROM messages")}
    # doc1 was refused at START; doc2 waited the full gap after that transaction
    assert sent["doc2@hospital2.example.org"] == START + timedelta(seconds=60)
    times = sorted(sent.values())
    assert all((b - a).total_seconds() >= 60 for a, b in zip(times, times[1:]))


def test_next_send_time_is_stable_and_uses_the_minimum_gap(mail_env, smtp_server, hermetic):
    write_template(hermetic)
    db = db_open()
    add_contacts(db, 3)
    campaign = started_campaign(db)
    run_send(db, campaign, lim=limits(gap=(45, 120)), limit=1)
    campaign = campaigns.get_campaign(db, "spring")
    lim = limits(gap=(45, 120))
    answers = {sender.next_send_time(db, campaign, lim, START + timedelta(seconds=1)) for _ in range(5)}
    assert answers == {START + timedelta(seconds=45)}
    draft = campaigns.create_campaign(db, "autumn", template="hello", templates_dir=settings().templates_dir, tags=["physicians"])
    assert sender.next_send_time(db, draft, lim, START) is None  # drafts say "when the campaign starts"


def test_campaign_pacing_is_stored_and_used_by_send_unless_a_flag_overrides(mail_env, smtp_server, hermetic, monkeypatch):
    write_template(hermetic)
    db = db_open()
    add_contacts(db, 4)
    made = outreach("campaign", "create", "spring", "--template", "hello", "--tag", "physicians", "--gap", "0",
                    "--daily-cap", "2", "--domain-cap", "3", "--send-window", "Mon-Sun 00:00-23:59", "--timezone", "Europe/Berlin")
    assert made.exit_code == 0, made.stderr
    assert "Pacing: no gap, 2/day, no hourly cap, 3 per domain/day" in made.stdout
    campaign = campaigns.get_campaign(db, "spring")
    assert campaign["options"] == {"gap": "0", "daily_cap": 2, "domain_cap": 3}
    assert (campaign["send_window"], campaign["timezone"]) == ("Mon-Sun 00:00-23:59", "Europe/Berlin")

    lim = campaigns.campaign_limits(settings(), campaign)
    assert (lim.gap, lim.daily_cap, lim.hourly_cap, lim.default_timezone) == ((0, 0), 2, 0, "Europe/Berlin")
    assert campaigns.campaign_limits(settings(), campaign, daily_cap=3).daily_cap == 3  # a flag wins
    monkeypatch.setenv("OUTREACH_DAILY_CAP", "1")  # the account's own cap is stricter: it stays
    assert campaigns.campaign_limits(settings(), campaign).daily_cap == 1
    monkeypatch.setenv("OUTREACH_DAILY_CAP", "0")

    first = json.loads(outreach("campaign", "send", "spring", "--live", "--no-limit", "--json").stdout)
    assert (first["sent"], first["remaining"]) == (2, 2)
    more = json.loads(outreach("campaign", "send", "spring", "--live", "--daily-cap", "0", "--json").stdout)
    assert (more["sent"], more["remaining"]) == (2, 0)
    assert len(smtp_server.received) == 4


def test_a_bad_campaign_pacing_option_fails_at_create(mail_env, hermetic):
    write_template(hermetic)
    bad = outreach("campaign", "create", "spring", "--template", "hello", "--gap", "9-3")
    assert bad.exit_code == 1 and "gap" in bad.stderr
    window = outreach("campaign", "create", "spring", "--template", "hello", "--send-window", "someday")
    assert window.exit_code == 1
    assert outreach("campaign", "list", "--json").stdout.strip() == "[]"
