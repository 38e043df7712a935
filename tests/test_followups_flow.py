"""A sequence walked end to end on the real servers with an injected clock: first emails through
the SMTP fixture, follow-ups drafted into Dovecot's Drafts, "sent" by the user (a copy in Sent),
recorded by the next poll, stopped by replies, deferred by an out-of-office, ended by an opt-out
and a bounce, and the last step sent through the outbox. Threading is checked on what the
servers stored."""

from __future__ import annotations

import asyncio
import os
import shutil
from datetime import date, datetime, timezone
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from click.testing import CliRunner
from imapclient import IMAPClient

from outreach.cli import cli
from outreach.config import load_settings
from outreach.db import open_db
from outreach.followups.compose import thread_subject
from outreach.followups.drafts import draft_followups
from outreach.followups.due import candidates, due
from outreach.followups.send import send_followups
from outreach.sending import campaigns
from tests.clocks import FakeClock
from tests.campaign_fixtures import START, add_contacts, limits, write_template
from tests.test_replies import Sent, dsn, reply

REPO = Path(__file__).resolve().parent.parent


def settings():
    return load_settings(environ=dict(os.environ), env_file=None)


def at(day: int, hour: int = 14) -> datetime:
    """March `day`, 2026 at `hour`:00 UTC (09:00 or 10:00 in Ohio)."""
    return datetime(2026, 3, day, hour, tzinfo=timezone.utc)


def mailbox(account, folder: str) -> list[tuple[tuple, object]]:
    """(flags, parsed message) for every message the server stores in `folder`."""
    with IMAPClient(account.host, account.port, ssl=False) as client:
        client.login(account.username, account.password)
        client.select_folder(folder, readonly=True)
        uids = client.search("ALL")
        data = client.fetch(uids, ["FLAGS", "BODY.PEEK[]"]) if uids else {}
        return [(d[b"FLAGS"], message_from_bytes(d[b"BODY[]"], policy=policy.default)) for _u, d in sorted(data.items())]


def append(account, raw: bytes, folder: str = "INBOX", flags: tuple = ()) -> None:
    with IMAPClient(account.host, account.port, ssl=False) as client:
        client.login(account.username, account.password)
        client.append(folder, raw, flags=flags)


def row(db, email: str, step: int) -> dict:
    return next(db.query(
        "SELECT m.* FROM messages m JOIN contacts c ON c.id = m.contact_id WHERE c.email = ? AND m.step = ?", [email, step]))


def sent_as(db, email: str) -> Sent:
    first = row(db, email, 0)
    return Sent(first["message_id"], email, first["subject"], first["id"], first["contact_id"])


def due_now(db, day: date) -> dict[str, int]:
    return {c.email: c.step.public for c in due(db, settings(), as_of=day)}


@pytest.fixture
def sequence(mail_env, smtp_server, imap_account):
    """Six Ohio physicians, a campaign with two follow-ups, first emails sent Monday 2 March."""
    write_template(Path.cwd())
    for name in ("followup-1", "followup-2"):
        shutil.copy(REPO / "templates" / f"{name}.txt", Path("templates") / f"{name}.txt")
    db = open_db("outreach.db")
    add_contacts(db, 6)
    s = settings()
    campaign = campaigns.create_campaign(db, "spring", template="hello", templates_dir=s.templates_dir, tags=["physicians"],
                                         followups=[("followup-1", 3), ("followup-2", 7)])
    campaign = campaigns.freeze_campaign(db, s, campaign, now=START)
    from outreach.sending import sender

    report = asyncio.run(sender.send_campaign(db, s, campaign, limits=limits(), clock=FakeClock(START)))
    assert report.sent == 6
    return db


