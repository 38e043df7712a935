"""Messages are built once, with the email package, and survive a round trip through a parser."""

from __future__ import annotations

import hashlib
import os
from datetime import datetime, timedelta, timezone
from email import message_from_bytes, policy
from email.headerregistry import Address

import pytest

from outreach.errors import HeaderInjectionError
from outreach.mail.message import build_message, header_value, load_attachment, parse_address_list

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
WHEN = datetime(2026, 11, 25, 9, 30, tzinfo=timezone(timedelta(hours=-5)))


def build(**overrides):
    fields = dict(
        from_name="Ada Obí", from_address="ada@obi.example.com", to_name="Zoë Ångström",
        to_address="zoe@hospital.example.org", subject="Observership — Neurología at Hôpital Saint-Éloi",
        text="Dear Dr. Ångström,\n\nThank you — merci.\n", date=WHEN, contact="zoe@hospital.example.org",
    )
    fields.update(overrides)
    return build_message(**fields)


def parsed(rendered):
    return message_from_bytes(rendered.as_bytes(), policy=policy.default)


def content(part) -> str:
    """Decoded text with the wire's CRLF line ends back to Python's \\n (as mail clients do)."""
    return part.get_content().replace("\r\n", "\n")


def test_non_ascii_names_and_subject_round_trip():
    rendered = build()
    raw = rendered.as_bytes()
    assert raw.isascii()  # every header and part encoded for any relay
    message = parsed(rendered)
    assert message["From"].addresses[0] == Address("Ada Obí", addr_spec="ada@obi.example.com")
    assert message["To"].addresses[0].display_name == "Zoë Ångström"
    assert message["Subject"] == "Observership — Neurología at Hôpital Saint-Éloi"
    assert message.get_content_type() == "text/plain"
    assert content(message) == "Dear Dr. Ångström,\n\nThank you — merci.\n"
    assert message["Date"].datetime == WHEN
    assert rendered.to_address == "zoe@hospital.example.org"


def test_message_id_is_unique_and_on_the_senders_domain():
    first, second = build(), build()
    assert first.message_id != second.message_id
    assert first.message_id.startswith("<") and first.message_id.endswith("@obi.example.com>")
    assert parsed(first)["Message-ID"] == first.message_id


def test_follow_up_threads_with_in_reply_to_and_references():
    message = parsed(build(in_reply_to="<a@obi.example.com>", references=["<root@obi.example.com>"]))
    assert message["In-Reply-To"] == "<a@obi.example.com>"
    assert message["References"] == "<root@obi.example.com> <a@obi.example.com>"


def test_structure_with_html_and_an_attachment(tmp_path):
    (tmp_path / "cv.pdf").write_bytes(PDF)
    rendered = build(html="<p>Dear Dr. Ångström</p>", attachments=[load_attachment(tmp_path / "cv.pdf")])
    message = parsed(rendered)
    assert message.get_content_type() == "multipart/mixed"
    alternative, attachment = message.get_payload()
    assert [p.get_content_type() for p in alternative.get_payload()] == ["text/plain", "text/html"]
    assert content(message.get_body(("html",))) == "<p>Dear Dr. Ångström</p>\n"
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_filename() == "cv.pdf"
    assert attachment.get_content() == PDF
    assert "MIME-Version" not in attachment  # only the top level carries it


def test_non_ascii_attachment_filename_for_apple_mail_and_outlook(tmp_path):
    path = tmp_path / "Lebenslauf Müller – Ada Obí.pdf"
    path.write_bytes(PDF)
    rendered = build(attachments=[load_attachment(path)])
    raw = rendered.as_bytes().decode("ascii")
    # RFC 2231 (the standard: Apple Mail, Gmail, Thunderbird, current Outlook) ...
    assert "filename*=utf-8''Lebenslauf%20M%C3%BCller%20%E2%80%93%20Ada%20Ob%C3%AD.pdf" in raw
    # ... and the same on Content-Type; never an encoded word in a quoted name= (RFC 2047 section 5).
    assert "Content-Type: application/pdf; name*=utf-8''Lebenslauf%20M%C3%BCller" in raw
    assert 'name="=?' not in raw and "=?utf-8?b?TGViZW5z" not in raw
    attachment = next(parsed(rendered).iter_attachments())
    assert attachment.get_filename() == "Lebenslauf Müller – Ada Obí.pdf"
    assert attachment["Content-Type"].params["name"] == "Lebenslauf Müller – Ada Obí.pdf"
    assert list(attachment.keys())[0] == "Content-Type"
    assert rendered.attachments[0].name == "Lebenslauf Müller – Ada Obí.pdf"
    assert rendered.attachments[0].size == len(PDF)
    assert rendered.attachments[0].sha256 == hashlib.sha256(PDF).hexdigest()


