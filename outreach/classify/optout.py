"""Opt-outs, judged on a reply's own words (quotes and signature removed).

A list of phrases does not reach unseen wording, so each language models the request itself:
a verb of writing, sending or contacting (or a noun for what we send: emails, messages), a
stop cue in front of it (a negation, "no more", "stop", "cease", "refrain", "never again",
"last"), and a target that points at the writer, the people they speak for, or the future
(me, us, our physicians, Dr. Lee, again, any more, further). Around that sit the unambiguous
signals (unsubscribe, take me off your list, reporting us as spam) and the hard negatives:
"don't hesitate to contact me", "write again in March", "don't email me until the portal
opens", "stop by my office", "removed the tumour", the list of electives, and our own
"reply stop and I won't write again" pasted back.

Every pattern gap is `(?:WORD\\s+){0,n}`: a word cannot hold ".", "," or "?", so no rule reaches
across a sentence or a clause boundary (the rules themselves live in optout_rules.py, one block per
language). Rules are tried only on sentences holding one of their language's anchor words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from outreach.classify.optout_rules import EN_NOUN as _EN_NOUN, LANGUAGES as _LANGUAGES, ORG_GROUPS, WORDS as _WORDS, _W
from outreach.classify.reply_text import words_pattern

__all__ = ["OptOut", "find_opt_out", "subject_opt_out", "normalise", "lower", "sentence_around"]

_QUOTES = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "\u00a0": " "})


@dataclass(frozen=True)
class OptOut:
    """Why a text was judged an opt-out: the rule, its language, the words it matched, and
    whether the request covers a whole organisation (then the domain may be suppressed)."""

    rule: str
    language: str
    evidence: str
    organisation: bool = False


def _c(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.I)


def lower(text: str) -> str:
    """Lower case with the same length ("İ" is the one letter whose lower case is two)."""
    return text.replace("İ", "I").lower()


# Groups an administrator speaks for: "do not email our physicians / faculty / staff".
_ORG = _c(r"\b(?:our|all|any of our|nuestr[oa]s|a nuestr[oa]s|nos|à nos|a nos|unsere[nm]?|i nostri|ai nostri|le nostre|alle nostre|nossos|nossas|aos nossos|às nossas)\s+(?:" + _W + r"){0,2}?" + ORG_GROUPS + r"\b"
              r"|\banyone (?:at|in|from) (?:our|this) |\bmembers of (?:our|this|the) (?:department|division|faculty)")


_OUR_OWN = _c(
    r"\bif you(?:'d| would| do)? (?:prefer|rather|like|want|wish)\b|\breply (?:with )?[\"']?(?:stop|unsubscribe|no)\b|"
    r"\bi (?:won't|will not|shall not|'ll not|will never|won't ever) (?:write|contact|e-?mail|bother|follow up)|"
    r"\bresponda (?:con )?[\"']?(?:stop|baja)|\brépondez [\"']?stop"
)
_OUR_OWN_WORDS = ("if you", "reply", "i won", "i will", "i shall", "i'll", "responda", "répondez")
# "Don't email me directly; write to the coordinator instead": a redirect, not an opt-out.
_REDIRECT = _c(r"\b(?:instead|rather than|use (?:my|this|the) (?:new|other|work|personal)|(?:old|previous|former) (?:address|e-?mail)|en su lugar|plutôt|stattdessen|em vez|invece|"
    r"(?:directly|directamente|directement|direkt|diretamente|direttamente)(?!\s+(?:or|ou|o|oder)\s+in))\b")


_POSTPONED = _c(
    r"\b(?:until|till|before|yet|for now|hasta|antes de|todavía|jusqu'|avant|pas encore|bevor|erst (?:ab|nach|wenn)|até|antes de|ainda não|fino a|prima di|prima del)\b"
)
_FIRST_PERSON = _c(r"\b(?:i|we)(?:'ll|'d| will| can| must| should| shall| would| may)?\s+$")
_OBJECT_VERBS = _c(r"(?:re-?)?(?:send|sending|mail|mailing|forward|forwarding|add|adding|include|including|cc|call|calling|text|texting)\b")
_OTHER_OBJECT = _c(r"\b(?:your|the|a|an|it|that|those|this)\s+(?!" + _EN_NOUN + r"\b|address|account|inbox|person)")


_WRAPPED = re.compile(r"(?<=[^\n])\n(?=[ \t]*[^\s])")


def normalise(text: str) -> str:
    """Typographic quotes to plain ones and a line wrapped mid-paragraph joined with a space (same
    length either way, so matches index the original text)."""
    return _WRAPPED.sub(" ", text.translate(_QUOTES))


# The anchor words as one pattern per language: the regex engine scans for their first letters,
# several times faster than testing each word with `in`.
_ANCHORS = {language: re.compile(words_pattern(words)) for language, words in _WORDS.items()}


# Every language's one-line request in one pattern (one search, not six): the group names the language.
_ONE_LINERS = re.compile("|".join(f"(?P<{language}>{one_liner.pattern})" for language, _, one_liner in _LANGUAGES))
_ANY_ANCHOR = re.compile(words_pattern(w for words in _WORDS.values() for w in words))


def _may_match(low: str, language: str, start: int = 0, end: int | None = None) -> bool:
    """False only when none of the language's rules can match low[start:end]."""
    return _ANCHORS[language].search(low, start, len(low) if end is None else end) is not None


