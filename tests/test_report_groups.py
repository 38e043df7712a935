"""Grouping rules on a small hand-made history: follow-ups (step >= 1, which the follow-up stage
queues; written here as rows the way it stores them), weeks, tags, domains and sources."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from outreach.contacts.store import add_tags
from outreach.db import open_db, utc_now
from outreach.reports.report import build_report

MONDAY = datetime(2026, 3, 2, 14, 0, tzinfo=timezone.utc)


@pytest.fixture
def db(hermetic):
    db = open_db("outreach.db")
    now = utc_now()
    db.execute("INSERT INTO campaigns (id, name, template, status, created_at) VALUES (1, 'spring', 'hello', 'active', ?)", [now])
    for n, (tags, source) in enumerate([(["a", "b"], "x.csv"), (["a"], "x.csv"), ([], "y.csv"), (["b"], None)], start=1):
        db.execute("INSERT INTO contacts (id, email, source, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
                   [n, f"d{n}@h{n % 2}.example.org", source, now, now])
        add_tags(db, n, tags)
    db.conn.commit()
    return db


def message(db, mid: int, contact: int, step: int, sent: datetime, template: str, state: str = "sent") -> None:
    db.execute(
        """INSERT INTO messages (id, campaign_id, contact_id, step, template, to_address, to_domain, message_id, state,
                                 queued_at, sent_at, updated_at, kind) VALUES (?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        [mid, contact, step, template, f"d{contact}@h{contact % 2}.example.org", f"h{contact % 2}.example.org",
         f"<m{mid}@x>", state, utc_now(sent), utc_now(sent), utc_now(sent), "followup" if step else "campaign"])


def reply(db, rid: int, mid: int, contact: int, hours: float, kind: str = "human_reply") -> None:
    sent = db.execute("SELECT sent_at FROM messages WHERE id = ?", [mid]).fetchone()[0]
    received = datetime.fromisoformat(sent) + timedelta(hours=hours)
    db.execute("""INSERT INTO replies (id, message_id, contact_id, campaign_id, folder, uidvalidity, uid, kind, received_at,
                                      seconds_to_reply, created_at) VALUES (?, ?, ?, 1, 'INBOX', 1, ?, ?, ?, ?, ?)""",
               [rid, mid, contact, rid, kind, utc_now(received), int(hours * 3600) if kind != "auto_reply" else None, utc_now()])


@pytest.fixture
def history(db):
    """d1: first email (Mon wk1), follow-up (Thu wk1), answers the follow-up after 4 h, then again.
    d2: first email, follow-up (Mon wk2), answers the first email after 30 h.
    d3: first email, bounced. d4: first email, follow-up with another template, no answer."""
    message(db, 1, 1, 0, MONDAY, "hello")
    message(db, 2, 1, 1, MONDAY + timedelta(days=3), "nudge")
    message(db, 3, 2, 0, MONDAY, "hello")
    message(db, 4, 2, 1, MONDAY + timedelta(days=7), "nudge")
    message(db, 5, 3, 0, MONDAY + timedelta(hours=1), "hello", state="bounced")
    message(db, 6, 4, 0, MONDAY + timedelta(hours=2), "hello")
    message(db, 7, 4, 1, MONDAY + timedelta(days=7), "hello")
    message(db, 8, 4, 2, MONDAY + timedelta(days=9), "nudge", state="queued")  # not sent: never counted
    reply(db, 1, 2, 1, 4)
    reply(db, 2, 2, 1, 20)  # a second answer in the same thread: still one replied thread
    reply(db, 3, 3, 2, 30)
    reply(db, 4, 6, 4, 1, kind="auto_reply")
    db.conn.commit()
    return db


def groups(db, by):
    return {g["group"]: g for g in build_report(db, by=by).to_json()["groups"]}


def test_without_grouping_threads_count_once(history):
    [all_] = groups(history, None).values()
    assert (all_["contacted"], all_["delivered"], all_["bounced"], all_["replied"], all_["auto_replied"]) == (4, 3, 1, 2, 1)
    assert all_["replied_after_step"] == {"0": 1, "1": 1}  # d2 after the first email, d1 after the follow-up
    assert all_["median_seconds_to_reply"] == (4 + 30) / 2 * 3600


def test_by_step_a_reply_counts_for_the_message_it_answered(history):
    rows = groups(history, "step")
    assert list(rows) == [0, 1]
    assert (rows[0]["contacted"], rows[0]["delivered"], rows[0]["replied"], rows[0]["label"]) == (4, 3, 1, "first email")
    assert (rows[1]["contacted"], rows[1]["delivered"], rows[1]["replied"], rows[1]["label"]) == (3, 3, 1, "follow-up 1")
    assert rows[1]["median_seconds_to_reply"] == 4 * 3600  # from the follow-up it answered, first answer only


def test_by_template_and_week_count_messages(history):
    rows = groups(history, "template")
    assert {k: (g["contacted"], g["replied"]) for k, g in rows.items()} == {"hello": (5, 1), "nudge": (2, 1)}
    weeks = groups(history, "week")
    assert {k: (g["contacted"], g["replied"], g["label"]) for k, g in weeks.items()} == {
        "2026-03-02": (5, 2, "week of 2026-03-02"), "2026-03-09": (2, 0, "week of 2026-03-09")}  # d1 and d2 answered week-1 mail


def test_by_tag_domain_and_source(history):
    history.execute("UPDATE contacts SET referred_by = 2 WHERE id = 1")
    history.conn.commit()
    assert build_report(history, by="tag").warm_vs_cold is None  # d1 has two tags: summing groups would count it twice
    warm = build_report(history, by="source").warm_vs_cold
    assert (warm.a, warm.b) == ("warm (introduced) contacts", "cold contacts")  # 1 of 1 warm against 1 of 2 cold
    history.execute("UPDATE contacts SET introduced_by = 1 WHERE id = 2")  # the column of the introductions stage (m080)
    history.conn.commit()
    [all_] = groups(history, None).values()
    assert (all_["warm"]["contacted"], all_["warm"]["replied"]) == (2, 2)  # d1 referred, d2 introduced
    tags = groups(history, "tag")
    assert {k: (g["contacted"], g["replied"]) for k, g in tags.items()} == {"a": (2, 2), "b": (2, 1), "(none)": (1, 0)}
    domains = groups(history, "domain")
    assert {k: g["contacted"] for k, g in domains.items()} == {"h1.example.org": 2, "h0.example.org": 2}
    sources = groups(history, "source")
    assert {k: (g["contacted"], g["bounced"]) for k, g in sources.items()} == {"x.csv": (2, 0), "y.csv": (1, 1), "(none)": (1, 0)}


def test_since_keeps_only_messages_sent_from_that_day(history):
    [late] = build_report(history, since=MONDAY + timedelta(days=5)).to_json()["groups"]
    assert (late["contacted"], late["replied"]) == (2, 0)  # d2 and d4's week-2 follow-ups; nobody answered those
