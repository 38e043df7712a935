"""Open the database: WAL, foreign keys on, pending migrations applied. The only way in."""

from __future__ import annotations

import itertools
import json
import os
import re
import sqlite3
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

from outreach.errors import OutreachError
from outreach.migrations import migrations

if TYPE_CHECKING:
    import sqlite_utils


class Database:
    """The outreach database: one sqlite3 connection, with sqlite-utils' calling conventions
    (`execute`, `query`, `atomic`, `table`).

    sqlite-utils itself (its table API, the migrations runner) is loaded only when a command
    first needs it (`utils`): importing it costs 50-110 ms, more than a `replies poll` that finds
    nothing new spends on everything else. The plain calls below behave as sqlite-utils' do:
    a write outside a transaction commits at once, and a failed one leaves no transaction open.

    The outermost `atomic()` begins IMMEDIATE: the write lock is taken first, waiting up to the
    busy timeout for another process's write to finish. With a plain (deferred) BEGIN, a block
    that reads and then writes asks for the lock mid-way, and SQLite refuses at once, without
    waiting, to avoid a deadlock ("database is locked")."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self._utils: sqlite_utils.Database | None = None

    def execute(self, sql: str, parameters: Sequence[Any] | Mapping[str, Any] | None = None) -> sqlite3.Cursor:
        was_in_transaction = self.conn.in_transaction
        try:
            cursor = self.conn.execute(sql) if parameters is None else self.conn.execute(sql, parameters)
        except Exception:
            if not was_in_transaction and self.conn.in_transaction:
                self.conn.execute("ROLLBACK")  # the failed write's implicit transaction would capture the next ones
            raise
        if (not was_in_transaction and self.conn.in_transaction and cursor.description is None
                and _first_keyword(sql) not in ("BEGIN", "SAVEPOINT")):
            self.conn.execute("COMMIT")  # a write outside `atomic()` commits at once
        return cursor

    def executescript(self, sql: str) -> sqlite3.Cursor:
        return self.utils.executescript(sql)  # splits statements inside a transaction without committing it

    def query(self, sql: str, parameters: Sequence[Any] | Mapping[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        """Rows as dicts; the statement runs now, the rows are read as they are iterated. A
        statement that returns no rows is refused before it runs, as sqlite-utils refuses it."""
        if _first_keyword(sql) in _NO_ROWS and "RETURNING" not in sql.upper():
            raise ValueError("query() can only be used with SQL that returns rows; use execute() for other statements")
        cursor = self.execute(sql, parameters)
        if cursor.description is None:
            raise ValueError("query() can only be used with SQL that returns rows; use execute() for other statements")
        keys = [column[0] for column in cursor.description]
        return (dict(zip(keys, row)) for row in cursor)

    @contextmanager
    def atomic(self) -> Iterator[Database]:
        if self.conn.in_transaction:  # nested: a savepoint
            savepoint = f"outreach_{next(_savepoints)}"
            self.conn.execute(f"SAVEPOINT {savepoint}")
            try:
                yield self
            except BaseException:
                if self.conn.in_transaction:  # an error may have ended the whole transaction already
                    self.conn.execute(f"ROLLBACK TO SAVEPOINT {savepoint}")
                    self.conn.execute(f"RELEASE SAVEPOINT {savepoint}")
                raise
            self.conn.execute(f"RELEASE SAVEPOINT {savepoint}")
            return
        self.begin()
        try:
            yield self
        except BaseException:
            self.rollback()
            raise
        self.commit()

    def begin(self) -> None:
        """Open a write transaction (most code wants `atomic()`, which also commits or rolls back)."""
        self.conn.execute("BEGIN IMMEDIATE")

    def commit(self) -> None:
        """Commit the open transaction; if that fails, roll it back and raise."""
        try:
            self.conn.execute("COMMIT")
        except BaseException:
            self.rollback()
            raise

    def rollback(self) -> None:
        if self.conn.in_transaction:
            self.conn.execute("ROLLBACK")

    def close(self) -> None:
        self.conn.close()

    def insert_rows(self, table: str, rows: Sequence[Mapping[str, Any]]) -> int | None:
        """Insert rows that share the first row's columns; the last row's id. Plain SQL for the
        send path's hot inserts: sqlite-utils' insert re-reads the table layout on every call and
        loading it costs more than freezing a small campaign."""
        if not rows:
            return None
        columns = list(rows[0])
        sql = (f"INSERT INTO [{table}] ({', '.join(f'[{c}]' for c in columns)}) "
               f"VALUES ({', '.join('?' * len(columns))})")
        with self.atomic():
            self.conn.executemany(sql, [[row[c] for c in columns] for row in rows])
            return int(self.conn.execute("SELECT last_insert_rowid()").fetchone()[0])

    def update_row(self, table: str, row_id: int, changes: Mapping[str, Any]) -> None:
        """`UPDATE table SET changes WHERE id = row_id`, committed unless inside `atomic()`."""
        columns = list(changes)
        self.execute(f"UPDATE [{table}] SET {', '.join(f'[{c}] = ?' for c in columns)} WHERE id = ?",
                     [changes[c] for c in columns] + [row_id])

    def table_names(self) -> list[str]:
        return [row[0] for row in self.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]

    def table(self, name: str, **options: Any) -> sqlite_utils.db.Table:
        """sqlite-utils' table API (insert, insert_all, update), on this connection."""
        return self.utils.table(name, **options)

    def __getitem__(self, name: str) -> sqlite_utils.db.Table:
        return self.table(name)

    def __getattr__(self, name: str) -> Any:
        """The rest of sqlite-utils' Database API (`columns_dict`, `view_names`, ...)."""
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.utils, name)

    @property
    def utils(self) -> sqlite_utils.Database:
        """sqlite-utils' Database on the same connection, its transactions being ours."""
        if self._utils is None:
            self._utils = _sqlite_utils_database(self)
        return self._utils


