"""Tell people from machines: bounce, auto-reply, opt-out, human reply or other.

Pure: a message (or its raw bytes) in, a `Classification` out; no I/O, never raises on malformed
mail (the worst case is kind "other"). The order of the checks matters and is deliberate:
read receipts, then delivery reports, then auto-replies, then bulk mail, then the reply's own words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from email import message_from_bytes, message_from_string
from email.message import Message
from email.policy import compat32
from email.utils import getaddresses, parsedate_to_datetime

from outreach.classify.autoreply import is_auto_reply, return_date
from outreach.classify.bounces import MESSAGE_ID, detect_bounce
from outreach.classify.reply_text import body_text, header, headers, html_body_own_text, strip_quotes, strip_signature

__all__ = ["Classification", "classify_message", "is_unsubscribe_request", "KINDS"]

KINDS = ("human_reply", "auto_reply", "bounce", "unsubscribe", "other")


@dataclass(frozen=True)
class Classification:
    kind: str  # human_reply | auto_reply | bounce | unsubscribe | other
    bounce_type: str | None = None  # hard | soft | None
    bounced_addresses: list[str] = field(default_factory=list)
    return_date: date | None = None
    own_text: str = ""  # the reply's own words: quoted history and signature stripped
    referenced_message_ids: list[str] = field(default_factory=list)

    def to_json(self, file: str) -> dict:
        """The `outreach classify --json` object for this message."""
        return {
            "file": file,
            "kind": self.kind,
            "bounce_type": self.bounce_type,
            "bounced_addresses": list(self.bounced_addresses),
            "return_date": self.return_date.isoformat() if self.return_date else None,
        }


# An opt-out is a request in the writer's own words. Patterns need the imperative or a clear
# "I don't want", so that "please don't hesitate to contact me" or "we don't offer observerships"
# stay ordinary replies, and our own "I won't write again" quoted back never counts.
_UNSUBSCRIBE = re.compile(
    r"\bunsubscribe\b|\bopt (?:me )?out\b(?! of (?:the|this|any) (?:program|programme|rotation|course))|\bopt-out\b(?! (?:option|form|period))|"
    r"\b(?:please |kindly |pls )?(?:remove|delete|take)\s+(?:me|my (?:e-?mail|address|name|details|contact)(?: address)?|us)\b(?:\s+\w+){0,4}?\s+(?:from|off)\b(?!\s+(?:the\s+)?(?:cc|thread|loop|chain|conversation))|"
    r"\btake me off\b|"
    r"\b(?:do not|don't|dont|never|please do not|please don't)\s+(?:ever\s+)?(?:contact|e-?mail|write(?: to)?|message|send(?: me)?|bother|spam|reach out to)\s+(?:me|us|(?:any ?)?more|again)\b|"
    r"\bstop\s+(?:e-?mailing|emailing|writing|contacting|sending|messaging|spamming|bothering)\b|"
    r"\bplease stop\b(?!\s+(?:by|in|over|at))|^\s*stop[.!]*\s*$|"
    r"\bno more (?:e-?mails|emails|messages|mail)\b|"
    r"\b(?:i|we) (?:do not|don't) (?:want|wish) to (?:receive|get|hear)\b|"
    r"\bnot interested[^\n]{0,20}\b(?:stop|remove|unsubscribe)\b|"
    r"\bleave me alone\b|\bcease (?:and desist|contact)|"
    # Spanish
    r"\bdar(?:me|nos)? de baja\b|\bd[eé]n?(?:me|nos) de baja\b|\bdarme de baja\b|\bbaja de (?:su|tu|la) lista\b|\b(?:elimíne|elimine|elimina|eliminen|borre|borren|quite|quiten|sáque|saque|saquen)(?:me|nos)\b|"
    r"\bno (?:me|nos) (?:vuelva[ns]? a |vuelvas a )?(?:escriba[ns]?|escribas|contacte[ns]?|contactes|envíe[ns]?|envie[ns]?|mande[ns]?|moleste[ns]?)\b|"
    r"\bno (?:deseo|quiero) (?:recibir|que me)|\bdejen de (?:enviar|escribir)|\bdeje de (?:enviar|escribir)|"
    # French
    r"\bdésinscri|\bdesinscri|\bdésabonn|\bdesabonn|\b(?:retirez|supprimez|enlevez|rayez)[- ]moi\b|\bsupprimer mon adresse|"
    r"\bne (?:plus|pas) me (?:contacter|écrire|ecrire|solliciter|relancer)|\bne m'(?:écrivez|ecrivez|envoyez) plus\b|"
    r"\bje ne (?:souhaite|veux) (?:plus|pas) (?:recevoir|être contacté)|\barrêtez de m|\barretez de m|"
    # German
    r"\babmelden\b|\bstreichen sie mich\b|\baus (?:ihrem|dem|ihrer) (?:verteiler|liste|mailingliste)\b|\baustragen\b|\bentfernen sie mich\b|\blöschen sie meine\b|\bloeschen sie meine\b|"
    r"\bkeine (?:weiteren )?(?:e-?mails|nachrichten|zusendungen) mehr\b|\bbitte keine (?:weiteren )?(?:e-?mails|nachrichten|kontaktaufnahme)|"
    r"\bnicht mehr (?:kontaktieren|anschreiben|schreiben|zu kontaktieren|anzuschreiben)\b|\bkontaktieren sie mich nicht\b|\bschreiben sie mir nicht\b|"
    # Portuguese
    r"\bdescadastr|\bremov(?:a|am)[- ]me\b|\bremover meu (?:e-?mail|endereço|contato)|\bcancelar (?:a )?(?:minha )?inscrição|"
    r"\bnão (?:me )?(?:contate|contactem|contacte|escreva|envie|enviem|mande)m? mais\b|\bnão me (?:contate|contacte|escreva|envie|enviem|mandem?)\b|"
    r"\bnão (?:quero|desejo) (?:receber|mais)|\bparem de (?:enviar|me enviar|escrever)|"
    # Italian
    r"\bcancellatemi\b|\brimuovetemi\b|\bnon (?:contattatemi|scrivetemi)|\bnon voglio (?:più )?ricevere",
    re.I | re.M,
)
_NEGATED = re.compile(r"\b(?:no need to|don't|do not|won't)\s+(?:unsubscribe|remove me)|\bwill not unsubscribe", re.I)


# At least one of these occurs in anything _UNSUBSCRIBE matches (tests/test_classify.py checks every
# alternative of the pattern), and most replies contain none: `in` on lower-cased text is several
# times cheaper than running the whole pattern over every reply.
_UNSUBSCRIBE_WORDS = (
    "unsubscrib", "opt", "remov", "delete", "take", "do not", "don't", "dont", "never", "stop", "no more",
    "not interested", "leave me alone", "cease", "de baja", "baja de", "elim", "borre", "quite", "sáque", "saque",
    "no me", "no nos", "no deseo", "no quiero", "deje", "désinscri", "desinscri", "désabonn", "desabonn", "retirez",
    "supprim", "enlevez", "rayez", "ne plus", "ne pas", "ne m'", "je ne", "arrêtez", "arretez", "abmelden",
    "streichen", "aus ", "austragen", "entfernen", "löschen", "loeschen", "keine", "nicht mehr", "kontaktieren",
    "schreiben", "descadastr", "cancelar", "não", "parem", "cancellatemi", "rimuovetemi", "non ",
)
# Letters re.IGNORECASE matches to "s" or "i" that str.lower() leaves alone: let the pattern judge.
_FOLDS_UNLIKE_LOWER = ("ſ", "ı", "İ")


def _may_ask_to_stop(text: str) -> bool:
    """False only when _UNSUBSCRIBE cannot match `text` (no word it needs is present)."""
    low = text.lower()
    return any(word in low for word in _UNSUBSCRIBE_WORDS) or any(c in text for c in _FOLDS_UNLIKE_LOWER)


def is_unsubscribe_request(text: str) -> bool:
    """Does this (already stripped) reply text ask us to stop writing?"""
    if not text.strip():
        return False
    if len(text.strip()) < 120 and re.search(r"\bremove me\b(?!\s+from\s+(?:the\s+)?(?:cc|thread|loop|chain|conversation))", text, re.I):
        return True
    if not _may_ask_to_stop(text):
        return False
    for match in _UNSUBSCRIBE.finditer(text):
        window = text[max(0, match.start() - 25):match.end()]
        if _NEGATED.search(window):
            continue
        return True
    return False


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
        except Exception:
            pass
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
    types = set()
    for part in msg.walk():
        try:
            types.add(part.get_content_type())
        except Exception:
            continue
    return types


def _classify(msg: Message, today: date | None) -> Classification:
    referenced = _referenced_ids(msg)
    types = _content_types(msg)
    report_type = str(msg.get_param("report-type", "", header="content-type") or "").lower()
    subject = header(msg, "Subject")

    if "message/disposition-notification" in types or report_type in {"disposition-notification", "feedback-report"} or (
        _RECEIPT_SUBJECT.search(subject) and (msg.get("Original-Message-ID") or _READ_NOTICE.search(body_text(msg)[:2000]))
    ):
        return Classification("other", referenced_message_ids=referenced)

    plain = body_text(msg)
    bounce = detect_bounce(msg, body=plain)
    if bounce.status == "failed":
        ids = list(dict.fromkeys(referenced + bounce.original_ids))
        return Classification("bounce", bounce.bounce_type, bounce.addresses, None, "", ids)
    if bounce.status == "delayed":
        ids = list(dict.fromkeys(referenced + bounce.original_ids))
        return Classification("other", referenced_message_ids=ids)

    body = plain
    html_own = html_body_own_text(msg)
    if html_own is not None and "text/plain" not in types:
        body = html_own
    unquoted = strip_quotes(body)
    own = strip_signature(unquoted)

    if is_auto_reply(msg, own):
        # Dates can sit below a sign-off ("Kind regards, Jane / Back on 3 May"): read them unquoted only.
        when = return_date(subject + "\n" + unquoted, today=_reference_date(msg, today))
        return Classification("auto_reply", None, [], when, own, referenced)

    if "text/calendar" in types or _CALENDAR_SUBJECT.search(subject):
        return Classification("other", own_text=own, referenced_message_ids=referenced)

    threaded = _is_threaded(msg)
    if _is_bulk(msg) and not threaded:
        return Classification("other", own_text=own, referenced_message_ids=referenced)

    if is_unsubscribe_request(subject_request(subject) + "\n" + own):
        return Classification("unsubscribe", own_text=own, referenced_message_ids=referenced)

    senders = [a for _, a in getaddresses(headers(msg, "From")) if "@" in a]
    if not threaded and senders and all(_NOREPLY.match(a) for a in senders):
        return Classification("other", own_text=own, referenced_message_ids=referenced)
    if not threaded and not senders:
        return Classification("other", own_text=own, referenced_message_ids=referenced)
    return Classification("human_reply", own_text=own, referenced_message_ids=referenced)


def subject_request(subject: str) -> str:
    """The subject when it is itself a request (people write "Unsubscribe" or "STOP" as the subject)."""
    bare = re.sub(r"^\s*(?:(?:re|aw|sv|rv|fw|fwd|wg|tr)\s*:\s*)+", "", subject, flags=re.I).strip()
    if re.fullmatch(r"(?:unsubscribe|stop|remove me|remove|opt[- ]?out|baja|désinscription|abmelden|descadastrar)[.! ]*", bare, re.I):
        return bare
    return ""


def classify_message(message: Message | bytes, *, today: date | None = None) -> Classification:
    """Classify one received message; never raises on malformed mail (falls back to "other").

    `today` anchors year-less return dates when the message has no usable Date header.
    """
    try:
        msg = _parse(message)
    except Exception:
        return Classification("other")
    try:
        return _classify(msg, today)
    except Exception:
        try:
            referenced = _referenced_ids(msg)
        except Exception:
            referenced = []
        return Classification("other", referenced_message_ids=referenced)
