"""Server trouble, injected into the real SMTP fixture, handled as a careful person would."""

from __future__ import annotations

from datetime import timedelta

import pytest
from click.testing import CliRunner

from outreach.sending import campaigns
from outreach.mail.smtp import SmtpLoginError
from outreach.sending import run
from outreach.cli import cli
from outreach.contacts.store import suppression_reason
from tests.clocks import FakeClock
from tests.campaign_fixtures import (
    START, add_contacts, db_open, limits, received_ids, run_send, started_campaign, states, write_template,
)
from tests.smtp_faults import after_accepting, count_connections, drop_during_data, for_address, for_addresses, replies


@pytest.fixture
def five(mail_env, smtp_server, hermetic):
    write_template(hermetic)
    db = db_open()
    add_contacts(db, 5)
    return db, started_campaign(db)


def test_one_connection_is_reused_for_every_message(five, smtp_server, monkeypatch):
    db, campaign = five
    connections = count_connections(smtp_server, monkeypatch)
    assert run_send(db, campaign).sent == 5
    assert connections.ehlo == 1


def test_421_then_success_retries_after_a_backoff_on_a_new_connection(five, smtp_server, monkeypatch):
    db, campaign = five
    connections = count_connections(smtp_server, monkeypatch)
    smtp_server.handler.on_rcpt = replies("421 4.7.0 Try again later, closing connection")
    clock = FakeClock(START)
    report = run_send(db, campaign, clock=clock)

    assert report.to_json()["sent"] == 5 and report.deferred == 0
    assert len(smtp_server.received) == 5 == len(set(received_ids(smtp_server)))
    first = db.execute("SELECT attempts, state, smtp_code FROM messages WHERE to_address = 'doc1@hospital1.example.org'").fetchone()
    assert first == (2, "sent", 250)
    assert clock.now() - START >= timedelta(seconds=run.BACKOFF_BASE)  # waited, on the injected clock
    assert connections.ehlo == 2  # 421 closes the connection; we reconnected once


def test_450_and_451_back_off_exponentially_then_send(five, smtp_server):
    db, campaign = five
    script = replies("451 4.3.0 Mail server temporarily rejected message", "450 4.2.1 Mailbox busy")
    smtp_server.handler.on_data = lambda env: script(env) if env.rcpt_tos == ["doc1@hospital1.example.org"] else None
    clock = FakeClock(START)
    report = run_send(db, campaign, clock=clock)
    assert report.sent == 5 and report.failed == 0
    assert db.execute("SELECT max(attempts) FROM messages").fetchone()[0] == 3
    assert clock.now() - START >= timedelta(seconds=60 + 120)
    events = [k for (k,) in db.execute("SELECT kind FROM events WHERE kind = 'deferred'").fetchall()]
    assert len(events) == 2


def test_a_long_backoff_is_left_for_the_next_run(five, smtp_server, monkeypatch):
    db, campaign = five
    monkeypatch.setattr(run, "SAME_RUN_RETRY", 30.0)
    smtp_server.handler.on_rcpt = for_address("doc3@hospital3.example.org", "452 4.2.2 Mailbox full")
    report = run_send(db, campaign)
    assert (report.sent, report.deferred, report.remaining) == (4, 1, 1)
    smtp_server.handler.on_rcpt = None
    later = run_send(db, campaign, clock=FakeClock(START + timedelta(minutes=5)))
    assert later.sent == 1 and campaigns.get_campaign(db, "spring")["status"] == "done"


def test_550_on_one_recipient_fails_it_suppresses_it_and_sends_the_rest(five, smtp_server):
    db, campaign = five
    smtp_server.handler.on_rcpt = for_address("doc2@hospital2.example.org", "550 5.1.1 User unknown")
    report = run_send(db, campaign)
    assert (report.sent, report.failed) == (4, 1)
    assert states(db, campaign)["doc2@hospital2.example.org"] == "failed"
    assert suppression_reason(db, "doc2@hospital2.example.org")
    assert db.execute("SELECT status FROM contacts WHERE email = 'doc2@hospital2.example.org'").fetchone()[0] == "bounced"
    assert "doc2@hospital2.example.org" not in {r.rcpt_tos[0] for r in smtp_server.received}


