"""The header pre-filter: which headers alone make a message worth fetching as a possible bounce."""

from __future__ import annotations

import pytest

from outreach.mail.imap import HeaderFields
from outreach.replies.matching import looks_like_bounce


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


def test_a_null_return_path_or_a_daemon_sender_is_enough():
    assert looks_like_bounce(HeaderFields(b"From: a@example.org\r\nReturn-Path: <>\r\nSubject: Hi\r\n\r\n"))
    assert looks_like_bounce(HeaderFields(b"From: MAILER-DAEMON@mx.example.org\r\nSubject: Hi\r\n\r\n"))