def find_opt_out(text: str) -> OptOut | None:
    """The first rule, in any language, that reads `text` as a request to stop writing.

    Rules run sentence by sentence, and only on sentences holding one of their language's anchor
    words: most sentences of most replies hold none, and a rule costs a scan of what it is given."""
    if not text or not _ANY_ANCHOR.search(lower(text)):
        return None  # most replies: no anchor word of any language, so no rule and no one-liner can match
    text = _without_our_own(normalise(text))
    low = lower(text)
    stripped = low.strip()
    if len(stripped) <= 60:
        one_line = _ONE_LINERS.search(stripped)
        if one_line:
            return OptOut("one-line", one_line.lastgroup or "", text.strip())
    languages = [entry for entry in _LANGUAGES if _may_match(low, entry[0])]
    if not languages:
        return None
    start = 0
    for end in [m.end() for m in _SENTENCE_END.finditer(text)] + [len(text)]:
        if end <= start:
            continue
        found = _insentence_around(text, low, start, end, languages)
        if found is not None:
            return found
        start = end
    return None


def _insentence_around(text: str, low: str, start: int, end: int, languages: list) -> OptOut | None:
    for language, rules, _ in languages:
        if not _may_match(low, language, start, end):
            continue
        for name, pattern in rules:
            for match in pattern.finditer(low, start, end):
                if _not_a_request(name, text, match):
                    continue
                clause_end = min((i for i in (text.find(c, match.end()) for c in ".;!?\n") if i != -1), default=len(text))
                organisation = bool(_ORG.search(text, match.start(), clause_end))
                return OptOut(name, language, sentence_around(text, match.start(), match.end()), organisation)
    return None


def _without_our_own(text: str) -> str:
    """The text with the sentences of our own opt-out line (pasted back unquoted) blanked out."""
    low = text.lower()
    if not any(word in low for word in _OUR_OWN_WORDS):
        return text
    for match in reversed(list(_OUR_OWN.finditer(text))):
        left = max((m.end() for m in _SENTENCE_END.finditer(text, 0, match.start())), default=0)
        following = _SENTENCE_END.search(text, match.end())
        right = following.end() if following else len(text)
        text = text[:left] + " " * (right - left) + text[right:]
    return text


def subject_opt_out(subject: str) -> OptOut | None:
    """An opt-out written as the subject ("STOP", "Please remove me", "Bitte nicht mehr anschreiben")."""
    bare = re.sub(r"^\s*(?:(?:re|aw|sv|rv|fw|fwd|wg|tr|res|r)\s*(?:\[\d+\])?\s*:\s*)+", "", subject, flags=re.I).strip()
    if not bare:
        return None
    found = find_opt_out(bare)
    return OptOut("subject-" + found.rule, found.language, bare, found.organisation) if found else None


def _not_a_request(rule: str, text: str, match: re.Match[str]) -> bool:
    """The hard negatives a pattern cannot see on its own: a redirect ("write to the coordinator
    instead"), a postponement ("not until the portal opens"), the writer's own plan ("I'll stop
    writing now"), or "don't send me your CV" (something other than mail from us)."""
    if rule not in ("negated-contact", "stop-contacting", "remove-from-list", "does-not-wish", "no-more-messages"):
        return False
    sentence = sentence_around(text, match.start(), match.end())
    if _REDIRECT.search(sentence) or (rule != "remove-from-list" and _POSTPONED.search(sentence)):
        return True
    if rule == "stop-contacting" and _FIRST_PERSON.search(text[max(0, match.start() - 14):match.start()]):
        return True
    verb = match.groupdict().get("verb")
    if verb and _OBJECT_VERBS.match(verb):
        return bool(_OTHER_OBJECT.search(text[match.end("verb"):match.end()]))
    return False


# A sentence ends at . ! ? (not after Dr., Prof., Mr., Mrs., Ms., St., Sr., Dra.) or a line break.
# Single line breaks are kept: plain-text mail is often wrapped mid-sentence.
_SENTENCE_END = re.compile(r"(?<!\bDr)(?<!\bdr)(?<!Prof)(?<!\bMr)(?<!Mrs)(?<!\bMs)(?<!\bSt)(?<!\bSr)(?<!Dra)(?<!Sra)[.!?](?=\s|\Z)|\n[ \t]*\n")


def sentence_around(text: str, start: int, end: int) -> str:
    """The sentence around a match, for the explanation (at most ~200 characters)."""
    left = max((m.end() for m in _SENTENCE_END.finditer(text, 0, start)), default=0)
    following = _SENTENCE_END.search(text, end)
    right = following.end() if following else len(text)
    sentence = " ".join(text[left:right].split())
    return sentence if len(sentence) <= 200 else " ".join(text[start:end].split())
