"""Tell people from machines: bounce, auto-reply, opt-out, human reply or other.

Pure: a message (or its raw bytes) in, a `Classification` out; no I/O, never raises on malformed
mail (the worst case is kind "other"). The order of the checks matters and is deliberate:
read receipts, then delivery reports, then auto-replies, then bulk mail, then the reply's own words.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import date
from email import message_from_bytes, message_from_string
from email.message import Message
from email.policy import compat32
from email.utils import getaddresses, parsedate_to_datetime

from outreach.classify.autoreply import auto_reply_reason, return_date
from outreach.classify.bounces import MESSAGE_ID, detect_bounce
from outreach.classify.declines import find_decline
from outreach.classify.optout import OptOut, find_opt_out, subject_opt_out
from outreach.classify.reply_text import body_text, header, headers, html_body_own_text, strip_quotes, strip_signature

__all__ = ["Classification", "classify_message", "is_unsubscribe_request", "KINDS"]

log = logging.getLogger(__name__)

KINDS = ("human_reply", "auto_reply", "bounce", "unsubscribe", "other")


@dataclass(frozen=True)
class Classification:
    kind: str  # human_reply | auto_reply | bounce | unsubscribe | other
    bounce_type: str | None = None  # hard | soft | None
    bounced_addresses: list[str] = field(default_factory=list)
    return_date: date | None = None
    own_text: str = ""  # the reply's own words: quoted history and signature stripped
    referenced_message_ids: list[str] = field(default_factory=list)
    rule: str = ""  # which rule decided: "header Auto-Submitted", "opt-out negated-contact (fr)", ...
    evidence: str = ""  # the text that rule matched
    suggested_outcome: str | None = None  # "declined" for a polite refusal
    suppress_domain: str | None = None  # proposed (never applied here) for an organisation-wide opt-out
    error: str | None = None  # set when a rule raised: the message could not be classified

    def to_json(self, file: str) -> dict:
        """The `outreach classify --json` object: the interface keys, then the explanation."""
        return {
            "file": file,
            "kind": self.kind,
            "bounce_type": self.bounce_type,
            "bounced_addresses": list(self.bounced_addresses),
            "return_date": self.return_date.isoformat() if self.return_date else None,
            "rule": self.rule,
            "evidence": self.evidence,
            "suggested_outcome": self.suggested_outcome,
            "suppress_domain": self.suppress_domain,
            "error": self.error,
        }


def is_unsubscribe_request(text: str) -> bool:
    """Does this (already stripped) reply text ask us to stop writing?"""
    return find_opt_out(text) is not None


# Mailbox providers whose domain is shared by strangers: never proposed for suppression.
_SHARED_DOMAINS = frozenset({
    "gmail.com", "googlemail.com", "outlook.com", "hotmail.com", "live.com", "msn.com", "yahoo.com", "ymail.com",
    "icloud.com", "me.com", "mac.com", "aol.com", "proton.me", "protonmail.com", "gmx.de", "gmx.net", "web.de",
    "yahoo.fr", "orange.fr", "free.fr", "laposte.net", "hotmail.fr", "yahoo.es", "hotmail.es", "uol.com.br",
    "bol.com.br", "terra.com.br", "libero.it", "virgilio.it", "tiscali.it", "t-online.de", "mail.com", "zoho.com",
})


_NOREPLY = re.compile(r"^(?:no-?reply|do-?not-?reply|donotreply|notifications?|newsletter|news|info-noreply|mailer|alerts?|updates?|marketing)\b", re.I)
_RECEIPT_SUBJECT = re.compile(r"^(?:read|gelesen|leído|lu|lido|letto|not read|delivered)\s*:|^read receipt|^lesebestätigung|^confirmation de lecture|^return receipt", re.I)
_READ_NOTICE = re.compile(r"\bwas read on\b|\bhas been (?:read|displayed)\b|wurde am .{0,40}gelesen|a été lu|fue leído|foi lida|è stato letto", re.I)
_CALENDAR_SUBJECT = re.compile(r"^(?:accepted|declined|tentative(?:ly accepted)?|updated invitation|invitation|canceled|cancelled|angenommen|abgelehnt|aceptado|rechazado|accepté|refusé|aceito|recusado)\s*:", re.I)


class _IndexedMessage(Message):
    """A Message whose header look-ups go through a dict. The checks below ask each message
    some forty questions, most about headers it does not have; `Message.get` answers each by
    scanning every header. The index is rebuilt whenever the header list changes length or
    is replaced (parsing appends; nothing here edits headers in place)."""

    def _index(self) -> dict[str, list[tuple[str, str]]]:
        cached = self.__dict__.get("_header_index")
        if cached is None or cached[0] is not self._headers or cached[1] != len(self._headers):
            index: dict[str, list[tuple[str, str]]] = {}
            for name, value in self._headers:
                index.setdefault(name.lower(), []).append((name, value))
            cached = (self._headers, len(self._headers), index)
            self.__dict__["_header_index"] = cached
        return cached[2]

    def get(self, name, failobj=None):  # type: ignore[override]
        found = self._index().get(name.lower())
        return self.policy.header_fetch_parse(*found[0]) if found else failobj

    def get_all(self, name, failobj=None):  # type: ignore[override]
        found = self._index().get(name.lower())
        return [self.policy.header_fetch_parse(k, v) for k, v in found] if found else failobj

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._index()


def _parse(message: Message | bytes | str) -> Message:
    if isinstance(message, Message):
        return message
    if isinstance(message, str):
        return message_from_string(message, _class=_IndexedMessage, policy=compat32)
    return message_from_bytes(bytes(message), _class=_IndexedMessage, policy=compat32)


def _reference_date(msg: Message, today: date | None) -> date:
    value = header(msg, "Date")
    if value:
        try:
            return parsedate_to_datetime(value).date()
        except (TypeError, ValueError, IndexError, OverflowError):
            pass  # an unreadable Date: anchor on today
    return today or date.today()


def _referenced_ids(msg: Message) -> list[str]:
    ids: list[str] = []
    for name in ("In-Reply-To", "References"):
        for value in headers(msg, name):
            ids += MESSAGE_ID.findall(value)
    return list(dict.fromkeys(ids))


def _is_threaded(msg: Message) -> bool:
    return bool(msg.get("In-Reply-To") or msg.get("References")) or bool(
        re.match(r"^\s*(?:re|aw|sv|rv|réf|ref|res|r|vs)\s*(?:\[\d+\])?\s*:", header(msg, "Subject"), re.I)
    )


def _is_bulk(msg: Message) -> bool:
    precedence = header(msg, "Precedence").lower()
    return bool(msg.get("List-Unsubscribe") or msg.get("List-Id") or precedence in {"bulk", "list", "junk"} or msg.get("X-Campaign") or msg.get("X-Mailchimp-Campaign"))


def _content_types(msg: Message) -> set[str]:
    return {part.get_content_type() for part in msg.walk()}


def _classify(msg: Message, today: date | None) -> Classification:
    referenced = _referenced_ids(msg)
    types = _content_types(msg)
    report_type = str(msg.get_param("report-type", "", header="content-type") or "").lower()
    subject = header(msg, "Subject")

    if "message/disposition-notification" in types or report_type in {"disposition-notification", "feedback-report"}:
        return Classification("other", referenced_message_ids=referenced, rule="report part (read receipt or spam feedback)",
                              evidence=report_type or "message/disposition-notification")
    plain = body_text(msg)
    if _RECEIPT_SUBJECT.search(subject) and (msg.get("Original-Message-ID") or _READ_NOTICE.search(plain[:2000])):
        return Classification("other", referenced_message_ids=referenced, rule="read-receipt subject", evidence=subject)

    bounce = detect_bounce(msg, body=plain)
    if bounce.status in ("failed", "delayed"):
        ids = list(dict.fromkeys(referenced + bounce.original_ids))
        if bounce.status == "delayed":
            return Classification("other", referenced_message_ids=ids, rule="delivery delayed: " + bounce.rule, evidence=bounce.evidence)
        return Classification("bounce", bounce.bounce_type, bounce.addresses, None, "", ids, rule=bounce.rule, evidence=bounce.evidence)

    body = plain
    html_own = html_body_own_text(msg)
    if html_own is not None and "text/plain" not in types:
        body = html_own
    unquoted = strip_quotes(body)
    own = strip_signature(unquoted)

    auto = auto_reply_reason(msg, own)
    if auto is not None:
        # Dates can sit below a sign-off ("Kind regards, Jane / Back on 3 May"): read them unquoted only.
        when = return_date(subject + "\n" + unquoted, today=_reference_date(msg, today))
        return Classification("auto_reply", None, [], when, own, referenced, rule=auto[0], evidence=auto[1])

    if "text/calendar" in types or _CALENDAR_SUBJECT.search(subject):
        return Classification("other", own_text=own, referenced_message_ids=referenced, rule="calendar reply", evidence=subject)

    threaded = _is_threaded(msg)
    if _is_bulk(msg) and not threaded:
        return Classification("other", own_text=own, referenced_message_ids=referenced, rule="bulk mail header (List-Id, Precedence)")

    opt_out = _opt_out(subject, own)
    if opt_out is not None:
        return Classification(
            "unsubscribe", own_text=own, referenced_message_ids=referenced,
            rule=f"opt-out {opt_out.rule} ({opt_out.language})", evidence=opt_out.evidence,
            suppress_domain=_domain_to_suppress(msg) if opt_out.organisation else None,
        )

    senders = [a for _, a in getaddresses(headers(msg, "From")) if "@" in a]
    if not threaded and senders and all(_NOREPLY.match(a) for a in senders):
        return Classification("other", own_text=own, referenced_message_ids=referenced, rule="no-reply sender, not threaded", evidence=senders[0])
    if not threaded and not senders:
        return Classification("other", own_text=own, referenced_message_ids=referenced, rule="no sender, not threaded")
    declined = find_decline(own)
    return Classification(
        "human_reply", own_text=own, referenced_message_ids=referenced,
        rule="human reply (declines)" if declined else "human reply (no machine, opt-out or report signal)",
        evidence=declined or _first_line(own), suggested_outcome="declined" if declined else None,
    )


def _opt_out(subject: str, own: str) -> OptOut | None:
    """The reply's own words first; the subject counts alone when the body says nothing of its own
    (an empty or quoted-only body, or a few words), as people write "STOP" as the subject."""
    found = find_opt_out(own)
    if found is None and len(own.strip()) < 200:
        found = subject_opt_out(subject)
    return found


def _domain_to_suppress(msg: Message) -> str | None:
    """The writer's organisation, proposed for suppression; never a shared mailbox provider."""
    for _, address in getaddresses(headers(msg, "From")):
        domain = address.rpartition("@")[2].lower().strip(".")
        if domain and "." in domain and domain not in _SHARED_DOMAINS:
            return domain
    return None


