"""Follow-up drafts and sends on the real servers: crash-safe saving, drafts the user discarded
or sent with a new Message-ID, the poll right before sending, and the command-line surface."""

from __future__ import annotations

import asyncio
import json
from email.utils import make_msgid

import pytest
from click.testing import CliRunner

from outreach.cli import cli
from outreach.errors import MailServerError
from outreach.followups import drafts as drafts_module
from outreach.followups.drafts import draft_followups
from outreach.followups.reconcile import reconcile_drafts
from outreach.followups.send import send_followups
from tests.clocks import FakeClock
from tests.test_followups_flow import _delete, append, at, mailbox, row, sent_as, sequence, settings  # noqa: F401
from tests.test_replies import reply

DOC1 = "doc1@hospital1.example.org"


def test_a_crash_between_recording_and_saving_a_draft_is_finished_without_a_duplicate(sequence, imap_account, monkeypatch):
    db = sequence
    real = drafts_module.save_draft
    calls = []

    def broken(settings, raw, *, client=None):
        calls.append(1)
        if len(calls) == 2:
            raise MailServerError("connection dropped", host="127.0.0.1", port=1)
        return real(settings, raw, client=client)

    monkeypatch.setattr(drafts_module, "save_draft", broken)
    with pytest.raises(MailServerError):
        draft_followups(db, settings(), now=at(5), poll_first=False)
    assert len(mailbox(imap_account, "Drafts")) == 1
    unsaved = db.execute("SELECT count(*) FROM followup_drafts WHERE saved_at IS NULL").fetchone()[0]
    assert unsaved == 1

    report = draft_followups(db, settings(), now=at(5), poll_first=False)
    assert report.resumed == 1 and len(report.drafted) == 4  # the rest of the six
    assert len(mailbox(imap_account, "Drafts")) == 6
    assert draft_followups(db, settings(), now=at(5), poll_first=False).drafted == []
    assert len(mailbox(imap_account, "Drafts")) == 6


def test_a_draft_deleted_without_sending_stops_that_contact_and_a_new_message_id_in_sent_still_counts(sequence, imap_account):
    db = sequence
    draft_followups(db, settings(), now=at(5), poll_first=False)
    drafts = {m["To"].addresses[0].addr_spec: m for _f, m in mailbox(imap_account, "Drafts")}

    _delete(imap_account, "Drafts", drafts[DOC1]["Message-ID"])  # the user decided not to send it
    # doc2's mail program sent the draft under a Message-ID of its own: same reply, same person.
    sent = drafts["doc2@hospital2.example.org"]
    del sent["Message-ID"]
    sent["Message-ID"] = make_msgid(domain="mail.example.com")
    append(imap_account, sent.as_bytes(), "Sent")
    _delete(imap_account, "Drafts", drafts["doc2@hospital2.example.org"]["Message-ID"])

    result = reconcile_drafts(db, settings(), now=at(6))
    assert result.discarded == [DOC1] and result.sent == ["doc2@hospital2.example.org"]
    assert row(db, DOC1, 1)["state"] == "cancelled"
    assert row(db, "doc2@hospital2.example.org", 1)["state"] == "sent"
    assert row(db, "doc2@hospital2.example.org", 1)["message_id"] == sent["Message-ID"]  # replies will quote this one
    runner = CliRunner()
    listed = runner.invoke(cli, ["followups", "due", "--as-of", "2026-04-30", "--all"])
    assert f"not due  {DOC1}" in listed.output and "follow-up 1 cancelled" in listed.output
    assert reconcile_drafts(db, settings(), now=at(6)).lines() == []  # nothing left to follow


