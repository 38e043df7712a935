"""Replies against the real servers: mail is sent through the SMTP fixture, answers are appended
to the Dovecot mailbox, and `poll` matches, classifies and updates the contacts."""

from __future__ import annotations

import asyncio
import json
import os
import ssl
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

import aiosmtplib
import pytest
from click.testing import CliRunner
from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientAbortError

from outreach.cli import cli
from outreach.config import load_settings
from outreach.db import open_db, utc_now
from outreach.errors import MailServerError
from outreach.mail.imap import connect_imap
from outreach.replies.poll import poll
from tests.mailservers import PASSWORD, SMTP_USER

NOW = datetime(2026, 3, 4, 15, 0, tzinfo=timezone.utc)
SENT_AT = datetime(2026, 3, 2, 14, 0, tzinfo=timezone.utc)


def settings():
    return load_settings(environ=dict(os.environ), env_file=None)


@pytest.fixture
def db(mail_env):
    return open_db("outreach.db")


@dataclass
class Sent:
    message_id: str
    to: str
    subject: str
    row_id: int
    contact_id: int


def send(db, smtp_server, certs, to: str, *, campaign: str = "spring", first_name: str = "Jane", step: int = 0) -> Sent:
    """Send a first email through the SMTP fixture and record it as the campaign code does."""
    message = EmailMessage()
    message["From"] = f"Ada Obi <{SMTP_USER}>"
    message["To"] = to
    message["Subject"] = subject = "Observership inquiry - internal medicine"
    message["Date"] = format_datetime(SENT_AT)
    message["Message-ID"] = message_id = make_msgid(domain="example.com")
    message.set_content(f"Dear Dr. {first_name},\n\nI am writing to ask about an observership.\n\nAda\n")
    context = ssl.create_default_context(cafile=str(certs.ca_file))
    asyncio.run(
        aiosmtplib.send(message, hostname=smtp_server.host, port=smtp_server.port, start_tls=True,
                        tls_context=context, username=SMTP_USER, password=PASSWORD)
    )
    assert smtp_server.received[-1].message_id == message_id
    now = utc_now(SENT_AT)
    contact = db.execute("SELECT id FROM contacts WHERE email = ?", [to]).fetchone()
    if contact:
        contact_id = contact[0]
    else:
        contact_id = db.table("contacts").insert(
            {"email": to, "first_name": first_name, "last_name": "Okafor", "hospital": "Mercy Hospital",
             "stage": "contacted", "created_at": now, "updated_at": now}
        ).last_pk
    campaign_row = db.execute("SELECT id FROM campaigns WHERE name = ?", [campaign]).fetchone()
    campaign_id = campaign_row[0] if campaign_row else db.table("campaigns").insert(
        {"name": campaign, "template": "observership-request", "status": "active", "created_at": now}
    ).last_pk
    row_id = db.table("messages").insert(
        {"campaign_id": campaign_id, "contact_id": contact_id, "step": step, "template": "observership-request",
         "account": SMTP_USER, "from_address": SMTP_USER, "to_address": to, "to_domain": to.split("@")[1],
         "subject": subject, "message_id": message_id, "state": "sent", "attempts": 1,
         "queued_at": now, "sent_at": now, "updated_at": now}
    ).last_pk
    return Sent(message_id, to, subject, row_id, contact_id)


def queue_followup(db, sent: Sent) -> int:
    """A follow-up waiting to go (step 1), as the follow-up feature would queue it."""
    now = utc_now(NOW)
    return db.table("messages").insert(
        {"kind": "followup", "campaign_id": 1, "contact_id": sent.contact_id, "step": 1, "to_address": sent.to,
         "message_id": make_msgid(domain="example.com"), "in_reply_to": sent.message_id, "state": "queued",
         "queued_at": now, "updated_at": now}
    ).last_pk