def _first_line(text: str) -> str:
    line = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return line if len(line) <= 120 else line[:117] + "..."


def classify_message(message: Message | bytes, *, today: date | None = None, source: str | None = None) -> Classification:
    """Classify one received message. Malformed mail is expected and handled by the rules; a rule
    that raises anyway is a bug, caught here and only here: logged with `source` (a file name)
    or the Message-ID, and returned as kind "other" with `error` set so callers can count it.

    `today` anchors year-less return dates when the message has no usable Date header.
    """
    try:
        return _classify(_parse(message), today)
    except Exception as error:  # noqa: BLE001 - the one place a rule's bug becomes a counted "other"
        where = source or _message_id(message) or "a message without a Message-ID"
        log.warning("could not classify %s: %s: %s", where, type(error).__name__, error)
        log.debug("traceback for %s", where, exc_info=True)
        failure = f"{type(error).__name__}: {error}"
        return Classification("other", rule="error: a rule failed (see the log)", evidence=f"{where}: {failure}", error=failure)


def _message_id(message: Message | bytes | str) -> str:
    """The Message-ID for the log, read without the parser (which may be what failed)."""
    if isinstance(message, Message):
        return str(message.get("Message-ID", "")).strip()
    raw = message.encode("utf-8", "replace") if isinstance(message, str) else bytes(message)
    found = re.search(rb"^Message-ID:[ \t]*(<[^>\r\n]*>)", raw[:20000], re.I | re.M)
    return found.group(1).decode("utf-8", "replace") if found else ""
