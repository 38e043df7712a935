"""Auto-replies (out-of-office, vacation, "we received your message") and the date people return.

Signals, strongest first: RFC 3834 `Auto-Submitted` (anything but "no"), the X-Autoreply family,
`Precedence: auto_reply`, Exchange's "Automatic reply:" subjects, and out-of-office wording in
English, Spanish, French, German, Portuguese and Italian. `X-Auto-Response-Suppress` alone means
nothing: Outlook puts it on ordinary mail too.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from email.message import Message

from outreach.classify.acknowledgements import rule_header, shared_mailbox_ack
from outreach.classify.reply_text import header

__all__ = ["is_auto_reply", "auto_reply_reason", "machine_generated", "ooo_text", "return_date", "guess_language"]

_OOO_SUBJECT = re.compile(
    r"out of (?:the )?office|\booo\b|automatic reply|automatic response|auto[- ]?reply|autoreply|auto[- ]?response|automated response|"
    r"away from (?:the|my) (?:office|desk)|on (?:vacation|holiday|leave|annual leave)|vacation (?:reply|notice|message)|"
    r"\babsent\b|\babsence\b|absence du bureau|message d'absence|réponse automatique|reponse automatique|en congés?|"
    r"respuesta automática|respuesta automatica|fuera de (?:la )?oficina|ausencia|de vacaciones|"
    r"automatische antwort|abwesenheit|abwesend|nicht im büro|außer haus|im urlaub|"
    r"resposta automática|resposta automatica|ausente|fora do escritório|fora do escritorio|de férias|"
    r"^auto:|risposta automatica|fuori (?:sede|ufficio)|assente|autosvar|automatisch antwoord|afwezig|afwezigheid",
    re.I,
)
_OOO_BODY = re.compile(
    r"(?:i am|i'm|i will be|i'll be|i am currently|i'm currently|i shall be|we are)\s+(?:currently\s+)?(?:out of (?:the )?office|away|on (?:annual |parental |maternity |medical |sick )?(?:leave|vacation|holiday)|travel+ing|out of town|off work|absent)|"
    r"this is an? (?:automatic|automated|auto-generated) (?:reply|response|message)|please do not reply to this (?:e-?mail|message)|this mailbox is not monitored|"
    r"thank you for your (?:e-?mail|message)[.!,]? i am (?:currently )?(?:out|away)|"
    r"limited (?:access to|ability to check) (?:my )?e-?mail|(?:out of (?:the )?office|away) (?:until|till|through|from)|"
    r"estar[ée] (?:fuera|ausente|de vacaciones)|me encuentro (?:fuera|ausente|de vacaciones)|estoy (?:fuera de la oficina|de vacaciones|ausente)|"
    r"fuera de la oficina|respuesta automática|"
    r"je (?:suis|serai) (?:actuellement )?(?:absente?|en congés?|en vacances|hors du bureau|en déplacement)|absente? du bureau|réponse automatique|"
    r"ich bin (?:bis|vom|ab|derzeit|zurzeit|momentan|aktuell|nicht)|nicht im büro|abwesend|im urlaub|außer haus|automatische antwort|"
    r"(?:estou|estarei) (?:fora|ausente|de férias)|fora do escritório|resposta automática|"
    r"sono (?:fuori|assente|in ferie)|sarò (?:fuori|assente)|fuori ufficio|risposta automatica",
    re.I,
)
# At least one of these occurs in anything _OOO_BODY matches (tests/test_classify_prefilter.py
# walks the pattern to keep it so); most human replies contain none, and lower-cased `in` checks
# are far cheaper than the pattern.
_OOO_BODY_WORDS = (
    "out of", "away", "leave", "vacation", "holiday", "trave", "off work", "absent", "auto", "do not reply",
    "not monitored", "i am", "limited", "estar", "me encuentro", "estoy", "fuera", "respuesta autom",
    "congé", "vacances", "hors du bureau", "déplacement", "réponse autom", "ich bin", "nicht im b", "abwesend",
    "im urlaub", "außer haus", "automatische antwort", "estou", "fora do", "resposta autom", "sono ", "sarò",
    "fuori ufficio", "risposta automatica",
)


def _may_say_away(text: str) -> bool:
    """False only when _OOO_BODY cannot match `text`."""
    low = text.lower()
    return any(word in low for word in _OOO_BODY_WORDS) or any(c in text for c in "ſıİ")


# Subject words only a responder writes, even after "Re:" ("Re: Observership (Automatic Response)").
_STRONG_SUBJECT = re.compile(
    r"automatic (?:reply|response)|auto[- ]?(?:reply|response)|autoreply|\bout of (?:the )?office\b|"
    r"réponse automatique|respuesta automática|automatische antwort|abwesenheitsnotiz|resposta automática|risposta automatica",
    re.I,
)


_PERSONAL = re.compile(
    r"\b(?:yes|sure|happy to|glad to|would love|we'd be|we would be|let's|your cv|your request|interested|"
    r"sí|con gusto|encantad[oa]|oui|volontiers|gerne|ja,|sim|com prazer)\b|\?",
    re.I,
)


def machine_generated(msg: Message) -> bool:
    """Headers that say a program, not a person, sent this (RFC 3834 and common variants)."""
    return _machine_header(msg) is not None


def _machine_header(msg: Message) -> str | None:
    """The header (name: value) that says a program sent this, or None."""
    auto = header(msg, "Auto-Submitted").lower()
    if auto and not auto.startswith("no"):
        return f"Auto-Submitted: {auto}"
    for name in ("X-Autoreply", "X-Autorespond", "X-Autoresponder", "X-Auto-Reply", "X-AutoReply-From", "X-Mail-Autoreply", "X-Autorespond-Type", "X-Vacation"):
        value = header(msg, name).lower()
        if value and value not in {"no", "false", "0"}:
            return f"{name}: {value}"
    precedence = header(msg, "Precedence").lower().strip()
    if precedence in {"auto_reply", "auto-reply", "autoreply"}:
        return f"Precedence: {precedence}"
    if header(msg, "X-POST-MessageClass").startswith("9"):
        return "X-POST-MessageClass: " + header(msg, "X-POST-MessageClass")
    if header(msg, "X-FC-MachineGenerated").lower() == "true":
        return "X-FC-MachineGenerated: true"
    source = header(msg, "X-MS-Exchange-Generated-Message-Source")
    if "rules agent" in source.lower():
        return "X-MS-Exchange-Generated-Message-Source: " + source  # Exchange Online: the mailbox's automatic-reply rule
    # Exchange OOF: sent by an inbox rule and asking not to be answered automatically.
    if "all" in header(msg, "X-Auto-Response-Suppress").lower() and header(msg, "X-MS-Exchange-Inbox-Rules-Loop"):
        return "X-Auto-Response-Suppress: All with X-MS-Exchange-Inbox-Rules-Loop"
    return None


def ooo_text(subject: str, text: str) -> bool:
    """Out-of-office wording in the subject or the first part of the body."""
    return _ooo_match(subject, text) is not None


def _ooo_match(subject: str, text: str) -> str | None:
    found = _OOO_SUBJECT.search(subject)
    if found:
        return found.group(0)
    head = text[:1500]
    found = _OOO_BODY.search(head) if _may_say_away(head) else None
    return found.group(0) if found else None


def is_auto_reply(msg: Message, own: str) -> bool:
    """Machine headers, an auto-reply subject, or out-of-office wording in a short message."""
    return auto_reply_reason(msg, own) is not None


def auto_reply_reason(msg: Message, own: str) -> tuple[str, str] | None:
    """Why this is an auto-reply, as (rule, matched text), or None when it is not one."""
    subject = header(msg, "Subject")
    machine = _machine_header(msg)
    if machine:
        return "header " + machine.split(":", 1)[0], machine
    precedence = header(msg, "Precedence").lower()
    if precedence in {"bulk", "junk", "list"}:
        words = _ooo_match(subject, own)
        if words:
            return f"Precedence: {precedence} with out-of-office wording", words
    bare = re.sub(r"^\s*(?:re|aw|fw|fwd|rv|tr|wg)\s*:\s*", "", subject, flags=re.I)
    found = _OOO_SUBJECT.search(bare)
    if found and not re.match(r"^\s*(?:re|aw|rv)\s*:", subject, re.I):
        return "out-of-office subject", found.group(0)
    found = _STRONG_SUBJECT.search(subject)
    if found:
        return "auto-reply subject", found.group(0)
    loop = rule_header(msg)
    if loop:
        words = _ooo_match(subject, own)
        if words:
            return f"out-of-office wording with mailbox-rule header ({loop.split(':')[0]})", words
    # Some responders keep the original subject: recognise them by wording in a short message,
    # unless the person is answering us while mentioning they are away.
    # Newsletters ("please do not reply to this email") are not answers to us at all.
    listed = bool(msg.get("List-Unsubscribe") or msg.get("List-Id"))
    if listed:
        return None
    if len(own) < 1200 and _may_say_away(own[:600]):
        found = _OOO_BODY.search(own[:600])
        if found and not _PERSONAL.search(own):
            return "out-of-office wording in a short message", found.group(0)
    ack = shared_mailbox_ack(msg, own)
    if ack:
        return ack
    return None


# --- return dates --------------------------------------------------------------------------------

MONTHS = {
    # English
    "january": 1, "jan": 1, "february": 2, "feb": 2, "march": 3, "mar": 3, "april": 4, "apr": 4, "may": 5, "june": 6, "jun": 6,
    "july": 7, "jul": 7, "august": 8, "aug": 8, "september": 9, "sept": 9, "sep": 9, "october": 10, "oct": 10,
    "november": 11, "nov": 11, "december": 12, "dec": 12,
    # Spanish
    "enero": 1, "febrero": 2, "marzo": 3, "abril": 4, "mayo": 5, "junio": 6, "julio": 7, "agosto": 8, "septiembre": 9,
    "setiembre": 9, "octubre": 10, "noviembre": 11, "diciembre": 12, "ene": 1, "dic": 12,
    # French
    "janvier": 1, "février": 2, "fevrier": 2, "mars": 3, "avril": 4, "mai": 5, "juin": 6, "juillet": 7, "août": 8, "aout": 8,
    "septembre": 9, "octobre": 10, "novembre": 11, "décembre": 12, "decembre": 12, "janv": 1, "févr": 2, "déc": 12,
    # German
    "januar": 1, "jänner": 1, "februar": 2, "märz": 3, "maerz": 3, "juni": 6, "juli": 7, "oktober": 10, "dezember": 12, "okt": 10, "dez": 12,
    # Portuguese
    "janeiro": 1, "fevereiro": 2, "março": 3, "marco": 3, "maio": 5, "junho": 6, "julho": 7, "setembro": 9, "outubro": 10,
    "novembro": 11, "dezembro": 12, "fev": 2, "out": 10,
    # Italian
    "gennaio": 1, "febbraio": 2, "aprile": 4, "maggio": 5, "giugno": 6, "luglio": 7, "settembre": 9, "ottobre": 10, "dicembre": 12,
}
WEEKDAYS = {
    "monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4, "saturday": 5, "sunday": 6,
    "lunes": 0, "martes": 1, "miércoles": 2, "miercoles": 2, "jueves": 3, "viernes": 4, "sábado": 5, "domingo": 6,
    "lundi": 0, "mardi": 1, "mercredi": 2, "jeudi": 3, "vendredi": 4, "samedi": 5, "dimanche": 6,
    "montag": 0, "dienstag": 1, "mittwoch": 2, "donnerstag": 3, "freitag": 4, "samstag": 5, "sonntag": 6,
    "segunda-feira": 0, "terça-feira": 1, "quarta-feira": 2, "quinta-feira": 3, "sexta-feira": 4, "segunda": 0, "terça": 1, "quarta": 2, "quinta": 3, "sexta": 4,
    "lunedì": 0, "martedì": 1, "mercoledì": 2, "giovedì": 3, "venerdì": 4, "sabato": 5, "domenica": 6,
}
_MONTH_RE = "|".join(sorted((re.escape(m) for m in MONTHS), key=len, reverse=True))
_WEEKDAY_RE = "|".join(sorted((re.escape(w) for w in WEEKDAYS), key=len, reverse=True))
_YEAR = r"(?P<y>\d{4}|'\d{2})"
_DATE_PATTERNS = [
    # 2026-12-01, 2026/12/01
    re.compile(r"\b(?P<y>20\d{2})(?P<sep0>[-/.])(?P<m>\d{1,2})(?P=sep0)(?P<d>\d{1,2})\b"),
    # December 1, 2026 / Dec. 1st / Monday, December 1
    re.compile(r"\b(?P<mon>" + _MONTH_RE + r")\.?\s+(?P<d>\d{1,2})(?:st|nd|rd|th)?\b(?:,?\s*" + _YEAR + r"\b)?", re.I),
    # 1 December 2026 / 1st of December / 3 de diciembre (de 2026) / 5. Dezember 2026 / 1er décembre
    re.compile(r"\b(?P<d>\d{1,2})(?:st|nd|rd|th|er|º|°|\.)?\s*(?:of\s+|de\s+)?(?P<mon>" + _MONTH_RE + r")\b\.?(?:,?\s*(?:de\s+|del\s+)?" + _YEAR + r"\b)?", re.I),
    # 12/01/2026, 05.12.2026, 1/12, 05.12.
    re.compile(r"(?<![\d/.])(?P<a>\d{1,2})(?P<sep>[/.-])(?P<b>\d{1,2})(?:(?P=sep)(?P<y>\d{4}|\d{2}))?(?![\d/]|\.\d)"),
]
_TRIGGER = re.compile(
    r"\b(?:back|return(?:ing)?|returns|return to (?:the|my) (?:office|desk)|in the office|be in|until|till|til|through|thru|"
    r"reachable|available|respond|reply|"
    r"hasta|regres(?:o|aré|are|aremos)|volver[ée]|vuelta|de regreso|reincorporo|reincorporaré|"
    r"jusqu'(?:au|à|a)|retour|serai de retour|reviendrai|"
    r"bis(?: zum| einschließlich| einschl\.)?|ab|wieder|zurück|"
    r"até|ate|retorno|voltarei|regresso|de volta|a partir d[eo]|"
    r"fino al|rientro|tornerò|dal)\b",
    re.I,
)
_EN_WORDS = re.compile(r"\b(?:the|and|until|office|back|will|return|thank|you)\b", re.I)
_ROMANCE_GERMAN = re.compile(r"\b(?:el|la|de|hasta|que|le|les|je|jusqu|der|die|und|ich|bis|não|até|estou|estarei|il|sono)\b", re.I)


def guess_language(text: str) -> str:
    """'en' or 'other': only used to choose month/day order for numeric dates."""
    english = len(_EN_WORDS.findall(text))
    other = len(_ROMANCE_GERMAN.findall(text))
    return "en" if english >= other else "other"


def _year_for(month: int, day: int, today: date) -> date | None:
    """The year that puts a year-less date nearest ahead of today; a few weeks back counts as this year
    (the start of an absence already under way), anything earlier means next year."""
    for year in (today.year - 1, today.year, today.year + 1):
        try:
            candidate = date(year, month, day)
        except ValueError:
            if month == 2 and day == 29:
                continue
            return None
        if candidate >= today - timedelta(days=31):
            return candidate
    return None


def _make(year: str | None, month: int, day: int, today: date) -> date | None:
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return None
    if year:
        y = int(year.strip("'"))
        if y < 100:
            y += 2000
        try:
            return date(y, month, day)
        except ValueError:
            return None
    return _year_for(month, day, today)


def _numeric(a: int, b: int, year: str | None, today: date, *, month_first: bool) -> date | None:
    """An a/b date read both ways when both are possible. The language's order wins (month first
    in English, day first elsewhere) unless only the other reading is ahead of today, or the
    preferred one is months away while the other is within weeks (a British 05/01 on 4 January)."""
    first = _make(year, a, b, today) if a <= 12 else None  # month/day
    second = _make(year, b, a, today) if b <= 12 else None  # day/month
    if first is None or second is None or first == second:
        return first or second
    soon = today - timedelta(days=1)
    ahead = [d for d in (first, second) if d >= soon]
    if len(ahead) == 1:
        return ahead[0]
    preferred, other = (first, second) if month_first else (second, first)
    if len(ahead) == 2 and (preferred - today).days > 60 and (other - today).days <= 45:
        return other
    return preferred


def _dates(text: str, today: date, language: str) -> list[tuple[int, int, date]]:
    """Every date in the text as (start, end, date)."""
    found: list[tuple[int, int, date]] = []
    taken: list[tuple[int, int]] = []
    for pattern in _DATE_PATTERNS:
        for match in pattern.finditer(text):
            if any(s <= match.start() < e for s, e in taken):
                continue
            groups = match.groupdict()
            if groups.get("mon"):
                result = _make(groups.get("y"), MONTHS[groups["mon"].lower()], int(groups["d"]), today)
            elif groups.get("a"):
                a, b, sep = int(groups["a"]), int(groups["b"]), groups["sep"]
                if sep == "/" and not groups.get("y") and (a > 12 and b > 12):
                    continue
                if sep == "-" and not groups.get("y"):
                    continue
                if sep == "." and not groups.get("y") and not match.group(0).endswith("."):
                    # "5.12" could be a time or a version; require a trailing dot or a year.
                    if not re.match(r"\s*\.", text[match.end():]):
                        continue
                result = _numeric(a, b, groups.get("y"), today, month_first=sep == "/" and language == "en")
            else:
                result = _make(groups.get("y"), int(groups["m"]), int(groups["d"]), today)
            if result:
                found.append((match.start(), match.end(), result))
                taken.append((match.start(), match.end()))
    return sorted(found)


def _weekday_return(text: str, today: date) -> date | None:
    """'back on Monday' with no date: the next such weekday after today."""
    match = re.search(r"\b(?:back|return(?:ing)?|in the office|hasta el|jusqu'(?:au|à)|bis|até|de volta|retour)\s+(?:on\s+|el\s+|le\s+|am\s+|na\s+|no\s+)?(?:next\s+)?(?P<w>" + _WEEKDAY_RE + r")\b", text, re.I)
    if not match:
        return None
    weekday = WEEKDAYS[match.group("w").lower()]
    ahead = (weekday - today.weekday()) % 7 or 7
    return today + timedelta(days=ahead)


def return_date(text: str, *, today: date) -> date | None:
    """The date the writer says they are back, with the year inferred so it is not in the past.

    Prefers a date right after "back", "until", "hasta", "jusqu'au", "bis", "até"...; otherwise
    the latest date mentioned (a "from X to Y" absence ends at Y). Numeric dates are month-first
    in English text with slashes (12/01/2026 = 1 December) and day-first everywhere else.
    """
    text = text[:3000]
    language = guess_language(text)
    dates = _dates(text, today, language)
    best: date | None = None
    for start, _end, value in dates:
        window = text[max(0, start - 60):start]
        if _TRIGGER.search(window) and value >= today - timedelta(days=1):
            best = value
            # Keep looking: "from 20 Nov until 1 Dec" triggers on both; the later one wins.
    future = [value for _, _, value in dates if value >= today]
    if best is None and future:
        best = max(future)
    if best is None:
        best = _weekday_return(text, today)
    return best
