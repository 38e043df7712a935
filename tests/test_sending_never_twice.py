"""Never twice, under every fault (#10, items 1-4), on the real SMTP fixture and real processes.

1. A message is always committed as `sending` before its DATA, a same-run retry included.
2. Same-run retries count their attempts, so a permanent 4xx ends as `failed`.
3. Two `campaign send --live` at once: one sends, the other stops before freezing or rendering,
   a symlinked database path included; every Message-ID sent is the one recorded.
4. The database deleted or replaced mid-send: the run stops with one `Error:` line, exit 1.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from email import message_from_bytes
from pathlib import Path

import pytest

from outreach.config import load_settings
from outreach.db import Database, open_db
from outreach.sending import campaigns, outbox, run, sender
from tests.campaign_fixtures import START, add_contacts, db_open, limits, settings, started_campaign, write_template
from tests.clocks import FakeClock

ROOT = Path(__file__).resolve().parent.parent
DOC2 = "doc2@hospital2.example.org"


def _message_id(envelope) -> str:
    return message_from_bytes(envelope.content)["Message-ID"]


def _send(db, campaign: dict, *, timeout: float = 20.0) -> run.SendReport:
    """A run on the injected clock, stopped (as by Ctrl-C) after `timeout` real seconds should it
    never end by itself."""
    campaign = campaigns.get_campaign(db, campaign["name"])

    async def job() -> run.SendReport:
        stop = asyncio.Event()
        asyncio.get_running_loop().call_later(timeout, stop.set)
        return await sender.send_campaign(db, settings(), campaign, limits=limits(), clock=FakeClock(START), stop=stop)

    return asyncio.run(job())


@pytest.fixture
def three(mail_env, smtp_server, hermetic, monkeypatch):
    monkeypatch.setenv("OUTREACH_SENT_COPY", "no")  # with no Sent copy to make, the next message is marked with this one's outcome
    write_template(hermetic)
    db = db_open()
    add_contacts(db, 3)
    return db, started_campaign(db)


def test_a_retry_after_a_4xx_is_committed_as_sending_before_its_data(three, smtp_server):
    db, campaign = three
    seen: list[tuple[str, str]] = []
    refused = set()

    def on_data(envelope) -> str | None:
        message_id = _message_id(envelope)
        with sqlite3.connect("outreach.db") as other:  # what a crash right now would leave on disk
            seen.append(other.execute("SELECT state, to_address FROM messages WHERE message_id = ?", [message_id]).fetchone())
        if envelope.rcpt_tos == [DOC2] and DOC2 not in refused:
            refused.add(DOC2)
            return "451 4.3.0 Temporarily rejected, try again"
        return None

    smtp_server.handler.on_data = on_data
    report = _send(db, campaign)
    assert report.sent == 3 and len(smtp_server.received) == 3
    assert [to for _state, to in seen].count(DOC2) == 2  # refused once, then retried in the same run
    assert all(state == "sending" for state, _to in seen), seen


@pytest.mark.parametrize("fault", ["statements", "commit"])
def test_a_failed_write_of_the_next_mark_hands_nothing_more_over(three, smtp_server, monkeypatch, fault):
    """One message's outcome and the next one's `sending` mark are one transaction, written while
    the server answers the next MAIL FROM and committed while it answers RCPT TO: when either
    fails (a disk error), the next message's DATA never starts and the run stops with the error."""
    db, campaign = three
    finish_within, commit = outbox.finish_within, Database.commit

    def statements_fail(db, message, state, event, *, next_message=None, **changes):
        if next_message is not None:
            raise sqlite3.OperationalError("disk I/O error")
        finish_within(db, message, state, event, next_message=next_message, **changes)

    def commit_fails(self: Database) -> None:
        sent, sending = self.conn.execute("SELECT sum(state = 'sent'), sum(state = 'sending') FROM messages").fetchone()
        if sent and sending:  # the first message's outcome with the second one's mark
            self.rollback()
            raise sqlite3.OperationalError("disk I/O error")
        commit(self)

    if fault == "statements":
        monkeypatch.setattr(outbox, "finish_within", statements_fail)
    else:
        monkeypatch.setattr(Database, "commit", commit_fails)
    with pytest.raises(sqlite3.OperationalError, match="disk I/O error"):
        _send(db, campaign)
    assert len(smtp_server.received) == 1
    on_disk = dict(db.execute("SELECT to_address, state FROM messages").fetchall())
    # the first one's outcome never landed: it stays `sending`, which the next run settles as uncertain
    assert sorted(on_disk.values()) == ["queued", "queued", "sending"]


def test_a_permanent_4xx_on_same_run_retries_is_counted_and_fails(three, smtp_server, monkeypatch):
    db, campaign = three
    monkeypatch.setattr(run, "BACKOFF_BASE", 1.0)  # every retry falls inside this run
    smtp_server.handler.on_data = lambda envelope: "451 4.7.1 Try again later" if envelope.rcpt_tos == [DOC2] else None
    report = _send(db, campaign)
    assert (report.sent, report.failed) == (2, 1)
    state, attempts, error = db.execute("SELECT state, attempts, error FROM messages WHERE to_address = ?", [DOC2]).fetchone()
    assert (state, attempts) == ("failed", run.MAX_ATTEMPTS) and error.startswith("gave up after 6 tries: 451")


