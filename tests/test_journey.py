"""The README's daily journey, literally, through the installed command: `python -m outreach`
subprocesses in an empty folder, settings in `.env`, a live send through the SMTP fixture, and a
reply, an out-of-office and a bounce arriving in the Dovecot fixture.

It starts with `outreach init` in an empty folder, as the README does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from email import message_from_bytes, policy
from email.utils import format_datetime
from pathlib import Path

from tests.test_replies import append, dsn, reply

REPO = Path(__file__).resolve().parent.parent


@dataclass
class Sent:
    """A message as it reached the SMTP server: what the outside world answers."""

    message_id: str
    to: str
    subject: str


def outreach(*args: str, folder: Path) -> subprocess.CompletedProcess[str]:
    """One command as a user types it, in `folder`, with only `.env` for settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OUTREACH_")}
    result = subprocess.run([sys.executable, "-m", "outreach", *args], cwd=folder, env=env, capture_output=True,
                            text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert "Traceback" not in result.stderr, result.stderr
    return result


def out_of_office(sent: Sent, back: date) -> bytes:
    return (f"From: Dr. Rahul Mehta <{sent.to}>\r\nTo: Ada Obi <ada@example.com>\r\n"
            f"Subject: Automatic reply: {sent.subject}\r\nDate: {format_datetime(datetime.now(timezone.utc))}\r\n"
            f"Message-ID: <ooo-journey@stlukes.example.org>\r\nIn-Reply-To: {sent.message_id}\r\n"
            "Auto-Submitted: auto-replied\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
            f"I am out of the office until {back:%B} {back.day}, {back.year} with limited access to email.\r\n").encode()


def test_the_daily_journey_from_an_empty_folder(mail_env, smtp_server, imap_account, tmp_path):
    folder = tmp_path / "journey"
    folder.mkdir()
    # 1. Tell it who you are: `outreach init` in the empty folder, then the fixture's secrets in .env.
    init = outreach(
        "init", ".", "--address", "ada@example.com", "--name", "Ada Obi", "--provider", "custom",
        "--smtp-host", mail_env["OUTREACH_SMTP_HOST"], "--smtp-port", mail_env["OUTREACH_SMTP_PORT"],
        "--smtp-security", mail_env["OUTREACH_SMTP_SECURITY"], "--imap-host", mail_env["OUTREACH_IMAP_HOST"],
        "--imap-port", mail_env["OUTREACH_IMAP_PORT"], "--imap-security", mail_env["OUTREACH_IMAP_SECURITY"], "--yes",
        folder=folder,
    )
    assert init.returncode == 0, init.stderr
    env_file = folder / ".env"
    assert env_file.stat().st_mode & 0o777 == 0o600
    assert (folder / "templates" / "observership-request.txt").is_file() and (folder / "contacts" / "physicians.csv").is_file()
    written = [line for line in env_file.read_text().splitlines() if line.split("=", 1)[0].strip() not in mail_env]
    env_file.write_text("\n".join([*written, *(f"{k}={v}" for k, v in mail_env.items())]) + "\n")  # the user pastes the password

    # 2. Import your contact lists.
    imported = outreach("contacts", "import", "contacts/physicians.csv", "--tag", "physicians", "--json", folder=folder)
    assert imported.returncode == 0, imported.stderr
    assert json.loads(imported.stdout)["inserted"] == 25

    # 3. Check the template.
    checked = outreach("templates", "check", "observership-request", "--tag", "physicians", folder=folder)
    assert checked.returncode == 0 and "renders for all 25" in checked.stderr

    # 4. Run a campaign: create, dry run, first live run (at most 10).
    assert outreach("campaign", "create", "spring", "--template", "observership-request", "--tag", "physicians",
                    folder=folder).returncode == 0
    dry = outreach("campaign", "send", "spring", folder=folder)
    assert dry.returncode == 0 and "Nothing was sent" in dry.stdout and not smtp_server.received
    live = outreach("campaign", "send", "spring", "--live", "--json", folder=folder)
    assert live.returncode == 0, live.stderr
    assert json.loads(live.stdout) == {"sent": 10, "failed": 0, "deferred": 0, "uncertain": 0, "skipped": 0, "remaining": 15}
    assert len(smtp_server.received) == 10

    # The world answers: a reply, an out-of-office and a bounce arrive in the inbox.
    sent = {}
    for received in smtp_server.received:
        message = message_from_bytes(received.data, policy=policy.default)
        sent[received.rcpt_tos[0]] = Sent(str(message["Message-ID"]), received.rcpt_tos[0], str(message["Subject"]))
    jane, rahul, emily = (sent[a] for a in ("jane.okafor@mercy.example.org", "rmehta@stlukes.example.org",
                                             "emily.hartwell@riverside.example.edu"))
    back = date.today() + timedelta(days=20)
    append(imap_account, reply(jane, "Dear Ada,\n\nYes, we can host you in May. Please send your dates.\n\nJane",
                               when=datetime.now(timezone.utc)))
    append(imap_account, out_of_office(rahul, back))
    append(imap_account, dsn(emily))

    # 5. Read the replies.
    polled = outreach("replies", "poll", "--json", folder=folder)
    assert polled.returncode == 0, polled.stderr
    assert json.loads(polled.stdout) == {"fetched": 3, "matched": 3, "human_reply": 1, "auto_reply": 1, "bounce": 1, "unsubscribe": 0}
    listed = outreach("replies", "list", folder=folder)
    assert "jane.okafor@mercy.example.org" in listed.stdout and f"away until {back.isoformat()}" in listed.stdout

    shown = outreach("campaign", "show", "spring", folder=folder)
    assert shown.returncode == 0 and "1 bounced" in shown.stdout
    contact = outreach("contacts", "show", "jane.okafor@mercy.example.org", "--json", folder=folder)
    assert json.loads(contact.stdout)["stage"] == "replied"

    # 6. See what works.
    report = outreach("report", "--campaign", "spring", "--json", folder=folder)
    assert report.returncode == 0, report.stderr
    [group] = json.loads(report.stdout)["groups"]
    assert (group["contacted"], group["bounced"], group["replied"], group["auto_replied"]) == (10, 1, 1, 1)

    # 7. Follow up, in the same thread: drafts for review in the Drafts folder.
    later = (date.today() + timedelta(days=10)).isoformat()  # past the first follow-up's 3 business days
    due = outreach("followups", "due", "--campaign", "spring", "--as-of", later, "--json", folder=folder)
    assert due.returncode == 0, due.stderr
    due_rows = json.loads(due.stdout)
    assert {d["email"] for d in due_rows} == set(sent) - {jane.to, rahul.to, emily.to}  # replied, away, bounced
    assert {d["step"] for d in due_rows} == {2}
    drafted = outreach("followups", "draft", "--campaign", "spring", "--as-of", later, "--json", folder=folder)
    assert drafted.returncode == 0, drafted.stderr
    assert len(json.loads(drafted.stdout)) == 7
    drafts = drafts_in(imap_account)
    assert len(drafts) == 7
    for draft in drafts:
        to = draft["To"].addresses[0].addr_spec
        assert draft["In-Reply-To"] == sent[to].message_id and draft["Subject"] == f"Re: {sent[to].subject}"


def drafts_in(account) -> list:
    """The messages in the account's \\Drafts folder, parsed."""
    from imapclient import IMAPClient

    with IMAPClient(account.host, account.port, ssl=False) as client:
        client.login(account.username, account.password)
        folder = next(name for flags, _sep, name in client.list_folders() if b"\\Drafts" in flags)
        client.select_folder(folder, readonly=True)
        uids = client.search("ALL")
        return [message_from_bytes(data[b"RFC822"], policy=policy.default) for data in client.fetch(uids, ["RFC822"]).values()]
