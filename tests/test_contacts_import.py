"""Importing real-world contact lists: the messy files in tests/data/contacts/ as a user meets them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from outreach.cli import cli
from outreach.contacts.fields import split_name
from outreach.contacts.importer import import_csv
from outreach.contacts.store import get_contact, select_contacts
from outreach.db import open_db

DATA = Path(__file__).parent / "data" / "contacts"
REPO = Path(__file__).resolve().parent.parent
MESSY = DATA / "messy-excel.csv"  # Windows-1252, semicolons, Name column, quoted newline, duplicates


def outreach(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def import_json(*args: str) -> dict:
    result = outreach("contacts", "import", *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


MESSY_ERRORS = [
    {"line": 5, "reason": "invalid email 'jane@': There must be something after the @-sign."},
    {"line": 6, "reason": "email is blank (No Email)"},
]


def test_a_messy_excel_export_imports_every_good_row_and_names_each_bad_line():
    report = import_json(str(MESSY), "--tag", "spring")

    # 10 rows with content: 7 people, 2 bad addresses, 1 repeat of line 2 in another letter case.
    # Blank line 10 and the ";;;;" line 13 are not rows. Line 7's note runs onto line 8.
    assert report == {"inserted": 7, "updated": 0, "unchanged": 0, "skipped": 3, "errors": MESSY_ERRORS}


def test_the_messy_file_is_read_as_windows_1252_with_its_name_column_split():
    import_json(str(MESSY))
    db = open_db("outreach.db")

    jose = get_contact(db, "jmunoz@valley.example.net")
    assert (jose["first_name"], jose["last_name"], jose["specialty"]) == ("José", "Muñoz", "Pédiatrie")
    assert jose["email"] == "JMunoz@valley.example.net"  # the local part is kept as written, the domain lower-cased

    jane = get_contact(db, "jane.smith@mercy.example.org")
    assert {k: jane[k] for k in ("title", "first_name", "middle_name", "last_name", "suffix")} == {
        "title": "Dr.", "first_name": "Jane", "middle_name": "A.", "last_name": "Smith", "suffix": "MD"}
    assert jane["state"] == "NY"  # "new york"
    assert jane["graduation_year"] == 2008
    assert jane["notes"] == "Second row for Jane"  # line 9 repeats her and fills what line 2 left blank
    assert jane["first_name"] == "Jane"  # ...but never overrides line 2

    robert = get_contact(db, "bob.smith@stlukes.example.org")  # "  bob.smith@...  " trimmed
    assert (robert["first_name"], robert["last_name"], robert["state"]) == ("Robert", "Smith", "CA")
    assert robert["graduation_year"] is None  # 1899 is not plausible: warned, left empty

    ann = get_contact(db, "ann.lee@harbor.example.org")
    assert ann["notes"] == "Met at ASCO;\r\nprefers mornings"  # a quoted newline stays inside the cell
    assert ann["hospital"].startswith("=HYPERLINK(")  # stored as text; neutralised on export
    assert ann["npi"] == "1234567893"

    assert get_contact(db, "jane.okafor@mercy.example.org")["last_name"] == "Okafor"  # from "Jane Okafor <...>"
    assert get_contact(db, "info@valley.example.net")["is_role_address"] == 1  # flagged, not rejected
    assert get_contact(db, "jane.smith@mercy.example.org")["custom"] == {"languages": "English"}


def test_the_human_report_lists_errors_and_warnings_by_physical_line():
    result = outreach("contacts", "import", str(MESSY))
    assert result.exit_code == 0
    out = result.stdout
    assert "Windows-1252, semicolon-separated, 10 rows" in out
    assert "Hospital / Institution -> hospital" in out
    assert "Languages -> custom field languages" in out
    assert "line 5: invalid email 'jane@'" in out
    assert "line 6: email is blank (No Email)" in out
    assert "line 4: graduation year '1899' is not a plausible year; left empty" in out
    assert "line 7: Hospital / Institution '=HYPERLINK(" in out
    assert "line 9: same address as line 2 (jane.smith@mercy.example.org); filled its empty fields" in out
    assert "line 11: info@valley.example.net is a role address" in out
    assert "line 12: state 'ZZ' is not a US state; kept as written" in out
    assert "line 12: NPI '12345' is not 10 digits; left empty" in out


def test_importing_the_same_file_again_changes_nothing():
    import_json(str(MESSY), "--tag", "spring")
    again = import_json(str(MESSY), "--tag", "spring")
    assert again == {"inserted": 0, "updated": 0, "unchanged": 7, "skipped": 3, "errors": MESSY_ERRORS}


def test_a_new_tag_on_a_reimport_counts_as_an_update():
    import_json(str(MESSY), "--tag", "spring")
    again = import_json(str(MESSY), "--tag", "cardiology")
    assert (again["updated"], again["unchanged"]) == (7, 0)
    db = open_db("outreach.db")
    assert get_contact(db, "ann.lee@harbor.example.org")["tags"] == ["cardiology", "spring"]


def test_a_utf8_bom_tab_separated_export_keeps_accents_and_custom_columns():
    assert import_json(str(DATA / "google-bom-tab.csv")) == {"inserted": 3, "updated": 0, "unchanged": 0, "skipped": 0, "errors": []}
    db = open_db("outreach.db")
    zoe = get_contact(db, "zoe.angstrom@nordic.example.org")
    assert (zoe["first_name"], zoe["last_name"], zoe["hospital"], zoe["state"]) == ("Zoë", "Ångström", "Nordic Heart Center", "MN")
    assert zoe["custom"] == {"residency_program": "Nordic IM Residency"}
    assert get_contact(db, "li.wei@pacific.example.com")["graduation_year"] == 2014  # Excel's "2014.0"
    assert get_contact(db, "o.diallo@sahel.example.net")["medical_school"] == "Université Cheikh Anta Diop"


def write(name: str, text: str, encoding: str = "utf-8") -> str:
    Path(name).write_text(text, encoding=encoding, newline="")
    return name


def test_an_updated_file_updates_non_empty_fields_and_blank_cells_never_erase():
    write("v1.csv", "email,first_name,last_name,specialty,city\njane.okafor@mercy.example.org,Jane,Okafor,Internal Medicine,Columbus\n")
    write("v2.csv", "email,first_name,last_name,specialty,city\nJANE.OKAFOR@mercy.example.org,Jane,Okafor,Cardiology,\n")
    import_json("v1.csv")

    assert import_json("v2.csv") == {"inserted": 0, "updated": 1, "unchanged": 0, "skipped": 0, "errors": []}

    jane = get_contact(open_db("outreach.db"), "jane.okafor@mercy.example.org")
    assert (jane["email"], jane["specialty"], jane["city"]) == ("jane.okafor@mercy.example.org", "Cardiology", "Columbus")


def test_keep_existing_leaves_contacts_in_the_database_exactly_as_they_are():
    write("v1.csv", "email,specialty\njane.okafor@mercy.example.org,Internal Medicine\n")
    write("v2.csv", "email,specialty\njane.okafor@mercy.example.org,Cardiology\nnew.person@mercy.example.org,Surgery\n")
    import_json("v1.csv")

    assert import_json("v2.csv", "--keep-existing", "--tag", "v2") == {"inserted": 1, "updated": 0, "unchanged": 0, "skipped": 1, "errors": []}

    db = open_db("outreach.db")
    jane = get_contact(db, "jane.okafor@mercy.example.org")
    assert (jane["specialty"], jane["tags"]) == ("Internal Medicine", [])
    result = outreach("contacts", "import", "v2.csv", "--keep-existing")
    assert "line 2: jane.okafor@mercy.example.org is already a contact; left unchanged (--keep-existing)" in result.stdout


def test_a_do_not_contact_list_imported_as_contacts_points_to_suppress_import():
    result = outreach("contacts", "import", str(DATA / "do-not-contact.txt"))
    assert result.exit_code == 1
    assert "the first line is a # comment" in result.stderr and "outreach suppress import" in result.stderr


def test_map_names_a_column_the_automatic_matching_does_not_know():
    spanish = str(DATA / "spanish-headers.csv")
    result = outreach("contacts", "import", spanish)
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        f"Error: {spanish}: no email column found; columns are: 'Correo', 'Nombre', 'Especialidad'; "
        "name it with --map 'Correo=email'")

    assert import_json(spanish, "--map", "Correo=email", "--map", "Nombre=name", "--map", "Especialidad=specialty")["inserted"] == 1
    lucia = get_contact(open_db("outreach.db"), "lucia.fernandez@sur.example.org")
    assert (lucia["first_name"], lucia["last_name"], lucia["specialty"]) == ("Lucía", "Fernández", "Cardiología")


def test_map_to_an_unknown_field_is_a_usage_error_listing_the_valid_fields():
    result = CliRunner().invoke(cli, ["contacts", "import", str(DATA / "spanish-headers.csv"), "--map", "Correo=e-mail-address"])
    assert result.exit_code == 2
    assert "unknown field 'e_mail_address'" in result.output
    assert "email, name, title, first_name" in result.output


def test_map_to_a_column_that_is_not_in_the_file_says_which_columns_exist():
    result = outreach("contacts", "import", str(DATA / "spanish-headers.csv"), "--map", "Mail=email")
    assert result.exit_code == 1
    assert "--map names column 'Mail', which is not in the file; columns are: Correo, Nombre, Especialidad" in result.stderr


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: "missing.csv", "missing.csv: no such file; check the path"),
        (lambda: Path("folder").mkdir() or "folder", "folder: is a folder, not a CSV file"),
        (lambda: shutil.copy(DATA / "not-a-csv.png", "photo.csv"), "photo.csv: this is a binary file, not CSV text"),
        (lambda: shutil.copy(DATA / "workbook.xlsx", "list.xlsx"), "list.xlsx: this is an Excel/ZIP workbook, not CSV; in Excel use File > Save As > CSV UTF-8"),
        (lambda: write("empty.csv", "\n\n"), "empty.csv: the file is empty"),
        (lambda: shutil.copy(DATA / "no-header.csv", "no-header.csv"), "no-header.csv: the first line looks like data, not column names"),
    ],
    ids=["missing", "directory", "binary", "xlsx", "empty", "no-header"],
)
def test_a_file_that_cannot_be_read_exits_1_with_one_line(make, message):
    path = str(make())
    result = outreach("contacts", "import", path, "--json")
    assert result.exit_code == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: " + message), lines


def test_dry_run_reports_the_same_counts_and_writes_nothing():
    dry = import_json(str(MESSY), "--tag", "spring", "--dry-run")
    assert dry == {"inserted": 7, "updated": 0, "unchanged": 0, "skipped": 3, "errors": MESSY_ERRORS}
    db = open_db("outreach.db")
    for table in ("contacts", "tags", "contact_tags", "imports", "events"):
        assert db.table(table).count == 0, table
    assert "Dry run (nothing written)" in outreach("contacts", "import", str(MESSY), "--dry-run").stdout


def test_each_import_is_recorded_with_its_counts_and_errors():
    import_json(str(MESSY))
    (run,) = open_db("outreach.db").table("imports").rows
    assert (run["file"], run["inserted"], run["skipped"]) == (str(MESSY), 7, 3)
    assert json.loads(run["errors"]) == MESSY_ERRORS
    assert run["finished_at"] >= run["started_at"]


def test_a_cp1252_byte_on_the_last_line_of_a_long_file_is_decoded_not_a_crash():
    rows = "".join(f"person{i}@big.example.org,Person,{i}\n" for i in range(5000))
    Path("long.csv").write_bytes(b"email,first_name,last_name\n" + rows.encode() + "rene@big.example.org,René,Dubé\n".encode("cp1252"))
    assert import_json("long.csv")["inserted"] == 5001
    assert get_contact(open_db("outreach.db"), "rene@big.example.org")["first_name"] == "René"


def test_duplicates_are_merged_across_batches_of_a_streamed_file():
    write("dups.csv", "email,specialty,city\na@x.example.org,Cardiology,\nb@x.example.org,,\nc@x.example.org,,\nA@X.example.org,Surgery,Dayton\n")
    db = open_db("outreach.db")
    report = import_csv(db, "dups.csv", batch_size=2)
    assert (report.inserted, report.skipped, report.duplicates) == (3, 1, 1)
    a = get_contact(db, "a@x.example.org")
    assert (a["specialty"], a["city"]) == ("Cardiology", "Dayton")
    again = import_csv(db, "dups.csv", batch_size=2)
    assert (again.inserted, again.updated, again.unchanged, again.skipped) == (0, 0, 3, 1)


def test_suppressed_addresses_still_import_but_the_report_warns():
    outreach("suppress", "add", "valley.example.net", "--reason", "asked not to be contacted")
    result = outreach("contacts", "import", str(MESSY))
    assert "2 suppressed address(es) imported but never sent to" in result.stdout
    assert "line 3: JMunoz@valley.example.net is on the suppression list (suppressed domain valley.example.net (asked not to be contacted))" in result.stdout


def test_header_variants_are_recognised_whatever_their_case_and_punctuation():
    write("variants.csv", "E-mail,Given name,Family name,SPECIALITY,Organisation,Alma Mater,Class of,npi number,Comments,Title\n"
          "kofi@accra.example.org,Kofi,Mensah,Surgery,Korle Bu,University of Ghana,2010,,hi,Program Director\n")
    import_json("variants.csv")
    kofi = get_contact(open_db("outreach.db"), "kofi@accra.example.org")
    assert {k: kofi[k] for k in ("first_name", "last_name", "specialty", "hospital", "medical_school", "graduation_year", "notes", "title")} == {
        "first_name": "Kofi", "last_name": "Mensah", "specialty": "Surgery", "hospital": "Korle Bu",
        "medical_school": "University of Ghana", "graduation_year": 2010, "notes": "hi", "title": None}
    assert kofi["custom"] == {"job_title": "Program Director"}  # a job title is not a form of address


@pytest.mark.parametrize(
    "name, parts",
    [
        ("Dr. Jane A. Smith, MD", {"title": "Dr.", "first_name": "Jane", "middle_name": "A.", "last_name": "Smith", "suffix": "MD"}),
        ("Smith, Jane", {"first_name": "Jane", "last_name": "Smith"}),
        ("Smith, Jane A., MD", {"first_name": "Jane", "middle_name": "A.", "last_name": "Smith", "suffix": "MD"}),
        ("Prof. Maria de la Cruz, MD, PhD", {"title": "Prof.", "first_name": "Maria", "last_name": "de la Cruz", "suffix": "MD, PhD"}),
        ("Jane Smith MD FACP", {"first_name": "Jane", "last_name": "Smith", "suffix": "MD, FACP"}),
        ("Dr Okafor", {"title": "Dr.", "last_name": "Okafor"}),
        ("Ngozi", {"first_name": "Ngozi"}),
    ],
)
def test_a_full_name_is_split_into_title_first_middle_last_and_suffix(name, parts):
    assert split_name(name) == parts


def test_the_bundled_example_lists_import_cleanly():
    physicians = import_json(str(REPO / "contacts" / "physicians.csv"), "--tag", "physicians")
    alumni = import_json(str(REPO / "contacts" / "alumni.csv"), "--tag", "alumni")
    assert physicians == {"inserted": 25, "updated": 0, "unchanged": 0, "skipped": 0, "errors": []}
    assert alumni == {"inserted": 15, "updated": 0, "unchanged": 0, "skipped": 0, "errors": []}
    db = open_db("outreach.db")
    jane = get_contact(db, "jane.okafor@mercy.example.org")
    assert (jane["title"], jane["last_name"], jane["hospital"], jane["tags"]) == ("Dr.", "Okafor", "Mercy General Hospital", ["physicians"])
    eze = get_contact(db, "chinedu.eze@summit.example.org")
    assert (eze["first_name"], eze["last_name"], eze["state"], eze["graduation_year"]) == ("Chinedu", "Eze", "OH", 2009)
    assert eze["custom"]["target_program"] == "Summit Internal Medicine Residency"
    assert len(select_contacts(db, tags=["alumni"], where={"state": "OH"})) == 4


def test_excel_unicode_text_is_utf16_with_tabs():
    Path("unicode.txt").write_bytes("Email\tName\r\nzoe@nordic.example.org\tZoë Ångström\r\n".encode("utf-16"))
    assert import_json("unicode.txt")["inserted"] == 1
    assert get_contact(open_db("outreach.db"), "zoe@nordic.example.org")["last_name"] == "Ångström"


def test_old_mac_line_endings_still_give_physical_line_numbers():
    Path("mac.csv").write_bytes(b'Email,Name\rjane@b.example.org,"Jane\rDoe"\rbad@,x\r')
    report = import_json("mac.csv")
    assert report["inserted"] == 1
    assert report["errors"] == [{"line": 4, "reason": "invalid email 'bad@': There must be something after the @-sign."}]


def test_an_unclosed_quote_is_named_as_the_likely_cause():
    write("quote.csv", 'email,first_name\n"unterminated@x.example.org,Ann\nnext@x.example.org,Bo\n')
    (error,) = import_json("quote.csv")["errors"]
    assert error["line"] == 2
    assert error["reason"].startswith('the email cell runs over several lines: a quote (") opened in this row is never closed')


def test_map_can_keep_a_column_as_a_named_custom_field_or_ignore_it():
    write("m.csv", "email,Name,Internal ID\nana@clinic.example.org,Ana Lima,77\n")
    import_json("m.csv", "--map", "Name=custom:Display Name", "--map", "Internal ID=ignore")
    ana = get_contact(open_db("outreach.db"), "ana@clinic.example.org")
    assert (ana["first_name"], ana["custom"]) == (None, {"display_name": "Ana Lima"})


def test_progress_is_reported_in_bytes_after_each_batch_and_at_the_end():
    rows = "".join(f"p{i}@big.example.org,P,{i}\n" for i in range(2500))
    write("p.csv", "email,first_name,last_name\n" + rows)
    seen: list[tuple[int, int]] = []
    import_csv(open_db("outreach.db"), "p.csv", batch_size=1000, progress=lambda done, total: seen.append((done, total)))
    size = Path("p.csv").stat().st_size
    assert len(seen) == 3 and seen[-1] == (size, size)
    assert all(total == size and 0 < done <= size for done, total in seen)
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)
