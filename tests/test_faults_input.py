"""Fault injection on what users hand us (issue 10, items 7, 8, 9 and 11): campaign names that
are paths, bad bytes in contact lists, the export -> import round trip, templates that never
finish, and files that are not messages. Real commands, real files, real subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from outreach.cli import cli
from outreach.db import open_db
from outreach.sending.eml import recorded_files
from tests.campaign_fixtures import add_contacts, write_template


def outreach(*args: str):
    return CliRunner().invoke(cli, list(args))


def one_error_line(result, *needles: str) -> str:
    assert result.exit_code == 1, (result.exit_code, result.output)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def rows(db, sql: str, params: list | None = None) -> list[dict]:
    return list(db.query(sql, params or []))


# --- 7. Campaign names that are paths ------------------------------------------------------------------


@pytest.mark.parametrize("name", ["..", ".", ".hidden", "../spring", "a/b", "spring\\x", "x" * 65, "", "  "])
def test_a_campaign_name_that_is_not_a_plain_folder_name_is_refused_at_create(hermetic, name):
    write_template(hermetic)
    result = outreach("campaign", "create", name, "--template", "hello")
    one_error_line(result, "is not allowed", "letters, digits")
    assert rows(open_db("outreach.db"), "SELECT * FROM campaigns") == []


@pytest.mark.parametrize("name", ["spring-2026", "Spring_2026.v2", "résidence", "a" * 64])
def test_plain_names_are_accepted(hermetic, name):
    write_template(hermetic)
    assert outreach("campaign", "create", name, "--template", "hello").exit_code == 0


def test_a_dry_run_deletes_only_the_files_it_wrote(hermetic, mail_env):
    write_template(hermetic)
    add_contacts(open_db("outreach.db"), 2)
    assert outreach("campaign", "create", "spring", "--template", "hello", "--tag", "physicians").exit_code == 0
    assert outreach("campaign", "send", "spring").exit_code == 0
    folder = hermetic / "outbox" / "spring"
    first = sorted(p.name for p in folder.glob("*.eml"))
    assert len(first) == 2
    (folder / "my-draft-to-the-dean.eml").write_text("Dear Dean, ...")  # the user's own file
    add_contacts(open_db("outreach.db"), 1, start=3)
    assert outreach("campaign", "send", "spring").exit_code == 0
    left = sorted(p.name for p in folder.glob("*.eml"))
    assert "my-draft-to-the-dean.eml" in left and len(left) == 4
    recorded = recorded_files(rows(open_db("outreach.db"), "SELECT dry_run_files FROM campaigns")[0]["dry_run_files"], folder)
    assert sorted(Path(p).name for p in recorded) == sorted(set(left) - {"my-draft-to-the-dean.eml"})


def test_a_dry_run_cleans_up_after_one_recorded_by_an_older_version(hermetic, mail_env):
    """Databases from before the manifest recorded the files as a JSON list of paths."""
    write_template(hermetic)
    add_contacts(open_db("outreach.db"), 2)
    assert outreach("campaign", "create", "spring", "--template", "hello", "--tag", "physicians").exit_code == 0
    folder = hermetic / "outbox" / "spring"
    folder.mkdir(parents=True)
    old = [folder / "0001-gone@example.org.eml", folder / "0002-gone-too@example.org.eml"]
    for path in old:
        path.write_text("an old dry run's message")
    (folder / "keep-me.eml").write_text("the user's own")
    db = open_db("outreach.db")
    db.execute("UPDATE campaigns SET dry_run_files = ?", [json.dumps([str(p) for p in old])])
    assert outreach("campaign", "send", "spring").exit_code == 0
    assert not any(p.exists() for p in old)
    assert (folder / "keep-me.eml").read_text() == "the user's own"
    assert len(list(folder.glob("0*.eml"))) == 2  # this dry run's two messages


def test_an_old_campaign_named_dot_dot_cannot_make_a_dry_run_delete_the_outboxs_parent(hermetic, mail_env):
    write_template(hermetic)
    db = open_db("outreach.db")
    add_contacts(db, 1)
    # A database from before names were checked.
    db.execute("INSERT INTO campaigns (name, template, selection, status, created_at) VALUES "
               "('..', 'hello', '{\"tags\": [\"physicians\"], \"where\": {}}', 'draft', '2026-03-01T00:00:00+00:00')")
    db.conn.commit()
    (hermetic / "important.eml").write_text("a message the user saved")
    result = outreach("campaign", "send", "..")
    one_error_line(result, "not a folder name inside")
    assert (hermetic / "important.eml").read_text() == "a message the user saved"


# --- 8. Bad bytes in contact data ----------------------------------------------------------------------


def test_control_characters_are_stripped_with_a_reason_and_refused_in_the_address(hermetic):
    Path("list.csv").write_bytes(
        b"email,first_name,last_name,hospital\n"
        b"jane@mercy-hospital.org,Ja\x00ne,Oka\x07for,Mercy\x1b[31m Hospital\n"
        b"bad\x00@mercy-hospital.org,Bad,Address,Mercy\n"
        b"sam@lakeside.example.net,Sam,Reyes,Lakeside\n"
    )
    result = outreach("contacts", "import", "list.csv", "--json")
    report = json.loads(result.stdout)
    assert (report["inserted"], report["skipped"]) == (2, 1)
    assert report["errors"] == [{"line": 3, "reason": "the email cell contains control character(s) NUL; retype the address and import again"}]
    db = open_db("outreach.db")
    jane = rows(db, "SELECT first_name, last_name, hospital FROM contacts WHERE email = 'jane@mercy-hospital.org'")[0]
    assert jane == {"first_name": "Jane", "last_name": "Okafor", "hospital": "Mercy[31m Hospital"}
    human = outreach("contacts", "import", "list.csv").output  # the same file again: the reasons, per row and column
    assert "line 2: first_name: removed control character(s) NUL" in human
    assert "line 2: last_name: removed control character(s) BEL" in human
    assert "line 2: hospital: removed control character(s) ESC" in human
    stored = "".join(str(v) for r in rows(db, "SELECT * FROM contacts") for v in r.values())
    assert not any(ord(c) < 32 and c not in "\t\n\r" for c in stored)


def test_a_file_mixing_utf8_and_windows_1252_rows_reads_each_row_in_its_own_encoding(hermetic):
    Path("mixed.csv").write_bytes(
        b"email,first_name,last_name,hospital\n"
        + "jose@mercy-hospital.org,José,García,Hospital São Paulo\n".encode()
        + "ana@lakeside.example.net,Ana,Muñoz,Clínica Santa Lucía\n".encode("cp1252")
        + "li@mercy-hospital.org,Li,Zhāng,Mercy\n".encode()
    )
    result = outreach("contacts", "import", "mixed.csv")
    assert result.exit_code == 0, result.output
    assert "UTF-8 and Windows-1252 lines" in result.output
    assert "the file mixes encodings: of its lines with accented letters, 2 are UTF-8 and 1 Windows-1252 (line 3)" in result.output
    names = {r["email"]: (r["first_name"], r["last_name"], r["hospital"]) for r in rows(open_db("outreach.db"), "SELECT * FROM contacts")}
    assert names == {
        "jose@mercy-hospital.org": ("José", "García", "Hospital São Paulo"),
        "ana@lakeside.example.net": ("Ana", "Muñoz", "Clínica Santa Lucía"),
        "li@mercy-hospital.org": ("Li", "Zhāng", "Mercy"),
    }


def test_a_plain_windows_1252_file_is_still_read_as_windows_1252(hermetic):
    Path("old.csv").write_bytes("email,first_name\nana@lakeside.example.net,Ana Muñoz\n".encode("cp1252"))
    result = outreach("contacts", "import", "old.csv")
    assert "(Windows-1252," in result.output and "mixes" not in result.output
    assert rows(open_db("outreach.db"), "SELECT first_name FROM contacts")[0]["first_name"] == "Ana Muñoz"


# --- 9. Export -> import round trip ----------------------------------------------------------------------


def test_export_then_import_changes_nothing_and_keeps_formula_looking_addresses_the_same_contact(hermetic):
    Path("list.csv").write_text(
        "email,first_name,last_name,hospital,notes,Residency Program\n"
        "+1-2@x.example.com,Plus,One,=HYPERLINK(\"http://evil\"),- none -,'=quoted already\n"
        "-dash@x.example.com,Dash,Two,@Mercy,+1 555 0100,@home\n"
        "jane@mercy-hospital.org,Jane,O'Neil,'Mercy',it's fine,\n",
        encoding="utf-8",
    )
    assert outreach("contacts", "import", "list.csv", "--tag", "physicians").exit_code == 0
    db = open_db("outreach.db")
    before = rows(db, "SELECT * FROM contacts ORDER BY id")
    exported = outreach("contacts", "export", "--csv", "export.csv")
    assert exported.exit_code == 0, exported.output
    text = Path("export.csv").read_text(encoding="utf-8-sig")
    assert "'+1-2@x.example.com" in text and "'=HYPERLINK" in text and "''=quoted already" in text  # still guarded

    again = outreach("contacts", "import", "export.csv", "--json")

    report = json.loads(again.stdout)
    assert (report["inserted"], report["updated"], report["unchanged"], report["skipped"]) == (0, 0, 3, 0), report
    assert rows(db, "SELECT * FROM contacts ORDER BY id") == before
    assert {r["email"] for r in before} == {"+1-2@x.example.com", "-dash@x.example.com", "jane@mercy-hospital.org"}
    custom = {r["email"]: json.loads(r["custom"]) for r in before}
    assert custom["+1-2@x.example.com"] == {"residency_program": "'=quoted already"}
    human = outreach("contacts", "import", "export.csv").output
    assert "this is an outreach export" in human


def test_a_file_that_is_not_an_export_keeps_its_apostrophes(hermetic):
    Path("list.csv").write_text("email,first_name,notes\nsam@lakeside.example.net,Sam,'=not a guard here\n")
    outreach("contacts", "import", "list.csv")
    assert rows(open_db("outreach.db"), "SELECT notes FROM contacts")[0]["notes"] == "'=not a guard here"


# --- 11. Unbounded work ----------------------------------------------------------------------------------

RUNAWAY = """\
---
subject: Observership inquiry
---
Dear {{ salutation }},
{% for i in range(100000) %}{% for j in range(100000) %}{{ "" }}{% endfor %}{% endfor %}
Ada
"""


@pytest.mark.timeout(120)
def test_a_template_loop_of_ten_billion_steps_stops_in_the_check_naming_the_template(hermetic):
    write_template(hermetic, "runaway", RUNAWAY)
    add_contacts(open_db("outreach.db"), 3)
    result = outreach("templates", "check", "runaway", "--tag", "physicians")
    assert result.exit_code == 1
    assert "runaway.txt:5" in result.output and "too much work for one message" in result.output


@pytest.mark.timeout(120)
def test_a_runaway_template_sends_nothing(hermetic, mail_env, smtp_server):
    write_template(hermetic, "runaway", RUNAWAY)
    add_contacts(open_db("outreach.db"), 2)
    assert outreach("campaign", "create", "spring", "--template", "runaway", "--tag", "physicians").exit_code == 0
    result = outreach("campaign", "send", "spring", "--live", "--yes")
    assert result.exit_code == 1 and "too much work for one message" in result.output
    assert smtp_server.received == []
    assert rows(open_db("outreach.db"), "SELECT * FROM messages") == []


@pytest.mark.timeout(60)
@pytest.mark.parametrize("expression", ['"x" * 10**9', "9 ** 99999999", "range(100000) | map('string') | join * 100000"])
def test_one_expression_that_would_build_something_huge_stops_too(hermetic, expression):
    write_template(hermetic, "huge", f"---\nsubject: Hi\n---\n{{{{ {expression} }}}}\n")
    add_contacts(open_db("outreach.db"), 1)
    result = outreach("templates", "check", "huge", "--tag", "physicians")
    assert result.exit_code == 1 and "too much work for one message" in result.output


def test_an_ordinary_template_with_loops_is_well_within_the_budget(hermetic):
    write_template(hermetic, "loops", "---\nsubject: Hi\n---\n{% for i in range(500) %}{{ first_name }}{{ loop.index }}{% endfor %}\n")
    add_contacts(open_db("outreach.db"), 2)
    assert outreach("templates", "check", "loops", "--tag", "physicians").exit_code == 0


@pytest.mark.timeout(60)
def test_classify_refuses_what_is_not_a_bounded_regular_file_one_line_each(tmp_path):
    fifo = tmp_path / "pipe.eml"
    os.mkfifo(fifo)
    big = tmp_path / "big.eml"
    with big.open("wb") as handle:
        handle.truncate(50 * 1024 * 1024)  # 50 MB, sparse: costs no disk
    good = tmp_path / "reply.eml"
    good.write_bytes(b"From: jane@mercy-hospital.org\r\nSubject: Re: hello\r\n\r\nYes, come in May.\r\n")
    folder = tmp_path / "saved"
    folder.mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "outreach", "classify", str(fifo), "/dev/zero", str(folder), str(big), str(good), "--json"],
        capture_output=True, text=True, timeout=50, stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and "MemoryError" not in result.stderr
    assert result.stderr.splitlines() == [
        f"Error: {fifo}: is a pipe (FIFO), not a saved message; pass .eml files",
        "Error: /dev/zero: is a device, not a saved message; pass .eml files",
        f"Error: {folder} is a folder; pass the messages in it, e.g. {folder}/*.eml",
        f"Error: {big}: is 50 MB, more than the 40 MB a message may be; not read",
    ]
    assert [json.loads(line)["file"] for line in result.stdout.splitlines()] == [str(good)]


@pytest.mark.timeout(60)
def test_classify_reads_at_most_a_bounded_amount_from_stdin(tmp_path):
    with open("/dev/zero", "rb") as zeros:
        result = subprocess.run([sys.executable, "-m", "outreach", "classify", "-"], stdin=zeros, capture_output=True, text=True, timeout=50)
    assert result.returncode == 1
    assert result.stderr.strip() == "Error: -: is more than the 40 MB a message may be; not read"


def test_a_control_character_already_in_the_database_never_reaches_a_message_body(hermetic):
    write_template(hermetic, "plain", "---\nsubject: Hi\n---\nDear {{ first_name }} of {{ hospital }},\nAda\n")
    db = open_db("outreach.db")
    add_contacts(db, 1, hospital="Mer\x00cy\x07\x1b Hospital")  # stored before imports were checked
    result = outreach("templates", "preview", "plain", "--contact", "doc1@hospital1.example.org")
    assert result.exit_code == 0, result.output
    assert "Dear Jane1 of Mercy Hospital," in result.output
    assert not any(ord(c) < 32 and c not in "\t\n\r" for c in result.output)


def test_the_time_budget_stops_a_template_whose_steps_are_each_slow():
    from outreach.templates.budget import Budget, RenderBudgetExceeded

    now = [0.0]
    budget = Budget(steps=10**9, seconds=5.0, clock=lambda: now[0])
    for _ in range(1000):
        budget.tick()  # fast steps: fine
    now[0] = 6.0  # then one expensive step took the rest of the budget
    with pytest.raises(RenderBudgetExceeded, match="more than 5 s"):
        for _ in range(256):
            budget.tick()
