"""Whoever opens the database migrates it; WAL and foreign keys are always on."""

from __future__ import annotations

import sqlite3

import pytest

from outreach.db import open_db
from outreach.errors import OutreachError


def test_a_blank_database_gets_the_whole_schema(tmp_path):
    db = open_db(tmp_path / "outreach.db")
    assert {"contacts", "tags", "contact_tags", "suppressions", "campaigns", "campaign_steps", "campaign_contacts",
            "messages", "replies", "mailbox_state", "suggested_contacts", "events", "imports"} <= set(db.table_names())
    assert {"email", "first_name", "last_name", "status", "stage", "custom"} <= set(db["contacts"].columns_dict)
    assert {"message_id", "state", "attempts", "sent_at", "attachments", "smtp_response"} <= set(db["messages"].columns_dict)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1


def test_reopening_applies_nothing_twice(tmp_path):
    open_db(tmp_path / "outreach.db")
    db = open_db(tmp_path / "outreach.db")
    names = [row[0] for row in db.execute("SELECT name FROM _sqlite_migrations")]
    assert names == sorted(set(names))


def test_foreign_keys_are_enforced(tmp_path):
    db = open_db(tmp_path / "outreach.db")
    with pytest.raises(sqlite3.IntegrityError):
        db.execute("INSERT INTO contact_tags (contact_id, tag_id) VALUES (999, 999)")


def test_a_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(OutreachError, match="does not exist"):
        open_db(tmp_path / "no-such-folder" / "outreach.db")
