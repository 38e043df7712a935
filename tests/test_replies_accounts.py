"""Two mailboxes read into one database: a message is known by its account as well as its
folder, UIDVALIDITY and UID. Two accounts' INBOXes created in the same second share a
UIDVALIDITY (Dovecot takes the time), so UID 1 of one must not hide UID 1 of the other."""

from __future__ import annotations

from outreach.db import open_db, utc_now
from outreach.mail.imap import FetchedHeader, HeaderFields
from outreach.replies.matching import find_candidates
from outreach.replies.store import Mailbox


def test_a_uid_already_stored_for_one_account_is_still_new_in_another(tmp_path):
    db = open_db(tmp_path / "outreach.db")
    db.table("replies").insert({"account": "plain@example.com", "folder": "INBOX", "uidvalidity": 1764460000, "uid": 1,
                                "kind": "human_reply", "created_at": utc_now()})
    header = FetchedHeader(1, HeaderFields(b"From: Dr. Funmi Bello <bello@alumni.example.org>\r\n"
                                           b"Message-ID: <fwd-1@alumni.example.org>\r\nSubject: Fwd: hello\r\n\r\n"))
    sent_to = {"bello@alumni.example.org"}
    work = Mailbox("work@example.edu", "INBOX", 1764460000)
    assert find_candidates(db, work, [header], frozenset({"work@example.edu"}), sent_to) == [header]
    plain = Mailbox("plain@example.com", "INBOX", 1764460000)
    assert find_candidates(db, plain, [header], frozenset({"plain@example.com"}), sent_to) == []  # that one is stored