def reply(sent: Sent, body: str, *, sender: str | None = None, threading: str = "both", cc: str | None = None,
          subject: str | None = None, headers: dict[str, str] | None = None, when: datetime | None = None) -> bytes:
    """The contact's answer, the way a mail program writes it: own words over a quoted original."""
    message = EmailMessage()
    message["From"] = sender or f"Dr. Jane Okafor <{sent.to}>"
    message["To"] = f"Ada Obi <{SMTP_USER}>"
    if cc:
        message["Cc"] = cc
    message["Subject"] = subject or f"Re: {sent.subject}"
    message["Date"] = format_datetime(when or SENT_AT + timedelta(hours=3))
    message["Message-ID"] = make_msgid(domain="mercy.example.org")
    if threading in ("both", "in-reply-to"):
        message["In-Reply-To"] = sent.message_id
    if threading in ("both", "references"):
        message["References"] = sent.message_id
    for name, value in (headers or {}).items():
        message[name] = value
    quoted = "On Mon, Mar 2, 2026 at 9:00 AM Ada Obi <ada@example.com> wrote:\n> Dear Dr. Jane,\n> I am writing to ask about an observership.\n"
    message.set_content(f"{body}\n\n{quoted}")
    return message.as_bytes()


def dsn(sent: Sent, *, status: str = "5.1.1", action: str = "failed") -> bytes:
    """An RFC 3464 delivery report as Postfix writes it, quoting the original's headers."""
    boundary = "8C1B2A0F.1772463660/mx.mercy.example.org"
    text = f"""\
Return-Path: <>
From: MAILER-DAEMON@mx.mercy.example.org (Mail Delivery System)
To: {SMTP_USER}
Subject: Undelivered Mail Returned to Sender
Date: {format_datetime(SENT_AT + timedelta(minutes=1))}
Message-ID: {make_msgid(domain="mx.mercy.example.org")}
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"

--{boundary}
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx.mercy.example.org.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients.

<{sent.to}>: host said: {'550' if status.startswith('5') else '452'} {status} user problem

--{boundary}
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.mercy.example.org
Arrival-Date: {format_datetime(SENT_AT)}

Final-Recipient: rfc822; {sent.to}
Original-Recipient: rfc822;{sent.to}
Action: {action}
Status: {status}
Diagnostic-Code: smtp; {'550' if status.startswith('5') else '452'} {status} <{sent.to}>: mailbox problem

--{boundary}
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers

From: Ada Obi <{SMTP_USER}>
To: {sent.to}
Subject: {sent.subject}
Message-ID: {sent.message_id}

--{boundary}--
"""
    return text.replace("\n", "\r\n").encode()


def append(account, raw: bytes, folder: str = "INBOX") -> None:
    with IMAPClient(account.host, account.port, ssl=False) as client:
        client.login(account.username, account.password)
        client.append(folder, raw)


def flags(account, folder: str = "INBOX") -> list[tuple]:
    with IMAPClient(account.host, account.port, ssl=False) as client:
        client.login(account.username, account.password)
        client.select_folder(folder, readonly=True)
        uids = client.search("ALL")
        return [data[b"FLAGS"] for data in client.fetch(uids, ["FLAGS"]).values()] if uids else []


def contact(db, email: str) -> dict:
    return next(db.query("SELECT * FROM contacts WHERE email = ?", [email]))


def replies_rows(db) -> list[dict]:
    return list(db.query("SELECT * FROM replies ORDER BY id"))


def test_a_human_reply_threaded_by_in_reply_to_marks_the_contact_replied(db, smtp_server, certs, imap_account):
    sent = send(db, smtp_server, certs, "jane.okafor@mercy.example.org")
    append(imap_account, reply(sent, "Dear Ada,\n\nYes, we host observers in May. Please send your CV.\n\nBest,\nJane", threading="in-reply-to"))

    result = poll(db, settings(), now=NOW)

    assert result.to_json() == {"fetched": 1, "matched": 1, "human_reply": 1, "auto_reply": 0, "bounce": 0, "unsubscribe": 0}
    [row] = replies_rows(db)
    assert (row["kind"], row["message_id"], row["contact_id"], row["folder"]) == ("human_reply", sent.row_id, sent.contact_id, "INBOX")
    assert row["seconds_to_reply"] == 3 * 3600
    assert "Please send your CV" in row["body_text"]
    assert "I am writing to ask" not in row["body_text"]  # the quoted original is not the reply's text
    assert "\n" not in row["snippet"] and row["snippet"].startswith("Dear Ada, Yes, we host observers")
    jane = contact(db, sent.to)
    assert (jane["stage"], jane["status"], jane["replied_at"]) == ("replied", "active", "2026-03-02T17:00:00+00:00")
    kinds = [e["kind"] for e in db.query("SELECT kind FROM events WHERE contact_id = ?", [sent.contact_id])]
    assert "reply_received" in kinds and "replied" in kinds