_savepoints = itertools.count(1)
_NO_ROWS = ("INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP", "ALTER", "BEGIN", "COMMIT", "ROLLBACK",
            "SAVEPOINT", "RELEASE", "VACUUM", "ATTACH", "DETACH", "REINDEX", "ANALYZE")
_KEYWORD = re.compile(r"\s*(?:(?:--[^\n]*(?:\n|$)|/\*.*?\*/)\s*)*(\w+)", re.S)


def _first_keyword(sql: str) -> str:
    found = _KEYWORD.match(sql)
    return found.group(1).upper() if found else ""


def _sqlite_utils_database(outer: Database) -> sqlite_utils.Database:
    """sqlite-utils, imported on first use, with numpy hidden: sqlite-utils imports numpy whenever
    it is installed, only to map numpy types for inserts we never make, and matplotlib (for
    `report --html`) installs it; that would add 0.07-0.3 s to every command that writes a row
    through the table API. numpy stays free for matplotlib to import later."""
    hide = "numpy" not in sys.modules and "sqlite_utils.db" not in sys.modules
    if hide:
        sys.modules["numpy"] = None  # type: ignore[assignment]  # `import numpy` raises ImportError
    try:
        import sqlite_utils  # lazy: see the docstring
    finally:
        if hide:
            del sys.modules["numpy"]

    class OutreachUtils(sqlite_utils.Database):
        def atomic(self) -> Any:  # the table API's transactions are ours (BEGIN IMMEDIATE)
            return outer.atomic()

    return OutreachUtils(outer.conn, recursive_triggers=False, execute_plugins=False)


BUSY_TIMEOUT = 5.0  # seconds to wait for another command's write to finish before giving up


def open_db(path: str | Path, *, busy_timeout: float = BUSY_TIMEOUT) -> Database:
    """Whoever opens the database migrates it, so every command sees the current schema.

    A write waits at most `busy_timeout` seconds for another process's write to finish; after
    that sqlite3 raises "database is locked", which `database_error` turns into one line."""
    path = Path(path)
    if path.parent and not path.parent.exists():
        raise OutreachError(f"{path}: folder {path.parent} does not exist; create it or pass another --db")
    # sqlite3's check that one thread uses the connection stays on: the send run does its db work
    # on the event loop's thread (sending/next_turn.py), and a helper thread touching it fails loudly.
    db = Database(sqlite3.connect(str(path), timeout=busy_timeout))
    db.execute("PRAGMA recursive_triggers = ON")  # as sqlite-utils sets it
    db.execute(f"PRAGMA busy_timeout = {max(0, int(busy_timeout * 1000))}")
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = NORMAL")
    db.execute("PRAGMA foreign_keys = ON")
    migrations.apply(db)
    return db


