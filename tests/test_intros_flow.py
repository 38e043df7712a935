"""A warm introduction walked end to end on the real servers: the ask sent through the SMTP
fixture; one alumnus answers by Cc'ing the physician, another by forwarding the paragraph; the
targets are captured with introduced_by; the answer drafted into Dovecot's Drafts (read back
from what the server stored) goes To the target, Bcc the alumnus, in the thread, thanks first;
an offer drafts exactly one thank-you to the alumnus; the warm/cold report matches figures
computed by hand."""

from __future__ import annotations

import asyncio
import json
import shutil
from datetime import datetime, timezone
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

import pytest
from click.testing import CliRunner

from outreach.cli import cli
from outreach.db import open_db
from outreach.followups.due import due
from outreach.intros.ask import MAX_PARAGRAPH, ask_introduction
from outreach.intros.run import draft_intros
from outreach.replies.poll import poll
from outreach.reports.introducers import intros_report
from outreach.sending import campaigns, sender
from tests.campaign_fixtures import START, add_contacts, limits, write_template
from tests.clocks import FakeClock
from tests.mailservers import SMTP_USER
from tests.test_followups_flow import append, mailbox, settings
from tests.test_replies import Sent, reply

REPO = Path(__file__).resolve().parent.parent
EZE = "eze@alumni.example.org"
BELLO = "bello@lagos-alumni.example.org"
CHEN = "maria.chen@ucsf.example.edu"
PATEL = "sam.patel@mercyheart.example.org"
TEMPLATES = ("alumni-introduction", "intro-followup", "intro-answer", "thank-you-introducer")


def at(day: int, hour: int = 14) -> datetime:
    return datetime(2026, 3, day, hour, tzinfo=timezone.utc)


def person(db, email: str, title: str, first: str, last: str, **fields) -> int:
    row = {"email": email, "title": title, "first_name": first, "last_name": last, "state": "OH",
           "created_at": "2026-03-01T00:00:00+00:00", "updated_at": "2026-03-01T00:00:00+00:00", **fields}
    contact_id = db.table("contacts").insert(row).last_pk
    db.conn.commit()
    return contact_id


def first_message(db, email: str) -> Sent:
    row = next(db.query("SELECT m.* FROM messages m JOIN contacts c ON c.id = m.contact_id WHERE c.email = ? AND m.step = 0", [email]))
    return Sent(row["message_id"], email, row["subject"], row["id"], row["contact_id"])


def forward(sent: Sent, *, paragraph: str, when: datetime) -> bytes:
    """Dr. Bello forwards our ask to the physician (To him, Cc us), as Gmail does: no threading headers."""
    message = EmailMessage()
    message["From"] = f"Dr. Funmi Bello <{BELLO}>"
    message["To"] = f"Dr. Sam Patel <{PATEL}>"
    message["Cc"] = f"Ada Obi <{SMTP_USER}>"
    message["Subject"] = f"Fwd: {sent.subject}"
    message["Date"] = format_datetime(when)
    message["Message-ID"] = make_msgid(domain="lagos-alumni.example.org")
    message.set_content(f"Sam, an old student of ours - I'd be grateful if you could give her a few minutes.\n\nFunmi\n\n"
                        f"---------- Forwarded message ---------\nFrom: Ada Obi <{SMTP_USER}>\nSubject: {sent.subject}\n\n{paragraph}\n")
    return message.as_bytes()


def stored(account, folder: str) -> list:
    return [m for _flags, m in mailbox(account, folder)]


@pytest.fixture
def asked(mail_env, smtp_server, imap_account):
    """Two alumni asked (one for a contact, one for a name and institution), four cold
    physicians written to; every first email sent Monday 2 March."""
    write_template(Path.cwd())
    for name in TEMPLATES:
        shutil.copy(REPO / "templates" / f"{name}.txt", Path("templates") / f"{name}.txt")
    db = open_db("outreach.db")
    s = settings()
    person(db, EZE, "Dr.", "Emeka", "Eze", medical_school="University of Lagos", specialty="Cardiology")
    person(db, BELLO, "Dr.", "Funmi", "Bello", medical_school="University of Lagos")
    person(db, CHEN, "Dr.", "Maria", "Chen", hospital="UCSF", state="CA")
    add_contacts(db, 4)
    first = ask_introduction(db, s, EZE, target_email=CHEN, now=START)
    second = ask_introduction(db, s, BELLO, target_name="Dr. Sam Patel", target_hospital="Mercy Heart Institute", now=START)
    campaigns.create_campaign(db, "spring", template="hello", templates_dir=s.templates_dir, tags=["physicians"])
    for name in (first.campaign, second.campaign, "spring"):
        campaign = campaigns.freeze_campaign(db, s, campaigns.get_campaign(db, name), now=START)
        asyncio.run(sender.send_campaign(db, s, campaign, limits=limits(), clock=FakeClock(START)))
    return db, first, second


