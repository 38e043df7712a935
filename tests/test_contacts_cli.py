"""Working with imported contacts: list, show, tag, export, delete."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from outreach.cli import cli
from outreach.contacts.store import get_contact
from outreach.db import open_db, utc_now

DATA = Path(__file__).parent / "data" / "contacts"
REPO = Path(__file__).resolve().parent.parent


def outreach(*args: str, input: str | None = None):
    return CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)


@pytest.fixture
def examples() -> None:
    """The bundled lists, imported as the README does."""
    assert outreach("contacts", "import", str(REPO / "contacts" / "physicians.csv"), "--tag", "physicians").exit_code == 0
    assert outreach("contacts", "import", str(REPO / "contacts" / "alumni.csv"), "--tag", "alumni").exit_code == 0


def test_list_json_gives_every_field_with_tags_as_an_array(examples):
    result = outreach("contacts", "list", "--tag", "physicians", "--json")
    contacts = json.loads(result.stdout)
    assert len(contacts) == 25
    jane = contacts[0]
    assert jane["email"] == "jane.okafor@mercy.example.org"
    assert (jane["first_name"], jane["last_name"], jane["tags"], jane["status"], jane["stage"]) == ("Jane", "Okafor", ["physicians"], "active", "new")
    assert jane["specialty"] == "Internal Medicine" and jane["npi"] and jane["custom"] == {}


def test_list_where_filters_by_standard_and_custom_fields(examples):
    ohio_alumni = json.loads(outreach("contacts", "list", "--tag", "alumni", "--where", "state=oh", "--json").stdout)
    assert [c["last_name"] for c in ohio_alumni] == ["Eze", "Nwosu", "Okonkwo", "Adeleke"]
    by_program = json.loads(outreach("contacts", "list", "--where", "target_program=Tri-State EM Residency", "--json").stdout)
    assert [c["email"] for c in by_program] == ["emeka.okonkwo@tristate.example.net"]
    bad = CliRunner().invoke(cli, ["contacts", "list", "--where", "state"])
    assert bad.exit_code == 2 and "is not FIELD=VALUE" in bad.output


def test_list_for_people_is_a_table_and_says_how_many(examples):
    out = outreach("contacts", "list", "--tag", "alumni").stdout
    assert "chinedu.eze@summit.example.org" in out and "Dr. Chinedu Eze, MD" in out
    assert out.rstrip().endswith("15 contact(s)")
    assert "No contacts yet" in outreach("--db", "empty.db", "contacts", "list").stdout


def test_list_csv_writes_an_importable_csv_to_stdout(examples):
    rows = list(csv.DictReader(io.StringIO(outreach("contacts", "list", "--tag", "alumni", "--csv").stdout)))
    assert len(rows) == 15
    assert rows[0]["email"] == "chinedu.eze@summit.example.org" and rows[0]["tags"] == "alumni"
    assert rows[0]["target_physician"] == "Dr. Helen Park"


def test_show_prints_fields_custom_fields_and_history(examples):
    db = open_db("outreach.db")
    eze = get_contact(db, "chinedu.eze@summit.example.org")
    with db.atomic():
        campaign = db.table("campaigns").insert({"name": "spring", "template": "alumni-introduction", "created_at": utc_now()}).last_pk
        message = db.table("messages").insert({
            "campaign_id": campaign, "contact_id": eze["id"], "to_address": eze["email"], "subject": "A fellow graduate",
            "message_id": "<1@example.com>", "state": "sent", "queued_at": "2026-03-02T14:00:00+00:00",
            "sent_at": "2026-03-02T14:05:00+00:00", "updated_at": utc_now()}).last_pk
        db.table("replies").insert({
            "message_id": message, "contact_id": eze["id"], "campaign_id": campaign, "folder": "INBOX", "uidvalidity": 1, "uid": 7,
            "kind": "human_reply", "snippet": "Happy to talk next week", "received_at": "2026-03-03T09:00:00+00:00", "created_at": utc_now()})

    out = outreach("contacts", "show", "Chinedu.Eze@summit.example.org").stdout
    print(out)
    out = "\n".join(" ".join(line.split()) for line in out.splitlines())  # columns aligned with spaces
    assert out.splitlines()[0] == "Dr. Chinedu Eze, MD <chinedu.eze@summit.example.org>"
    assert "medical_school University of Lagos College of Medicine" in out
    assert "target_program Summit Internal Medicine Residency" in out
    assert "sent spring: A fellow graduate" in out
    assert "human_reply: Happy to talk next week" in out

    shown = json.loads(outreach("contacts", "show", "chinedu.eze@summit.example.org", "--json").stdout)
    assert shown["messages"][0]["campaign"] == "spring" and shown["replies"][0]["kind"] == "human_reply"
    assert shown["suppressed"] is None and shown["tags"] == ["alumni"]


def test_show_an_unknown_address_exits_1_saying_where_to_look(examples):
    result = outreach("contacts", "show", "nobody@example.org")
    assert result.exit_code == 1
    assert result.stderr == "Error: no contact 'nobody@example.org'; see `outreach contacts list` for the addresses you have\n"


def test_tag_and_untag(examples):
    assert outreach("contacts", "tag", "jane.okafor@mercy.example.org", "priority", "ohio").stdout == "jane.okafor@mercy.example.org: ohio, physicians, priority\n"
    assert outreach("contacts", "untag", "jane.okafor@mercy.example.org", "ohio").stdout == "jane.okafor@mercy.example.org: physicians, priority\n"
    assert [c["email"] for c in json.loads(outreach("contacts", "list", "--tag", "priority", "--json").stdout)] == ["jane.okafor@mercy.example.org"]
    missing = outreach("contacts", "untag", "jane.okafor@mercy.example.org", "cardiology")
    assert missing.stdout == "jane.okafor@mercy.example.org: physicians, priority\n"
    assert missing.stderr == "(it had none of: cardiology)\n"  # a typo in a tag name does not pass silently


def test_export_neutralises_spreadsheet_formulas():
    outreach("contacts", "import", str(DATA / "formulas.csv"), "--tag", "x")
    result = outreach("contacts", "export", "--csv", "out.csv", "--tag", "x")
    assert result.stdout == "Wrote 1 contact(s) to out.csv\n"
    raw = Path("out.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # Excel reads accents right only with the BOM
    (row,) = csv.DictReader(io.StringIO(raw.decode("utf-8-sig")))
    assert row["email"] == "mallory@evil.example.com"
    assert row["first_name"] == "'=cmd|' /C calc'!A0"
    assert row["last_name"] == "'+Mallory"
    assert row["hospital"] == "'@SUM(A1:A2)"
    assert row["notes"] == "'-2+3"


def test_an_export_imports_again_unchanged(examples):
    outreach("contacts", "export", "--csv", "all.csv")
    result = outreach("contacts", "import", "all.csv", "--json")
    assert json.loads(result.stdout) == {"inserted": 0, "updated": 0, "unchanged": 40, "skipped": 0, "errors": []}


def test_delete_needs_yes_when_nobody_can_answer(examples):
    refused = outreach("contacts", "delete", "rmehta@stlukes.example.org")
    assert refused.exit_code == 1 and "pass --yes" in refused.stderr
    assert outreach("contacts", "delete", "rmehta@stlukes.example.org", "--yes").stdout == "Deleted rmehta@stlukes.example.org\n"
    assert get_contact(open_db("outreach.db"), "rmehta@stlukes.example.org") is None
