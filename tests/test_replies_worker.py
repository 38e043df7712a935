"""Big polls classify in a forked worker; a worker that dies must cost nothing but time."""

from __future__ import annotations

import os

from outreach.replies import poll as replies
from outreach.replies.poll import poll
from tests.test_replies import NOW, _five_replies, db, replies_rows, settings  # noqa: F401  (db is a fixture)

PARENT = os.getpid()
_real_classify_many = replies.classify_many
_in_parent: list[int] = []


def _dies_in_worker(raws, today):
    """classify_many that kills any worker process it runs in, and works in the poll's own."""
    if os.getpid() != PARENT:
        os._exit(1)
    _in_parent.append(len(raws))
    return _real_classify_many(raws, today)


def test_a_poll_in_several_batches_classifies_in_a_worker_with_the_same_result(db, smtp_server, certs, imap_account):
    _five_replies(db, smtp_server, certs, imap_account)
    result = poll(db, settings(), now=NOW, batch_size=2)
    assert result.to_json() == {"fetched": 5, "matched": 5, "human_reply": 5, "auto_reply": 0, "bounce": 0, "unsubscribe": 0}
    assert [r["uid"] for r in replies_rows(db)] == [1, 2, 3, 4, 5]


def test_a_worker_that_dies_leaves_classification_to_the_poll_itself(db, smtp_server, certs, imap_account, monkeypatch):
    _five_replies(db, smtp_server, certs, imap_account)
    monkeypatch.setattr(replies, "classify_many", _dies_in_worker)
    result = poll(db, settings(), now=NOW, batch_size=2)
    assert result.to_json()["matched"] == 5 and result.to_json()["human_reply"] == 5
    assert sorted(r["uid"] for r in replies_rows(db)) == [1, 2, 3, 4, 5]
    assert sum(_in_parent) == 5  # every reply was classified here once the worker was gone
