"""The suppression list: addresses and domains that are never written to."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from outreach.cli import cli
from outreach.contacts.addresses import normalise_email
from outreach.contacts.store import SuppressionIndex, suppression_reason
from outreach.db import open_db

DATA = Path(__file__).parent / "data" / "contacts"


def outreach(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_add_an_address_and_a_domain_then_list_them():
    assert outreach("suppress", "add", "Jane.Okafor@Mercy.example.org", "--reason", "asked to stop").stdout == "Suppressed Jane.Okafor@Mercy.example.org\n"
    assert outreach("suppress", "add", "valley.example.net").stdout == "Suppressed valley.example.net\n"
    assert outreach("suppress", "add", "jane.okafor@mercy.example.org").stdout == "jane.okafor@mercy.example.org was already suppressed\n"

    listed = json.loads(outreach("suppress", "list", "--json").stdout)
    assert [(e["value"], e["kind"], e["reason"], e["source"]) for e in listed] == [
        ("jane.okafor@mercy.example.org", "address", "asked to stop", "manual"),
        ("valley.example.net", "domain", None, "manual"),
    ]
    assert "valley.example.net" in outreach("suppress", "list").stdout


def test_a_suppressed_domain_covers_every_address_and_subdomain_in_any_case():
    outreach("suppress", "add", "valley.example.net", "--reason", "whole hospital opted out")
    db = open_db("outreach.db")
    assert suppression_reason(db, "Anyone@VALLEY.example.net") == "suppressed domain valley.example.net (whole hospital opted out)"
    assert suppression_reason(db, "x@mail.valley.example.net") is not None
    assert suppression_reason(db, "x@notvalley.example.net") is None
    outreach("suppress", "add", "JMunoz@valley.example.org")
    assert suppression_reason(db, "jmunoz@valley.example.org") == "suppressed address (manual)"
    read_once = SuppressionIndex(db)  # what a campaign's selection asks, without a query per contact
    for address in ("Anyone@VALLEY.example.net", "x@mail.valley.example.net", "x@notvalley.example.net",
                    "jmunoz@valley.example.org", " <JMunoz@Valley.Example.org> ", "not an address"):
        assert read_once.reason(address) == suppression_reason(db, address), address
    for address in ("Anyone@VALLEY.example.net", "x@mail.valley.example.net", "JMunoz@Valley.Example.org", "a.b+c@notvalley.example.net"):
        assert suppression_reason(db, address) == suppression_reason(db, normalise_email(address)), address  # the plain-ASCII shortcut


def test_add_rejects_something_that_is_neither_address_nor_domain():
    result = outreach("suppress", "add", "not valid")
    assert result.exit_code == 1
    assert result.stderr == "Error: 'not valid' is neither an email address nor a domain; give an address (name@example.org) or a domain (example.org)\n"


def test_import_a_plain_list_reports_bad_lines_and_adds_the_rest():
    result = outreach("suppress", "import", str(DATA / "do-not-contact.txt"), "--json")
    assert json.loads(result.stdout) == {
        "added": 3, "already": 1, "errors": [{"line": 5, "reason": "'not an address' is neither an email address nor a domain"}]}
    values = [e["value"] for e in json.loads(outreach("suppress", "list", "--json").stdout)]
    assert values == ["bob.smith@stlukes.example.org", "harbor.example.org", "valley.example.net"]
    assert all(e["source"] == "import" for e in json.loads(outreach("suppress", "list", "--json").stdout))


def test_import_a_csv_uses_its_email_column():
    result = outreach("suppress", "import", str(DATA / "unsubscribes.csv"), "--reason", "unsubscribed")
    assert result.stdout.splitlines()[0].endswith("1 added, 0 already suppressed, 1 bad line(s)")
    assert "line 3: invalid email 'oops@'" in result.stdout
    assert suppression_reason(open_db("outreach.db"), "ann.lee@harbor.example.org") == "suppressed address (unsubscribed)"


def test_remove_lifts_a_suppression():
    outreach("suppress", "add", "valley.example.net")
    assert outreach("suppress", "remove", "VALLEY.example.net").stdout == "No longer suppressed: VALLEY.example.net\n"
    assert outreach("suppress", "list").stdout == "Nothing is suppressed.\n"
    missing = outreach("suppress", "remove", "valley.example.net")
    assert missing.exit_code == 1 and "is not suppressed" in missing.stderr


def test_suppressed_contacts_are_marked_in_show():
    Path("one.csv").write_text("email,first_name\nana@clinic.example.org,Ana\n")
    outreach("contacts", "import", "one.csv")
    outreach("suppress", "add", "clinic.example.org", "--reason", "do not contact")
    shown = outreach("contacts", "show", "ana@clinic.example.org").stdout
    assert "  suppressed     suppressed domain clinic.example.org (do not contact)\n" in shown
