"""kill -9 at random instants, then resume: nobody gets a message twice, and the db tells the truth.

Three kinds of trial: plain runs; runs where the server refuses messages with a 4xx so they are
retried within the same run; and two first-time sends started at once.

Each trial starts `outreach campaign send --live` as a real process against the real SMTP server,
SIGKILLs it a random (seeded) moment after it began sending, possibly more than once, then lets a
final run finish.
The process runs `outreach` through tests/slow_send.py, whose OUTREACH_TEST_SEND_DELAY slows each
step of the per-message state machine a little, so kills land inside every step: before 'sending'
is committed, between that commit and DATA, during DATA, and between the server's reply and the
'sent' commit.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from email import message_from_bytes
from pathlib import Path

import pytest

from outreach.sending import campaigns
from outreach.config import load_settings
from outreach.db import open_db
from tests.campaign_fixtures import add_contacts, write_template

TRIALS = 20
RETRY_TRIALS = 6
CONCURRENT_TRIALS = 4
SEED = 20260302
ROOT = Path(__file__).resolve().parent.parent  # so that `-m tests.slow_send` imports from any folder


_started: list[subprocess.Popen] = []


@pytest.fixture(autouse=True)
def _no_process_left_behind():
    """A failed or timed-out trial must not leave a send running into the next test's server."""
    yield
    while _started:
        process = _started.pop()
        if process.poll() is None:
            process.kill()
            process.wait()


def _send(env: dict[str, str], cwd: Path, *extra: str) -> subprocess.Popen:
    _started[:] = [p for p in _started if p.poll() is None]
    _started.append(process := _popen(env, cwd, *extra))
    return process


def _popen(env: dict[str, str], cwd: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.slow_send", "campaign", "send", "crash", "--live", "--no-limit", "--gap", "0",
         "--daily-cap", "0", "--hourly-cap", "0", "--domain-cap", "0", "--yes", *extra],
        cwd=cwd, env={**env, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
    )


def _trial_folder(tmp_path: Path, mail_env: dict[str, str], smtp_server, trial: str, count: int, **extra_env: str) -> tuple[Path, dict[str, str]]:
    folder = tmp_path / trial
    folder.mkdir()
    write_template(folder)
    env = {**os.environ, **mail_env, "OUTREACH_DB": str(folder / "outreach.db"), "OUTREACH_TEMPLATES_DIR": str(folder / "templates"),
           "OUTREACH_OUTBOX_DIR": str(folder / "outbox"), "OUTREACH_SENT_COPY": "no", "OUTREACH_TEST_SEND_DELAY": "0.01", **extra_env}
    db = open_db(folder / "outreach.db")
    add_contacts(db, count, tag=trial)
    settings = load_settings({"templates_dir": str(folder / "templates")}, env_file=None)
    campaigns.create_campaign(db, "crash", template="hello", templates_dir=settings.templates_dir, tags=[trial])
    db.close()
    with smtp_server.handler.lock:
        smtp_server.handler.received.clear()
    return folder, env


def _finish_and_check(folder: Path, env: dict[str, str], smtp_server, count: int, totals: Counter, trial: str) -> None:
    """A last run completes the campaign; then nobody got two messages, the db agrees with the
    server, and every Message-ID the server received is the one recorded for its recipient."""
    final = _send(env, folder, "--json")
    out, err = final.communicate(timeout=60)
    assert final.returncode == 0, err.decode()

    db = open_db(folder / "outreach.db")
    rows = list(db.query("SELECT to_address, message_id, state FROM messages WHERE kind = 'campaign'"))
    received = Counter(r.message_id for r in smtp_server.received)
    by_rcpt = Counter(r.rcpt_tos[0] for r in smtp_server.received)
    assert len(rows) == count
    assert all(n == 1 for n in by_rcpt.values()), f"trial {trial}: someone got two messages: {by_rcpt}"
    recorded = {row["to_address"]: row["message_id"] for row in rows}
    assert all(r.message_id == recorded[r.rcpt_tos[0]] for r in smtp_server.received), f"trial {trial}: a Message-ID the db doesn't have"
    for row in rows:
        assert row["state"] in ("sent", "uncertain"), row
        if row["state"] == "sent":
            assert received[row["message_id"]] == 1, f"trial {trial}: db says sent, server disagrees: {row}"
        else:
            assert received[row["message_id"]] <= 1
            totals["uncertain"] += 1
            totals["uncertain_received"] += received[row["message_id"]]
    assert set(received) <= set(recorded.values())
    assert f'"uncertain": {sum(r["state"] == "uncertain" for r in rows)}' in out.decode()
    totals["messages"] += count
    db.close()


