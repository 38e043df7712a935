"""Which recipient a delivery report is about: the failed address, never ours nor a mail system's.

Pure, like the rest of classify/: a parsed message in, addresses out. The report's structure
decides first (a delivery-status part's recipient fields, X-Failed-Recipients); then
flufl.bounce's scanners for the free-form kinds (Postfix, Exim, qmail, Exchange, Gmail, Yahoo,
Lotus...); then our own patterns for formats it does not know.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from email.message import Message
from email.parser import Parser
from email.policy import compat32
from email.utils import getaddresses

from outreach.classify.reply_text import header, headers, part_text

__all__ = ["ADDRESS", "FailedAddresses", "failed_addresses", "is_daemon_address", "addresses_in", "original_parts",
           "in_report_headers", "dsn_address"]

# flufl.bounce logs a traceback for every detector that trips on odd mail; we guard each call.
logging.getLogger("flufl.bounce").addHandler(logging.NullHandler())
logging.getLogger("flufl.bounce").propagate = False

ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+")

_DAEMON_LOCALPARTS = {"mailer-daemon", "postmaster", "mail-daemon", "mailerdaemon", "mdaemon", "mail.delivery.system", "bounce", "bounces"}


def is_daemon_address(address: str) -> bool:
    """A mail system's address (MAILER-DAEMON@, postmaster@, bounces@…), never a person."""
    local = address.split("@", 1)[0].lower()
    if local in _DAEMON_LOCALPARTS:
        return True
    squashed = re.sub(r"[-_.]", "", local)  # "post_master", "mailer.daemon"
    return squashed.startswith(("mailerdaemon", "postmaster", "maildaemon", "bounce"))


def addresses_in(value: str) -> list[str]:
    return [a.lower() for _, a in getaddresses([value]) if "@" in a]


def dsn_address(value: str) -> str:
    """'rfc822; <Jane@Example.org> (Jane)' -> 'jane@example.org'."""
    value = value.split(";", 1)[-1].strip()
    found = ADDRESS.search(value)
    return found.group(0).lower().strip(".") if found else ""


def original_parts(msg: Message) -> list[Message]:
    """The returned original: a message/rfc822 part or the headers of a text/rfc822-headers part."""
    originals: list[Message] = []
    for part in msg.walk():
        ctype = part.get_content_type()
        if ctype == "message/rfc822":
            payload = part.get_payload()
            if isinstance(payload, list):
                originals.extend(p for p in payload if isinstance(p, Message))
            elif isinstance(payload, str):
                originals.append(Parser(policy=compat32).parsestr(payload, headersonly=True))
        elif ctype in ("text/rfc822-headers", "text/rfc822-header", "message/rfc822-headers"):
            text = part_text(part)
            originals.append(Parser(policy=compat32).parsestr(text.lstrip() + "\n\n", headersonly=True))
    return originals


_REPORT_HEADERS = ("From", "To", "Cc", "Return-Path", "Reply-To", "Sender", "Delivered-To", "X-Original-To", "Envelope-To")


def _report_addresses(msg: Message) -> set[str]:
    """The report's own envelope and headers: our account and the reporting server."""
    ours: set[str] = set()
    for name in _REPORT_HEADERS:
        for value in headers(msg, name):
            ours.update(addresses_in(value))
    return ours


def in_report_headers(msg: Message, address: str) -> bool:
    """Is this address one of the report's own (ours or the server's)? Headers are parsed only
    when the address appears in them as text: the common answer, no, costs a substring test."""
    for name in _REPORT_HEADERS:
        for value in headers(msg, name):
            if address in value.lower() and address in addresses_in(value):
                return True
    return False


def _own_addresses(msg: Message) -> set[str]:
    """Addresses that are us or the reporting server, never the failed recipient: the report's
    headers and the sender of the original it returns (parsing that costs; free-form reports only)."""
    ours = _report_addresses(msg)
    originals = original_parts(msg)
    for original in originals:
        for name in ("From", "Sender", "Reply-To", "Return-Path"):
            ours.update(addresses_in(header(original, name)))
    return ours


# What flufl.bounce's detectors raise on mail they were not written for (an 8-bit From, a Header
# object where they expect str, a part without the payload they look for). One detector tripping
# must not lose what the next one would find; anything else is a bug and reaches classify_message.
_DETECTOR_ERRORS = (AttributeError, TypeError, ValueError, UnicodeError, IndexError, KeyError, LookupError)


def _flufl(msg: Message) -> tuple[set[str], set[str], str]:
    """flufl.bounce's scanners, in its own order, first one that recognises the format wins (as
    `flufl.bounce.all_failures` does, but each detector guarded: the public call gives up on the
    first that raises). Returns (temporary, permanent, detector name)."""
    # flufl.bounce loads only when a message may be a bounce (its scanners are slow to import)
    from flufl.bounce._scan import _DETECTORS

    for detector in _DETECTORS:
        try:
            found_temporary, found_permanent = detector().process(msg)
        except _DETECTOR_ERRORS:
            continue
        if found_temporary or found_permanent:
            return _clean(found_temporary), _clean(found_permanent), detector.__name__
    return set(), set(), ""


