"""Build one outgoing email, in one place, with the email package (never string concatenation).

Everything a header receives passes through `header_value` (mail/headers.py, with the address
validation and encoding), which rejects CR, LF and NUL so that contact data can never add a header. Attachments are read and hashed once per file
version (path, size, mtime) however many messages carry them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import mimetypes
import os
import re
import secrets
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage, MIMEPart
from email.utils import encode_rfc2231, format_datetime, make_msgid, quote
from functools import cache, cached_property
from pathlib import Path
from typing import Any

from outreach.mail.headers import (  # noqa: F401 (re-exported)
    _FORBIDDEN,
    _UTF8,
    _address_header,
    _one_address,
    _sender_header,
    _unstructured,
    header_value,
    make_address,
    parse_address_list,
)
from outreach.mail.wire import POLICY, POLICY_UTF8, wire_bytes  # noqa: F401 (POLICY_UTF8 re-exported)


@dataclass(frozen=True)
class AttachmentInfo:
    """What the database keeps about an attachment that went out."""

    name: str
    size: int
    sha256: str


@dataclass
class RenderedMessage:
    message: EmailMessage
    message_id: str
    subject: str
    to_address: str
    attachments: list[AttachmentInfo] = field(default_factory=list)
    text: str = ""
    html: str | None = None

    @property
    def smtputf8(self) -> bool:
        """True when the recipient's address needs SMTPUTF8 (UTF-8 headers, RFC 6532)."""
        return not self.to_address.isascii()

    def as_bytes(self) -> bytes:
        """The exact RFC 5322 bytes that would be sent (what EmailMessage.as_bytes writes)."""
        return wire_bytes(self.message, utf8=self.smtputf8)


@dataclass(frozen=True, eq=False)
class Attachment:
    """A file's bytes, read once, with its MIME type and digest."""

    path: Path
    filename: str
    data: bytes
    maintype: str
    subtype: str
    sha256: str

    @property
    def size(self) -> int:
        return len(self.data)

    @property
    def info(self) -> AttachmentInfo:
        return AttachmentInfo(self.filename, self.size, self.sha256)

    @cached_property
    def base64(self) -> str:
        """The encoded body, computed once however many messages carry the file."""
        return base64.encodebytes(self.data).decode("ascii")

    @cached_property
    def base64_crlf(self) -> bytes:
        """The encoded body as written on the wire (CRLF line ends), for wire.py's writer."""
        return self.base64.replace("\n", "\r\n").encode("ascii")

    @cached_property
    def headers(self) -> tuple[Any, str]:
        content_type, disposition = _attachment_headers(self)
        return _prepared("Content-Type", content_type), disposition


_cache: dict[tuple[Path, str], tuple[tuple[int, int], Attachment]] = {}
_cache_lock = threading.Lock()


def load_attachment(path: Path, *, filename: str | None = None) -> Attachment:
    """Read (or reuse) a file; OSError if it cannot be read. Re-read only when it changes.

    `filename` is the name the recipient sees (default: the file's own name); copies under
    other names share the bytes and the encoded body.
    """
    path = Path(os.path.abspath(path))
    stat = path.stat()
    version = (stat.st_mtime_ns, stat.st_size)
    name = filename or path.name
    with _cache_lock:
        cached = _cache.get((path, name))
        base = _cache.get((path, path.name))
    if cached and cached[0] == version:
        return cached[1]
    if not base or base[0] != version:
        data = path.read_bytes()
        mime, encoding = mimetypes.guess_type(path.name)
        if mime is None or encoding is not None:
            mime = "application/octet-stream"
        maintype, subtype = mime.split("/", 1)
        base = (version, Attachment(path, path.name, data, maintype, subtype, hashlib.sha256(data).hexdigest()))
    attachment = base[1]
    if name != attachment.filename:
        renamed = replace(attachment, filename=name)
        renamed.__dict__["base64"] = attachment.base64  # share the encoded body (cached_property slot)
        attachment = renamed
    with _cache_lock:
        _cache[(path, path.name)] = base
        _cache[(path, name)] = (version, attachment)
    return attachment


def _prepared(name: str, value: str) -> Any:
    """A header parsed once, for values that repeat in every message, written exactly as given.

    The generator looks up Content-Type several times per part while writing a message; a
    stored header object is used as is instead of being parsed again each time. `value` is
    already encoded (ASCII, one line), so writing it never re-encodes it.
    """
    if not value.isascii() or _FORBIDDEN.search(value):
        raise ValueError(f"{name}: a prepared header value must be one line of ASCII")
    header = _prepared_class(name.lower())(name, value)
    header.prepared_value = value
    return header


