"""The SMTP side through the real STARTTLS + AUTH server: what the server received is the proof."""

from __future__ import annotations

import json
from email import message_from_bytes
from email.policy import default

from outreach import campaigns
from tests.campaign_fixtures import (
    add_contacts, db_open, received_ids, run_send, started_campaign, states, write_template,
)
from tests.mailservers import SMTP_USER


def test_a_campaign_sends_each_contact_once_over_one_connection(mail_env, smtp_server, hermetic):
    write_template(hermetic)
    db = db_open()
    add_contacts(db, 5)
    campaign = started_campaign(db)
    report = run_send(db, campaign)

    assert report.to_json() == {"sent": 5, "failed": 0, "deferred": 0, "uncertain": 0, "skipped": 0, "remaining": 0}
    assert sorted(r.rcpt_tos[0] for r in smtp_server.received) == [f"doc{n}@hospital{n}.example.org" for n in range(1, 6)]
    assert {r.login for r in smtp_server.received} == {SMTP_USER}
    rows = list(db.query("SELECT * FROM messages ORDER BY id"))
    assert [r["message_id"] for r in rows] == received_ids(smtp_server)
    first = rows[0]
    assert first["state"] == "sent" and first["smtp_code"] == 250 and first["sent_at"] and first["attempts"] == 1
    assert first["subject"] == "Observership inquiry — Cardiology at Mercy 1"
    [attachment] = json.loads(first["attachments"])
    assert attachment["name"] == "cv.pdf" and len(attachment["sha256"]) == 64
    message = message_from_bytes(smtp_server.received[0].data, policy=default)
    assert message["Subject"] == first["subject"]
    assert campaigns.get_campaign(db, "spring")["status"] == "done"
    assert {c["stage"] for c in db.query("SELECT stage FROM contacts")} == {"contacted"}


def test_a_second_run_sends_nothing_again(mail_env, smtp_server, hermetic):
    write_template(hermetic)
    db = db_open()
    add_contacts(db, 3)
    campaign = started_campaign(db)
    run_send(db, campaign)
    again = run_send(db, campaign)
    assert again.sent == 0 and len(smtp_server.received) == 3


def test_limit_caps_the_run_and_the_next_run_continues(mail_env, smtp_server, hermetic):
    write_template(hermetic)
    db = db_open()
    add_contacts(db, 5)
    campaign = started_campaign(db)
    first = run_send(db, campaign, limit=2)
    assert (first.sent, first.remaining) == (2, 3)
    second = run_send(db, campaign)
    assert (second.sent, second.remaining) == (3, 0)
    assert len(set(received_ids(smtp_server))) == 5 == len(smtp_server.received)
