"""Polite refusals: a human reply that declines ("we do not offer observerships", "no, thank you",
"lamentablemente no", "leider nicht") carries the suggested outcome `declined`. Never an opt-out:
the writer said no to this request, not to ever hearing from the applicant."""

from __future__ import annotations

import re

from outreach.classify.optout import normalise, lower, sentence_around
from outreach.classify.optout_rules import _W
from outreach.classify.reply_text import words_pattern

__all__ = ["find_decline"]


def _c(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.I)


_DECLINE = _c(
    r"\b(?:we|i|our (?:department|program|programme|hospital|institution|office|division|clinic))\s+(?:" + _W + r"){0,2}?"
    r"(?:do not|don't|does not|doesn't|no longer|cannot|can't|can not|are unable to|am unable to|is unable to|are not able to|am not able to|'m not able to|"
    r"won't be able to|will not be able to|are not in a position to|am not in a position to|'m not in a position to|unfortunately (?:do not|don't|cannot|can't)|"
    r"have no|do not have|don't have|are not|am not|'m not|'re not)\s+(?:" + _W + r"){0,2}?"
    r"(?:offer|accept|host|provide|take|taking|sponsor|support|accommodate|supervise|consider|arrange|have|offering|accepting|hosting|"
    r"available|able|in a position|interested|any|capacity|positions?|openings?|spots?|observerships?|externships?|rotations?|electives?|room|space|time)\b"
    r"|\bnot at (?:this|the present|the moment) time\b|\bnot at this point\b|\bno,? thank(?:s| you)\b|\b(?:i'?m|i am|we'?re|we are)\s+not interested\b|\A\s*not interested\b|\bregret(?:fully)? (?:to inform|that)\b|"
    r"\b(?:must|have to|will have to|need to) decline\b|\bunable to (?:help|assist|accommodate|host|offer|accept)\b|\bno (?:positions|openings|spots|availability|capacity|observerships?)\b|"
    r"\bnot (?:possible|feasible) (?:at|for|to)\b|\bi'm afraid (?:we|i) (?:can't|cannot|don't|do not|won't)\b|"
    # Spanish
    r"\b(?:lamentablemente|desafortunadamente|por desgracia|lo siento)\b[^.!?\n]{0,60}\bno\b|\bno (?:ofrecemos|aceptamos|recibimos|tenemos (?:plazas|vacantes|disponibilidad|cupo|programa)|es posible|podemos)\b|"
    r"\bno,? gracias\b|\bno (?:estoy|estamos) interesad|\b(?:en este momento|por el momento|por ahora) no\b|"
    # French
    r"\bmalheureusement\b|\bnous ne (?:proposons|acceptons|pouvons|prenons|offrons|sommes pas)\b|\bje ne (?:peux|suis) pas\b|\bpas possible\b|\bnon,? merci\b|"
    r"\bpas intéressée?s?\b|\bpas pour le moment\b|\b(?:je|nous) regrett\w*\b|"
    # German
    r"\bleider\b[^.!?\n]{0,60}\b(?:nicht|kein\w*)\b|\b(?:bieten|nehmen|vergeben|haben) (?:derzeit |aktuell |leider )?(?:keine|nicht)\b|\bnicht möglich\b|\bnein,? danke\b|\bkein interesse\b|"
    r"\b(?:können|kann) (?:wir |ich )?(?:ihnen )?(?:leider )?(?:nicht|keine)\b|"
    # Portuguese
    r"\binfelizmente\b|\bnão (?:oferecemos|aceitamos|recebemos|temos (?:vagas|disponibilidade|programa)|é possível|podemos|posso)\b|\bnão,? obrigad|\bnão tenho interesse\b|\bno momento,? não\b|"
    # Italian
    r"\bpurtroppo\b|\bnon (?:offriamo|accettiamo|ospitiamo|è possibile|possiamo|posso)\b|\bno,? grazie\b|\bnon (?:sono|siamo) interessat|\bal momento non\b"
)
# A refusal with a door left open ("not in May, but we can host you in June") is not a decline.
_OPEN_DOOR = _c(
    r"\b(?:but|however|although|pero|sin embargo|mais|cependant|aber|jedoch|mas|porém|ma|però)\b[^.!?\n]{0,60}"
    r"\b(?:could|can|would|will|works?|fine|possible|available|welcome|happy|glad|open|podemos|puede|posible|pouvons|peut|possible|"
    r"können|kann|möglich|podemos|pode|possível|possiamo|può|possibile)\b|"
    r"\b(?:but (?:we|i) (?:can|could|would|will|may)|happy to|glad to|would love|we can host|you are welcome|you're welcome to|please send|"
    r"feel free to (?:apply|send)|let's|let me know (?:when|which|what dates)|sí,|pero (?:podemos|puedo)|mais (?:nous pouvons|je peux)|aber (?:wir|ich) (?:können|kann)|"
    r"mas (?:podemos|posso)|ma (?:possiamo|posso)|con gusto|volontiers|gerne|com prazer|volentieri)\b"
)


# At least one of these is in anything _DECLINE matches (tests/test_classify_prefilter.py checks it).
_DECLINE_WORDS = (
    "not", "n't", "no", "cannot", "unable", "regret", "decline", "afraid", "lamentabl", "desafortunad", "desgracia", "siento",
    "malheureus", "ne ", "pas", "regrett", "leider", "kein", "nicht", "nein", "infeliz", "não", "purtroppo", "non",
)


_DECLINE_ANCHORS = re.compile(words_pattern(_DECLINE_WORDS))


def find_decline(text: str) -> str | None:
    """The words of a polite refusal ("we do not offer observerships", "no, thank you"), or None."""
    if not text or not text.strip():
        return None
    if not _DECLINE_ANCHORS.search(lower(text)):
        return None
    text = normalise(text)
    match = _DECLINE.search(text)
    if match is None or _OPEN_DOOR.search(text):
        return None
    return sentence_around(text, match.start(), match.end())
