"""The header pre-filter's cheap subject check must never hide a bounce subject from the regex."""

from __future__ import annotations

import pytest

from outreach.replies import _BOUNCE_SUBJECT, _BOUNCE_SUBJECT_WORDS, _may_be_bounce_subject, looks_like_bounce
from outreach.mailbox import HeaderFields
from tests.test_classify_prefilter import C, _needs_a_word, sre_parse


def test_every_bounce_subject_alternative_contains_one_of_the_words_checked_first():
    (op, av), = list(sre_parse.parse(_BOUNCE_SUBJECT.pattern, _BOUNCE_SUBJECT.flags))
    assert op is C.BRANCH
    words = [w.lower() for w in _BOUNCE_SUBJECT_WORDS]
    assert [b for b in av[1] if not _needs_a_word(list(b), words)] == []


@pytest.mark.parametrize(
    ("subject", "bounce"),
    [
        ("Undelivered Mail Returned to Sender", True),
        ("Delivery Status Notification (Failure)", True),
        ("Mail delivery failed: returning message to sender", True),
        ("NON-DELIVERY of: Observership", True),
        ("Unzustellbar: Anfrage", True),
        ("Re: Observership inquiry", False),
        ("Newsletter 12", False),
    ],
)
def test_bounce_subjects_are_recognised_from_the_header_alone(subject, bounce):
    header = HeaderFields(f"From: someone@example.org\r\nSubject: {subject}\r\n\r\n".encode())
    assert looks_like_bounce(header) is bounce
    assert _may_be_bounce_subject(subject) or not _BOUNCE_SUBJECT.search(subject)
