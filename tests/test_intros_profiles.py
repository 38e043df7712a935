"""Introductions answered from the account the ask went from, on the real servers: Dr. Eze is
asked from the plain account (Dovecot user A), Dr. Bello from profile `work` (Dovecot user B).
Each introduction arrives in its own mailbox, `intros draft` reads both and saves each answer,
and the thank-you owed, in the Drafts of the account that asked; `--profile` limits it to one."""

from __future__ import annotations

import asyncio
import shutil
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

import pytest
from click.testing import CliRunner

from outreach.cli import cli
from outreach.sending import campaigns, sender
from tests.campaign_fixtures import START, limits
from tests.clocks import FakeClock
from tests.mailservers import SMTP_USER
from tests.test_followups_flow import append, mailbox
from tests.test_followups_profiles import WORK, profile_settings, two_accounts  # noqa: F401 (a fixture)
from tests.test_intros_flow import BELLO, CHEN, EZE, PATEL, TEMPLATES, at, first_message, person
from tests.test_replies import reply

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def asked(two_accounts):
    """Eze asked from the plain account, Bello from profile work (`intros ask` under --profile)."""
    for name in TEMPLATES:
        shutil.copy(REPO / "templates" / f"{name}.txt", Path("templates") / f"{name}.txt")
    db = two_accounts.db
    person(db, EZE, "Dr.", "Emeka", "Eze", medical_school="University of Lagos", specialty="Cardiology")
    person(db, BELLO, "Dr.", "Funmi", "Bello", medical_school="University of Lagos")
    person(db, CHEN, "Dr.", "Maria", "Chen", hospital="UCSF", state="CA")
    runner = CliRunner()
    assert runner.invoke(cli, ["intros", "ask", EZE, "--target", CHEN]).exit_code == 0
    work = runner.invoke(cli, ["--profile", "work", "intros", "ask", BELLO, "--target-name", "Dr. Sam Patel",
                               "--target-hospital", "Mercy Heart Institute"])
    assert work.exit_code == 0, work.output
    rows = dict(db.execute("SELECT name, profile FROM campaigns WHERE name LIKE 'intro-%'").fetchall())
    assert sorted(rows.values(), key=str) == [None, "work"]  # the ask remembers the account it goes from
    for name, profile in rows.items():
        s = profile_settings(profile)
        campaign = campaigns.freeze_campaign(db, s, campaigns.get_campaign(db, name), now=START)
        asyncio.run(sender.send_campaign(db, s, campaign, limits=limits(), clock=FakeClock(START)))
    return two_accounts


def forward_to_work(subject: str) -> bytes:
    """Dr. Bello forwards the ask to Dr. Patel, Cc the work address she was asked from."""
    message = EmailMessage()
    message["From"] = f"Dr. Funmi Bello <{BELLO}>"
    message["To"] = f"Dr. Sam Patel <{PATEL}>"
    message["Cc"] = f"Ada Obi <{WORK}>"
    message["Subject"] = f"Fwd: {subject}"
    message["Date"] = format_datetime(at(4, 13))
    message["Message-ID"] = make_msgid(domain="lagos-alumni.example.org")
    message.set_content("Sam, an old student of ours - I'd be grateful if you could give her a few minutes.\n\nFunmi\n")
    return message.as_bytes()


def drafts(account) -> dict[str, object]:
    return {m["To"].addresses[0].addr_spec: m for _f, m in mailbox(account, "Drafts")}


def test_each_introduction_is_answered_and_thanked_from_the_account_that_asked(asked):
    db, runner = asked.db, CliRunner()
    append(asked.plain, reply(first_message(db, EZE), "Ada, meet Maria - Maria, Ada is one of our best.\n\nEmeka",
                              sender=f"Dr. Emeka Eze <{EZE}>", cc=f"Dr. Maria Chen <{CHEN}>", when=at(3, 15)))
    append(asked.work, forward_to_work(first_message(db, BELLO).subject))

    drafted = runner.invoke(cli, ["intros", "draft"])
    assert drafted.exit_code == 0, drafted.output
    plain, work = drafts(asked.plain), drafts(asked.work)
    assert list(plain) == [CHEN] and list(work) == [PATEL]
    assert plain[CHEN]["From"].addresses[0].addr_spec == SMTP_USER
    assert work[PATEL]["From"].addresses[0].addr_spec == WORK
    assert [a.addr_spec for a in work[PATEL]["Bcc"].addresses] == [BELLO]
    assert f"answer to {PATEL} (introduced by {BELLO}) saved in Drafts (profile work: " in drafted.stdout

    offered = runner.invoke(cli, ["contacts", "outcome", PATEL, "offer"])  # the thank-you is drafted at once...
    assert offered.exit_code == 0 and f"Thank-you to {BELLO} for the introduction saved in Drafts" in offered.stdout
    thanks = [m for _f, m in mailbox(asked.work, "Drafts") if m["To"].addresses[0].addr_spec == BELLO]
    assert len(thanks) == 1 and thanks[0]["From"].addresses[0].addr_spec == WORK  # ...from the account Bello was asked from
    assert len(mailbox(asked.plain, "Drafts")) == 1  # nothing of work's in the plain mailbox

    only_work = runner.invoke(cli, ["--profile", "work", "intros", "draft", "--no-poll"])
    assert only_work.exit_code == 0, only_work.output
    assert only_work.stdout.startswith("Nothing to draft")  # never twice
    assert f"Left for their own account: introductions asked from {SMTP_USER} are answered from that address" in only_work.stderr
    assert runner.invoke(cli, ["intros", "draft", "--no-poll"]).stdout.startswith("Nothing to draft")
