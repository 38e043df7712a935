"""Fault injection on the database (issue 10, item 10): busy, read-only, damaged, disk full.

Each is produced for real (a second sqlite connection holding the write lock, file permissions,
a file that is not a database, a file-size limit on the process) and each must come out of the
real `outreach` command as one line `Error: ...` with exit 1, no traceback, nothing lost."""

from __future__ import annotations

import json
import os
import resource
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from outreach.contacts.importer import import_csv
from outreach.db import DatabaseError, database_error, open_db

CONTACTS = "email,first_name,last_name\njane.okafor@mercy.example.org,Jane,Okafor\n"
MORE = "email,first_name,last_name\nbob.smith@lakeside.example.net,Bob,Smith\n"


def outreach(*args: str, cwd: Path, env: dict[str, str] | None = None, preexec: Callable[[], None] | None = None,
             timeout: float = 60) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("OUTREACH_")} | (env or {})
    return subprocess.run([sys.executable, "-m", "outreach", *args], cwd=cwd, env=environ, capture_output=True,
                          text=True, timeout=timeout, preexec_fn=preexec)


def one_error_line(result: subprocess.CompletedProcess[str], *needles: str) -> str:
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def emails(path: Path) -> list[str]:
    with sqlite3.connect(path) as conn:
        return [row[0] for row in conn.execute("SELECT email FROM contacts ORDER BY id")]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A folder with a database holding one contact, and a second list to import."""
    (tmp_path / "contacts.csv").write_text(CONTACTS)
    (tmp_path / "more.csv").write_text(MORE)
    assert outreach("contacts", "import", "contacts.csv", cwd=tmp_path).returncode == 0
    return tmp_path


def test_a_write_lock_held_by_another_connection_is_waited_for_then_one_line(project: Path):
    holder = sqlite3.connect(project / "outreach.db")
    holder.execute("BEGIN IMMEDIATE")  # another process in the middle of a write
    holder.execute("INSERT INTO tags (name) VALUES ('being-written')")
    try:
        started = time.monotonic()
        result = outreach("contacts", "import", "more.csv", cwd=project, env={"OUTREACH_BUSY_TIMEOUT": "0.5"})
        waited = time.monotonic() - started
    finally:
        holder.rollback()
        holder.close()
    one_error_line(result, "outreach.db is busy", "another outreach command is writing", "try again in a moment")
    assert waited >= 0.5  # it waited for the lock before giving up (bounded by the setting)
    assert emails(project / "outreach.db") == ["jane.okafor@mercy.example.org"]
    again = outreach("contacts", "import", "more.csv", cwd=project)  # once the writer is done, it just works
    assert again.returncode == 0, again.stderr
    assert emails(project / "outreach.db") == ["jane.okafor@mercy.example.org", "bob.smith@lakeside.example.net"]


def test_a_lock_released_within_the_wait_is_not_an_error(project: Path):
    holder = sqlite3.connect(project / "outreach.db")
    holder.execute("BEGIN IMMEDIATE")
    process = subprocess.Popen([sys.executable, "-m", "outreach", "contacts", "import", "more.csv"], cwd=project,
                               env={k: v for k, v in os.environ.items() if not k.startswith("OUTREACH_")} | {"OUTREACH_BUSY_TIMEOUT": "30"},
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(1.0)  # the command starts and blocks on the lock (a real second process; no clock to inject)
        holder.rollback()
    finally:
        holder.close()
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    assert "bob.smith@lakeside.example.net" in emails(project / "outreach.db")


def test_reading_is_never_held_up_by_another_commands_write(project: Path):
    holder = sqlite3.connect(project / "outreach.db")
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("INSERT INTO tags (name) VALUES ('being-written')")
    try:
        result = outreach("contacts", "list", "--json", cwd=project, env={"OUTREACH_BUSY_TIMEOUT": "0.5"})
    finally:
        holder.rollback()
        holder.close()
    assert result.returncode == 0, result.stderr
    assert [c["email"] for c in json.loads(result.stdout)] == ["jane.okafor@mercy.example.org"]


def test_the_busy_wait_setting_is_checked():
    result = outreach("contacts", "list", cwd=Path.cwd(), env={"OUTREACH_BUSY_TIMEOUT": "forever"})
    one_error_line(result, "OUTREACH_BUSY_TIMEOUT='forever'")


def _without_root_override() -> Callable[[], None] | None:
    """Root may write any file whatever its mode: drop CAP_DAC_OVERRIDE from the command's
    process (from the bounding set, so the exec'd Python lacks it) and file modes apply again."""
    if os.geteuid() != 0:
        return None
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)

    def drop() -> None:
        if libc.prctl(24, 1, 0, 0, 0) != 0:  # PR_CAPBSET_DROP, CAP_DAC_OVERRIDE
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")

    return drop