def test_attachment_is_read_once_until_the_file_changes(tmp_path):
    path = tmp_path / "cv.pdf"
    path.write_bytes(PDF)
    first = load_attachment(path)
    assert load_attachment(path) is first
    renamed = load_attachment(path, filename="Ada Obi - CV.pdf")
    assert renamed.filename == "Ada Obi - CV.pdf" and renamed.data is first.data
    path.write_bytes(PDF + b"% revised\n")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    changed = load_attachment(path)
    assert changed.data.endswith(b"% revised\n") and changed.sha256 != first.sha256


def test_unknown_file_types_go_as_octet_stream(tmp_path):
    path = tmp_path / "notes.unknownext"
    path.write_bytes(b"x")
    assert (load_attachment(path).maintype, load_attachment(path).subtype) == ("application", "octet-stream")


@pytest.mark.parametrize(
    "bad",
    ["a\r\nBcc: x@example.net", "a\nb", "a\rb", "a\0b", "a\x0bBcc: x@example.net", "a\x1cBcc: x@example.net",
     "a\x85Bcc: x@example.net", "a\u2028Bcc: x@example.net", "a\u2029b"],
)
def test_header_values_reject_cr_lf_nul_and_name_the_field_and_contact(bad):
    with pytest.raises(HeaderInjectionError) as info:
        header_value("Subject", bad, contact="zoe@hospital.example.org")
    assert "Subject for contact zoe@hospital.example.org contains" in str(info.value)
    assert "could add headers of their own" in str(info.value)
    with pytest.raises(HeaderInjectionError, match="To name"):
        build(to_name=bad)
    with pytest.raises(HeaderInjectionError, match="Subject"):
        build(subject=bad)


def test_addresses_are_parsed_by_the_email_package():
    assert [str(a) for a in parse_address_list("cc", "Lee Park <lee@x.example>, b@y.example")] == [
        "Lee Park <lee@x.example>", "b@y.example",
    ]
    with pytest.raises(HeaderInjectionError):
        parse_address_list("cc", "not an address")
    with pytest.raises(HeaderInjectionError):
        build(to_address="zoe@@hospital")


def test_long_non_ascii_lines_are_quoted_printable_and_ascii_stays_7bit():
    text = "Café " * 60 + "\n"
    message = parsed(build(text=text))
    assert message["Content-Transfer-Encoding"] == "quoted-printable"
    assert content(message) == text
    plain = parsed(build(text="Hello\n", subject="Hi"))
    assert plain["Content-Transfer-Encoding"] == "7bit"


def test_no_line_end_character_can_split_a_header():
    """str.splitlines() also breaks on VT, FS, NEL, U+2028...: none of them may reach a header."""
    for char in "\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029":
        with pytest.raises(HeaderInjectionError, match="control character"):
            build(subject=f"Hello{char}Bcc: victim@example.net")
    fine = parsed(build(subject="Tab\tand café are fine"))
    assert fine["Subject"] == "Tab\tand café are fine" and fine["Bcc"] is None


@pytest.mark.parametrize("address", [
    "jane.okafor@mercy.example.org", "J.Okafor+obs@Mercy.Example.ORG", "a@b.co", "first_last-1@sub-1.dept.example.org",
    "o'brien@clinic.example.com", "x{y}@example.com",
])
def test_a_plain_address_is_built_by_parts_exactly_as_the_parser_would_build_it(address):
    from outreach.mail.headers import make_address

    built = make_address("To", "Dr. Jane Okafor", address)
    parsed = Address(display_name="Dr. Jane Okafor", addr_spec=address)
    assert (built.username, built.domain, built.addr_spec, str(built)) == (parsed.username, parsed.domain, parsed.addr_spec, str(parsed))


@pytest.mark.parametrize("address", ['"quoted local"@example.com', "a..b@example.com", "a@-bad.example.com", "a@example", "a b@example.com"])
def test_an_address_that_is_not_plain_still_goes_through_the_parser(address):
    from outreach.mail.addr_spec import PLAIN_ADDRESS

    assert not PLAIN_ADDRESS.match(address)