@cache
def _prepared_class(name: str) -> type:
    """The header class for `name` whose fold writes the prepared value as is. Made once per
    header name: building a class (and the registry's own class) per message cost a quarter
    of a dry run with a fresh boundary in every message."""

    def fold(self: Any, *, policy: Any) -> str:
        return f"{self.name}: {self.prepared_value}{policy.linesep}"

    base = POLICY.header_factory[name]  # type: ignore[index]  # a HeaderRegistry: name -> header class
    return type("Prepared" + base.__name__, (base,), {"fold": fold})


# Boundaries start with "=_", which base64 and quoted-printable never produce, and carry a
# fresh random token per message, so no 7bit text can contain them and no two messages share
# one (a boundary seen in one message says nothing about the next); nested parts use different ones.
def _boundary_types() -> dict[str, Any]:
    token = secrets.token_hex(12)
    return {subtype: _with_boundary(subtype, f"=_{subtype[:3]}_{token}") for subtype in ("mixed", "alternative")}


def _with_boundary(subtype: str, boundary: str) -> Any:
    """`multipart/SUBTYPE; boundary="BOUNDARY"` as a prepared header, without parsing it again:
    a copy of one parsed header of the same shape with its boundary parameter replaced
    (parsing a Content-Type took 0.2 ms, twice per message)."""
    shape = _multipart_shape(subtype, len(boundary))
    value = f'multipart/{subtype}; boundary="{boundary}"'
    header = str.__new__(type(shape), value)
    header.__dict__.update(shape.__dict__)
    header._params = {**shape._params, "boundary": boundary}  # what get_boundary() reads
    header.prepared_value = value
    return header


@cache
def _multipart_shape(subtype: str, length: int) -> Any:
    return _prepared("Content-Type", f'multipart/{subtype}; boundary="{"0" * length}"')


_TEXT_TYPES = {subtype: _prepared("Content-Type", f'text/{subtype}; charset="utf-8"') for subtype in ("plain", "html")}


def _fill(part: MIMEPart, content_type: Any, cte: str, payload: str, *extra: tuple[str, str]) -> MIMEPart:
    part.set_raw("Content-Type", content_type)
    part.set_raw("Content-Transfer-Encoding", cte)
    for name, value in extra:
        part.set_raw(name, value)
    part.set_payload(payload)
    return part


def _multipart(message: MIMEPart, content_type: Any, parts: Iterable[MIMEPart]) -> MIMEPart:
    message.set_raw("Content-Type", content_type)
    for part in parts:
        message.attach(part)
    return message


_BODY_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _text(text: str, subtype: str) -> tuple[Any, str, str]:
    """UTF-8 text: 7bit when it is plain ASCII, else quoted-printable (readable, 7-bit clean).
    Control characters (a NUL from an old contact import) never go out raw: they are dropped."""
    text = _BODY_CONTROLS.sub("", text)
    if not text.endswith("\n"):
        text += "\n"
    content_type = _TEXT_TYPES[subtype]
    if text.isascii() and all(len(line) <= 998 for line in text.splitlines()):
        return content_type, "7bit", text
    encoded = binascii.b2a_qp(text.encode("utf-8"), istext=True).decode("ascii")  # C speed, 76-col lines
    return content_type, "quoted-printable", encoded if encoded.endswith("\n") else encoded + "\n"


def _attachment_headers(attachment: Attachment) -> tuple[str, str]:
    """Content-Type and Content-Disposition for a file, computed once per file and name.

    A non-ASCII name goes as RFC 2231 `filename*=utf-8''...` (the standard: Apple Mail, Gmail,
    Thunderbird, current Outlook) and the same way as `name*=` on Content-Type. Never as an
    RFC 2047 encoded word inside a quoted `name="..."`: RFC 2047 section 5 forbids encoded words
    in a quoted string, and strict parsers then show the raw `=?utf-8?b?...?=` as the name.
    """
    mime = f"{attachment.maintype}/{attachment.subtype}"
    name = attachment.filename
    if name.isascii():
        quoted = '"' + quote(name) + '"'
        return f"{mime}; name={quoted}", f"attachment; filename={quoted}"
    extended = encode_rfc2231(name, "utf-8")
    return f"{mime}; name*={extended}", f"attachment; filename*={extended}"


@dataclass(frozen=True)
class _Headers:
    """The checked, encoded address and reference headers of one message."""

    subject: str
    sender: Address
    from_header: str
    recipient: Address
    to_header: str
    cc_header: str | None
    reply_to_header: str | None
    in_reply_to: str | None
    refs: list[str]


