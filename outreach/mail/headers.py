"""Header checking and encoding for outgoing mail: every header value passes through `header_value`,
which rejects CR, LF, NUL and the other line ends, so contact data can never add a header; addresses
are validated as `email.headerregistry.Address` objects and encoded by the library (moved out of
mail/message.py, which builds the MIME tree)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from email.charset import BASE64, Charset
from email.errors import HeaderParseError
from email.header import Header
from email.headerregistry import Address, AddressHeader, HeaderRegistry
from email.utils import formataddr
from functools import lru_cache

from outreach.errors import ConfigError, HeaderInjectionError
from outreach.mail.addr_spec import PLAIN_ADDRESS

# CR, LF and NUL, and every other character Python's str.splitlines() treats as a line end
# (VT, FF, FS, GS, RS, NEL, U+2028, U+2029) or that has no business in a header (C0, DEL).
_FORBIDDEN = re.compile("[\x00-\x08\x0a-\x1f\x7f\x85\u2028\u2029]")
_NAMES = {"\r": "a carriage return (CR)", "\n": "a line break (LF)", "\0": "a NUL byte"}
# RFC 2047 "B" words for non-ASCII header text: what Gmail and Outlook send, and the encoder
# does not have to price every character in both encodings to pick the shorter one.
_UTF8 = Charset("utf-8")
_UTF8.header_encoding = BASE64


def header_value(field_name: str, value: str, *, contact: str | None = None) -> str:
    """`value` unchanged if it is safe for a header; HeaderInjectionError naming field and contact.

    CR/LF/NUL are the classic injection; the other line-end characters matter too, because the
    email package splits header text on whatever str.splitlines() splits on.
    """
    found = _FORBIDDEN.search(value)
    if found:
        char = found.group()
        what = _NAMES.get(char, f"the control character U+{ord(char):04X}")
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
        local, at, domain = address.rpartition("@")
        if at and not local.isascii():
            # RFC 6532: UTF-8 before the @. The library's parser refuses it, so check the same
            # address with the non-ASCII letters stood in for by ASCII ones, then build it by parts.
            Address(addr_spec="".join(ch if ch.isascii() else "a" for ch in local) + "@" + domain)
            return Address(display_name=display_name, username=local, domain=domain)
        if PLAIN_ADDRESS.match(address):  # nothing the parser could object to: skip it (a tenth of a render)
            return Address(display_name=display_name, username=local, domain=domain)
        return Address(display_name=display_name, addr_spec=address)
    except (ValueError, IndexError, HeaderParseError) as error:
        raise HeaderInjectionError(f"{field_name}: {address!r} is not a valid email address ({error})") from None


def parse_address_list(field_name: str, text: str, *, contact: str | None = None) -> list[Address]:
    """`"A <a@x>, b@y"` -> Address objects, via the library's header parser."""
    header_value(field_name, text, contact=contact)
    if not text.strip():
        return []
    try:
        header = HeaderRegistry()("to", text)
        assert isinstance(header, AddressHeader)  # "to" always maps to an AddressHeader
        addresses = list(header.addresses)
        defects = list(header.defects)
    except (ValueError, IndexError, HeaderParseError) as error:
        raise HeaderInjectionError(f"{field_name}: cannot read {text!r} as addresses ({error})") from None
    if defects or not addresses or any(not a.username or not a.domain for a in addresses):
        raise HeaderInjectionError(f"{field_name}: {text!r} is not a list of email addresses")
    return addresses


_NAME_AND_ADDRESS = re.compile(r'\s*([^<>"]+?)\s*<([^<>\s]+)>\s*')


def parse_sender(field_name: str, text: str) -> list[Address]:
    """As parse_address_list, but "Ada Obi, MD <ada@x>" (a name with a comma, unquoted, as
    people write it in .env) is one sender, not two addresses."""
    try:
        addresses = parse_address_list(field_name, text)
    except HeaderInjectionError:
        addresses = []
    if len(addresses) != 1 and (plain := _NAME_AND_ADDRESS.fullmatch(text)):
        return parse_address_list(field_name, f'"{plain.group(1)}" <{plain.group(2)}>')
    return addresses or parse_address_list(field_name, text)


def sender_address(text: str) -> Address:
    """OUTREACH_FROM as the one address it must be; ConfigError when it is not. What every
    message's From and its `messages.account` come from (templates' Sender, the drafts' mailbox)."""
    try:
        addresses = parse_sender("OUTREACH_FROM", text)
    except HeaderInjectionError as error:
        raise ConfigError(f"OUTREACH_FROM={text!r} is not an address like Ada Obi <ada@example.com> ({error})") from None
    if len(addresses) != 1:
        raise ConfigError(f"OUTREACH_FROM={text!r} must be exactly one address")
    return addresses[0]


def _address_header(addresses: Sequence[Address]) -> str:
    """Encoded by the email package: non-ASCII names as RFC 2047 words, specials quoted. An
    address with non-ASCII before the @ stays UTF-8 (RFC 6532): such a message is only ever
    handed to a server that offers SMTPUTF8 (campaigns skip the contact otherwise)."""
    return ",\n ".join(_one_address(a) for a in addresses)


def _one_address(address: Address) -> str:
    """`Name <addr>`; a non-ASCII name as RFC 2047 words of at most 75 characters each
    (formataddr would make one word of any length, which RFC 2047 section 2 forbids and some
    clients then show raw), folded between words."""
    name = address.display_name
    if not name or name.isascii():
        return formataddr((name, address.addr_spec), charset=_UTF8)
    # Lines of at most 76 characters: each continuation line holds " " + a word of <= 75; the
    # first line leaves room for the longest address header's name ("Reply-To: ").
    words = Header(name, _UTF8, maxlinelen=76, header_name="Reply-To").encode(splitchars=" ")
    return f"{words} <{address.addr_spec}>"


@lru_cache(maxsize=1024)
def _unstructured(name: str, value: str) -> str:
    """Subject-style text, RFC 2047-encoded when it is not plain ASCII, folded to short lines."""
    plain = value.isascii() and "=?" not in value
    return Header(value, "us-ascii" if plain else _UTF8, header_name=name).encode()


@lru_cache(maxsize=16)
def _sender_header(name: str, address: str) -> tuple[Address, str]:
    """The same account sends every message of a run: validate and encode it once."""
    sender = make_address("From", name, address)
    return sender, _address_header([sender])
