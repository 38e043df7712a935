"""The SMTP side through the real STARTTLS + AUTH server: what the server received is the proof."""

from __future__ import annotations

import json
from email import message_from_bytes
from email.policy import default

from outreach.sending import campaigns
from tests.campaign_fixtures import (
    add_contacts,
    db_open,
    received_ids,
    run_send,
    started_campaign,
    states,
    write_template,
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


def test_a_stop_request_ends_the_run_after_the_current_message_and_leaves_the_rest_queued(mail_env, smtp_server, hermetic):
    import asyncio

    write_template(hermetic)
    db = db_open()
    add_contacts(db, 5)
    campaign = started_campaign(db)
    stop = asyncio.Event()

    def progress(info):
        if info["sent"] == 2:
            stop.set()

    report = run_send(db, campaign, progress=progress, stop=stop)
    assert report.sent == 2 and "Ctrl-C" in report.stopped
    assert sorted(states(db, campaign).values()) == ["queued"] * 3 + ["sent"] * 2
    assert db.execute("SELECT sum(attempts) FROM messages").fetchone()[0] == 2
    assert run_send(db, campaign).sent == 3 and len(smtp_server.received) == 5


def test_ctrl_c_stops_a_live_cli_run_cleanly(mail_env, smtp_server, hermetic):
    import os
    import signal
    import subprocess
    import sys
    import time

    write_template(hermetic)
    db = db_open()
    add_contacts(db, 3)
    started_campaign(db)
    process = subprocess.Popen([sys.executable, "-m", "outreach", "campaign", "send", "spring", "--live", "--gap", "3"],
                               env={**os.environ}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while not smtp_server.received and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=20)
    assert process.returncode == 130, err.decode()  # INTERFACE.md: Ctrl-C after a clean stop
    assert "Stopped" in out.decode() and len(smtp_server.received) == 1
    assert sorted(states(db, {"id": 1}).values()) == ["queued", "queued", "sent"]


def test_cc_from_the_template_is_in_the_envelope_and_the_date_is_the_send_time(mail_env, smtp_server, hermetic):
    from email.utils import parsedate_to_datetime

    from tests.campaign_fixtures import START

    write_template(hermetic, text="---\nsubject: Hello {{ hospital }}\ncc: Advisor <advisor@school.example.edu>\n---\nDear {{ salutation }},\n")
    db = db_open()
    add_contacts(db, 1)
    report = run_send(db, started_campaign(db))
    assert report.sent == 1
    [received] = smtp_server.received
    assert received.rcpt_tos == ["doc1@hospital1.example.org", "advisor@school.example.edu"]
    assert parsedate_to_datetime(received.message["Date"]) == START  # stamped when sent, not when frozen