def test_the_ask_names_the_target_and_the_applicant_in_a_paragraph_short_enough_to_forward(asked, smtp_server):
    db, first, second = asked
    assert first.paragraph and len(first.paragraph) <= MAX_PARAGRAPH
    assert "Dr. Maria Chen" in first.paragraph and "Ada Obi" in first.paragraph
    assert second.target == "Dr. Sam Patel, Mercy Heart Institute" and "Dr. Sam Patel" in second.paragraph
    assert first.subject == "Could you introduce me to Dr. Maria Chen (UCSF)?"
    sent = {r.rcpt_tos[0]: message_from_bytes(r.data, policy=policy.default) for r in smtp_server.received}
    assert set(sent) == {EZE, BELLO} | {f"doc{n}@hospital{n}.example.org" for n in range(1, 5)}
    body = sent[EZE].get_body(preferencelist=("plain",)).get_content()
    assert "Dr. Maria Chen, may I introduce Ada Obi" in body
    # Courtesy: one gentle follow-up at most to an alumnus, 5 business days after the ask.
    steps = db.execute("SELECT step, template, delay_days FROM campaign_steps WHERE campaign_id = "
                       "(SELECT id FROM campaigns WHERE name = ?) ORDER BY step", [first.campaign]).fetchall()
    assert steps == [(0, "alumni-introduction", 0), (1, "intro-followup", 5)]
    assert {c.email for c in due(db, settings(), as_of=at(9))} >= {EZE, BELLO}
    duplicate = CliRunner().invoke(cli, ["intros", "ask", EZE, "--target", CHEN])
    assert duplicate.exit_code == 1 and "already asked" in duplicate.output