def _clean(values) -> set[str]:
    out = set()
    for value in values:
        text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
        found = ADDRESS.search(text)
        if found:
            out.add(found.group(0).lower().strip("."))
    return out


# Lines that name the failed recipient in free-form bounces, by MTA.
_RECIPIENT_LINES = [
    re.compile(r"^[ \t]*<(?P<a>[^<>\s]+@[^<>\s]+)>[:.]", re.M),  # Postfix, qmail, Yahoo
    re.compile(r"^[ \t]*(?P<a>[^<>\s:]+@[^<>\s:]+?)[ \t]*(?:\n[ \t]+(?:SMTP error|host |Mailbox|unrouteable|retry|all hosts|\(generated))", re.M | re.I),  # Exim
    re.compile(r"<?(?P<a>[^<>\s]+@[^<>\s]+?)>?\.\.\.[ \t]*(?:user unknown|unknown|mailbox|no such|deferred|service unavailable)", re.I),  # Sendmail
    re.compile(r"^[ \t]*<?(?P<a>[^<>\s]+@[^<>\s]+?)>?[ \t]+\((?:user|recipient|mailbox|address|account|no such)[^)\n]*\)", re.M | re.I),  # GroupWise, Notes
    re.compile(r"\bRCPT TO:[ \t]*<?(?P<a>[^\s<>]+@[^\s<>]+?)>?(?=[\s:>]|$)", re.I | re.M),  # transcripts, "Message details"
    re.compile(r"(?:wasn't|was not|couldn't be|could not be) delivered to (?P<a>[^\s<>]+@[^\s<>]+?)(?=[.,]*(?:\s|$))", re.I),  # Gmail
    re.compile(r"(?:delivery has failed to these recipients or groups|your message to|could not be delivered to|not delivered to|failed recipient|recipient address|original-recipient|final-recipient|unable to deliver (?:your )?message to|delivery to the following recipients? failed(?: permanently)?|cannot be reached)[:\s]{0,200}[^\n@]{0,60}?<?(?P<a>[^\s<>\"'():;,]+@[^\s<>\"'():;,]+?)>?(?=[.,;:)]*(?:\s|$))", re.I),
]


def _recipients_from_text(text: str) -> list[str]:
    found: list[str] = []
    for pattern in _RECIPIENT_LINES:
        for match in pattern.finditer(text):
            address = match.group("a").strip(".;:,'\"").lower()
            if ADDRESS.fullmatch(address):
                found.append(address)
    return found


def _lone_addresses(text: str) -> list[str]:
    """Addresses standing alone on a line (how most NDRs list failed recipients)."""
    found = []
    for line in text.split("\n"):
        line = re.sub(r"mailto:|[<>()\[\]\"']", " ", line).strip(" \t:;,.")
        words = line.split()
        if words and all(ADDRESS.fullmatch(w) for w in words) and len(set(w.lower() for w in words)) == 1:
            found.append(words[0].lower())
    return found


def _pasted_to(body: str) -> list[str]:
    """The To: header of an original pasted into a plain-text bounce."""
    return [a for m in re.finditer(r"^[ \t>]*To:[ \t]*(.+)$", body, re.M) for a in addresses_in(m.group(1))]


_FREE_FORM = [
    ("the report's recipient lines", lambda msg, body, own: _recipients_from_text(own)),
    ("an address alone on a line", lambda msg, body, own: _lone_addresses(own)),
    ("the returned original's To", lambda msg, body, own: [a for o in original_parts(msg) for a in addresses_in(header(o, "To"))]),
    ("a pasted To: line", lambda msg, body, own: _pasted_to(body)),
]


@dataclass(frozen=True)
class FailedAddresses:
    """The failed recipients a free-form report names, where they came from, and what
    flufl.bounce's scanner called temporary or permanent (empty when it did not run)."""

    addresses: list[str]
    source: str
    temporary: set[str]
    permanent: set[str]
    explicit: bool  # named by an X-Failed-Recipients header


def failed_addresses(msg: Message, body: str, own_text: str) -> FailedAddresses:
    """The failed addresses of a report without a usable delivery-status part: X-Failed-Recipients,
    then flufl.bounce's scanners, then our free-form patterns (`own_text` is the report's own words,
    before the returned original). Never our own address nor a mail system's."""
    ours = _own_addresses(msg)

    def usable(candidates) -> list[str]:
        return [a for a in dict.fromkeys(candidates) if a not in ours and not is_daemon_address(a)]

    temporary: set[str] = set()
    permanent: set[str] = set()
    source, addresses = "", []
    explicit = usable(a for v in headers(msg, "X-Failed-Recipients") for a in addresses_in(v))
    if explicit:
        source, addresses = "X-Failed-Recipients header", explicit
    if not addresses:
        temporary, permanent, detector = _flufl(msg)
        addresses = usable(sorted(permanent | temporary))
        source = f"flufl.bounce {detector} scanner" if addresses else ""
    for name, finder in _FREE_FORM:
        if addresses:
            break
        addresses = usable(finder(msg, body, own_text))
        source = name
    return FailedAddresses(addresses, source, temporary, permanent, bool(explicit))