@contextmanager
def durable_commits(db: Database) -> Iterator[None]:
    """Commits made inside survive a power cut, not only a killed process.

    WAL with synchronous=NORMAL (open_db) syncs at checkpoints: a commit survives a crash of the
    process but can vanish with the machine's power. For the send run that matters: a message
    recorded `sending` (before DATA) or `sent` that comes back as `queued` after a power cut
    would be sent twice. synchronous=FULL syncs the WAL at every commit (cost: bench/send_bench.py).
    """
    previous = db.execute("PRAGMA synchronous").fetchone()[0]
    db.execute("PRAGMA synchronous = FULL")
    try:
        yield
    finally:
        db.execute(f"PRAGMA synchronous = {int(previous)}")


def is_empty(db: Database) -> bool:
    """True when no table holds a row (the migrations' own bookkeeping aside)."""
    for table in db.table_names():
        if table.startswith(("_sqlite", "sqlite_")) or "_fts" in table:
            continue
        if db.execute(f"SELECT 1 FROM [{table}] LIMIT 1").fetchone():
            return False
    return True


def remove_db_files(path: str | Path) -> None:
    """Delete a database with its WAL and shared-memory files."""
    path = Path(path)
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def utc_now(now: datetime | None = None) -> str:
    """ISO-8601 UTC timestamp with seconds precision (sorts correctly as text)."""
    now = now or datetime.now(timezone.utc)
    return now.astimezone(timezone.utc).isoformat(timespec="seconds")


@overload
def parse_utc(text: str) -> datetime: ...
@overload
def parse_utc(text: str | None) -> datetime | None: ...
def parse_utc(text: str | None) -> datetime | None:
    if not text:
        return None
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def record_event(
    db: Database,
    kind: str,
    *,
    contact_id: int | None = None,
    campaign_id: int | None = None,
    message_id: int | None = None,
    at: str | None = None,
    **detail: Any,
) -> None:
    """Append to the audit log; call inside the same transaction as the change it records.

    Plain SQL: sqlite-utils' insert() re-reads the table layout on every call, which made
    storing 1,000 replies take 0.24 s instead of 0.06 s."""
    db.execute(
        "INSERT INTO events (at, kind, contact_id, campaign_id, message_id, detail) VALUES (?, ?, ?, ?, ?, ?)",
        [at or utc_now(), kind, contact_id, campaign_id, message_id, json.dumps(detail, default=str)],
    )


# --- sqlite3 errors, said once ------------------------------------------------------------------


class DatabaseError(OutreachError):
    """The database cannot be used right now (busy, read-only, damaged, disk full)."""


def database_error(error: sqlite3.Error, path: str | Path | None = None) -> DatabaseError:
    """One line that says what happened to the database and what to do, for any sqlite3 error.

    The transaction in progress was rolled back by SQLite, so nothing already recorded is lost;
    the line says so where a user would wonder."""
    where = f"the database {path}" if path else "the database"
    name = getattr(error, "sqlite_errorname", "") or ""
    text = str(error).lower()
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in text:
        reason = f"{where} is busy: another outreach command is writing to it; try again in a moment"
    elif name.startswith("SQLITE_READONLY") or "readonly" in text or (name.startswith("SQLITE_CANTOPEN") and _read_only(path)):
        reason = (f"cannot write to {where}: it is read-only; give yourself write permission on the file and its folder "
                  f"(chmod u+w), or pass another --db")
    elif name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")) or "malformed" in text or "not a database" in text:
        reason = (f"{where} is damaged or is not an outreach database; restore it from a backup or pass another --db "
                  f"(`sqlite3 FILE .recover` may rescue what it holds)")
    elif name.startswith("SQLITE_FULL") or "full" in text:
        reason = f"the disk holding {where} is full; free some space and run the command again (nothing already saved was lost)"
    elif name.startswith("SQLITE_IOERR") or "i/o error" in text:
        reason = (f"could not write to {where} (disk I/O error: the disk may be full, removed or failing); "
                  f"free some space or check the disk, then run the command again (nothing already saved was lost)")
    elif name.startswith("SQLITE_CANTOPEN"):
        reason = f"cannot open {where}; check that the path is right and that you may read and write it"
    else:
        reason = f"{where}: {error}; run the command again, and report it if it keeps happening"
    return DatabaseError(reason)


def _read_only(path: str | Path | None) -> bool:
    """A file or folder we may not write makes SQLite say "unable to open" in WAL mode."""
    if not path:
        return False
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    return (path.exists() and not os.access(path, os.W_OK)) or not os.access(folder, os.W_OK)
