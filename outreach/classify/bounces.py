"""Delivery failures: RFC 3464 reports and the free-form bounces real mail servers send.

`detect_bounce` answers three questions about a message: is it a delivery report at all, did
delivery fail for good (hard), fail for now (soft) or merely get delayed, and which of our
recipients it is about. RFC 3464 reports are parsed here; finding the failed address in the
free-form kinds (flufl.bounce's scanners, our own patterns) is bounce_addresses.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email.message import Message
from email.parser import Parser
from email.policy import compat32

from outreach.classify.bounce_addresses import (  # noqa: F401 (re-exported)
    ADDRESS,
    addresses_in,
    dsn_address,
    failed_addresses,
    in_report_headers,
    is_daemon_address,
    original_parts,
)
from outreach.classify.reply_text import body_text, decode_bytes, header, headers

__all__ = ["BounceInfo", "detect_bounce", "bounce_type_from_text"]

MESSAGE_ID = re.compile(r"<[^<>\s@]+@[^<>\s]+>")

_DAEMON_NAMES = re.compile(r"mail delivery (?:system|subsystem|service)|mailer[- ]daemon|postmaster|microsoft outlook|mail administrator|internet mail delivery|e-?mail delivery", re.I)

_BOUNCE_SUBJECT = re.compile(
    r"undeliver(?:ed|able)|delivery status notification \((?:failure|failed)\)|delivery (?:has )?failed|delivery failure|"
    r"failure notice|mail delivery failed|returned mail|returned to sender|could not be delivered|not be delivered|"
    r"message not delivered|mail system error|non[- ]?delivery|delivery notification: delivery has failed|"
    r"unzustellbar|nicht zustellbar|non remis|échec de (?:la )?remise|no se puede entregar|no entregado|"
    r"não (?:foi possível )?entreg|mensagem não entregue|non recapitabile|impossibile recapitare|onbestelbaar|"
    r"^delivery failure|address not found|rejected:|^fail(?:ed|ure):",
    re.I,
)
_DELAY_SUBJECT = re.compile(
    r"delivery status notification \(delay\)|delayed mail|delivery delayed|warning: could not send message|"
    r"mail delivery (?:delayed|warning)|still being retried|message delayed|verzögert|retrasad|différé|retardad|delivery delay",
    re.I,
)
_BODY_MARKERS = re.compile(
    r"this is the mail system at host|i'm sorry to have to inform you that your message could not|"
    r"could not be delivered to one or more recipients|this message was created automatically by mail delivery software|"
    r"a message that you sent could not be delivered|----- transcript of session follows -----|"
    r"the original message was received at|hi\. this is the qmail-send program|i'm afraid i wasn't able to deliver|"
    r"sorry, we were unable to deliver your message|delivery has failed to these recipients|"
    r"your message (?:wasn't|was not|couldn't be|could not be) delivered|address not found|"
    r"delivery to the following recipients? (?:failed|has failed)|the following (?:message|addresses) had permanent fatal errors|"
    r"your message did not reach some or all of the intended recipients|did not reach the following recipient|was not delivered to:|"
    r"message could not be delivered|unable to deliver (?:your )?message|permanent error|permanent failure|"
    r"delivery to the following recipient failed permanently|undeliverable message|"
    r"the following recipient\(s\) cannot be reached|returned mail: |mail delivery failed|"
    r"unrouteable address|user unknown|no such user|mailbox unavailable|recipient address rejected|"
    r"smtp error from remote mail server|remote host said|host .{1,80} said:|invalid (?:user|recipient) address|"
    r"requested action not taken: (?:mailbox unavailable|no such user)",
    re.I,
)
_DELAY_BODY = re.compile(
    r"delivery (?:to the following recipients? )?(?:has been|is) delayed|will (?:continue to )?(?:retry|try)|"
    r"still trying|not yet been delivered|no action is required on your part|warning: message still undelivered|"
    r"this is a warning message only|delivery attempts will continue|will be retried",
    re.I,
)
_HARD = re.compile(
    r"user unknown|unknown user|no such (?:user|mailbox|recipient|address|account)|unknown recipient|recipient unknown|"
    r"(?:address|recipient|mailbox|account|user)(?: [\w@.<>-]+)? (?:does not exist|doesn't exist|not found|is disabled|is unavailable|has been disabled|is inactive|unknown)|"
    r"invalid (?:recipient|mailbox|address)|mailbox (?:unavailable|not found|disabled)|address not found|"
    r"account (?:has been )?(?:disabled|deleted|suspended|closed)|unrouteable address|host or domain name not found|"
    r"domain (?:not found|does not exist)|no mx|name service error|recipient (?:address )?rejected|not a valid mailbox|"
    r"not our customer|no mailbox here|relay(?:ing)? (?:access )?denied|access denied|blocked|spam|blacklist|"
    r"email account that you tried to reach (?:does not exist|is disabled)|destinataire inconnu|unbekannt|"
    r"usuario desconocido|no existe|não existe|inexistente|n'existe pas",
    re.I,
)
_SOFT = re.compile(
    r"mailbox (?:is )?full|mailbox (?:[\w,]+ ){0,4}full\b|over ?quota|quota exceeded|exceeded (?:storage|quota)|insufficient (?:system )?storage|"
    r"storage allocation|mailbox size limit|out of storage|inbox is full|full mailbox|too many (?:messages|connections)|"
    r"temporar(?:y|ily)|try (?:again )?later|greylist|rate limit|message expired|retry timeout exceeded|"
    r"could not be delivered within|delivery time expired|postfach voll|boîte .{0,10} pleine|buzón lleno|caixa postal cheia",
    re.I,
)
_ENHANCED = re.compile(r"(?<![\d.])([45])\.(\d{1,3})\.(\d{1,3})(?![\d.])")
_BASIC = re.compile(r"(?<![\d.-])([45])([0-9])([0-9])(?:[ -]|$)", re.M)


@dataclass
class BounceInfo:
    """What a delivery report says; `delayed` reports are not bounces."""

    status: str  # "failed" | "delayed" | "none"
    bounce_type: str | None = None
    addresses: list[str] = field(default_factory=list)
    original_ids: list[str] = field(default_factory=list)
    rule: str = ""  # what decided: "DSN part", "mailer-daemon sender + body wording", where the address came from
    evidence: str = ""



def _parse_block_text(text: str) -> list[Message]:
    """A delivery-status body that the parser left as a string: split into header blocks."""
    blocks = re.split(r"\n[ \t]*\n", text.replace("\r\n", "\n").strip())
    return [Parser(policy=compat32).parsestr(b.strip() + "\n\n", headersonly=True) for b in blocks if b.strip()]


def _status_blocks(msg: Message) -> list[Message] | None:
    """The per-message and per-recipient blocks of the message/delivery-status part, if any."""
    for part in msg.walk():
        ctype = part.get_content_type()
        if ctype in ("message/delivery-status", "message/global-delivery-status"):
            payload = part.get_payload()
            if isinstance(payload, list) and payload:
                blocks = [p for p in payload if isinstance(p, Message)]
                # compat32 sometimes returns one block holding everything; reparse from text.
                if len(blocks) >= 2 or (blocks and (blocks[0].get("Action") or blocks[0].get("Final-Recipient"))):
                    return blocks
                raw = "\n\n".join(b.as_string() for b in blocks)
                return _parse_block_text(raw)
            if isinstance(payload, str):
                data = part.get_payload(decode=True)
                text = decode_bytes(data, "utf-8") if isinstance(data, bytes) else payload
                return _parse_block_text(text)
    return None


def _type_of(status: str, text: str) -> str:
    """hard or soft: the status code's class decides (RFC 3463: 5.x.x permanent, 4.x.x transient),
    then a bare SMTP reply code, then the words. A 5.2.2 "mailbox full" is hard, as the server
    declared the failure permanent."""
    enhanced = _ENHANCED.search(status or "") or _ENHANCED.search(text)
    if enhanced:
        return "hard" if enhanced.group(1) == "5" else "soft"
    basic = _BASIC.search(text)
    if basic:
        return "hard" if basic.group(1) == "5" else "soft"
    if _SOFT.search(text) and not re.search(r"user unknown|no such user|does not exist|address not found", text, re.I):
        return "soft"
    return "hard"


def bounce_type_from_text(text: str) -> str:
    """hard or soft for a free-form bounce, from SMTP codes, then phrases."""
    return _type_of("", text)


def _original_ids(msg: Message, body: str) -> list[str]:
    originals = original_parts(msg)
    ids: list[str] = []
    for original in originals:
        value = header(original, "Message-ID")
        ids += MESSAGE_ID.findall(value)
    if not ids:
        # Plain-text bounces paste the original's headers into the body.
        for match in re.finditer(r"^[ \t>]*Message-I[dD][ \t]*:[ \t]*(?:\n[ \t]+)?(<[^<>\s]+>)", body, re.M | re.I):
            ids.append(match.group(1))
    return list(dict.fromkeys(ids))


_RETURNED = re.compile(
    r"^[ \t]*-{2,}[^\n]*(?:original|returned|copy of|header of|headers of|message follows|unsent message|below this line)[^\n]*$|"
    r"^[ \t]*(?:original message headers|ursprüngliche nachrichtenkopfzeilen|en-têtes du message d'origine|encabezados del mensaje original|"
    r"included is a copy of the message|original message follows|the original message (?:was|is) (?:attached|included)|"
    r"your message reads \(in part\))[^\n]*$",
    re.I | re.M,
)


def _before_returned_original(body: str) -> str:
    """The report's own words, without the copy of our message that most bounces append."""
    match = _RETURNED.search(body)
    return body[: match.start()] if match and match.start() > 0 else body


