"""The contact as it is right before each send decides, not the selection frozen earlier:
away contacts are held until they are back; suppressed, bounced, opted-out or replied ones are
never written to."""

from __future__ import annotations

import json
from datetime import timedelta

from click.testing import CliRunner

from outreach.cli import cli
from outreach.contacts.store import add_suppression
from outreach.db import parse_utc
from outreach.sending import campaigns
from tests.campaign_fixtures import START, add_contacts, db_open, limits, run_send, started_campaign, states, write_template
from tests.clocks import FakeClock


def outreach(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def set_contact(db, email: str, **changes) -> None:
    db.table("contacts").update(db.execute("SELECT id FROM contacts WHERE email = ?", [email]).fetchone()[0], changes)
    db.conn.commit()


def test_an_away_contact_is_held_until_their_return_day_then_sent(mail_env, smtp_server, hermetic):
    write_template(hermetic)
    db = db_open()
    add_contacts(db, 3)  # all in Ohio
    campaign = started_campaign(db)
    set_contact(db, "doc2@hospital2.example.org", status="away", away_until="2026-03-09")
    report = run_send(db, campaign)
    assert (report.sent, report.waiting, report.remaining) == (2, 1, 1)
    back = parse_utc("2026-03-09T04:00:00+00:00")  # midnight in Ohio (EDT since 8 March) on the return day
    assert report.next_send_at == back
    row = db.execute("SELECT state, next_attempt_at, attempts FROM messages WHERE to_address = 'doc2@hospital2.example.org'").fetchone()
    assert (row[0], parse_utc(row[1]), row[2]) == ("queued", back, 0)
    assert campaigns.get_campaign(db, "spring")["status"] == "active"

    again = run_send(db, campaign, clock=FakeClock(START + timedelta(days=1)))  # still away: nothing, no wait
    assert (again.sent, again.waiting) == (0, 1)
    later = run_send(db, campaign, clock=FakeClock(back + timedelta(hours=9)))
    assert later.sent == 1 and len(smtp_server.received) == 3
    assert campaigns.get_campaign(db, "spring")["status"] == "done"


def test_contacts_who_changed_after_the_freeze_are_not_sent_and_shown_as_skipped(mail_env, smtp_server, hermetic):
    write_template(hermetic)
    db = db_open()
    add_contacts(db, 5)
    campaign = started_campaign(db)
    add_suppression(db, "doc1@hospital1.example.org", reason="asked by phone")
    add_suppression(db, "hospital2.example.org", reason="whole hospital said no")
    set_contact(db, "doc3@hospital3.example.org", status="opted_out")
    set_contact(db, "doc4@hospital4.example.org", stage="replied", replied_at="2099-01-01T00:00:00+00:00")
    db.conn.commit()
    outcome = json.loads(outreach("campaign", "send", "spring", "--live", "--json").stdout)
    assert outcome == {"sent": 1, "failed": 0, "deferred": 0, "uncertain": 0, "skipped": 4, "remaining": 0}
    assert [r.rcpt_tos[0] for r in smtp_server.received] == ["doc5@hospital5.example.org"]
    assert sorted(states(db, campaign).values()) == ["cancelled"] * 4 + ["sent"]
    reasons = {s["email"]: s["reason"] for s in campaigns.skipped_contacts(db, campaign["id"])}
    assert reasons["doc1@hospital1.example.org"].startswith("suppressed address (asked by phone)")
    assert "domain hospital2.example.org" in reasons["doc2@hospital2.example.org"]
    assert reasons["doc3@hospital3.example.org"] == "status opted_out (not sent)"
    assert reasons["doc4@hospital4.example.org"] == "replied after the campaign started (not sent)"
    assert campaigns.get_campaign(db, "spring")["status"] == "done"


def test_a_contact_suppressed_during_the_gap_wait_is_not_sent(mail_env, smtp_server, hermetic):
    write_template(hermetic)
    db = db_open()
    add_contacts(db, 2)
    campaign = started_campaign(db)

    def progress(info):  # the moment the run starts waiting for doc2, they opt out
        if info["to"] == "doc2@hospital2.example.org":
            add_suppression(db, "doc2@hospital2.example.org", reason="unsubscribed", source="unsubscribe")
            db.conn.commit()

    report = run_send(db, campaign, lim=limits(gap=(60, 60)), progress=progress)
    assert report.sent == 1 and [r.rcpt_tos[0] for r in smtp_server.received] == ["doc1@hospital1.example.org"]
    assert states(db, campaign)["doc2@hospital2.example.org"] == "cancelled"


def test_back_to_back_a_contact_suppressed_while_the_message_before_theirs_goes_is_not_sent(mail_env, smtp_server, hermetic):
    write_template(hermetic)
    db = db_open()
    add_contacts(db, 3)
    campaign = started_campaign(db)

    def progress(info):  # doc2's turn: doc3's checks are read while doc2's DATA is on the wire, after this
        if info["to"] == "doc2@hospital2.example.org":
            add_suppression(db, "doc3@hospital3.example.org", reason="unsubscribed", source="unsubscribe")
            db.conn.commit()

    report = run_send(db, campaign, lim=limits(gap=(0, 0)), progress=progress)
    assert report.sent == 2
    assert [r.rcpt_tos[0] for r in smtp_server.received] == ["doc1@hospital1.example.org", "doc2@hospital2.example.org"]
    assert states(db, campaign)["doc3@hospital3.example.org"] == "cancelled"


def test_show_lists_away_contacts_as_waiting_with_their_return_date(mail_env, smtp_server, hermetic):
    from datetime import date

    write_template(hermetic)
    db = db_open()
    add_contacts(db, 2)
    back = date.today() + timedelta(days=10)
    set_contact(db, "doc2@hospital2.example.org", status="away", away_until=back.isoformat())
    assert outreach("campaign", "create", "spring", "--template", "hello", "--tag", "physicians").exit_code == 0
    live = outreach("campaign", "send", "spring", "--live").stdout
    assert "Sent 1, failed 0; 1 still to send" in live
    assert "1 message(s) wait until the contact is back from away (see `outreach campaign show spring`)." in live
    assert "wait for the sending limits" not in live and "First live run" not in live
    shown = outreach("campaign", "show", "spring").stdout
    assert "  waiting:   1 (held until the contact is back)" in shown
    assert f"    doc2@hospital2.example.org: away until {back:%a %d %b %Y}" in shown
    assert "  next send: not before " in shown and f"{back:%d %b}" in shown
