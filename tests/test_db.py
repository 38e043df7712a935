"""Whoever opens the database migrates it; WAL and foreign keys are always on."""

from __future__ import annotations

import sqlite3
import subprocess
import sys

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


# --- the Database wrapper: sqlite-utils' conventions without loading it ---------------------------


def test_a_write_outside_atomic_is_committed_at_once(tmp_path):
    db = open_db(tmp_path / "outreach.db")
    db.execute("INSERT INTO tags (name) VALUES ('physicians')")
    assert not db.conn.in_transaction
    other = sqlite3.connect(tmp_path / "outreach.db")
    assert other.execute("SELECT name FROM tags").fetchall() == [("physicians",)]


def test_a_failed_write_leaves_no_transaction_open(tmp_path):
    db = open_db(tmp_path / "outreach.db")
    db.execute("INSERT INTO tags (name) VALUES ('physicians')")
    with pytest.raises(sqlite3.IntegrityError):
        db.execute("INSERT INTO tags (name) VALUES ('physicians')")
    assert not db.conn.in_transaction


def test_a_failed_inner_block_rolls_back_only_itself(tmp_path):
    db = open_db(tmp_path / "outreach.db")
    with db.atomic():
        db.execute("INSERT INTO tags (name) VALUES ('kept')")
        with pytest.raises(RuntimeError), db.atomic():
            db.execute("INSERT INTO tags (name) VALUES ('undone')")
            raise RuntimeError("inner block fails")
    assert [row["name"] for row in db.query("SELECT name FROM tags")] == ["kept"]


def test_an_outer_failure_undoes_everything(tmp_path):
    db = open_db(tmp_path / "outreach.db")
    with pytest.raises(RuntimeError), db.atomic():
        db.execute("INSERT INTO tags (name) VALUES ('gone')")
        raise RuntimeError("outer block fails")
    assert list(db.query("SELECT name FROM tags")) == []


def test_insert_rows_returns_the_last_id_and_query_gives_dicts(tmp_path):
    db = open_db(tmp_path / "outreach.db")
    assert db.insert_rows("tags", [{"name": "a"}, {"name": "b"}]) == 2
    assert db.insert_rows("tags", [{"name": "c"}]) == 3
    db.update_row("tags", 3, {"name": "c2"})
    assert list(db.query("SELECT id, name FROM tags ORDER BY id")) == [
        {"id": 1, "name": "a"}, {"id": 2, "name": "b"}, {"id": 3, "name": "c2"}]
    with pytest.raises(ValueError, match="returns rows"):
        db.query("UPDATE tags SET name = 'x' WHERE id = 1")
    assert db.execute("SELECT name FROM tags WHERE id = 1").fetchone() == ("a",)  # refused before it ran


def test_a_current_database_opens_without_loading_sqlite_utils(tmp_path):
    """The migrations check is one plain query; sqlite-utils loads only for a pending migration."""
    open_db(tmp_path / "outreach.db")
    code = ("import sys; from outreach.db import open_db; db = open_db(sys.argv[1]); "
            "db.execute('SELECT count(*) FROM contacts').fetchone(); print('sqlite_utils' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "outreach.db")], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_a_database_missing_a_migration_gets_it(tmp_path):
    db = open_db(tmp_path / "outreach.db")
    db.execute("DELETE FROM _sqlite_migrations WHERE name = 'm080_intros'")
    db.executescript("DROP TABLE introductions; DROP TABLE intro_requests; ALTER TABLE contacts DROP COLUMN introduced_by;")
    again = open_db(tmp_path / "outreach.db")
    assert {"introductions", "intro_requests"} <= set(again.table_names())
    assert [row[0] for row in again.execute("SELECT name FROM _sqlite_migrations WHERE name = 'm080_intros'")] == ["m080_intros"]
