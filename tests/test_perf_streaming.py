"""Long lists are read in batches and written as they are read, with the same output as before."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from outreach.cli import cli
from outreach.contacts.export import export_header, write_json
from outreach.contacts.store import add_tags, count_contacts, iter_contacts, select_contacts
from outreach.db import open_db, utc_now
from outreach.templates.render import Sender, _render, check_template, load_template

REPO = Path(__file__).resolve().parent.parent


def outreach(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture
def db(hermetic: Path):
    """Seven contacts: custom fields that first appear at different contacts, tags on some."""
    db = open_db(hermetic / "outreach.db")
    now = utc_now()
    customs = [{}, {"program": "IM", "year": "2"}, {}, {"zeta": "z", "program": "FM"}, {"alpha": "a"}, {}, {"year": "3"}]
    with db.atomic():
        for i, custom in enumerate(customs):
            db.execute(
                "INSERT INTO contacts (email, first_name, last_name, state, custom, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [f"p{i}@h{i % 2}.example.org", f"First{i}", f"Last{i}", "OH" if i % 3 else "NY", json.dumps(custom), now, now],
            )
        for i in (1, 2, 4, 6):
            add_tags(db, i + 1, ["odd" if i % 2 else "even", "all"])
    return db


def test_batches_give_the_same_selection_in_id_order(db):
    for tags, where in [((), None), (("all",), None), (("all", "even"), None), ((), {"state": "oh"}), (("all",), {"program": "im"})]:
        expected = select_contacts(db, tags=tags, where=where)
        assert list(iter_contacts(db, tags=tags, where=where, batch=2)) == expected
        assert count_contacts(db, tags=tags, where=where) == len(expected)
    assert [c["tags"] for c in iter_contacts(db, batch=3)][:3] == [[], ["all", "odd"], ["all", "even"]]


def test_the_export_header_lists_custom_fields_in_the_order_they_first_appear(db):
    assert export_header(db)[-4:] == ["program", "year", "zeta", "alpha"]
    assert export_header(db, tags=["even"])[-2:] == ["alpha", "year"]  # only the selection's fields


def test_a_json_array_written_item_by_item_is_what_json_dumps_writes():
    for items in ([], [{"a": "é", "b": None}], [1, {"x": [1, 2]}, "three"]):
        handle = io.StringIO()
        assert write_json(iter(items), handle) == len(items)
        assert handle.getvalue() == json.dumps(items, ensure_ascii=False) + "\n"


def test_csv_and_export_stream_every_contact(db, hermetic):
    rows = list(csv.DictReader(io.StringIO(outreach("contacts", "list", "--csv").stdout)))
    assert [r["email"] for r in rows] == [f"p{i}@h{i % 2}.example.org" for i in range(7)]
    assert rows[4]["alpha"] == "a" and rows[1]["program"] == "IM" and rows[2]["tags"] == "all;even"
    assert outreach("contacts", "export", "--csv", "out.csv").stdout == "Wrote 7 contact(s) to out.csv\n"
    assert (hermetic / "out.csv").read_bytes().decode("utf-8-sig").replace("\r\n", "\n") == outreach("contacts", "list", "--csv").stdout


def test_the_table_shows_a_page_with_the_total_and_how_to_get_the_rest(hermetic):
    lines = ["Email,First Name,Last Name"] + [f"person{i}@example.org,Ann{i},Lee{i}" for i in range(60)]
    (hermetic / "many.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert outreach("contacts", "import", "many.csv", "--tag", "many").exit_code == 0
    page = outreach("contacts", "list").stdout
    assert "person49@example.org" in page and "person50@example.org" not in page
    assert page.rstrip().endswith("Showing the first 50 of 60 contact(s); every one: --all, or --csv / --json for a file.")
    everything = outreach("contacts", "list", "--all").stdout
    assert all(f"person{i}@example.org" in everything for i in range(60))
    assert everything.count("email") == 1  # one header, however many pages
    assert everything.rstrip().endswith("60 contact(s)")
    assert len(json.loads(outreach("contacts", "list", "--json").stdout)) == 60


def test_the_check_finds_exactly_what_building_the_message_would(hermetic):
    """The check skips building the MIME tree; every header problem must still be found."""
    template = load_template(REPO / "templates", "observership-request")
    sender = Sender("Ada Obi", "ada@example.com", None)
    contacts = [
        {"id": 1, "email": "jane@example.org", "first_name": "Jane", "last_name": "Okafor", "custom": {}, "tags": []},
        {"id": 2, "email": "josé@example.org", "first_name": "José", "last_name": "Ruiz", "custom": {}, "tags": []},
        {"id": 3, "email": "ann@example.org", "first_name": "Ann", "last_name": "Lee\u2028Bcc: x@evil.example", "custom": {}, "tags": []},
        {"id": 4, "email": "kofi@example.org", "first_name": "Kofi", "last_name": "Mensah", "specialty": "Cardiology\nBcc: x@evil.example", "custom": {}, "tags": []},
    ]
    built = [problem for contact in contacts for problem in _render(template, contact, sender=sender, collect=True)[1]]
    checked = check_template(template, contacts, sender=sender)
    assert [(p.contact, p.reason) for p in checked] == [(p.contact, p.reason) for p in built]
    assert {p.contact for p in checked} == {"josé@example.org", "ann@example.org", "kofi@example.org"}


def test_durable_commits_sync_every_commit_inside_and_restore_the_setting_after(hermetic):
    from outreach.db import durable_commits

    db = open_db(hermetic / "outreach.db")
    assert db.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL: survives a killed process
    with durable_commits(db):
        assert db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL: survives a power cut
    assert db.execute("PRAGMA synchronous").fetchone()[0] == 1