def _checked_headers(
    *, from_name: str, from_address: str, to_name: str | None, to_address: str, subject: str,
    cc: Sequence[Address], reply_to: Sequence[Address], attachments: Sequence[Attachment],
    in_reply_to: str | None, references: Sequence[str] | None, contact: str | None,
) -> _Headers:
    """Every check build_message makes, in its order (the first failure is the one reported)."""
    subject = header_value("Subject", subject.strip(), contact=contact)
    sender, from_header = _sender_header(from_name, from_address)
    recipient = make_address("To", to_name, to_address, contact=contact)
    to_header = _address_header([recipient])
    cc_header = _address_header(cc) if cc else None
    reply_to_header = _address_header(reply_to) if reply_to else None
    refs = [header_value("References", ref.strip(), contact=contact) for ref in (references or []) if ref.strip()]
    if in_reply_to:
        in_reply_to = header_value("In-Reply-To", in_reply_to.strip(), contact=contact)
        if in_reply_to not in refs:
            refs.append(in_reply_to)
    for attachment in attachments:
        header_value("attachment filename", attachment.filename, contact=contact)
    return _Headers(subject, sender, from_header, recipient, to_header, cc_header, reply_to_header, in_reply_to, refs)


def check_message(**fields: Any) -> None:
    """Raise the HeaderInjectionError build_message would raise for these keyword arguments, without
    building the message: `templates check` needs the verdict, not the MIME tree (half its time)."""
    defaults = {"cc": (), "reply_to": (), "attachments": (), "in_reply_to": None, "references": None, "contact": None}
    _checked_headers(**{**defaults, **fields})


def build_message(
    *,
    from_name: str,
    from_address: str,
    to_name: str | None,
    to_address: str,
    subject: str,
    text: str,
    html: str | None = None,
    cc: Sequence[Address] = (),
    reply_to: Sequence[Address] = (),
    attachments: Iterable[Attachment] = (),
    in_reply_to: str | None = None,
    references: Sequence[str] | None = None,
    date: datetime | None = None,
    contact: str | None = None,
) -> RenderedMessage:
    """The complete message: headers, text (+ HTML alternative), attachments.

    Every header value is checked for CR/LF/NUL, addresses are validated as Address objects and
    encoded with `email.utils.formataddr`, other text with `email.header.Header`. The values are
    stored pre-encoded so that 10,000 messages are not each parsed and re-folded (the parsing
    header API is ~5x slower); reading a header back still gives the usual parsed object.
    """
    attachments = list(attachments)
    checked = _checked_headers(
        from_name=from_name, from_address=from_address, to_name=to_name, to_address=to_address, subject=subject,
        cc=cc, reply_to=reply_to, attachments=attachments, in_reply_to=in_reply_to, references=references, contact=contact,
    )
    message_id = make_msgid(domain=checked.sender.domain)

    message = EmailMessage(policy=POLICY)
    message.set_raw("From", checked.from_header)
    message.set_raw("To", checked.to_header)
    if checked.cc_header:
        message.set_raw("Cc", checked.cc_header)
    if checked.reply_to_header:
        message.set_raw("Reply-To", checked.reply_to_header)
    message.set_raw("Subject", _unstructured("Subject", checked.subject))
    message.set_raw("Date", format_datetime(date or datetime.now().astimezone()))
    message.set_raw("Message-ID", message_id)
    if checked.in_reply_to:
        message.set_raw("In-Reply-To", checked.in_reply_to)
    if checked.refs:
        message.set_raw("References", "\n ".join(checked.refs))
    message.set_raw("MIME-Version", "1.0")
    _fill_body(message, text, html, attachments)
    return RenderedMessage(message, message_id, checked.subject, checked.recipient.addr_spec, [a.info for a in attachments])


def _fill_body(message: EmailMessage, text: str, html: str | None, attachments: list[Attachment]) -> None:
    """The body of build_message's message: plain text, + HTML alternative, + attachments."""
    parts = [_attachment_part(a) for a in attachments]
    multipart = _boundary_types() if parts or html is not None else {}
    if html is not None:
        alternative = [_fill(MIMEPart(policy=POLICY), *_text(text, "plain")), _fill(MIMEPart(policy=POLICY), *_text(html, "html"))]
        if parts:
            parts.insert(0, _multipart(MIMEPart(policy=POLICY), multipart["alternative"], alternative))
        else:
            parts = alternative
        _multipart(message, multipart["mixed" if attachments else "alternative"], parts)
    elif parts:
        _multipart(message, multipart["mixed"], [_fill(MIMEPart(policy=POLICY), *_text(text, "plain")), *parts])
    else:
        _fill(message, *_text(text, "plain"))


def _attachment_part(attachment: Attachment) -> MIMEPart:
    """The base64 part of a file whose name _checked_headers has checked."""
    content_type, disposition = attachment.headers
    part = _fill(MIMEPart(policy=POLICY), content_type, "base64", attachment.base64, ("Content-Disposition", disposition))
    part.encoded_body = attachment.base64_crlf  # type: ignore[attr-defined]  # read by wire.py's writer
    return part


def set_subject(rendered: RenderedMessage, subject: str) -> None:
    """Replace a built message's subject (a follow-up takes its thread's `Re: ...`), checked and
    encoded like every other subject."""
    subject = header_value("Subject", subject.strip())
    del rendered.message["Subject"]
    rendered.message.set_raw("Subject", _unstructured("Subject", subject))
    rendered.subject = subject