def test_a_reply_carrying_only_references_is_matched(db, smtp_server, certs, imap_account):
    sent = send(db, smtp_server, certs, "jane.okafor@mercy.example.org")
    append(imap_account, reply(sent, "Thank you, I will forward this to our coordinator.", threading="references"))
    assert poll(db, settings(), now=NOW).to_json()["human_reply"] == 1
    assert replies_rows(db)[0]["message_id"] == sent.row_id


def test_a_reply_without_threading_headers_is_matched_by_the_senders_address(db, smtp_server, certs, imap_account):
    sent = send(db, smtp_server, certs, "jane.okafor@mercy.example.org")
    raw = reply(sent, "Hello Ada, I got your note last week. Call me on Monday.", threading="none", subject="Your email")
    append(imap_account, raw)
    assert poll(db, settings(), now=NOW).to_json()["matched"] == 1
    assert contact(db, sent.to)["stage"] == "replied"


def test_mail_a_contact_wrote_before_we_ever_wrote_to_them_is_not_a_reply(db, smtp_server, certs, imap_account):
    sent = send(db, smtp_server, certs, "jane.okafor@mercy.example.org")
    older = reply(sent, "Minutes of last month's meeting attached.", threading="none", subject="Minutes",
                  when=SENT_AT - timedelta(days=20))
    append(imap_account, older)
    assert poll(db, settings(), now=NOW).to_json()["matched"] == 0
    assert contact(db, sent.to)["stage"] == "contacted"


def test_a_hard_bounce_is_matched_through_the_original_message_id_and_suppresses_the_address(db, smtp_server, certs, imap_account):
    sent = send(db, smtp_server, certs, "gone@mercy.example.org")
    follow_up = queue_followup(db, sent)
    append(imap_account, dsn(sent))

    assert poll(db, settings(), now=NOW).to_json() == {"fetched": 1, "matched": 1, "human_reply": 0, "auto_reply": 0, "bounce": 1, "unsubscribe": 0}
    [row] = replies_rows(db)
    assert (row["bounce_type"], json.loads(row["bounced_addresses"])) == ("hard", [sent.to])
    assert db.execute("SELECT state FROM messages WHERE id = ?", [sent.row_id]).fetchone()[0] == "bounced"
    assert db.execute("SELECT state FROM messages WHERE id = ?", [follow_up]).fetchone()[0] == "cancelled"
    assert contact(db, sent.to)["status"] == "bounced"
    assert db.execute("SELECT source FROM suppressions WHERE value = ?", [sent.to]).fetchone()[0] == "bounce"


def test_soft_bounces_are_noted_and_the_third_one_counts_as_hard(db, smtp_server, certs, imap_account):
    sents = [send(db, smtp_server, certs, "full@mercy.example.org", campaign=f"c{n}") for n in range(3)]
    append(imap_account, dsn(sents[0], status="4.2.2"))
    append(imap_account, dsn(sents[1], status="4.2.2"))
    assert poll(db, settings(), now=NOW).to_json()["bounce"] == 2
    assert contact(db, "full@mercy.example.org")["status"] == "active"
    assert db.execute("SELECT count(*) FROM suppressions").fetchone()[0] == 0
    append(imap_account, dsn(sents[2], status="4.2.2"))
    poll(db, settings(), now=NOW)
    assert contact(db, "full@mercy.example.org")["status"] == "bounced"
    assert db.execute("SELECT source FROM suppressions WHERE value = 'full@mercy.example.org'").fetchone()[0] == "bounce"