def test_the_whole_exchange(asked, imap_account):
    db, first, second = asked
    ask = first_message(db, EZE)
    intro = reply(ask, "Ada, meet Maria - Maria, Ada is one of our best. I'll let you two take it from here.\n\nEmeka",
                  sender=f"Dr. Emeka Eze <{EZE}>", cc=f"Dr. Maria Chen <{CHEN}>", when=at(3, 15))
    append(imap_account, intro)
    append(imap_account, forward(first_message(db, BELLO), paragraph=second.paragraph, when=at(4, 13)))
    result = poll(db, settings(), now=at(4, 16))
    assert result.to_json()["human_reply"] == 2

    chen = db.execute("SELECT introduced_by FROM contacts WHERE email = ?", [CHEN]).fetchone()[0]
    patel = dict(next(db.query("SELECT * FROM contacts WHERE email = ?", [PATEL])))
    eze_id, bello_id = (db.execute("SELECT id FROM contacts WHERE email = ?", [e]).fetchone()[0] for e in (EZE, BELLO))
    assert chen == eze_id
    assert (patel["introduced_by"], patel["first_name"], patel["last_name"], patel["hospital"]) == (bello_id, "Sam", "Patel", "Mercy Heart Institute")
    hows = dict(db.execute("SELECT c.email, i.how FROM introductions i JOIN contacts c ON c.id = i.contact_id").fetchall())
    assert hows == {CHEN: "cc", PATEL: "forward"}
    # Any answer stops the gentle follow-up.
    assert not {c.email for c in due(db, settings(), as_of=at(20))} & {EZE, BELLO}

    runner = CliRunner()
    shown = json.loads(runner.invoke(cli, ["contacts", "show", CHEN, "--json"]).stdout)
    assert shown["introduced_by"] == EZE and shown["outcome"] is None
    assert "introduced by Dr. Emeka Eze, 3 Mar" in runner.invoke(cli, ["contacts", "show", CHEN]).output
    listed = json.loads(runner.invoke(cli, ["intros", "due", "--json"]).stdout)
    assert [(i["email"], i["introduced_by"]) for i in listed] == [(CHEN, EZE), (PATEL, BELLO)]  # oldest first
    assert "Introductions to answer: 2" in runner.invoke(cli, ["status", "--peek"]).output

    report = draft_intros(db, settings(), now=at(4, 17), poll_first=False)
    assert sorted(a["email"] for a in report.answers) == [CHEN, PATEL]
    drafts = {m["To"].addresses[0].addr_spec: m for m in stored(imap_account, "Drafts")}
    answer = drafts[CHEN]
    intro_id = message_from_bytes(intro, policy=policy.default)["Message-ID"]
    assert [a.addr_spec for a in answer["Bcc"].addresses] == [EZE] and answer["Cc"] is None
    assert answer["In-Reply-To"] == intro_id
    assert answer["References"].split() == [ask.message_id, intro_id]
    assert answer["Subject"] == f"Re: {ask.subject}"
    text = answer.get_body(preferencelist=("plain",)).get_content()
    assert text.startswith("Thank you, Dr. Emeka Eze, for the kind introduction") and "Dear Dr. Chen," in text
    forwarded = drafts[PATEL]
    assert [a.addr_spec for a in forwarded["Bcc"].addresses] == [BELLO] and forwarded["Subject"].startswith("Re: Could you introduce me")

    assert draft_intros(db, settings(), now=at(4, 18), poll_first=False).answers == []  # never twice
    assert len(stored(imap_account, "Drafts")) == 2

    # The user sends Maria's answer from their mail program: the next run records it as answered.
    append(imap_account, answer.as_bytes(), "Sent")
    assert draft_intros(db, settings(), now=at(5), poll_first=False).answered == [CHEN]
    assert [i["email"] for i in json.loads(runner.invoke(cli, ["intros", "due", "--json"]).stdout)] == [PATEL]

    # Maria answers; later she offers an observership: exactly one thank-you to Dr. Eze.
    append(imap_account, reply(Sent(answer["Message-ID"], CHEN, answer["Subject"], 0, 0), "Happy to talk on Friday.",
                               sender=f"Dr. Maria Chen <{CHEN}>", when=at(6)))
    poll(db, settings(), now=at(6, 16))
    assert db.execute("SELECT replied_at IS NOT NULL FROM contacts WHERE email = ?", [CHEN]).fetchone()[0] == 1
    offered = runner.invoke(cli, ["contacts", "outcome", CHEN, "offer"])
    assert offered.exit_code == 0, offered.output
    assert f"Thank-you to {EZE}" in offered.output
    assert runner.invoke(cli, ["contacts", "outcome", CHEN, "completed"]).exit_code == 0
    assert runner.invoke(cli, ["intros", "draft", "--no-poll"]).exit_code == 0
    thanks = [m for m in stored(imap_account, "Drafts") if m["To"].addresses[0].addr_spec == EZE]
    assert len(thanks) == 1
    assert thanks[0]["Subject"] == "Thank you for introducing me to Dr. Maria Chen"
    assert "Dr. Maria Chen at UCSF has offered me an observership" in thanks[0].get_body(preferencelist=("plain",)).get_content()

    # Warm against cold, by hand: warm = Chen (replied, offer) and Patel (no answer yet);
    # cold = four physicians, one of whom replies positively; the two alumni are neither.
    doc1 = first_message(db, "doc1@hospital1.example.org")
    append(imap_account, reply(doc1, "Yes, please send your CV.", when=at(6, 18)))
    poll(db, settings(), now=at(6, 19))
    assert runner.invoke(cli, ["contacts", "outcome", doc1.to, "positive"]).exit_code == 0
    figures = intros_report(db)
    assert figures["warm"] == {"contacted": 2, "replied": 1, "reply_rate": 0.5, "positive": 1}
    assert figures["cold"] == {"contacted": 4, "replied": 1, "reply_rate": 0.25, "positive": 1}
    eze = next(a for a in figures["introducers"] if a["introducer"] == EZE)
    assert (eze["asked"], eze["introductions"], eze["positive"]) == (1, 1, 1)
    assert eze["led_to"][0]["outcome"] == "completed" and eze["led_to"][0]["thanked"]
    printed = runner.invoke(cli, ["intros", "report"]).output
    assert "warm  contacted    2  replied    1 (50%)" in printed and "Dr. Emeka Eze <eze@alumni.example.org>" in printed
