"""Build one outgoing email, in one place, with the email package (never string concatenation).

Everything a header receives passes through `header_value`, which rejects CR, LF and NUL so that
contact data can never add a header. Addresses are `email.headerregistry.Address` objects, so
non-ASCII names are encoded by the library. Attachments are read and hashed once per file
version (path, size, mtime) however many messages carry them.
"""

from __future__ import annotations

import hashlib
import mimetypes
import os
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from email import policy as email_policy
from email.errors import HeaderParseError
from email.header import Header
from email.headerregistry import Address
from email.message import EmailMessage, MIMEPart
from email.utils import format_datetime, make_msgid
from pathlib import Path

from .errors import HeaderInjectionError

# SMTP line endings; headers we store raw (the RFC 2047 attachment name) are never re-folded,
# everything set through the API is folded and encoded by the library as usual.
POLICY = email_policy.SMTP.clone(refold_source="none")
_FORBIDDEN = ("\r", "\n", "\0")


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

    def as_bytes(self) -> bytes:
        """The exact RFC 5322 bytes that would be sent."""
        return self.message.as_bytes(policy=POLICY)


@dataclass(frozen=True)
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


_cache: dict[Path, tuple[tuple[int, int], Attachment]] = {}
_cache_lock = threading.Lock()


def load_attachment(path: Path, *, filename: str | None = None) -> Attachment:
    """Read (or reuse) a file; OSError if it cannot be read. Re-read only when it changes."""
    path = Path(path).resolve()
    stat = path.stat()
    key = (stat.st_mtime_ns, stat.st_size)
    with _cache_lock:
        cached = _cache.get(path)
    if cached and cached[0] == key:
        attachment = cached[1]
        return attachment if filename in (None, attachment.filename) else replace(attachment, filename=filename)
    data = path.read_bytes()
    mime, encoding = mimetypes.guess_type(path.name)
    if mime is None or encoding is not None:
        mime = "application/octet-stream"
    maintype, subtype = mime.split("/", 1)
    attachment = Attachment(path, path.name, data, maintype, subtype, hashlib.sha256(data).hexdigest())
    with _cache_lock:
        _cache[path] = (key, attachment)
    return attachment if filename in (None, attachment.filename) else replace(attachment, filename=filename)


def header_value(field_name: str, value: str, *, contact: str | None = None) -> str:
    """`value` unchanged if it is safe for a header; HeaderInjectionError naming field and contact."""
    for char in _FORBIDDEN:
        if char in value:
            what = {"\r": "a carriage return (CR)", "\n": "a line break (LF)", "\0": "a NUL byte"}[char]
            who = f" for contact {contact}" if contact else ""
            raise HeaderInjectionError(
                f"{field_name}{who} contains {what}: {value!r}. Line breaks in a header could add "
                "headers of their own; fix the contact's data or the template so this value is one line."
            )
    return value


def make_address(field_name: str, display_name: str | None, address: str, *, contact: str | None = None) -> Address:
    """An Address object from a name and an addr-spec, both checked for header injection."""
    display_name = header_value(f"{field_name} name", (display_name or "").strip(), contact=contact)
    address = header_value(f"{field_name} address", address.strip(), contact=contact)
    try:
        return Address(display_name=display_name, addr_spec=address)
    except (ValueError, IndexError, HeaderParseError) as error:
        raise HeaderInjectionError(f"{field_name}: {address!r} is not a valid email address ({error})") from None


def parse_address_list(field_name: str, text: str, *, contact: str | None = None) -> list[Address]:
    """`"A <a@x>, b@y"` -> Address objects, via the library's header parser."""
    from email.headerregistry import HeaderRegistry

    header_value(field_name, text, contact=contact)
    if not text.strip():
        return []
    try:
        header = HeaderRegistry()("to", text)
        addresses = list(header.addresses)
        defects = list(header.defects)
    except (ValueError, IndexError, HeaderParseError) as error:
        raise HeaderInjectionError(f"{field_name}: cannot read {text!r} as addresses ({error})") from None
    if defects or not addresses or any(not a.username or not a.domain for a in addresses):
        raise HeaderInjectionError(f"{field_name}: {text!r} is not a list of email addresses")
    return addresses


def _text_part(text: str, subtype: str = "plain") -> MIMEPart:
    part = MIMEPart(policy=POLICY)
    _set_text(part, text, subtype)
    return part


def _set_text(part: MIMEPart, text: str, subtype: str) -> None:
    if not text.endswith("\n"):
        text += "\n"
    # Quoted-printable keeps non-ASCII text readable and 7-bit clean for any relay.
    cte = "7bit" if text.isascii() and max(map(len, text.splitlines()), default=0) <= 998 else "quoted-printable"
    part.set_content(text, subtype=subtype, charset="utf-8", cte=cte)


def _attachment_part(attachment: Attachment, *, contact: str | None) -> MIMEPart:
    filename = header_value("attachment filename", attachment.filename, contact=contact)
    part = MIMEPart(policy=POLICY)
    part.set_content(
        attachment.data,
        maintype=attachment.maintype,
        subtype=attachment.subtype,
        disposition="attachment",
        filename=filename,  # non-ASCII -> RFC 2231 filename*=utf-8''..., the standard form
    )
    if not filename.isascii():
        # Outlook and some webmail read the Content-Type name= parameter, RFC 2047-encoded.
        encoded = Header(filename, "utf-8", maxlinelen=10_000).encode()
        _set_raw_header(part, "Content-Type", f'{attachment.maintype}/{attachment.subtype}; name="{encoded}"')
    return part


def _set_raw_header(part: MIMEPart, name: str, value: str) -> None:
    """Store a header exactly as written (POLICY never re-folds it), keeping it in first place."""
    del part[name]
    part.set_raw(name, value)
    part._headers.sort(key=lambda item: item[0].lower() != name.lower())  # stable: others keep order


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
    """The complete message: headers, text (+ HTML alternative), attachments."""
    subject = header_value("Subject", subject.strip(), contact=contact)
    sender = make_address("From", from_name, from_address, contact=contact)
    recipient = make_address("To", to_name, to_address, contact=contact)
    message_id = make_msgid(domain=sender.domain)

    message = EmailMessage(policy=POLICY)
    message["From"] = sender
    message["To"] = recipient
    if cc:
        message["Cc"] = list(cc)
    if reply_to:
        message["Reply-To"] = list(reply_to)
    message["Subject"] = subject
    message["Date"] = format_datetime(date or datetime.now().astimezone())
    message["Message-ID"] = message_id
    if in_reply_to:
        message["In-Reply-To"] = header_value("In-Reply-To", in_reply_to, contact=contact)
    refs = [header_value("References", ref, contact=contact) for ref in (references or [])]
    if in_reply_to and in_reply_to not in refs:
        refs.append(in_reply_to)
    if refs:
        message["References"] = " ".join(refs)

    _set_text(message, text, "plain")
    if html is not None:
        message.make_alternative()
        message.attach(_text_part(html, "html"))
    attachments = list(attachments)
    if attachments:
        message.make_mixed()
        for attachment in attachments:
            message.attach(_attachment_part(attachment, contact=contact))
    return RenderedMessage(message, message_id, subject, recipient.addr_spec, [a.info for a in attachments])