def test_a_draft_whose_contact_goes_away_leaves_drafts_and_comes_back_once_after_their_return(sequence, imap_account):
    db = sequence
    draft_followups(db, settings(), now=at(5), poll_first=False)
    held_id = row(db, DOC1, 1)["message_id"]
    assert len(mailbox(imap_account, "Drafts")) == 6
    append(imap_account, reply(sent_as(db, DOC1), "I am out of the office until March 16, 2026 with limited access to email.",
                               subject="Automatic reply: Observership", headers={"Auto-Submitted": "auto-replied"}, when=at(6)))

    report = draft_followups(db, settings(), now=at(6))  # polls first: the out-of-office holds doc1's draft
    assert report.refreshed.reconciled.held == [(DOC1, "2026-03-16")]
    assert f"draft to {DOC1} taken out of Drafts while they are away" in report.refreshed.reconciled.lines()[0]
    in_drafts = [m["Message-ID"] for _f, m in mailbox(imap_account, "Drafts")]
    assert len(in_drafts) == 5 and held_id not in in_drafts  # nobody sends it by mistake while they are away
    listed = CliRunner().invoke(cli, ["followups", "due", "--as-of", "2026-03-10", "--all"])
    assert "held out of Drafts while they are away" in listed.output

    assert draft_followups(db, settings(), now=at(12)).resumed == 0  # still away: stays out
    assert len(mailbox(imap_account, "Drafts")) == 5
    back = draft_followups(db, settings(), now=at(17))  # back: the same draft, not a new one
    assert back.resumed == 1 and back.drafted == []
    in_drafts = [m["Message-ID"] for _f, m in mailbox(imap_account, "Drafts")]
    assert len(in_drafts) == 6 and in_drafts.count(held_id) == 1
    assert row(db, DOC1, 1)["state"] == "drafted"
    again = draft_followups(db, settings(), now=at(18))
    assert again.resumed == 0 and len(mailbox(imap_account, "Drafts")) == 6  # never twice


def test_send_reads_new_mail_first_so_a_fresh_reply_stops_its_follow_up(sequence, smtp_server, imap_account):
    db = sequence
    append(imap_account, reply(sent_as(db, DOC1), "Dear Ada, yes - come on Monday.", when=at(5, 13)))
    smtp_server.handler.clear()
    report = asyncio.run(send_followups(db, settings(), clock=FakeClock(at(5)), live=True))
    assert report.refreshed.replies == 1
    assert report.to_json() == {"sent": 5, "failed": 0, "deferred": 0, "uncertain": 0, "skipped": 0, "remaining": 0}
    assert DOC1 not in {r.rcpt_tos[0] for r in smtp_server.received}
    assert db.execute("SELECT count(*) FROM messages WHERE kind = 'followup' AND state = 'sent' AND step = 1").fetchone()[0] == 5
    sent_folder = [m for _f, m in mailbox(imap_account, "Sent") if m["In-Reply-To"]]
    assert len(sent_folder) == 5  # copies in Sent, as for first emails


def test_the_command_line(sequence, smtp_server, imap_account):
    db = sequence
    runner = CliRunner()
    listed = runner.invoke(cli, ["followups", "due", "--as-of", "2026-03-05", "--json"])
    assert listed.exit_code == 0, listed.output
    items = json.loads(listed.stdout)
    assert [(i["email"], i["campaign"], i["step"]) for i in items][:1] == [(DOC1, "spring", 2)] and len(items) == 6
    assert runner.invoke(cli, ["followups", "due", "--as-of", "2026-03-04", "--json"]).stdout.strip() == "[]"
    assert runner.invoke(cli, ["followups", "due", "--campaign", "nope"]).exit_code == 1

    dry = runner.invoke(cli, ["followups", "send", "--as-of", "2026-03-05", "--json"])
    assert dry.exit_code == 0, dry.output
    assert json.loads(dry.stdout) == {"sent": 0, "failed": 0, "deferred": 0, "uncertain": 0, "skipped": 0, "remaining": 6}
    assert db.execute("SELECT count(*) FROM messages WHERE kind = 'followup'").fetchone()[0] == 0  # a dry run queues nothing

    drafted = runner.invoke(cli, ["followups", "draft", "--campaign", "spring", "--as-of", "2026-03-05"])
    assert drafted.exit_code == 0, drafted.output
    assert "6 follow-up(s) saved in Drafts" in drafted.output
    again = runner.invoke(cli, ["followups", "due", "--as-of", "2026-03-05"])
    assert "Nobody is due" in again.output and "6 follow-up 1 waiting in your Drafts folder" in again.output