def test_cli_exits_3_when_the_run_left_failures(five, smtp_server):
    smtp_server.handler.on_rcpt = for_address("doc2@hospital2.example.org", "550 5.1.1 User unknown")
    result = CliRunner().invoke(cli, ["campaign", "send", "spring", "--live", "--no-limit", "--json"])
    assert result.exit_code == 3, result.output
    assert result.stdout.strip() == '{"sent": 4, "failed": 1, "deferred": 0, "uncertain": 0, "skipped": 0, "remaining": 0}'


def test_quota_error_stops_the_whole_account_until_the_window_passes(five, smtp_server):
    db, campaign = five
    smtp_server.handler.on_data = after_accepting(2, "550 5.4.5 Daily user sending quota exceeded.")
    report = run_send(db, campaign)
    assert report.sent == 2 and isinstance(report.error, run.AccountPaused)
    assert "paused until" in str(report.error)
    assert sorted(states(db, campaign).values()) == ["queued"] * 3 + ["sent"] * 2  # not failed, not suppressed
    assert not suppression_reason(db, "doc3@hospital3.example.org")

    smtp_server.handler.on_data = None
    with pytest.raises(run.AccountPaused, match="paused until"):
        run_send(db, campaign, clock=FakeClock(START + timedelta(hours=23)))
    later = run_send(db, campaign, clock=FakeClock(START + timedelta(hours=24, minutes=1)))
    assert later.sent == 3


def test_wrong_password_stops_at_once_with_one_line_and_sends_nothing(five, smtp_server, monkeypatch):
    monkeypatch.setenv("OUTREACH_SMTP_PASSWORD", "not-the-password")
    result = CliRunner().invoke(cli, ["campaign", "send", "spring", "--live", "--no-limit"])
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "login refused" in errors[0] and "not-the-password" not in result.output
    db, campaign = five
    assert set(states(db, campaign).values()) == {"queued"}
    assert db.execute("SELECT max(attempts) FROM messages").fetchone()[0] == 0
    assert smtp_server.received == []


def test_an_untrusted_certificate_stops_at_once(five, smtp_server, monkeypatch, tmp_path):
    import trustme

    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    monkeypatch.setenv("OUTREACH_CA_FILE", str(other))
    result = CliRunner().invoke(cli, ["campaign", "send", "spring", "--live"])
    assert result.exit_code == 1 and "secure connection failed" in result.stderr
    assert smtp_server.received == []


def test_connection_dropped_mid_data_marks_that_message_uncertain_and_carries_on(five, smtp_server, monkeypatch):
    db, campaign = five
    connections = count_connections(smtp_server, monkeypatch)
    dropped = drop_during_data(smtp_server, monkeypatch)
    report = run_send(db, campaign)
    assert (report.sent, report.uncertain) == (4, 1)
    [row] = report.uncertain_messages
    assert [row["message_id"]] == dropped
    assert connections.ehlo == 2  # reconnected after the drop
    assert dropped[0] not in received_ids(smtp_server)

    # Never resent on its own...
    assert run_send(db, campaign).sent == 0
    # ...until the user says it did not go out.
    result = CliRunner().invoke(cli, ["campaign", "resolve", "spring", "--resend"])
    assert result.exit_code == 0, result.output
    assert run_send(db, campaign).sent == 1
    assert received_ids(smtp_server).count(dropped[0]) == 1


def test_five_hard_bounces_in_a_row_pause_the_campaign(mail_env, smtp_server, hermetic):
    write_template(hermetic)
    db = db_open()
    add_contacts(db, 8)
    campaign = started_campaign(db)
    smtp_server.handler.on_rcpt = for_addresses([f"doc{n}@hospital{n}.example.org" for n in range(1, 6)], "550 5.1.1 no such user")
    report = run_send(db, campaign)
    assert report.failed == 5 and report.sent == 0
    paused = campaigns.get_campaign(db, "spring")
    assert paused["status"] == "paused" and "5 hard bounces in a row" in paused["status_reason"]
    with pytest.raises(Exception, match="is paused"):
        run_send(db, campaign)
    result = CliRunner().invoke(cli, ["campaign", "resume", "spring"])
    assert result.exit_code == 0
    smtp_server.handler.on_rcpt = None
    assert run_send(db, campaign).sent == 3


