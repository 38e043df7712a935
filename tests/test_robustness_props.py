"""Property-based tests: whatever bytes arrive, `classify` and `contacts import` give a result or
one clear `Error:` line, never a traceback. Arbitrary bytes find the crashes in decoding;
plausible-but-broken MIME and CSV (real header names, broken boundaries, bogus charsets, stray
quotes, NULs, odd encodings) reach the code behind the parsers.

Bounded: a few dozen examples each, no per-example deadline (the machine is shared), and
database examples each in their own temporary folder.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from outreach.classify.classifier import classify_message
from outreach.cli import cli

KINDS = {"human_reply", "auto_reply", "bounce", "unsubscribe", "other"}
# database=None: no example database written into the working tree (tests stay hermetic).
FAST = settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])

# --- plausible mail -------------------------------------------------------------------------

_text = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=60)
_token = st.text("abcdefghijklmnopqrstuvwxyz0123456789-_.=/+", min_size=0, max_size=16)
_charsets = st.sampled_from(["utf-8", "us-ascii", "iso-8859-1", "windows-1252", "x-unknown", "utf-7", "", "utf8\""])
_encodings = st.sampled_from(["7bit", "8bit", "base64", "quoted-printable", "binary", "x-uuencode", "bogus"])
_addresses = st.one_of(
    st.sampled_from(["MAILER-DAEMON@mx.example.org", "postmaster@example.org", "jane@mercy.example.org", "<>", "", "@", "a@"]),
    st.builds(lambda a, b: f"{a}@{b}.example", _token, _token),
)


@st.composite
def headers(draw) -> list[str]:
    names = ["From", "To", "Subject", "Date", "Message-ID", "In-Reply-To", "References", "Auto-Submitted",
             "Return-Path", "X-Failed-Recipients", "Precedence", "X-Autoreply", "List-Unsubscribe", "Content-Language"]
    lines = []
    for name in draw(st.lists(st.sampled_from(names), max_size=8)):
        value = draw(st.one_of(_text, _addresses, _token, st.builds(lambda c, t: f"=?{c}?b?{t}?=", _charsets, _token)))
        lines.append(f"{name}: {value}".replace("\n", " ").replace("\r", " "))
    return lines


@st.composite
def body_part(draw, depth: int = 0) -> str:
    kind = draw(st.sampled_from(["text/plain", "text/html", "message/delivery-status", "text/rfc822-headers",
                                 "message/rfc822", "application/pdf", "multipart/mixed", "multipart/report"]))
    if kind.startswith("multipart/") and depth < 2:
        boundary = draw(_token)
        parts = draw(st.lists(body_part(depth + 1), max_size=3))
        close = draw(st.booleans())  # a missing closing boundary is common in the wild
        inner = "".join(f"--{boundary}\n{p}\n" for p in parts) + (f"--{boundary}--\n" if close else "")
        quoted = draw(st.booleans())
        return f'Content-Type: {kind}; boundary={chr(34) if quoted else ""}{boundary}{chr(34) if quoted else ""}; report-type=delivery-status\n\n{inner}'
    charset = draw(_charsets)
    encoding = draw(_encodings)
    if kind == "message/delivery-status":
        content = "\n".join(f"{field}: {draw(_text)}" for field in draw(st.lists(st.sampled_from(
            ["Final-Recipient", "Action", "Status", "Diagnostic-Code", "Reporting-MTA", "Original-Recipient"]), max_size=6)))
    else:
        content = draw(_text)
    return f"Content-Type: {kind}; charset={charset}\nContent-Transfer-Encoding: {encoding}\n\n{content}"


@st.composite
def plausible_mail(draw) -> bytes:
    text = "\n".join(draw(headers())) + "\nMIME-Version: 1.0\n" + draw(body_part())
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    return text.replace("\n", newline).encode(draw(st.sampled_from(["utf-8", "latin-1"])), "replace")


def _classified(raw: bytes) -> None:
    result = classify_message(raw).to_json("x.eml")
    assert result["kind"] in KINDS
    assert result["bounce_type"] in (None, "hard", "soft")
    assert isinstance(result["bounced_addresses"], list)
    json.dumps(result)


@settings(max_examples=300, deadline=None, database=None)
@given(st.binary(max_size=2000))
def test_classify_takes_any_bytes(raw):
    _classified(raw)


@FAST
@given(plausible_mail())
def test_classify_takes_plausible_but_broken_mime(raw):
    _classified(raw)


@settings(max_examples=25, deadline=None, database=None)
@given(st.lists(st.one_of(st.binary(max_size=600), plausible_mail()), min_size=1, max_size=3))
def test_the_classify_command_on_files_answers_one_line_per_file(raws):
    with tempfile.TemporaryDirectory() as folder:
        paths = []
        for index, raw in enumerate(raws):
            path = Path(folder) / f"{index}.eml"
            path.write_bytes(raw)
            paths.append(str(path))
        result = CliRunner().invoke(cli, ["classify", *paths, "--json"])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["file"] for line in lines] == paths and all(line["kind"] in KINDS for line in lines)


# --- contact lists ----------------------------------------------------------------------------

_HEADERS = ["Email", "E-mail", "First Name", "Last Name", "Full Name", "Title", "Specialty", "Hospital", "State",
            "Class of", "NPI", "Notes", "Residency Program", "", "Email"]
_cells = st.one_of(
    _text, _token, _addresses,
    st.sampled_from(['"', '""', '"unclosed', "a,b", "x;y", "\t", "\0", "=HYPERLINK(\"x\")", "Dr. Jane A. Smith, MD",
                     "jane@mercy.example.org", "JANE@MERCY.EXAMPLE.ORG", "zoë@example.org", "1999", "19999", "1234567893"]),
)


@st.composite
def plausible_csv(draw) -> bytes:
    delimiter = draw(st.sampled_from([",", ";", "\t", "|"]))
    header = draw(st.lists(st.sampled_from(_HEADERS), min_size=1, max_size=6))
    rows = draw(st.lists(st.lists(_cells, max_size=len(header) + 2), max_size=8))
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    text = newline.join(delimiter.join(row) for row in [header, *rows])
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "cp1252", "latin-1"]))
    return text.encode(encoding, "replace")


def _import(data: bytes) -> None:
    """One import in a fresh folder: a JSON result whose counts add up, or one `Error:` line."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "list.csv"
        path.write_bytes(data)
        result = CliRunner().invoke(cli, ["--db", str(Path(folder) / "o.db"), "contacts", "import", str(path), "--json"])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    if result.exit_code == 0:
        report = json.loads(result.stdout)
        assert set(report) == {"inserted", "updated", "unchanged", "skipped", "errors"}
        assert report["skipped"] >= len(report["errors"])
    else:
        assert result.exit_code == 1, result.output
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: ") and result.stdout == "", result.stderr


@settings(max_examples=30, deadline=None, database=None)
@given(st.binary(max_size=1500))
def test_contacts_import_takes_any_bytes(data):
    _import(data)


def test_a_header_of_control_characters_gets_one_error_line(tmp_path):
    """Found by the property above: a vertical tab in the header split the --map hint in two."""
    _import(b"\x01\x0b\x01")


@settings(max_examples=30, deadline=None, database=None)
@given(plausible_csv())
def test_contacts_import_takes_plausible_but_broken_rows(data):
    _import(data)