def test_an_auto_reply_marks_the_contact_away_until_the_return_date_and_holds_follow_ups(db, smtp_server, certs, imap_account):
    sent = send(db, smtp_server, certs, "jane.okafor@mercy.example.org")
    follow_up = queue_followup(db, sent)
    body = "I am out of the office until March 16, 2026 with limited access to email.\nFor urgent matters call the clinic."
    append(imap_account, reply(sent, body, subject=f"Automatic reply: {sent.subject}", headers={"Auto-Submitted": "auto-replied"}))

    assert poll(db, settings(), now=NOW).to_json()["auto_reply"] == 1
    jane = contact(db, sent.to)
    assert (jane["status"], jane["away_until"], jane["stage"]) == ("away", "2026-03-16", "contacted")
    state, next_attempt = db.execute("SELECT state, next_attempt_at FROM messages WHERE id = ?", [follow_up]).fetchone()
    assert state == "queued" and next_attempt.startswith("2026-03-16")


def test_an_auto_reply_without_a_date_means_away_for_the_default_days(db, smtp_server, certs, imap_account):
    sent = send(db, smtp_server, certs, "jane.okafor@mercy.example.org")
    append(imap_account, reply(sent, "Thank you for your email. I am currently out of the office.",
                               subject="Out of Office", headers={"Auto-Submitted": "auto-replied"}))
    poll(db, settings(), now=NOW)
    assert contact(db, sent.to)["away_until"] == (NOW.date() + timedelta(days=14)).isoformat()


def test_an_unsubscribe_request_suppresses_forever_and_cancels_follow_ups(db, smtp_server, certs, imap_account):
    sent = send(db, smtp_server, certs, "jane.okafor@mercy.example.org")
    follow_up = queue_followup(db, sent)
    append(imap_account, reply(sent, "Please remove me from your list and do not contact me again."))

    assert poll(db, settings(), now=NOW).to_json()["unsubscribe"] == 1
    assert contact(db, sent.to)["status"] == "opted_out"
    assert db.execute("SELECT source FROM suppressions WHERE value = ?", [sent.to]).fetchone()[0] == "unsubscribe"
    assert db.execute("SELECT state FROM messages WHERE id = ?", [follow_up]).fetchone()[0] == "cancelled"


def test_a_human_reply_cancels_every_pending_follow_up_to_that_contact(db, smtp_server, certs, imap_account):
    sent = send(db, smtp_server, certs, "jane.okafor@mercy.example.org")
    follow_up = queue_followup(db, sent)
    other = send(db, smtp_server, certs, "sam@other.example.org", first_name="Sam")
    untouched = queue_followup(db, other)
    append(imap_account, reply(sent, "Thanks, we would be glad to have you."))
    poll(db, settings(), now=NOW)
    states = dict(db.execute("SELECT id, state FROM messages WHERE id IN (?, ?)", [follow_up, untouched]).fetchall())
    assert states == {follow_up: "cancelled", untouched: "queued"}


def test_a_second_poll_fetches_nothing_and_is_quick(db, smtp_server, certs, imap_account):
    sent = send(db, smtp_server, certs, "jane.okafor@mercy.example.org")
    append(imap_account, reply(sent, "Yes, happy to help."))
    assert poll(db, settings(), now=NOW).to_json()["matched"] == 1
    started = time.perf_counter()
    again = poll(db, settings(), now=NOW)
    assert time.perf_counter() - started < 0.5
    assert again.to_json() == {"fetched": 0, "matched": 0, "human_reply": 0, "auto_reply": 0, "bounce": 0, "unsubscribe": 0}
    assert len(replies_rows(db)) == 1


def test_mail_is_never_marked_read_moved_or_deleted(db, smtp_server, certs, imap_account):
    sent = send(db, smtp_server, certs, "jane.okafor@mercy.example.org")
    append(imap_account, reply(sent, "Yes, happy to help."))
    append(imap_account, dsn(send(db, smtp_server, certs, "gone@mercy.example.org")))
    poll(db, settings(), now=NOW)
    assert [set(f) - {b"\\Recent"} for f in flags(imap_account)] == [set(), set()]


