"""Shared mailboxes that acknowledge by rule: "this mailbox is not monitored", "we have received
your message", "ticket number 20417", in six languages. They often come from server or client
mailbox rules with no Auto-Submitted header (at most Exchange's loop header) and a plain "RE:"
subject, so the wording decides: strong phrases are never a person's own reply; weak ones count
only with a mailbox-rule header or without any personal answer in the same message.
"""

from __future__ import annotations

import re
from email.message import Message

from outreach.classify.reply_text import header, words_pattern

__all__ = ["shared_mailbox_ack", "rule_header"]

# Shared mailboxes answer through server or client rules, often with no Auto-Submitted header
# and a plain "RE:" subject. Strong phrases are never a person's own reply; weak ones ("we have
# received your message") count only without a personal answer in the same message.
_ACK_STRONG = re.compile(
    r"\b(?:this|the) (?:mail ?box|inbox|e-?mail (?:address|account)|address) is (?:not |no longer |un)(?:monitored|attended|checked)|\bunmonitored (?:mail ?box|inbox|address)|"
    r"\b(?:no|not receive an?|will not receive an?|won't receive an?) (?:individual|personal|personali[sz]ed) (?:response|reply|answer)|"
    r"\b(?:ticket|case|reference|request|tracking) (?:number|no\.?|id|#)\s*(?:is\s*)?:?\s*#?[A-Z]*-?\d{3,}[-\d]*|\bthis is an? (?:automated|automatic|auto-generated|system-generated) (?:message|e-?mail|notification|acknowl)|"
    r"\bplease do not (?:reply|respond) to this (?:e-?mail|message|address)|"
    r"\bbuz[oó]n (?:no (?:es )?(?:monitoreado|supervisado|atendido|revisado)|sin supervisi[oó]n)|\bno recibir[aá] (?:una )?respuesta (?:individual|personal|personalizada)|"
    r"\bn[uú]mero de (?:ticket|caso|referencia|solicitud)\s*:?\s*#?\d{3,}[-\d]*|\beste (?:es un )?(?:mensaje|correo) (?:es )?(?:autom[aá]tico|generado autom[aá]ticamente)|\bno responda a este (?:mensaje|correo)|"
    r"\bbo[iî]te (?:aux lettres |mail |e-mail )?(?:n'est pas|non) (?:surveill[ée]e|consult[ée]e|relev[ée]e)|\bpas de r[ée]ponse individuelle|\bnum[ée]ro de (?:ticket|dossier|r[ée]f[ée]rence|demande)\s*:?\s*#?\d{3,}[-\d]*|"
    r"\bceci est un (?:message|courriel|e-mail) (?:automatique|g[ée]n[ée]r[ée] automatiquement)|\bmerci de ne pas r[ée]pondre [àa] ce (?:message|courriel|mail)|"
    r"\bpostfach wird nicht (?:überwacht|gelesen|betreut)|\bkeine (?:individuelle|persönliche) (?:antwort|rückmeldung)|\b(?:ticket|vorgangs|referenz|fall)-?nummer\s*:?\s*#?\d{3,}[-\d]*|"
    r"\bdies ist eine automatisch (?:generierte|erstellte|versandte)|\bautomatisch (?:generierte|erstellte) (?:nachricht|e-mail|antwort)|\bbitte antworten sie nicht auf diese|"
    r"\bcaixa (?:postal |de e-?mail )?n[aã]o (?:[eé] )?monitorada|\bresposta individual|\bn[uú]mero (?:do|de) (?:protocolo|chamado|ticket)\s*:?\s*#?\d{3,}[-\d]*|\bprotocolo\s*(?:n[ºo°.]*|:)\s*\d{3,}[-\d]*|"
    r"\besta [eé] uma mensagem autom[aá]tica|\bn[aã]o responda a (?:esta|este) (?:mensagem|e-?mail)|"
    r"\bcasella (?:di posta )?non (?:[eè] )?(?:monitorata|presidiata|controllata)|\brisposta individuale|\bnumero (?:di )?(?:ticket|pratica|riferimento)\s*:?\s*#?\d{3,}[-\d]*|"
    r"\bquesto [eè] un messaggio (?:automatico|generato automaticamente)|\bsi prega di non rispondere",
    re.I,
)
_ACK_WEAK = re.compile(
    r"\bwe (?:have |'ve )?(?:received|got) your (?:message|e-?mail|enquiry|inquiry|request|application|note)|\byour (?:message|e-?mail|enquiry|inquiry|request) (?:has been|was) (?:received|logged|forwarded)|"
    r"\bthank you for (?:contacting|writing to|your (?:e-?mail|message) to) (?:the )?[\w &-]{0,60}(?:office|department|team|program|programme|service|desk)\b|"
    r"\b(?:a member of (?:our|the) (?:team|staff)|someone) will (?:respond|reply|get back|be in touch|contact you)|\bwe (?:aim|try|strive) to (?:respond|reply|answer)|"
    r"\bwithin \d+ (?:business|working) days\b|"
    r"\bhemos recibido su (?:mensaje|correo|solicitud|consulta)|\bsu (?:mensaje|correo|solicitud|consulta) (?:ha sido|fue) recibid|"
    r"\bnous avons (?:bien )?re[çc]u votre (?:message|courriel|demande|e-?mail)|\bvotre (?:message|demande|courriel) a (?:bien )?[ée]t[ée] re[çc]u|"
    r"\bwir haben ihre (?:nachricht|e-?mail|anfrage|mail) erhalten|\bihre (?:nachricht|anfrage|e-?mail) ist (?:bei uns )?eingegangen|"
    r"\brecebemos (?:a )?sua (?:mensagem|solicita[çc][aã]o|e-?mail)|\bsua (?:mensagem|solicita[çc][aã]o) foi recebida|"
    r"\babbiamo ricevuto (?:il suo|la sua|il tuo|la tua) (?:messaggio|e-?mail|richiesta)|\b(?:il suo|la sua) (?:messaggio|richiesta) [eè] stat[oa] ricevut",
    re.I,
)
# A person answering: a question, an offer, agreement, or the reply naming a plan.
_ANSWER = re.compile(
    r"\?|\b(?:yes|sure|happy to|glad to|would love|we'd be|we would be|let's|we can|i can|i will|i'll|unfortunately|"
    r"s[ií],|con gusto|encantad[oa]|podemos|oui|volontiers|nous pouvons|gerne|ja,|wir können|sim,|com prazer|podemos|volentieri|possiamo)\b",
    re.I,
)


