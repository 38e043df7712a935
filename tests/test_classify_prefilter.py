"""The opt-out pattern's cheap word check must never hide a match from it."""

from __future__ import annotations

import re
import warnings

import pytest

from outreach.classify.optout import _LANGUAGES, _WORDS, _may_match, find_opt_out

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import sre_constants as C
    import sre_parse


def _literal_strings(items) -> set[str] | None:
    """The strings a run of literals (and alternations of literals) can match; None otherwise."""
    out = {""}
    for op, av in items:
        if op is C.LITERAL:
            out = {s + chr(av) for s in out}
        elif op in (C.AT, C.ASSERT, C.ASSERT_NOT):
            continue  # zero-width: the characters on either side are contiguous
        elif op is C.SUBPATTERN:
            inner = _literal_strings(list(av[-1]))
            if inner is None:
                return None
            out = {s + i for s in out for i in inner}
        elif op is C.BRANCH:
            alternatives = [_literal_strings(list(b)) for b in av[1]]
            if any(a is None for a in alternatives):
                return None
            out = {s + i for s in out for a in alternatives for i in a}
        else:
            return None
    return out


def _needs_a_word(items, words: list[str]) -> bool:
    """True when every match of this sequence contains one of `words` (judged soundly: only
    text the sequence must match counts; optional parts and character classes end a run)."""
    runs, current = [], {""}
    for op, av in items:
        strings = _literal_strings([(op, av)])
        if strings is not None and len(current) * len(strings) <= 500:
            current = {c + s for c in current for s in strings}
            continue
        runs.append(current)
        current = {""}
        if op is C.SUBPATTERN and _needs_a_word(list(av[-1]), words):
            return True
        if op is C.BRANCH and all(_needs_a_word(list(b), words) for b in av[1]):
            return True
        if op in (C.MAX_REPEAT, C.MIN_REPEAT) and av[0] >= 1 and _needs_a_word(list(av[2]), words):
            return True
    runs.append(current)
    return any(all(any(w in s.lower() for w in words) for s in run) for run in runs)


def _alternatives(pattern) -> list:
    items = list(sre_parse.parse(pattern.pattern, pattern.flags))
    # The parser factors a prefix shared by every alternative (often "\\b") out of the branch.
    if items and items[-1][0] is C.BRANCH:
        return [items[:-1] + list(branch) for branch in items[-1][1][1]]
    return [items]


def _uncovered(language: str, words: list[str]) -> list[str]:
    rules = next(rules for name, rules, _ in _LANGUAGES if name == language)
    return [name for name, pattern in rules for branch in _alternatives(pattern) if not _needs_a_word(list(branch), words)]


@pytest.mark.parametrize("language", [name for name, _, _ in _LANGUAGES])
def test_every_opt_out_rule_contains_one_of_the_words_checked_first(language):
    assert _uncovered(language, [w.lower() for w in _WORDS[language]]) == []


def test_every_refusal_phrase_contains_one_of_the_words_checked_first():
    from outreach.classify.declines import _DECLINE, _DECLINE_WORDS

    words = [w.lower() for w in _DECLINE_WORDS]
    assert [b for b in _alternatives(_DECLINE) if not _needs_a_word(list(b), words)] == []


@pytest.mark.parametrize("name", ["_ACK_STRONG", "_ACK_WEAK"])
def test_every_acknowledgement_phrase_contains_one_of_the_words_checked_first(name):
    from outreach.classify import acknowledgements

    words = [w.lower() for w in acknowledgements._ACK_WORDS]
    assert [b for b in _alternatives(getattr(acknowledgements, name)) if not _needs_a_word(list(b), words)] == []


@pytest.mark.parametrize("seed", range(5))
def test_the_anchor_patterns_find_exactly_what_a_word_search_finds(seed):
    import random

    from outreach.classify.optout import _ANCHORS, _ANY_ANCHOR

    rng = random.Random(seed)
    everything = [w for words in _WORDS.values() for w in words]
    for _ in range(300):
        text = " ".join(rng.choice(everything + ["x", "the", "of", "n", "s"])[: rng.randint(1, 8)] for _ in range(rng.randint(1, 6)))
        assert bool(_ANY_ANCHOR.search(text)) == any(w in text for w in everything), text
        for language, words in _WORDS.items():
            assert bool(_ANCHORS[language].search(text)) == any(w in text for w in words), (language, text)


def test_every_one_line_request_contains_an_anchor_word():
    everything = [w.lower() for words in _WORDS.values() for w in words]
    for _, _, one_liner in _LANGUAGES:
        assert [b for b in _alternatives(one_liner) if not _needs_a_word(list(b), everything)] == []


def test_the_check_notices_a_missing_word():
    assert _uncovered("en", [w.lower() for w in _WORDS["en"] if w != "stop"]) != []


@pytest.mark.parametrize(
    "text",
    ["Please STOP emailing me.", "BITTE KEINE E-MAILS MEHR", "NÃO ME ENVIE MAIS", "DELETE MY EMAIL FROM YOUR LIST", "NE M'ÉCRIVEZ PLUS"],
)
def test_case_and_odd_letters_still_reach_the_rules(text):
    assert find_opt_out(text) is not None


def test_an_ordinary_reply_skips_the_rules():
    text = "Thank you for writing. We can host you in May."
    assert not any(_may_match(text.lower(), name) for name, _, _ in _LANGUAGES)
    assert find_opt_out(text) is None


def test_every_out_of_office_phrase_contains_one_of_the_words_checked_first():
    from outreach.classify.autoreply import _OOO_BODY, _OOO_BODY_WORDS

    (op, av), = list(sre_parse.parse(_OOO_BODY.pattern, _OOO_BODY.flags))
    assert op is C.BRANCH
    words = [w.lower() for w in _OOO_BODY_WORDS]
    assert [b for b in av[1] if not _needs_a_word(list(b), words)] == []