def test_a_read_only_database_is_one_line_that_says_so(project: Path):
    for path in project.iterdir():
        path.chmod(0o444)
    project.chmod(0o555)
    try:
        result = outreach("contacts", "import", "more.csv", cwd=project, preexec=_without_root_override())
    finally:
        project.chmod(0o755)
    one_error_line(result, "outreach.db", "read-only", "write permission")
    assert emails(project / "outreach.db") == ["jane.okafor@mercy.example.org"]


@pytest.mark.parametrize("damage", ["not-a-database", "torn-in-half"])
def test_a_damaged_database_is_one_line_that_says_what_to_do(project: Path, damage: str):
    db = project / "outreach.db"
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("PRAGMA journal_mode = DELETE")
    if damage == "not-a-database":
        db.write_bytes(b"these are my notes, not a database\n" * 200)
    else:
        data = db.read_bytes()
        db.write_bytes(data[:100] + b"\xff" * 4000 + data[4100:])  # header intact, schema page overwritten
    result = outreach("contacts", "list", cwd=project)
    one_error_line(result, "damaged or is not an outreach database", "restore it from a backup")


def _file_size_limit(size: int) -> Callable[[], None]:
    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails instead of killing
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))

    return limit


def test_a_full_disk_while_importing_is_one_line_and_loses_nothing(project: Path):
    db = project / "outreach.db"
    rows = "".join(f"person{n}@lakeside.example.net,Person,Number{n},{'notes ' * 40}\n" for n in range(5000))
    (project / "big.csv").write_text("email,first_name,last_name,notes\n" + rows)
    size = db.stat().st_size + 64 * 1024  # room for a little, not for 5,000 contacts
    result = outreach("contacts", "import", "big.csv", cwd=project, preexec=_file_size_limit(size))
    one_error_line(result, "outreach.db", "free some space")
    assert emails(db) == ["jane.okafor@mercy.example.org"]  # the import rolled back as a whole
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_sqlite_full_from_a_real_import_becomes_the_disk_full_line(tmp_path: Path):
    db = open_db(tmp_path / "outreach.db")
    import_csv(db, _write(tmp_path / "contacts.csv", CONTACTS))
    pages = db.execute("PRAGMA page_count").fetchone()[0]
    db.execute(f"PRAGMA max_page_count = {pages + 2}")  # this connection's disk is full after two more pages
    rows = "".join(f"person{n}@lakeside.example.net,Person,Number{n}\n" for n in range(3000))
    with pytest.raises(sqlite3.OperationalError) as raised:
        import_csv(db, _write(tmp_path / "big.csv", "email,first_name,last_name\n" + rows))
    assert raised.value.sqlite_errorname == "SQLITE_FULL"
    error = database_error(raised.value, tmp_path / "outreach.db")
    assert isinstance(error, DatabaseError) and str(error).startswith("the disk holding the database")
    assert "free some space" in str(error)
    assert emails(tmp_path / "outreach.db") == ["jane.okafor@mercy.example.org"]


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path
