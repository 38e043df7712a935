"""Fault injection on the reply side (issue 10, items 5, 6 and 11): mail that names one of our
messages but is not about its contact must change nobody's state. Everything runs through the
real SMTP fixture and the real Dovecot; nothing is mocked."""

from __future__ import annotations

import json
from datetime import timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

import pytest
from click.testing import CliRunner

from outreach.cli import cli
from outreach.db import open_db
from outreach.replies.poll import poll
from outreach.replies.store import MAX_STORED_TEXT
from tests.mailservers import SMTP_USER
from tests.test_replies import NOW, SENT_AT, Sent, append, contact, dsn, queue_followup, reply, replies_rows, send, settings

JANE = "jane.okafor@mercy-hospital.org"


@pytest.fixture
def db(mail_env):
    return open_db("outreach.db")


def suppressed(db, address: str) -> bool:
    return db.execute("SELECT 1 FROM suppressions WHERE lower(value) = lower(?)", [address]).fetchone() is not None


def untouched(db, sent: Sent) -> None:
    """Jane is exactly as the send left her: not replied, not away, not opted out, not suppressed."""
    jane = contact(db, sent.to)
    assert (jane["status"], jane["stage"], jane["replied_at"], jane["away_until"]) == ("active", "contacted", None, None)
    assert not suppressed(db, sent.to)
    assert db.execute("SELECT state FROM messages WHERE id = ?", [sent.row_id]).fetchone()[0] == "sent"


# --- 5. Forged threading ---------------------------------------------------------------------------


def test_a_stranger_asking_to_stop_in_a_contacts_thread_does_not_opt_the_contact_out(db, smtp_server, certs, imap_account):
    sent = send(db, smtp_server, certs, JANE)
    follow_up = queue_followup(db, sent)
    append(imap_account, reply(sent, "Please remove me from your mailing list.", sender="Mallory <mallory@evil.example.net>"))

    result = poll(db, settings(), now=NOW)

    untouched(db, sent)
    assert db.execute("SELECT state FROM messages WHERE id = ?", [follow_up]).fetchone()[0] == "queued"
    assert result.to_json() == {"fetched": 1, "matched": 0, "human_reply": 0, "auto_reply": 0, "bounce": 0, "unsubscribe": 0}
    [row] = replies_rows(db)
    assert (row["message_id"], row["contact_id"], row["claimed_message_id"], row["kind"]) == (None, None, sent.row_id, "unsubscribe")
    assert "mallory@evil.example.net" in row["unmatched_reason"] and JANE in row["unmatched_reason"]
    assert suppressed(db, "mallory@evil.example.net")  # her own request, about her own address
    assert any("kept as an unmatched reply" in note for note in result.notes)


def test_a_stranger_answering_a_forwarded_letter_is_suggested_not_counted_as_the_contacts_reply(db, smtp_server, certs, imap_account):
    sent = send(db, smtp_server, certs, JANE)
    follow_up = queue_followup(db, sent)
    append(imap_account, reply(sent, "Jane forwarded me your note. I run the observership program; send me your CV.",
                               sender="Dr. Sam Reyes <sam.reyes@partners-clinic.example.net>"))

    poll(db, settings(), now=NOW)

    untouched(db, sent)
    assert db.execute("SELECT state FROM messages WHERE id = ?", [follow_up]).fetchone()[0] == "queued"
    [suggestion] = list(db.query("SELECT email, name, referred_by FROM suggested_contacts"))
    assert suggestion == {"email": "sam.reyes@partners-clinic.example.net", "name": "Dr. Sam Reyes", "referred_by": sent.contact_id}


def test_a_strangers_out_of_office_does_not_mark_the_contact_away_or_hold_follow_ups(db, smtp_server, certs, imap_account):
    sent = send(db, smtp_server, certs, JANE)
    follow_up = queue_followup(db, sent)
    away = reply(sent, "I am out of the office until March 20, 2026 with limited access to email.",
                 sender="someone@elsewhere.example.net", subject="Automatic reply: Observership inquiry",
                 headers={"Auto-Submitted": "auto-replied"})
    append(imap_account, away)

    poll(db, settings(), now=NOW)

    untouched(db, sent)
    assert db.execute("SELECT next_attempt_at FROM messages WHERE id = ?", [follow_up]).fetchone()[0] is None
    assert replies_rows(db)[0]["kind"] == "auto_reply"


def test_a_stranger_at_the_same_free_mail_provider_is_still_a_stranger(db, smtp_server, certs, imap_account):
    sent = send(db, smtp_server, certs, "jane.okafor.md@gmail.com")
    append(imap_account, reply(sent, "Unsubscribe", sender="prankster@gmail.com"))
    poll(db, settings(), now=NOW)
    untouched(db, sent)


def test_a_colleague_at_the_same_organisation_may_answer_for_the_contact(db, smtp_server, certs, imap_account):
    sent = send(db, smtp_server, certs, JANE)
    append(imap_account, reply(sent, "Dr. Okafor asked me to reply: we host observers in May.",
                               sender="Coordinator <gme.office@er.mercy-hospital.org>"))
    assert poll(db, settings(), now=NOW).to_json()["human_reply"] == 1
    assert contact(db, JANE)["stage"] == "replied"
    assert replies_rows(db)[0]["message_id"] == sent.row_id


