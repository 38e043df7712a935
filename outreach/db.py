"""Open the database: WAL, foreign keys on, pending migrations applied. The only way in."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from outreach.errors import OutreachError
from outreach.migrations import migrations


def open_db(path: str | Path) -> Database:
    """Whoever opens the database migrates it, so every command sees the current schema."""
    path = Path(path)
    if path.parent and not path.parent.exists():
        raise OutreachError(f"{path}: folder {path.parent} does not exist; create it or pass another --db")
    db = Database(path)
    db.execute("PRAGMA busy_timeout = 10000")
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = NORMAL")
    db.execute("PRAGMA foreign_keys = ON")
    migrations.apply(db)
    return db


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