def rule_header(msg: Message) -> str:
    """The header that says an Exchange inbox rule (or a loop guard) produced this message, if any."""
    for name in ("X-MS-Exchange-Inbox-Rules-Loop", "X-MS-Exchange-Generated-Message-Source", "X-Loop"):
        value = header(msg, name)
        if value:
            return f"{name}: {value}"
    return ""


# At least one of these is in anything _ACK_STRONG or _ACK_WEAK matches (tests/test_classify_prefilter.py
# checks it); a reply with none skips both patterns.
_ACK_WORDS = (
    "monitor", "attended", "checked", "individu", "personal", "contacting", "writing to", "automat", "auto-generated",
    "system-generated", "do not reply", "do not respond", "buz", "respuesta", "mero", "mensaje", "correo", "bo", "r\u00e9ponse",
    "reponse", "num", "message", "courriel", "mail", "r\u00e9pondre", "repondre", "postfach", "antwort", "r\u00fcckmeldung",
    "nummer", "antworten", "caixa", "resposta", "protocolo", "mensagem", "responda", "casella", "risposta", "messaggio", "si prega",
    "received", "got your", "logged", "forwarded", "thank you for contacting", "thank you for writing to", "thank you for your", "will respond", "will reply", "will get back", "be in touch",
    "contact you", "aim to", "try to", "strive to", "within", "recibido", "recibid", "re\u00e7u", "recu", "erhalten", "eingegangen",
    "recebemos", "recebida", "ricevuto", "ricevut", "demande", "ticket", "case", "reference", "request", "tracking", "merci de ne pas",
)
_ACK_ANCHORS = re.compile(words_pattern(_ACK_WORDS))


def shared_mailbox_ack(msg: Message, own: str) -> tuple[str, str] | None:
    """A shared mailbox's acknowledgement sent by a mailbox rule: (rule, matched words) or None."""
    head = own[:1500]
    if not _ACK_ANCHORS.search(head.lower()):
        return None
    strong = _ACK_STRONG.search(head)
    if strong and len(own) < 2500:
        return "acknowledgement: shared mailbox wording", strong.group(0)
    weak = _ACK_WEAK.search(head)
    if weak is None or len(own) > 1500:
        return None
    loop = rule_header(msg)
    if loop:
        return f"acknowledgement with mailbox-rule header ({loop.split(':')[0]})", weak.group(0)
    if not _ANSWER.search(own):
        return "acknowledgement: receipt wording, no personal answer", weak.group(0)
    return None