@dataclass(frozen=True)
class _HeaderSignals:
    """What the headers alone say about a possible delivery report."""

    from_daemon: bool
    null_sender: bool
    subject_hit: bool
    delay_subject: bool
    explicit: bool

    def any(self) -> bool:
        """False means no body can make this a bounce (see `_looks_like_bounce`): the cheap early no."""
        return self.from_daemon or self.null_sender or self.subject_hit or self.delay_subject or self.explicit


def _from_daemon(sender: str) -> bool:
    """A mail system's From. The address is parsed only when a daemon word is there at all."""
    if _DAEMON_NAMES.search(sender):
        return True
    squashed = re.sub(r"[-_.]", "", sender.lower())
    if not any(word in squashed for word in ("daemon", "postmaster", "bounce", "maildeliverysystem")):
        return False
    return any(is_daemon_address(a) for a in addresses_in(sender))


def _header_signals(msg: Message) -> _HeaderSignals:
    sender = " ".join(headers(msg, "From"))
    subject = header(msg, "Subject")
    return _HeaderSignals(
        from_daemon=_from_daemon(sender),
        null_sender=header(msg, "Return-Path").replace(" ", "") in {"<>", ""} and "Return-Path" in msg,
        subject_hit=bool(_BOUNCE_SUBJECT.search(subject)) and not re.match(r"^\s*(re|aw|sv|fw|fwd|rv|tr|wg)\s*:", subject, re.I),
        delay_subject=bool(_DELAY_SUBJECT.search(subject)),
        explicit=bool(header(msg, "X-Failed-Recipients")) or header(msg, "X-MS-Exchange-Message-Is-Ndr") != ""
        or bool(re.search(r"delivery.?status|ndr|bounce", header(msg, "X-Autogenerated") + header(msg, "X-Mailer"), re.I)),
    )


