"""What goes on the wire, checked on the bytes: RFC 2047 encoded words of at most 75 characters
for long non-ASCII display names, no encoded word inside a quoted attachment name=, and a fresh
MIME boundary in every message."""

from __future__ import annotations

import re
from email import message_from_bytes, policy
from email.header import decode_header, make_header
from email.headerregistry import Address

from outreach.mail.message import POLICY, POLICY_UTF8, load_attachment
from tests.test_message import PDF, build

ENCODED_WORD = re.compile(rb"=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=")
LONG_NAME = "Dr. María-José Fernández-Ñúñez de la Peña y Castellón, Jefa de Servicio de Neurología Pediátrica"


def header_block(raw: bytes) -> bytes:
    return raw.split(b"\r\n\r\n", 1)[0]


def test_a_long_non_ascii_display_name_is_split_into_short_encoded_words():
    rendered = build(to_name=LONG_NAME, from_name="Ada Obí " + "Ọláolúwa " * 8, cc=[Address(LONG_NAME, "jefa", "hospital.example.org")])
    raw = rendered.as_bytes()
    words = ENCODED_WORD.findall(header_block(raw))
    assert len(words) >= 6  # To, Cc and From each needed several
    assert max(len(w) for w in words) <= 75
    assert all(len(line) <= 78 for line in header_block(raw).split(b"\r\n"))
    # Decoded as RFC 2047 section 6.2 says (the space between adjacent encoded words is not
    # text), as mail clients do; Python's structured-header parser adds a space there instead.
    message = message_from_bytes(raw, policy=policy.compat32)
    assert decoded(message["To"]) == ("", f"{LONG_NAME} <zoe@hospital.example.org>")
    assert decoded(message["Cc"])[1] == f"{LONG_NAME} <jefa@hospital.example.org>"
    assert decoded(message["From"])[1] == ("Ada Obí " + "Ọláolúwa " * 8).strip() + " <ada@obi.example.com>"


def decoded(value: str) -> tuple[str, str]:
    """("", text) when the header decodes cleanly, else (problem, "")."""
    try:
        return "", str(make_header(decode_header(value)))
    except Exception as error:  # noqa: BLE001 (the assertion shows it)
        return repr(error), ""


def test_a_non_ascii_attachment_name_uses_rfc_2231_on_both_headers_and_no_encoded_word(tmp_path):
    path = tmp_path / "Currículo Ada Obí – 2026.pdf"
    path.write_bytes(PDF)
    raw = build(attachments=[load_attachment(path)]).as_bytes()
    part_headers = [block for block in raw.split(b"\r\n\r\n") if b"application/pdf" in block][0]
    assert b"name*=utf-8''Curr%C3%ADculo%20Ada%20Ob%C3%AD%20%E2%80%93%202026.pdf" in part_headers
    assert b"filename*=utf-8''Curr%C3%ADculo" in part_headers
    assert not ENCODED_WORD.search(part_headers)
    attachment = next(message_from_bytes(raw, policy=policy.default).iter_attachments())
    assert attachment.get_filename() == "Currículo Ada Obí – 2026.pdf"
    assert attachment.get_param("name") == "Currículo Ada Obí – 2026.pdf"


def test_every_message_gets_its_own_boundaries(tmp_path):
    path = tmp_path / "cv.pdf"
    path.write_bytes(PDF)
    boundaries = []
    for _ in range(3):
        message = message_from_bytes(build(html="<p>Dear Dr.</p>", attachments=[load_attachment(path)]).as_bytes(), policy=policy.default)
        outer = message.get_boundary()
        inner = next(p for p in message.walk() if p.get_content_type() == "multipart/alternative").get_boundary()
        assert outer != inner
        boundaries += [outer, inner]
    assert len(set(boundaries)) == 6


def test_the_bytes_are_what_the_email_package_writes(tmp_path):
    """as_bytes writes an attachment's body as one pre-encoded block and an ASCII text body
    directly; the result is the email package's own output, byte for byte, with or without HTML
    and attachments, for plain, non-ASCII, long-lined and From-led bodies, with either policy."""
    path = tmp_path / "Currículo.pdf"
    path.write_bytes(PDF * 40)  # several hundred base64 lines
    for kwargs in ({"html": "<p>Dear Dr. Okafor</p>", "attachments": [load_attachment(path)]},
                   {"attachments": [load_attachment(path), load_attachment(path, filename="CV – Ada.pdf")]},
                   {"html": "<p>Estimada Dra. Peña</p>"}, {},
                   {"text": "Dear Dr. Okafor,\n\nFrom Lagos, with thanks.\n.\nAda\n"},
                   {"text": "Dear Dr. Okafor,\n\n" + "a long line of plain words " * 40 + "\n"},
                   {"text": "Dear Dr. Peña,\n\n" + "una línea muy larga " * 40 + "\n", "html": "<p>" + "x" * 2000 + "</p>"},
                   {"to_address": "zoë@hospital.example.org", "text": "Dear Dr. Zoë,\nFrom Lagos.\n"}):
        rendered = build(**kwargs)
        written_by_the_package = rendered.message.as_bytes(policy=POLICY_UTF8 if rendered.smtputf8 else POLICY)
        assert rendered.as_bytes() == written_by_the_package, kwargs
    assert b"Content-Transfer-Encoding: base64" in build(attachments=[load_attachment(path)]).as_bytes()