def test_unmatched_mail_is_counted_as_fetched_but_left_alone(db, smtp_server, certs, imap_account):
    send(db, smtp_server, certs, "jane.okafor@mercy.example.org")
    newsletter = EmailMessage()
    newsletter["From"] = "news@journal.example.com"
    newsletter["To"] = SMTP_USER
    newsletter["Subject"] = "This week in medicine"
    newsletter["Message-ID"] = make_msgid(domain="journal.example.com")
    newsletter.set_content("Read our latest issue.")
    append(imap_account, newsletter.as_bytes())
    assert poll(db, settings(), now=NOW).to_json()["fetched"] == 1
    assert replies_rows(db) == []
    assert [set(f) - {b"\\Recent"} for f in flags(imap_account)] == [set()]


def test_replies_in_the_junk_folder_are_read_too(db, smtp_server, certs, imap_account):
    sent = send(db, smtp_server, certs, "jane.okafor@mercy.example.org")
    append(imap_account, reply(sent, "Sorry for the delay - yes, May works."), folder="Junk")
    result = poll(db, settings(), now=NOW)
    assert result.to_json()["human_reply"] == 1
    assert replies_rows(db)[0]["folder"] == "Junk"
    assert [f["folder"] for f in result.folders] == ["INBOX", "Junk"]


def test_a_missing_folder_is_skipped_with_a_note(db, smtp_server, certs, imap_account):
    result = poll(db, settings(), folders=["INBOX", "Replies"], now=NOW)
    assert result.notes == ["folder Replies not found on the server; skipped"]


def test_a_changed_uidvalidity_rescans_without_counting_anything_twice(db, smtp_server, certs, imap_account):
    sent = send(db, smtp_server, certs, "jane.okafor@mercy.example.org")
    gone = send(db, smtp_server, certs, "gone@mercy.example.org")
    messages = [reply(sent, "Yes, happy to help."), dsn(gone)]
    for raw in messages:
        append(imap_account, raw, folder="Junk")
    assert poll(db, settings(), folders=["\\Junk"], now=NOW).to_json()["matched"] == 2

    with IMAPClient(imap_account.host, imap_account.port, ssl=False) as client:
        client.login(imap_account.username, imap_account.password)
        before = client.folder_status("Junk", ["UIDVALIDITY"])[b"UIDVALIDITY"]
        client.delete_folder("Junk")
        client.create_folder("Junk")
        for raw in messages:
            client.append("Junk", raw)
        assert client.folder_status("Junk", ["UIDVALIDITY"])[b"UIDVALIDITY"] != before

    again = poll(db, settings(), folders=["\\Junk"], now=NOW)
    assert again.to_json() == {"fetched": 2, "matched": 0, "human_reply": 0, "auto_reply": 0, "bounce": 0, "unsubscribe": 0}
    assert any("UIDVALIDITY changed" in note for note in again.notes)
    assert len(replies_rows(db)) == 2
    assert poll(db, settings(), folders=["\\Junk"], now=NOW).to_json()["fetched"] == 0


class DropsAfter:
    """Connects for real, then kills the socket on the n-th FETCH, like a network drop."""

    def __init__(self, fetches: int) -> None:
        self.fetches = fetches
        self.connections = 0

    def __call__(self, settings):
        client = connect_imap(settings)
        self.connections += 1
        real_command = client._imap._command  # what poll's header and body fetches go through

        def command(name, *args):
            if name.upper() == "UID" and args and args[0].upper() == "FETCH":
                self.fetches -= 1
                if self.fetches == -1:  # once: the next connection works
                    client.shutdown()
                    raise IMAPClientAbortError("socket error: connection reset")
            return real_command(name, *args)

        client._imap._command = command
        return client


def _five_replies(db, smtp_server, certs, imap_account) -> None:
    for n in range(5):
        sent = send(db, smtp_server, certs, f"doctor{n}@mercy.example.org", first_name=f"D{n}")
        append(imap_account, reply(sent, f"Reply number {n}: yes."))


