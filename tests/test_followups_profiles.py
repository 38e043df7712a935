"""Follow-ups from the account each campaign sends from, on the real servers: a campaign of the
plain account (Dovecot user A, SMTP login ada@example.com) and one of profile `work` (Dovecot
user B, SMTP login ada@work.example.edu). Drafts land in each account's own Drafts folder,
sends go through each account's own SMTP login under its own caps, one account's poll never
touches the other's drafts, and a --profile that contradicts a campaign is one clear error."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from outreach.cli import cli
from outreach.config import load_settings
from outreach.db import open_db
from outreach.followups.reconcile import mailbox_account
from outreach.sending import campaigns, sender
from outreach.templates.render import Sender
from tests.campaign_fixtures import START, add_contacts, limits, write_template
from tests.clocks import FakeClock
from tests.mailservers import PASSWORD, SMTP_USER
from tests.test_followups_flow import mailbox

REPO = Path(__file__).resolve().parent.parent
WORK = "ada@work.example.edu"
PLAIN = [f"doc{n}@hospital{n}.example.org" for n in (1, 2, 3)]
ALUMNI = [f"doc{n}@hospital{n}.example.org" for n in (4, 5, 6)]


def profile_settings(name: str | None = None):
    return load_settings({"profile": name} if name else {}, environ=dict(os.environ), env_file=None)


@pytest.fixture
def two_accounts(mail_env, smtp_server, imap_account, dovecot, monkeypatch):
    """`spring` (no profile: the plain account) to doc1-3 and `fall` (profile work, daily cap 2)
    to doc4-6, each with two follow-ups, first emails sent Monday 2 March from their accounts."""
    work_user = dovecot.new_user()
    for key, value in {
        "PROVIDER": "custom", "FROM": f"Ada Obi, MD <{WORK}>", "SMTP_HOST": smtp_server.host,
        "SMTP_PORT": str(smtp_server.port), "SMTP_SECURITY": "starttls", "SMTP_USERNAME": WORK, "SMTP_PASSWORD": PASSWORD,
        "IMAP_HOST": imap_account.host, "IMAP_PORT": str(imap_account.tls_port), "IMAP_SECURITY": "tls",
        "IMAP_USERNAME": work_user, "IMAP_PASSWORD": PASSWORD, "DAILY_CAP": "2", "HOURLY_CAP": "0", "DOMAIN_CAP": "0",
    }.items():
        monkeypatch.setenv(f"OUTREACH_PROFILE_WORK_{key}", value)
    monkeypatch.setenv("OUTREACH_PROFILE_HOME_FROM", "ada.home@example.com")  # a third account, never used here
    write_template(Path.cwd())
    for name in ("followup-1", "followup-2"):
        shutil.copy(REPO / "templates" / f"{name}.txt", Path("templates") / f"{name}.txt")
    db = open_db("outreach.db")
    add_contacts(db, 3)
    add_contacts(db, 3, tag="alumni", start=4)
    for name, tag, profile in (("spring", "physicians", None), ("fall", "alumni", "work")):
        s = profile_settings(profile)
        account = {"profile": profile, "account": WORK} if profile else {}
        campaign = campaigns.create_campaign(db, name, template="hello", templates_dir=s.templates_dir, tags=[tag],
                                             followups=[("followup-1", 3), ("followup-2", 7)], **account)
        campaign = campaigns.freeze_campaign(db, s, campaign, now=START)
        assert asyncio.run(sender.send_campaign(db, s, campaign, limits=limits(), clock=FakeClock(START))).sent == 3
    smtp_server.handler.clear()
    work = SimpleNamespace(**{**vars(imap_account), "username": work_user})
    return SimpleNamespace(db=db, plain=imap_account, work=work)


def drafts_to(account) -> dict[str, object]:
    return {m["To"].addresses[0].addr_spec: m for _f, m in mailbox(account, "Drafts")}


def state(db, email: str, step: int = 1) -> str:
    return db.execute("SELECT m.state FROM messages m JOIN contacts c ON c.id = m.contact_id WHERE c.email = ? AND m.step = ?",
                      [email, step]).fetchone()[0]


def test_each_campaigns_follow_ups_are_drafted_into_its_own_accounts_mailbox(two_accounts):
    db, runner = two_accounts.db, CliRunner()
    drafted = runner.invoke(cli, ["followups", "draft", "--as-of", "2026-03-05", "--json"])
    assert drafted.exit_code == 0, drafted.output
    items = json.loads(drafted.stdout)
    assert sorted((i["email"], i["profile"]) for i in items) == sorted([(e, None) for e in PLAIN] + [(e, "work") for e in ALUMNI])

    plain, work = drafts_to(two_accounts.plain), drafts_to(two_accounts.work)
    assert sorted(plain) == PLAIN and sorted(work) == ALUMNI
    assert {m["From"].addresses[0].addr_spec for m in plain.values()} == {SMTP_USER}
    assert {m["From"].addresses[0].addr_spec for m in work.values()} == {WORK}
    assert "Read new mail first (profile work: Ada Obi, MD <ada@work.example.edu>)" in drafted.stderr

    # The plain account's poll follows its own drafts only: work's are in another mailbox, not "deleted".
    polled = runner.invoke(cli, ["replies", "poll"])
    assert polled.exit_code == 0, polled.output
    assert "Follow-ups" not in polled.stderr
    assert {state(db, e) for e in PLAIN + ALUMNI} == {"drafted"}
    # ...and work's poll sees its drafts where they are; a draft the user deleted there stops its contact.
    assert runner.invoke(cli, ["--profile", "work", "replies", "poll"]).exit_code == 0
    assert {state(db, e) for e in ALUMNI} == {"drafted"}

    again = runner.invoke(cli, ["followups", "draft", "--as-of", "2026-03-05"])
    assert again.exit_code == 0 and "drafted " not in again.stdout  # no duplicates, in either mailbox
    assert len(drafts_to(two_accounts.plain)) == 3 and len(drafts_to(two_accounts.work)) == 3


def test_each_campaigns_follow_ups_are_sent_through_its_own_smtp_login_and_caps(two_accounts, smtp_server):
    db, runner = two_accounts.db, CliRunner()
    sent = runner.invoke(cli, ["followups", "send", "--live", "--as-of", "2026-03-05", "--json"])
    assert sent.exit_code == 0, sent.output
    # work's daily cap is 2 and its first emails were months ago: 2 of its 3 go now, all 3 of the plain account's.
    assert json.loads(sent.stdout) == {"sent": 5, "failed": 0, "deferred": 0, "uncertain": 0, "skipped": 0, "remaining": 1}
    by_login = {(r.login, r.mail_from, r.rcpt_tos[0]) for r in smtp_server.received}
    assert {(SMTP_USER, SMTP_USER, e) for e in PLAIN} <= by_login
    assert {(login, sender) for login, sender, to in by_login if to in ALUMNI} == {(WORK, WORK)}
    assert len(by_login) == 5
    # The Sent copies are in each account's own Sent folder.
    work_sent = [m for _f, m in mailbox(two_accounts.work, "Sent") if m["In-Reply-To"]]  # beside the 3 first emails
    assert len(work_sent) == 2 and {m["To"].addresses[0].addr_spec for m in work_sent} < set(ALUMNI)
    plain_sent = [m for _f, m in mailbox(two_accounts.plain, "Sent") if m["In-Reply-To"]]
    assert sorted(m["To"].addresses[0].addr_spec for m in plain_sent) == PLAIN
    assert [state(db, e) for e in ALUMNI].count("queued") == 1


def test_a_profile_on_the_command_line_handles_its_own_account_and_says_what_it_left(two_accounts, smtp_server):
    runner = CliRunner()
    wrong = runner.invoke(cli, ["--profile", "home", "followups", "draft", "--campaign", "fall", "--as-of", "2026-03-05"])
    assert wrong.exit_code == 1
    assert wrong.stderr.strip() == "Error: this campaign sends from profile 'work', not 'home': drop --profile"
    # spring began from the plain address: its follow-ups never go from another one
    other = runner.invoke(cli, ["--profile", "work", "followups", "send", "--campaign", "spring", "--as-of", "2026-03-05"])
    assert other.exit_code == 1 and f"was sent from {SMTP_USER}, not from {WORK}" in other.stderr

    only = runner.invoke(cli, ["--profile", "work", "followups", "draft", "--as-of", "2026-03-05"])
    assert only.exit_code == 0, only.output
    assert sorted(drafts_to(two_accounts.work)) == ALUMNI and drafts_to(two_accounts.plain) == {}
    assert (f"Left for their own account: follow-ups due in spring ({SMTP_USER}); they go from the address the first "
            "emails went from: drop --profile.") in only.stderr

    dry = runner.invoke(cli, ["--profile", "work", "followups", "send", "--as-of", "2026-03-05"])
    assert dry.exit_code == 0 and "Nobody is due" in dry.stdout  # fall's are in Drafts already; spring is left
    assert "follow-ups due in spring" in dry.stderr and smtp_server.received == []


def test_a_from_with_an_unquoted_comma_is_one_sender(tmp_path):
    """README's own example: OUTREACH_PROFILE_UNI_FROM="Ada Obi, MD <a.obi@uni.example.edu>"."""
    env_file = tmp_path / ".env"
    env_file.write_text('OUTREACH_PROFILE_UNI_FROM="Ada Obi, MD <a.obi@uni.example.edu>"\nOUTREACH_PROFILE_UNI_PROVIDER=gmail\n')
    uni = load_settings({"profile": "uni"}, environ={}, env_file=env_file)
    assert uni.smtp.username == uni.imap.username == "a.obi@uni.example.edu"  # not "Ada"
    sender = Sender.from_settings(uni)
    assert (sender.name, sender.address) == ("Ada Obi, MD", "a.obi@uni.example.edu")
    assert mailbox_account(uni) == "a.obi@uni.example.edu"


def test_the_totals_of_a_send_over_several_accounts_keep_everything_each_mailbox_found():
    """What each mailbox's reconcile found, every kind of it, reaches `followups send`'s totals."""
    from dataclasses import fields

    from outreach.followups.accounts import AccountSends, SendEach
    from outreach.followups.reconcile import Reconciled
    from outreach.followups.send import FollowupSendReport

    each = SendEach(live=True)
    for n, account in enumerate(("ada@example.com", "ada@uni.example.edu")):
        report = FollowupSendReport(live=True)
        report.refreshed.reconciled = Reconciled(**{kind.name: [f"{kind.name}{n}@example.org"] for kind in fields(Reconciled)})
        each.parts.append(AccountSends(None if n == 0 else "uni", account, report))
    merged = each.merged.refreshed.reconciled
    assert all(getattr(merged, kind.name) == [f"{kind.name}0@example.org", f"{kind.name}1@example.org"] for kind in fields(Reconciled))
    assert merged.held  # the out-of-office kind too
