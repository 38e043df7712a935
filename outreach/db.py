"""Open the database: WAL, foreign keys on, pending migrations applied. The only way in."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
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