def test_cli_refuses_early_while_the_account_is_quota_paused(five, smtp_server):
    db, campaign = five
    smtp_server.handler.on_data = after_accepting(1, "554 5.2.0 STOREDRV.Submission.Exception: daily sending limit")
    result = CliRunner().invoke(cli, ["campaign", "send", "spring", "--live", "--no-limit"])
    assert result.exit_code == 1 and "daily sending quota" in result.stderr
    smtp_server.handler.on_data = None
    again = CliRunner().invoke(cli, ["campaign", "send", "spring", "--live", "--no-limit"])
    assert again.exit_code == 1 and "paused until" in again.stderr
    assert len(smtp_server.received) == 1


def test_a_password_is_never_sent_unencrypted_to_another_machine(five, smtp_server, monkeypatch):
    monkeypatch.setenv("OUTREACH_SMTP_SECURITY", "none")
    monkeypatch.setenv("OUTREACH_SMTP_HOST", "192.0.2.10")  # TEST-NET: never reached, refused before connecting
    result = CliRunner().invoke(cli, ["campaign", "send", "spring", "--live"])
    assert result.exit_code == 1 and "unencrypted" in result.stderr
    db, campaign = five
    assert set(states(db, campaign).values()) == {"queued"}


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")  # it is TLS: implicit, which aiosmtpd can't see
def test_implicit_tls_servers_work_too(mail_env, hermetic, certs, monkeypatch):
    """Port-465 style: TLS from the first byte (OUTREACH_SMTP_SECURITY=tls)."""
    from aiosmtpd.controller import Controller

    from tests.mailservers import PASSWORD, RecordingHandler, _Authenticator, free_port

    handler = RecordingHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, ssl_context=certs.server_context(),
                            authenticator=_Authenticator(PASSWORD), auth_required=True, auth_require_tls=False, ready_timeout=10)
    controller.start()
    try:
        monkeypatch.setenv("OUTREACH_SMTP_PORT", str(port))
        monkeypatch.setenv("OUTREACH_SMTP_SECURITY", "tls")
        write_template(hermetic)
        db = db_open()
        add_contacts(db, 2)
        assert run_send(db, started_campaign(db)).sent == 2
        assert len(handler.received) == 2
    finally:
        controller.stop()


def test_a_message_refused_with_4xx_every_time_fails_after_the_last_try(five, smtp_server, monkeypatch):
    db, campaign = five
    monkeypatch.setattr(run, "BACKOFF_BASE", 1.0)  # every retry falls inside this run
    smtp_server.handler.on_rcpt = for_address("doc1@hospital1.example.org", "451 4.7.1 Greylisted, try again")
    report = run_send(db, campaign)
    assert (report.sent, report.failed) == (4, 1)
    attempts, error = db.execute("SELECT attempts, error FROM messages WHERE to_address = 'doc1@hospital1.example.org'").fetchone()
    assert attempts == run.MAX_ATTEMPTS and error.startswith("gave up after 6 tries: 451")
    assert not suppression_reason(db, "doc1@hospital1.example.org")  # temporary trouble is not a bounce


def test_a_wrong_password_is_found_before_any_pacing_wait(five, smtp_server, monkeypatch):
    db, campaign = five
    run_send(db, campaign, limit=1)
    monkeypatch.setenv("OUTREACH_SMTP_PASSWORD", "not-the-password")
    clock = FakeClock(START + timedelta(minutes=1))
    report = run_send(db, campaign, clock=clock, lim=limits(hourly_cap=1))  # the next slot is an hour away
    assert isinstance(report.error, SmtpLoginError) and clock.sleeps == []