# --- real processes ----------------------------------------------------------------------------


def _env(folder: Path, mail_env: dict[str, str], *, db: Path | None = None, delay: float = 0.0) -> dict[str, str]:
    return {**os.environ, **mail_env, "OUTREACH_DB": str(db or folder / "outreach.db"),
            "OUTREACH_TEMPLATES_DIR": str(folder / "templates"), "OUTREACH_OUTBOX_DIR": str(folder / "outbox"),
            "OUTREACH_SENT_COPY": "no", "OUTREACH_TEST_SEND_DELAY": str(delay),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}


def _live(env: dict[str, str], cwd: Path, name: str = "twice") -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.slow_send", "campaign", "send", name, "--live", "--no-limit", "--gap", "0",
         "--daily-cap", "0", "--hourly-cap", "0", "--domain-cap", "0", "--yes"],
        cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
    )


def _draft(folder: Path, count: int, name: str = "twice") -> None:
    write_template(folder)
    db = open_db(folder / "outreach.db")
    add_contacts(db, count)
    templates = load_settings({"templates_dir": str(folder / "templates")}, env_file=None).templates_dir
    campaigns.create_campaign(db, name, template="hello", templates_dir=templates, tags=["physicians"])
    db.close()


def _wait_for(condition, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def _sent_as_recorded(folder: Path, smtp_server) -> dict[str, str]:
    """Every message the server received was received once, and is the one the db recorded."""
    db = open_db(folder / "outreach.db")
    recorded = {to: mid for to, mid in db.execute("SELECT to_address, message_id FROM messages WHERE kind = 'campaign'")}
    db.close()
    by_rcpt = Counter(r.rcpt_tos[0] for r in smtp_server.received)
    assert all(n == 1 for n in by_rcpt.values()), by_rcpt
    for received in smtp_server.received:
        assert received.message_id == recorded[received.rcpt_tos[0]], "sent a Message-ID the db does not have"
    return recorded


def test_two_first_live_sends_at_once_one_sends_and_ids_match(mail_env, smtp_server, tmp_path):
    for trial in range(3):
        folder = tmp_path / f"trial{trial}"
        folder.mkdir()
        _draft(folder, 25)
        smtp_server.handler.clear()
        env = _env(folder, mail_env, delay=0.005)
        first, second = _live(env, folder), _live(env, folder)
        results = [p.communicate(timeout=60) + (p.returncode,) for p in (first, second)]
        codes = sorted(code for _out, _err, code in results)
        assert codes == [0, 1], results
        loser = next(err.decode() for _out, err, code in results if code == 1)
        assert "another `outreach campaign send` is running" in loser and loser.count("Error:") == 1
        recorded = _sent_as_recorded(folder, smtp_server)
        assert len(smtp_server.received) == len(recorded) == 25


def test_a_symlinked_database_path_takes_the_same_lock(mail_env, smtp_server, tmp_path):
    _draft(tmp_path, 6)
    link = tmp_path / "elsewhere" / "link.db"
    link.parent.mkdir()
    link.symlink_to(tmp_path / "outreach.db")
    slow = _live(_env(tmp_path, mail_env, delay=0.15), tmp_path)
    _wait_for(lambda: len(smtp_server.received) >= 1)
    other = _live(_env(tmp_path, mail_env, db=link), tmp_path)
    _out, err = other.communicate(timeout=60)
    assert other.returncode == 1 and "another `outreach campaign send` is running" in err.decode()
    _out, err = slow.communicate(timeout=60)
    assert slow.returncode == 0, err.decode()
    assert len(_sent_as_recorded(tmp_path, smtp_server)) == len(smtp_server.received) == 6


@pytest.mark.parametrize("how", ["deleted", "replaced"])
def test_the_database_deleted_or_replaced_mid_send_stops_the_run(mail_env, smtp_server, tmp_path, how):
    _draft(tmp_path, 8)
    path = tmp_path / "outreach.db"
    process = _live(_env(tmp_path, mail_env, delay=0.1), tmp_path)
    _wait_for(lambda: len(smtp_server.received) >= 1)
    if how == "deleted":
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    else:
        shutil.copyfile(path, tmp_path / "copy.db")
        os.replace(tmp_path / "copy.db", path)
    out, err = process.communicate(timeout=60)
    lines = err.decode().strip().splitlines()
    assert process.returncode == 1, (out, err)
    assert len(lines) == 1 and lines[0].startswith("Error: ") and "database" in lines[0], lines
    assert len(smtp_server.received) < 8  # it stopped instead of carrying on with no record


def test_a_sigkilled_send_while_another_starts_never_duplicates(mail_env, smtp_server, tmp_path):
    """Two first-time sends at once, one of them killed, then a final run: nothing twice."""
    _draft(tmp_path, 12)
    env = _env(tmp_path, mail_env, delay=0.01)
    first, second = _live(env, tmp_path), _live(env, tmp_path)
    time.sleep(0.6)
    for process in (first, second):
        process.send_signal(signal.SIGKILL)
        process.wait()
    final = _live(env, tmp_path)
    _out, err = final.communicate(timeout=60)
    assert final.returncode == 0, err.decode()
    _sent_as_recorded(tmp_path, smtp_server)