def test_a_connection_dropped_mid_fetch_resumes_on_the_next_poll_without_loss(db, smtp_server, certs, imap_account):
    _five_replies(db, smtp_server, certs, imap_account)
    # batches of 2: headers+bodies for batch 1 succeed, then the drop during batch 2
    with pytest.raises(MailServerError, match="connection dropped|network error"):
        poll(db, settings(), now=NOW, batch_size=2, retries=0, connect=DropsAfter(fetches=3))
    assert len(replies_rows(db)) == 2  # the first batch was saved with its progress

    second = poll(db, settings(), now=NOW, batch_size=2)
    assert second.to_json()["matched"] == 3
    assert sorted(r["from_address"] for r in replies_rows(db)) == [f"doctor{n}@mercy.example.org" for n in range(5)]


def test_a_dropped_connection_is_reopened_within_the_same_poll(db, smtp_server, certs, imap_account):
    _five_replies(db, smtp_server, certs, imap_account)
    connect = DropsAfter(fetches=3)
    result = poll(db, settings(), now=NOW, batch_size=2, connect=connect)
    assert result.to_json()["matched"] == 5 and connect.connections == 2
    assert any("reconnected" in note for note in result.notes)
    assert result.folders[0] == {"folder": "INBOX", "fetched": 5, "matched": 5, "resync": False}
    assert len(replies_rows(db)) == 5


def test_a_reply_that_copies_in_a_colleague_suggests_a_new_contact(db, smtp_server, certs, imap_account):
    sent = send(db, smtp_server, certs, "jane.okafor@mercy.example.org")
    send(db, smtp_server, certs, "known@mercy.example.org", first_name="Known")
    body = ("Dear Ada,\n\nI am copying our observership coordinator, who handles this. You can also write to "
            "Dr. Ravi Shah (ravi.shah@stlukes.example.org) in cardiology.\n\nJane")
    cc = f"Maria Lopez <maria.lopez@mercy.example.org>, known@mercy.example.org, Ada Obi <{SMTP_USER}>"
    append(imap_account, reply(sent, body, cc=cc))
    poll(db, settings(), now=NOW)
    rows = list(db.query("SELECT email, name, referred_by, status FROM suggested_contacts ORDER BY email"))
    assert rows == [
        {"email": "maria.lopez@mercy.example.org", "name": "Maria Lopez", "referred_by": sent.contact_id, "status": "suggested"},
        {"email": "ravi.shah@stlukes.example.org", "name": "Dr. Ravi Shah", "referred_by": sent.contact_id, "status": "suggested"},
    ]


def test_replies_list_shows_snippets_and_suggestions_and_add_suggested_records_the_referral(db, smtp_server, certs, imap_account):
    sent = send(db, smtp_server, certs, "jane.okafor@mercy.example.org")
    gone = send(db, smtp_server, certs, "gone@mercy.example.org")
    append(imap_account, reply(sent, "Yes! Please contact Maria Lopez <maria.lopez@mercy.example.org>, our coordinator."))
    append(imap_account, dsn(gone))
    runner = CliRunner()
    polled = runner.invoke(cli, ["replies", "poll", "--json"], catch_exceptions=False)
    assert json.loads(polled.output) == {"fetched": 2, "matched": 2, "human_reply": 1, "auto_reply": 0, "bounce": 1, "unsubscribe": 0}

    listed = runner.invoke(cli, ["replies", "list"], catch_exceptions=False)
    assert listed.exit_code == 0
    lines = listed.output.splitlines()
    assert any("human_reply" in line and "jane.okafor@mercy.example.org [spring]" in line and "Yes! Please contact Maria" in line for line in lines)
    assert any("bounce (hard)" in line and "gone@mercy.example.org" in line for line in lines)
    assert "  Maria Lopez <maria.lopez@mercy.example.org>  referred by jane.okafor@mercy.example.org" in lines

    only_humans = json.loads(runner.invoke(cli, ["replies", "list", "--kind", "human_reply", "--json"]).output)
    assert [r["contact_email"] for r in only_humans["replies"]] == ["jane.okafor@mercy.example.org"]
    assert only_humans["suggested_contacts"][0]["referred_by"] == "jane.okafor@mercy.example.org"
    assert json.loads(runner.invoke(cli, ["replies", "list", "--since", "2026-03-03", "--json"]).output)["replies"] == []

    added = runner.invoke(cli, ["replies", "add-suggested", "maria.lopez@mercy.example.org", "--tag", "coordinators"], catch_exceptions=False)
    assert added.exit_code == 0, added.output
    maria = contact(db, "maria.lopez@mercy.example.org")
    assert (maria["first_name"], maria["last_name"], maria["referred_by"], maria["hospital"]) == ("Maria", "Lopez", sent.contact_id, "Mercy Hospital")
    assert db.execute("SELECT status FROM suggested_contacts").fetchone()[0] == "added"
    assert "Suggested new contacts" not in runner.invoke(cli, ["replies", "list"]).output