def test_an_assistant_writing_on_the_contacts_behalf_may_answer_for_them(db, smtp_server, certs, imap_account):
    sent = send(db, smtp_server, certs, JANE)
    raw = reply(sent, "Please stop emailing Dr. Okafor. Unsubscribe.", sender="Assistant <dr.okafor.office@gmail.com>",
                headers={"Reply-To": f"Jane Okafor <{JANE}>"})
    append(imap_account, raw)
    assert poll(db, settings(), now=NOW).to_json()["unsubscribe"] == 1
    assert contact(db, JANE)["status"] == "opted_out" and suppressed(db, JANE)


def test_another_contact_answering_in_someone_elses_thread_changes_their_own_state_only(db, smtp_server, certs, imap_account):
    jane = send(db, smtp_server, certs, JANE)
    bob = send(db, smtp_server, certs, "bob.smith@lakeside.example.net", first_name="Bob")
    append(imap_account, reply(jane, "Thanks, I saw this via Jane. Happy to talk.", sender=f"Bob <{bob.to}>"))

    assert poll(db, settings(), now=NOW).to_json()["human_reply"] == 1

    untouched(db, jane)
    assert contact(db, bob.to)["stage"] == "replied"
    assert replies_rows(db)[0]["message_id"] == bob.row_id


# --- 6. Bounces blamed on the wrong person -------------------------------------------------------------


def test_a_bounce_quoting_our_message_id_but_naming_a_stranger_suppresses_nobody(db, smtp_server, certs, imap_account):
    sent = send(db, smtp_server, certs, JANE)
    follow_up = queue_followup(db, sent)
    # A report about a forwarding address (or a forgery) that quotes Jane's Message-ID.
    append(imap_account, dsn(Sent(sent.message_id, "old.address@elsewhere.example.net", sent.subject, 0, 0)))

    result = poll(db, settings(), now=NOW)

    untouched(db, sent)
    assert not suppressed(db, "old.address@elsewhere.example.net")
    assert db.execute("SELECT state FROM messages WHERE id = ?", [follow_up]).fetchone()[0] == "queued"
    [row] = replies_rows(db)
    assert (row["kind"], row["message_id"], row["claimed_message_id"]) == ("bounce", None, sent.row_id)
    assert json.loads(row["bounced_addresses"]) == ["old.address@elsewhere.example.net"]
    assert "nobody was suppressed" in row["unmatched_reason"]
    assert result.to_json()["bounce"] == 0


def test_a_bounce_quoting_one_contacts_message_id_but_naming_another_contact_suppresses_the_named_one(db, smtp_server, certs, imap_account):
    jane = send(db, smtp_server, certs, JANE)
    bob = send(db, smtp_server, certs, "bob.smith@lakeside.example.net", first_name="Bob")
    append(imap_account, dsn(Sent(jane.message_id, bob.to, jane.subject, 0, 0)))

    assert poll(db, settings(), now=NOW).to_json()["bounce"] == 1

    untouched(db, jane)
    assert suppressed(db, bob.to) and contact(db, bob.to)["status"] == "bounced"
    assert db.execute("SELECT state FROM messages WHERE id = ?", [bob.row_id]).fetchone()[0] == "bounced"


def test_a_bounce_naming_our_contact_still_suppresses_them(db, smtp_server, certs, imap_account):
    sent = send(db, smtp_server, certs, JANE)
    append(imap_account, dsn(sent))
    assert poll(db, settings(), now=NOW).to_json()["bounce"] == 1
    assert suppressed(db, JANE) and contact(db, JANE)["status"] == "bounced"


# --- 11. A huge reply is stored as a prefix ---------------------------------------------------------


def test_a_huge_reply_is_stored_as_a_prefix_that_says_it_was_cut(db, smtp_server, certs, imap_account):
    sent = send(db, smtp_server, certs, JANE)
    message = EmailMessage()
    message["From"] = f"Jane <{JANE}>"
    message["To"] = SMTP_USER
    message["Subject"] = f"Re: {sent.subject}"
    message["Date"] = format_datetime(SENT_AT + timedelta(hours=2))
    message["Message-ID"] = make_msgid(domain="mercy-hospital.org")
    message["In-Reply-To"] = sent.message_id
    message.set_content("Yes, here are my notes. " + "observership notes " * 60_000)  # about 1.1 MB of text
    append(imap_account, message.as_bytes())

    assert poll(db, settings(), now=NOW).to_json()["human_reply"] == 1

    [row] = replies_rows(db)
    assert row["body_text"].startswith("Yes, here are my notes.")
    assert len(row["body_text"]) < MAX_STORED_TEXT + 200
    assert f"outreach kept the first {MAX_STORED_TEXT:,} of " in row["body_text"]
    assert len(row["snippet"]) <= 101
    assert contact(db, JANE)["stage"] == "replied"


def test_replies_list_shows_an_unmatched_reply_for_what_it_is(db, smtp_server, certs, imap_account):
    sent = send(db, smtp_server, certs, JANE)
    append(imap_account, reply(sent, "Please remove me from your mailing list.", sender="mallory@evil.example.net"))
    CliRunner().invoke(cli, ["replies", "poll"], catch_exceptions=False)
    listed = CliRunner().invoke(cli, ["replies", "list"], catch_exceptions=False).output
    assert "mallory@evil.example.net" in listed and "(unmatched: from mallory@evil.example.net, not from" in listed
    assert JANE not in listed.split("(unmatched")[0]
