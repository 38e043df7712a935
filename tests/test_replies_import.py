"""`replies import`: exported mail (.eml, mbox, Maildir) is matched exactly as `replies poll`
matches the same messages read from the Dovecot fixture, and importing twice changes nothing."""

from __future__ import annotations

import json
import mailbox
import shutil
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

import pytest
from click.testing import CliRunner

from outreach.cli import cli
from outreach.db import open_db
from outreach.replies.mailfiles import import_paths
from outreach.replies.poll import poll
from tests.test_replies import NOW, SENT_AT, SMTP_USER, append, dsn, reply, send, settings

# Columns that say what a reply did; where it was read (folder, uid) and when are left out.
COLUMNS = "message_id, contact_id, campaign_id, rfc_message_id, from_address, subject, kind, bounce_type, return_date, body_text"


def auto_reply(sent, *, message_id: bool = True) -> bytes:
    message = EmailMessage()
    message["From"] = f"Dr. Rahul Mehta <{sent.to}>"
    message["To"] = SMTP_USER
    message["Subject"] = f"Automatic reply: {sent.subject}"
    message["Date"] = format_datetime(SENT_AT.replace(hour=15))
    if message_id:
        message["Message-ID"] = make_msgid(domain="stlukes.example.org")
    message["In-Reply-To"] = sent.message_id
    message["Auto-Submitted"] = "auto-replied"
    message.set_content("I am out of the office until March 16, 2026 with limited access to email.")
    return message.as_bytes()


def three_answers(db, smtp_server, certs) -> list[bytes]:
    jane = send(db, smtp_server, certs, "jane.okafor@mercy.example.org")
    rahul = send(db, smtp_server, certs, "rmehta@stlukes.example.org", first_name="Rahul")
    gone = send(db, smtp_server, certs, "gone@mercy.example.org")
    return [reply(jane, "Dear Ada,\n\nYes, please send your CV.\n\nJane"), auto_reply(rahul), dsn(gone)]


def rows(db) -> list[tuple]:
    return [tuple(r) for r in db.execute(f"SELECT {COLUMNS} FROM replies ORDER BY from_address").fetchall()]


def state(db) -> list[tuple]:
    contacts = db.execute("SELECT email, stage, status, away_until FROM contacts ORDER BY email").fetchall()
    messages = db.execute("SELECT id, state FROM messages ORDER BY id").fetchall()
    suppressed = db.execute("SELECT value, source FROM suppressions ORDER BY value").fetchall()
    return [tuple(r) for r in contacts + messages + suppressed]


@pytest.fixture
def db_env_three(mail_env, smtp_server, certs, tmp_path):
    db = open_db("outreach.db")
    answers = three_answers(db, smtp_server, certs)
    mail = tmp_path / "mail"
    mail.mkdir()
    return db, answers, mail


def test_import_matches_exactly_as_poll_does(mail_env, smtp_server, certs, imap_account, tmp_path):
    db = open_db("outreach.db")
    answers = three_answers(db, smtp_server, certs)
    db.conn.close()
    shutil.copy("outreach.db", "imported.db")
    for raw in answers:
        append(imap_account, raw)
        (tmp_path / f"{len(list(tmp_path.glob('*.eml')))}.eml").write_bytes(raw)

    polled_db = open_db("outreach.db")
    polled = poll(polled_db, settings(), now=NOW)
    imported_db = open_db("imported.db")
    imported = import_paths(imported_db, settings(), sorted(tmp_path.glob("*.eml")), now=NOW)

    expected = {"fetched": 3, "matched": 3, "human_reply": 1, "auto_reply": 1, "bounce": 1, "unsubscribe": 0}
    assert polled.to_json() == imported.to_json() == expected
    assert rows(polled_db) == rows(imported_db)
    assert state(polled_db) == state(imported_db)
    assert ("rmehta@stlukes.example.org", "contacted", "away", "2026-03-16") in state(imported_db)

    # The same files again, and the same messages now also in an mbox: nothing changes.
    box = mailbox.mbox(tmp_path / "export.mbox")
    for raw in answers:
        box.add(raw)
    box.flush()
    again = import_paths(imported_db, settings(), [*sorted(tmp_path.glob("*.eml")), tmp_path / "export.mbox"], now=NOW)
    assert again.to_json() == {**expected, "matched": 0, "human_reply": 0, "auto_reply": 0, "bounce": 0}
    assert rows(imported_db) == rows(polled_db)
    # ...and what `poll` already stored is recognised by its Message-ID too.
    assert import_paths(polled_db, settings(), [tmp_path / "export.mbox"], now=NOW).matched == 0


def test_a_maildir_and_the_cli_json(db_env_three):
    db, answers, tmp_path = db_env_three
    maildir = mailbox.Maildir(tmp_path / "Mail", create=True)
    for raw in answers:
        maildir.add(raw)
    result = CliRunner().invoke(cli, ["replies", "import", str(tmp_path / "Mail"), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"fetched": 3, "matched": 3, "human_reply": 1, "auto_reply": 1, "bounce": 1, "unsubscribe": 0}


def test_a_file_that_is_not_mail_gets_one_line_and_the_rest_still_import(db_env_three):
    db, answers, tmp_path = db_env_three
    (tmp_path / "reply.eml").write_bytes(answers[0])
    (tmp_path / "photo.png").write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR" + bytes(range(256)))
    (tmp_path / "notes.txt").write_text("Call Dr. Okafor on Monday\nabout the CV\n")
    args = ["replies", "import", str(tmp_path / "photo.png"), str(tmp_path / "notes.txt"), str(tmp_path / "reply.eml")]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    notes = [line for line in result.stderr.splitlines() if line.startswith("Note:")]
    assert len(notes) == 2
    assert "photo.png: not an email message" in notes[0] and "notes.txt: not an email message" in notes[1]
    assert "Traceback" not in result.output
    assert "1 matched of 1 read: 1 replied" in result.stdout
    # a mistyped path is a usage error, before anything is read
    typo = CliRunner().invoke(cli, ["replies", "import", str(tmp_path / "reply.eml"), str(tmp_path / "repyl.eml")])
    assert typo.exit_code == 2 and "does not exist" in typo.stderr
    assert import_paths(db, settings(), [tmp_path / "missing.eml"], now=NOW).notes == [f"{tmp_path / 'missing.eml'}: no such file or folder; skipped"]


def test_a_reply_without_message_id_is_recognised_by_its_content(db_env_three):
    db, answers, tmp_path = db_env_three
    rahul = db.execute("SELECT message_id, to_address, subject FROM messages WHERE to_address LIKE 'rmehta%'").fetchone()

    class Sent:
        message_id, to, subject = rahul

    raw = auto_reply(Sent, message_id=False)
    (tmp_path / "away.eml").write_bytes(raw)
    (tmp_path / "away-crlf.eml").write_bytes(raw.replace(b"\n", b"\r\n"))
    first = import_paths(db, settings(), [tmp_path / "away.eml"], now=NOW)
    second = import_paths(db, settings(), [tmp_path / "away-crlf.eml", tmp_path / "away.eml"], now=NOW)
    assert (first.matched, second.fetched, second.matched) == (1, 1, 0)
    assert db.execute("SELECT count(*) FROM replies").fetchone()[0] == 1