def _looks_like_bounce(msg: Message, signals: _HeaderSignals, body: str) -> tuple[bool, bool]:
    """(is it a delivery report, is it only a delay warning): header signals plus the body's words.
    Without any header signal the score stays below 3 whatever the body says."""
    head = body[:6000]
    body_hit = bool(_BODY_MARKERS.search(head))
    from_daemon, subject_hit = signals.from_daemon, signals.subject_hit
    has_original = (from_daemon or subject_hit) and bool(original_parts(msg))
    score = sum([from_daemon * 2, signals.null_sender, subject_hit * 2, body_hit * 2, signals.explicit * 3, has_original])
    delay = signals.delay_subject or (bool(_DELAY_BODY.search(head)) and not re.search(r"permanent|failed permanently|could not be delivered", head, re.I))
    return score >= 3 or (signals.delay_subject and (from_daemon or signals.null_sender)), delay


def _dsn_failures(blocks: list[Message]) -> tuple[dict[str, str], list[str], bool, str]:
    """Per-recipient blocks: {failed address: hard|soft}, delayed addresses, and whether any
    block said it failed without naming a usable address (then the body must tell)."""
    failed: dict[str, str] = {}
    delayed: list[str] = []
    unnamed = False
    evidence = ""
    for block in blocks:
        action = header(block, "Action").lower().strip()
        status = header(block, "Status")
        failing = action.startswith("fail") or (not action and status.startswith(("5", "4")))
        # Original-Recipient is the address we wrote to; Final-Recipient may be an internal alias.
        candidates = [dsn_address(header(block, name)) for name in ("Original-Recipient", "Final-Recipient", "X-Actual-Recipient")]
        address = next((a for a in candidates if ADDRESS.fullmatch(a)), "")
        if not address:
            unnamed = unnamed or failing
            continue
        if failing:
            diagnostic = header(block, "Diagnostic-Code")
            failed[address] = _type_of(status, diagnostic or status)
            evidence = evidence or f"{address}: Status {status or '-'}" + (f", {diagnostic}" if diagnostic else "")
        elif action.startswith("delay"):
            delayed.append(address)
    return failed, delayed, unnamed, evidence