def _kill(process: subprocess.Popen, totals: Counter) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait()
    totals["kills"] += 1


def _once_sending(smtp_server, before: int, *processes: subprocess.Popen) -> None:
    """Wait until the server has a new message (a run is sending) or the processes ended: the
    kill then lands mid-run however long Python takes to start on a busy machine."""
    deadline = time.monotonic() + 30
    while len(smtp_server.received) <= before and any(p.poll() is None for p in processes) and time.monotonic() < deadline:
        time.sleep(0.005)


@pytest.mark.timeout(600)  # dozens of real processes, each a Python start-up (slow on a busy machine)
def test_sigkill_at_random_points_never_duplicates_and_db_agrees_with_server(mail_env, smtp_server, tmp_path):
    rng = random.Random(SEED)
    totals: Counter = Counter()
    for trial in range(TRIALS):
        count = rng.randint(8, 15)
        folder, env = _trial_folder(tmp_path, mail_env, smtp_server, f"t{trial}", count)
        for _kill_number in range(rng.randint(1, 3)):
            before = len(smtp_server.received)
            process = _send(env, folder)
            _once_sending(smtp_server, before, process)
            time.sleep(rng.uniform(0, count * 0.03))
            _kill(process, totals)
        _finish_and_check(folder, env, smtp_server, count, totals, f"t{trial}")
    # The kills really landed mid-send in some trials (not all before or after the work).
    assert totals["uncertain"] >= 1, totals
    print(dict(totals))


class RefuseOnceThenKill:
    """An on_data rule: every other message is refused once with 451, then accepted. With a
    `victim` set, the server takes the first retried message and SIGKILLs the sender right then,
    before it can read the reply: the moment a retry sent without its `sending` commit would
    later be sent twice."""

    def __init__(self) -> None:
        self.refused: set[str] = set()
        self.victim: subprocess.Popen | None = None
        self.lock = threading.Lock()

    def __call__(self, envelope) -> str | None:
        message_id = message_from_bytes(envelope.content)["Message-ID"]
        with self.lock:
            if message_id not in self.refused and hash(message_id) % 2 == 0:
                self.refused.add(message_id)
                return "451 4.3.0 Temporarily rejected, try again"
            if message_id in self.refused and self.victim is not None:
                self.victim.send_signal(signal.SIGKILL)
                self.victim = None
        return None


@pytest.mark.timeout(600)  # dozens of real processes, each a Python start-up (slow on a busy machine)
def test_sigkill_during_same_run_retries_after_4xx_never_duplicates(mail_env, smtp_server, tmp_path):
    rng = random.Random(SEED + 1)
    totals: Counter = Counter()
    for trial in range(RETRY_TRIALS):
        count = rng.randint(8, 12)
        folder, env = _trial_folder(tmp_path, mail_env, smtp_server, f"r{trial}", count, OUTREACH_TEST_BACKOFF="0.05")
        smtp_server.handler.on_data = rule = RefuseOnceThenKill()
        rule.victim = process = _send(env, folder)  # killed at the chosen point: its first retry accepted
        process.wait(timeout=60)
        totals["killed on a retry"] += process.returncode == -signal.SIGKILL
        for _kill_number in range(rng.randint(1, 2)):  # and at random points
            before = len(smtp_server.received)
            process = _send(env, folder)
            _once_sending(smtp_server, before, process)
            time.sleep(rng.uniform(0, count * 0.04))
            _kill(process, totals)
        _finish_and_check(folder, env, smtp_server, count, totals, f"r{trial}")
        totals["refused"] += len(rule.refused)
        smtp_server.handler.on_data = None
    assert totals["killed on a retry"] >= RETRY_TRIALS // 2, totals  # the chosen point was reached
    print(dict(totals))


@pytest.mark.timeout(600)  # dozens of real processes, each a Python start-up (slow on a busy machine)
def test_two_first_time_sends_at_once_sigkilled_never_duplicate(mail_env, smtp_server, tmp_path):
    rng = random.Random(SEED + 2)
    totals: Counter = Counter()
    for trial in range(CONCURRENT_TRIALS):
        count = rng.randint(8, 12)
        folder, env = _trial_folder(tmp_path, mail_env, smtp_server, f"c{trial}", count)
        first, second = _send(env, folder), _send(env, folder)
        _once_sending(smtp_server, 0, first, second)
        time.sleep(rng.uniform(0, count * 0.03))
        for process in (first, second):
            if process.poll() is None:
                _kill(process, totals)
            else:
                totals["lost the race"] += process.returncode == 1
        _finish_and_check(folder, env, smtp_server, count, totals, f"c{trial}")
    print(dict(totals))