def test_a_sequence_end_to_end(sequence, smtp_server, imap_account):
    db = sequence
    original = row(db, "doc1@hospital1.example.org", 0)
    assert original["subject"] == "Observership inquiry — Cardiology at Mercy 1"

    # Monday + 3 business days = Thursday 5 March, in the recipient's own zone.
    assert due_now(db, date(2026, 3, 4)) == {}
    assert due_now(db, date(2026, 3, 5)) == {f"doc{n}@hospital{n}.example.org": 2 for n in range(1, 7)}

    # Before the drafts are made, answers arrive: a reply, an out-of-office, an opt-out, a bounce.
    append(imap_account, reply(sent_as(db, "doc2@hospital2.example.org"), "Dear Ada,\n\nYes, please send me your CV.\n\nJane",
                               when=at(3)))
    append(imap_account, reply(sent_as(db, "doc3@hospital3.example.org"),
                               "I am out of the office until March 16, 2026 with limited access to email.",
                               subject="Automatic reply: Observership", headers={"Auto-Submitted": "auto-replied"}, when=at(3)))
    append(imap_account, reply(sent_as(db, "doc4@hospital4.example.org"), "Please remove me from your list and do not contact me again.",
                               when=at(3)))
    append(imap_account, dsn(sent_as(db, "doc5@hospital5.example.org")))

    clock = FakeClock(at(5))
    report = draft_followups(db, settings(), now=clock.now())  # polls first: the answers stop or defer their follow-ups
    assert report.refreshed.polled and report.refreshed.replies == 4
    assert sorted(d["email"] for d in report.drafted) == ["doc1@hospital1.example.org", "doc6@hospital6.example.org"]

    drafts = mailbox(imap_account, "Drafts")
    assert len(drafts) == 2
    flags, draft = next((f, m) for f, m in drafts if m["To"].addresses[0].addr_spec == "doc1@hospital1.example.org")
    assert b"\\Draft" in flags
    assert draft["Subject"] == "Re: Observership inquiry — Cardiology at Mercy 1"
    assert draft["In-Reply-To"] == original["message_id"]
    assert draft["References"].split() == [original["message_id"]]
    text = draft.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert "bringing my note of March 2, 2026 back to the top" in text
    assert "On March 2, 2026, Ada Obi wrote:\n> Dear Dr. Okafor1," in text
    stored = row(db, "doc1@hospital1.example.org", 1)
    assert (stored["kind"], stored["state"], stored["message_id"]) == ("followup", "drafted", draft["Message-ID"])

    # Gmail threads by normalised subject and References; Outlook by In-Reply-To/References.
    assert thread_subject(draft["Subject"]) == thread_subject(original["subject"])
    assert original["message_id"] in draft["References"]

    # A second run creates no duplicates.
    again = draft_followups(db, settings(), now=clock.now())
    assert again.drafted == [] and len(mailbox(imap_account, "Drafts")) == 2

    # The user sends doc1's draft from their mail program (a copy lands in Sent, the draft goes);
    # doc6 answers before their draft is sent: the next poll deletes that draft.
    raw = next(m for _f, m in drafts if m["To"].addresses[0].addr_spec == "doc1@hospital1.example.org").as_bytes()
    append(imap_account, raw.replace(b"\\Draft", b""), "Sent", flags=(b"\\Seen",))
    _delete(imap_account, "Drafts", draft["Message-ID"])
    append(imap_account, reply(sent_as(db, "doc6@hospital6.example.org"), "Dear Ada, we have no places this year. Good luck.",
                               when=at(5, 18)))
    polled = CliRunner().invoke(cli, ["replies", "poll"])
    assert polled.exit_code == 0, polled.output
    assert "doc1@hospital1.example.org sent from your mail program" in polled.output
    assert "draft to doc6@hospital6.example.org deleted from Drafts" in polled.output
    assert mailbox(imap_account, "Drafts") == []
    doc1 = row(db, "doc1@hospital1.example.org", 1)
    assert doc1["state"] == "sent" and doc1["sent_at"] == "2026-03-05T14:00:00+00:00"  # the Sent copy's Date
    assert row(db, "doc6@hospital6.example.org", 1)["state"] == "cancelled"

    # Thursday + 7 business days = Monday 16 March for doc1's last note. doc3 is back on the 16th:
    # their first follow-up waits for the first business day after (the 17th).
    assert due_now(db, date(2026, 3, 13)) == {}
    assert due_now(db, date(2026, 3, 16)) == {"doc1@hospital1.example.org": 3}
    assert due_now(db, date(2026, 3, 17)) == {"doc1@hospital1.example.org": 3, "doc3@hospital3.example.org": 2}

    smtp_server.handler.clear()
    result = asyncio.run(send_followups(db, settings(), clock=FakeClock(at(17)), live=True))
    assert result.to_json()["sent"] == 2
    received = {r.rcpt_tos[0]: message_from_bytes(r.data, policy=policy.default) for r in smtp_server.received}
    last = received["doc1@hospital1.example.org"]
    assert last["Subject"] == "Re: Observership inquiry — Cardiology at Mercy 1"
    assert last["In-Reply-To"] == doc1["message_id"]
    assert last["References"].split() == [original["message_id"], doc1["message_id"]]
    assert row(db, "doc1@hospital1.example.org", 2)["state"] == "sent"
    assert row(db, "doc3@hospital3.example.org", 1)["kind"] == "followup"
    assert received["doc3@hospital3.example.org"]["In-Reply-To"] == row(db, "doc3@hospital3.example.org", 0)["message_id"]

    # Nobody is due any more: doc1 is done, doc2/doc6 replied, doc4 opted out, doc5 bounced,
    # doc3's last step waits its 7 business days.
    reasons = {c.email: c.reason for c in candidates(db, settings(), as_of=date(2026, 3, 18))}
    assert due_now(db, date(2026, 3, 18)) == {}
    assert reasons["doc1@hospital1.example.org"].startswith("sequence complete")
    assert reasons["doc2@hospital2.example.org"].startswith("no more follow-ups: replied")
    assert reasons["doc4@hospital4.example.org"] == "no more follow-ups: opted out"
    assert reasons["doc5@hospital5.example.org"] == "no more follow-ups: bounced"
    assert reasons["doc3@hospital3.example.org"].startswith("not yet: due Thu 26 Mar (7 business days after follow-up 1 (Tue 17 Mar))")


def _delete(account, folder: str, message_id: str) -> None:
    with IMAPClient(account.host, account.port, ssl=False) as client:
        client.login(account.username, account.password)
        client.select_folder(folder)
        client.delete_messages(client.search(["HEADER", "Message-ID", message_id]))
        client.expunge()