def detect_bounce(msg: Message, *, body: str | None = None) -> BounceInfo:
    """Classify a possible delivery report. status 'none' means it is not one.

    `body` is the message's `body_text`, when the caller already has it. A message with no
    delivery-status part and no header that hints at a report is ruled out before any body is read.
    The failed address comes from the report's own structure (the delivery-status part, then
    X-Failed-Recipients); when that names none, from flufl.bounce's scanners, then our free-form
    patterns (bounce_addresses.py). Never our own address nor a mail system's.
    """
    blocks = _status_blocks(msg)
    content_type = str(msg.get("Content-Type", "")).lower()
    dsn = blocks is not None and ("report" in content_type or any(b.get("Action") for b in blocks))
    signals = _header_signals(msg)
    if not dsn and not signals.any():
        return BounceInfo("none")
    body = body_text(msg) if body is None else body
    unnamed = False
    if dsn and blocks is not None:  # dsn already implies blocks; said again for the type checker
        decided, unnamed = _from_dsn(msg, blocks, body)
        if decided is not None:
            return decided
    is_bounce, delay = _looks_like_bounce(msg, signals, body)
    if not is_bounce and not dsn:
        return BounceInfo("none")
    return _from_report_text(msg, signals, body, dsn=dsn, delay=delay, unnamed=unnamed)


def _from_dsn(msg: Message, blocks: list[Message], body: str) -> tuple[BounceInfo | None, bool]:
    """(the delivery-status part's verdict, or None when the report's words must decide; whether
    a failing block named no usable address)."""
    failed, delayed, unnamed, evidence = _dsn_failures(blocks)
    ids = _original_ids(msg, body)
    usable_failed = {a: t for a, t in failed.items() if not is_daemon_address(a) and not in_report_headers(msg, a)}
    if usable_failed:
        kind = "hard" if "hard" in usable_failed.values() else "soft"
        return BounceInfo("failed", kind, list(usable_failed), ids, "DSN part (message/delivery-status)", evidence[:200]), unnamed
    if any(header(b, "Action") for b in blocks) and not unnamed and not failed:
        if delayed:
            return BounceInfo("delayed", None, [], ids, "DSN part (Action: delayed)", delayed[0]), unnamed
        return BounceInfo("none", None, [], ids), unnamed
    return None, unnamed


def _from_report_text(msg: Message, signals: _HeaderSignals, body: str, *, dsn: bool, delay: bool, unnamed: bool) -> BounceInfo:
    """A report the delivery-status part did not settle: delayed or failed by its words, the
    failed address from bounce_addresses.failed_addresses."""
    ids = _original_ids(msg, body)
    text_before_original = _before_returned_original(body)
    if delay and not unnamed and not re.search(r"permanent|fatal|failed permanently|could not be delivered|wasn't delivered|5\.\d\.\d", text_before_original, re.I):
        return BounceInfo("delayed", None, [], ids, "delay wording", _first_words(text_before_original))
    found = failed_addresses(msg, body, text_before_original)
    addresses = found.addresses
    if found.temporary and not found.permanent and not found.explicit and not _ENHANCED.search(text_before_original):
        kind = "soft"
    else:
        kind = bounce_type_from_text(text_before_original)
    why = _bounce_reason(signals, dsn)
    return BounceInfo("failed", kind, addresses, ids, why + (f"; address from {found.source}" if addresses else "; no address found"),
                      addresses[0] if addresses else _first_words(text_before_original))


def _bounce_reason(signals: _HeaderSignals, dsn: bool) -> str:
    said = [name for name, on in (("DSN part", dsn), ("mail-system sender", signals.from_daemon), ("null Return-Path", signals.null_sender),
                                  ("bounce subject", signals.subject_hit), ("NDR header", signals.explicit)) if on]
    return "delivery failure: " + (", ".join(said) or "report wording")


def _first_words(text: str) -> str:
    line = " ".join(text.split())
    return line[:160]
