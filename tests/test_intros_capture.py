"""What counts as an introduction (and what does not), the answer's crash safety, and the ask's
paragraph on its own."""

from __future__ import annotations

import pytest

from outreach.errors import MailServerError
from outreach.intros import answer as answer_module
from outreach.intros.ask import forwardable_paragraph
from outreach.intros.run import draft_intros
from outreach.replies.poll import poll
from tests.test_followups_flow import append, mailbox, settings
from tests.test_intros_flow import BELLO, CHEN, EZE, asked, at, first_message  # noqa: F401
from tests.test_replies import reply


def introductions(db) -> dict[str, str]:
    return dict(db.execute("SELECT c.email, i.how FROM introductions i JOIN contacts c ON c.id = i.contact_id").fetchall())


def test_an_address_named_in_the_reply_is_the_introduction(asked, imap_account):
    db, _first, _second = asked
    append(imap_account, reply(first_message(db, BELLO), "Of course. Write to Dr. Sam Patel (sam.patel@mercyheart.example.org) "
                               "and mention my name.\n\nFunmi", sender=f"Dr. Funmi Bello <{BELLO}>", when=at(3)))
    poll(db, settings(), now=at(3, 16))
    assert introductions(db) == {"sam.patel@mercyheart.example.org": "named"}
    row = next(db.query("SELECT c.first_name, c.last_name, c.hospital, a.email AS by FROM contacts c JOIN contacts a "
                        "ON a.id = c.introduced_by WHERE c.email = 'sam.patel@mercyheart.example.org'"))
    assert (row["first_name"], row["last_name"], row["hospital"], row["by"]) == ("Sam", "Patel", "Mercy Heart Institute", BELLO)
    # Named, not copied in: the answer goes To the physician, the alumnus in Bcc, nobody in Cc.
    draft_intros(db, settings(), now=at(3, 17), poll_first=False)
    (draft,) = [m for _f, m in mailbox(imap_account, "Drafts")]
    assert draft["To"].addresses[0].addr_spec == "sam.patel@mercyheart.example.org" and draft["Cc"] is None
    assert [a.addr_spec for a in draft["Bcc"].addresses] == [BELLO]


def test_a_refusal_or_someone_else_copied_in_is_no_introduction(asked, imap_account):
    db, _first, _second = asked
    append(imap_account, reply(first_message(db, EZE), "I'm afraid I don't know her well enough, sorry. Try my colleague.",
                               sender=f"Dr. Emeka Eze <{EZE}>", cc="Dr. Ken Ade <ken.ade@alumni.example.org>", when=at(3)))
    append(imap_account, reply(first_message(db, BELLO), "Sorry, not possible at the moment.", sender=f"Dr. Funmi Bello <{BELLO}>",
                               when=at(3)))
    poll(db, settings(), now=at(3, 16))
    assert introductions(db) == {}
    assert db.execute("SELECT count(*) FROM intro_requests WHERE status = 'asked'").fetchone()[0] == 2
    assert db.execute("SELECT email FROM suggested_contacts").fetchall() == [("ken.ade@alumni.example.org",)]  # offered, as before
    assert db.execute("SELECT introduced_by FROM contacts WHERE email = ?", [CHEN]).fetchone()[0] is None


def test_a_crash_between_recording_and_saving_an_answer_is_finished_without_a_duplicate(asked, imap_account, monkeypatch):
    db, _first, _second = asked
    append(imap_account, reply(first_message(db, EZE), "Maria, meet Ada.", sender=f"Dr. Emeka Eze <{EZE}>",
                               cc=f"Dr. Maria Chen <{CHEN}>", when=at(3)))
    poll(db, settings(), now=at(3, 16))

    real, calls = answer_module.save_draft, []

    def broken(settings_, raw, *, client=None):
        calls.append(1)
        if len(calls) == 1:
            raise MailServerError("connection dropped", host="127.0.0.1", port=1)
        return real(settings_, raw, client=client)

    monkeypatch.setattr(answer_module, "save_draft", broken)
    with pytest.raises(MailServerError):
        draft_intros(db, settings(), now=at(3, 17), poll_first=False)
    assert mailbox(imap_account, "Drafts") == []
    report = draft_intros(db, settings(), now=at(3, 18), poll_first=False)
    assert report.resumed == 1 and report.answers == []
    assert draft_intros(db, settings(), now=at(3, 19), poll_first=False).resumed == 0
    assert len(mailbox(imap_account, "Drafts")) == 1


def test_the_forwardable_paragraph_is_found_plain_indented_or_quoted():
    for lead in ("", "    ", "> "):
        text = f"Dear Dr. Eze,\n\nHere is a paragraph you can forward as it is:\n\n{lead}Dr. Chen, may I introduce Ada Obi,\n{lead}an IMG.\n\nThanks"
        assert forwardable_paragraph(text) == "Dr. Chen, may I introduce Ada Obi, an IMG."
    assert forwardable_paragraph("Dear Dr. Eze,\n\nNo paragraph here.") is None