def test_replies_poll_prints_a_short_table(db, smtp_server, certs, imap_account):
    sent = send(db, smtp_server, certs, "jane.okafor@mercy.example.org")
    append(imap_account, reply(sent, "Yes, happy to help."))
    output = CliRunner().invoke(cli, ["replies", "poll"], catch_exceptions=False).output
    assert "INBOX" in output and "1 matched of 1 new: 1 replied" in output
    assert "jane.okafor@mercy.example.org [spring]  Yes, happy to help.  -> replied" in output
    again = CliRunner().invoke(cli, ["replies", "poll"], catch_exceptions=False).output
    assert again.splitlines()[-1] == "No new mail since the last poll."
    assert CliRunner().invoke(cli, ["replies", "list", "--kind", "bounce"]).output == "No replies match these filters.\n"


def test_replies_poll_says_what_happened_to_mail_that_answers_nothing(db, smtp_server, certs, imap_account):
    sent = send(db, smtp_server, certs, "jane.okafor@mercy.example.org")
    append(imap_account, reply(sent, "Yes, happy to help."))
    append(imap_account, b"From: news@example.net\r\nTo: ada@example.com\r\nSubject: Weekly news\r\n\r\nHello.\r\n")
    output = CliRunner().invoke(cli, ["replies", "poll"], catch_exceptions=False).output
    assert "1 matched of 2 new" in output and "The other 1 answer nothing you sent and were left untouched." in output


def test_replies_poll_against_a_dead_server_is_one_error_line(mail_env, monkeypatch):
    from tests.mailservers import free_port

    monkeypatch.setenv("OUTREACH_IMAP_PORT", str(free_port()))
    result = CliRunner().invoke(cli, ["replies", "poll", "--json"])
    assert result.exit_code == 1
    assert result.output.startswith("Error: 127.0.0.1:") and "connection refused" in result.output


def test_a_dismissed_suggestion_is_no_longer_listed(db, smtp_server, certs, imap_account):
    sent = send(db, smtp_server, certs, "jane.okafor@mercy.example.org")
    append(imap_account, reply(sent, "Ask our coordinator, maria.lopez@mercy.example.org, about dates."))
    poll(db, settings(), now=NOW)
    runner = CliRunner()
    assert "maria.lopez@mercy.example.org" in runner.invoke(cli, ["replies", "list"]).output
    dismissed = runner.invoke(cli, ["replies", "dismiss", "maria.lopez@mercy.example.org"])
    assert dismissed.exit_code == 0 and "Suggested new contacts" not in runner.invoke(cli, ["replies", "list"]).output
    again = runner.invoke(cli, ["replies", "dismiss", "maria.lopez@mercy.example.org"])
    assert again.exit_code == 1 and again.output.startswith("Error: maria.lopez@mercy.example.org is not among")


def test_a_poll_in_small_batches_stores_every_reply_once_in_order(db, smtp_server, certs, imap_account):
    _five_replies(db, smtp_server, certs, imap_account)
    append(imap_account, dsn(send(db, smtp_server, certs, "gone@mercy.example.org")))
    result = poll(db, settings(), now=NOW, batch_size=3)
    assert result.to_json() == {"fetched": 6, "matched": 6, "human_reply": 5, "auto_reply": 0, "bounce": 1, "unsubscribe": 0}
    assert [r["uid"] for r in replies_rows(db)] == [1, 2, 3, 4, 5, 6]