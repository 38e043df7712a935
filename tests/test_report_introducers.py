"""`outreach report --by introducer` on a small hand-made history, figures worked out by hand:
one group per person who introduced (or referred) contacts, one for the alumni asked, one for the
cold contacts; the same columns, intervals and outputs as every other grouping, and the same
people warm or cold as `outreach intros report`."""

from __future__ import annotations

import csv
import json
from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner

from outreach.cli import cli
from outreach.db import open_db, utc_now
from outreach.reports import stats
from outreach.reports.introducers import intros_report
from outreach.reports.report import build_report

MONDAY = datetime(2026, 3, 2, 14, 0, tzinfo=timezone.utc)
EZE, BELLO = "eze@alumni.example.org", "bello@alumni.example.org"


def contact(db, cid: int, email: str, *, first: str = "", last: str = "", title: str = "", **fields) -> None:
    db.execute("INSERT INTO contacts (id, email, title, first_name, last_name, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
               [cid, email, title or None, first or None, last or None, utc_now(MONDAY), utc_now(MONDAY)])
    if fields:
        db.table("contacts").update(cid, fields)


def sent(db, mid: int, campaign: int | None, cid: int, *, state: str = "sent", kind: str = "campaign", day: int = 0) -> None:
    at = utc_now(MONDAY + timedelta(days=day))
    email = db.execute("SELECT email FROM contacts WHERE id = ?", [cid]).fetchone()[0]
    db.execute("""INSERT INTO messages (id, campaign_id, contact_id, step, template, to_address, to_domain, message_id, state,
                                        queued_at, sent_at, updated_at, kind) VALUES (?, ?, ?, 0, 't', ?, ?, ?, ?, ?, ?, ?, ?)""",
               [mid, campaign, cid, email, email.split("@")[1], f"<m{mid}@x>", state, at, at, at, kind])


def replied(db, rid: int, mid: int, cid: int, hours: float) -> None:
    at = datetime.fromisoformat(db.execute("SELECT sent_at FROM messages WHERE id = ?", [mid]).fetchone()[0]) + timedelta(hours=hours)
    db.execute("""INSERT INTO replies (id, message_id, contact_id, folder, uidvalidity, uid, kind, received_at, seconds_to_reply,
                                      created_at) VALUES (?, ?, ?, 'INBOX', 1, ?, 'human_reply', ?, ?, ?)""",
               [rid, mid, cid, rid, utc_now(at), int(hours * 3600), utc_now(at)])
    db.execute("UPDATE contacts SET replied_at = ?, stage = 'replied' WHERE id = ?", [utc_now(at), cid])


@pytest.fixture
def history(hermetic):
    """Cold: c1 (replied in 2 h), c2 (bounced), c3, c4 (replied in 6 h), all in `spring`.
    Alumni asked: Dr. Eze (answered: the introduction) and Dr. Bello (no answer), each their own ask campaign.
    Introduced by Eze: Chen (our answer to the introduction replied in 1 h; later an offer) and Kim
    (answered in 3 h). Introduced by Bello: Patel (no reply). Referred by c1: Lee (written in `spring`, no reply)."""
    db = open_db("outreach.db")
    now = utc_now(MONDAY)
    for cid, name in ((1, "spring"), (2, "intro-eze"), (3, "intro-bello")):
        db.execute("INSERT INTO campaigns (id, name, template, status, created_at) VALUES (?, ?, 't', 'active', ?)", [cid, name, now])
    for n in range(1, 5):
        contact(db, n, f"c{n}@mercy.example.org", title="Dr.", first=f"Cold{n}", last="Doe")
    contact(db, 10, EZE, title="Dr.", first="Emeka", last="Eze")
    contact(db, 11, BELLO)  # no name: the address is the label
    contact(db, 20, "chen@ucsf.example.edu", introduced_by=10, outcome="offer")
    contact(db, 21, "kim@ucsf.example.edu", introduced_by=10)
    contact(db, 22, "patel@mercy.example.org", introduced_by=11)
    contact(db, 23, "lee@nyu.example.org", referred_by=1)
    for rid, (alumnus, campaign) in enumerate(((10, 2), (11, 3)), start=1):
        db.execute("INSERT INTO intro_requests (id, alumnus_id, campaign_id, status, created_at) VALUES (?, ?, ?, 'asked', ?)",
                   [rid, alumnus, campaign, now])
    for mid, cid, state in ((1, 1, "sent"), (2, 2, "bounced"), (3, 3, "sent"), (4, 4, "sent"), (5, 23, "sent")):
        sent(db, mid, 1, cid, state=state)
    sent(db, 6, 2, 10)
    sent(db, 7, 3, 11)
    for mid, cid, introducer in ((8, 20, 10), (9, 21, 10), (10, 22, 11)):  # our answers to the introductions
        sent(db, mid, None, cid, kind="intro_answer", day=2)
        db.execute("INSERT INTO introductions (contact_id, introducer_id, request_id, how, received_at) VALUES (?, ?, ?, 'cc', ?)",
                   [cid, introducer, 1 if introducer == 10 else 2, utc_now(MONDAY + timedelta(days=1))])
    replied(db, 1, 1, 1, 2)
    replied(db, 2, 4, 4, 6)
    replied(db, 3, 6, 10, 24)
    replied(db, 4, 8, 20, 1)
    replied(db, 5, 9, 21, 3)
    db.execute("INSERT INTO contact_outcomes (contact_id, outcome, at) VALUES (20, 'offer', ?)", [now])
    db.conn.commit()
    return db


def figures(group: dict) -> tuple:
    return group["contacted"], group["delivered"], group["bounced"], group["replied"]


def test_one_group_per_introducer_with_the_alumni_and_the_cold_apart(history):
    report = build_report(history, by="introducer")
    rows = {g.group: g for g in report.groups}
    assert {k: figures(g.to_json()) for k, g in rows.items()} == {
        EZE: (2, 2, 0, 2),            # Chen and Kim both answered our answer to their introduction
        BELLO: (1, 1, 0, 0),          # Patel
        "c1@mercy.example.org": (1, 1, 0, 0),  # Lee, whom c1 referred
        "alumni": (2, 2, 0, 1),       # the asks: Eze answered with the introduction
        "cold": (4, 3, 1, 2),         # c1-c4: c2 bounced, c1 and c4 replied
    }
    assert [g.group for g in report.groups] == ["cold", "alumni", EZE, BELLO, "c1@mercy.example.org"]  # most contacted first
    assert {k: g.label for k, g in rows.items()} == {
        EZE: "Dr. Emeka Eze", BELLO: BELLO, "c1@mercy.example.org": "Dr. Cold1 Doe",
        "alumni": "alumni asked", "cold": "cold (no introducer)"}
    eze = rows[EZE].to_json()
    assert (eze["reply_rate_low"], eze["reply_rate_high"]) == pytest.approx(stats.wilson(2, 2), abs=1e-6)
    assert (eze["median_seconds_to_reply"], eze["replied_after_step"]) == (2 * 3600, {"0": 2})  # 1 h and 3 h
    assert eze["funnel"]["offer"] == 1 and eze["warm"] == {"contacted": 2, "delivered": 2, "replied": 2, "reply_rate": 1.0}
    assert rows["cold"].warm.contacted == 0 and rows["alumni"].warm.contacted == 0
    # Every thread is in exactly one group: the groups add up to the report without --by.
    [everything] = build_report(history).groups
    assert sum(g.contacted for g in report.groups) == everything.contacted == 10
    assert sum(g.replied for g in report.groups) == everything.replied == 5
    # Warm (Chen, Kim, Patel, Lee: 2 of 4 replied) against the rest (c1-c4 and the asks: 3 of 5), summed over the groups.
    assert report.warm_vs_cold is not None
    assert report.warm_vs_cold.probability == pytest.approx(stats.prob_greater(3, 5, 2, 4), abs=1e-6)


def test_the_same_people_are_warm_as_in_intros_report(history):
    by_intro = {g.group: g for g in build_report(history, by="introducer").groups}
    warm = sum(g.warm.contacted for g in by_intro.values())
    figures_ = intros_report(history)
    assert figures_["warm"] == {"contacted": warm, "replied": 2, "reply_rate": 0.5, "positive": 1}  # Chen, Kim, Patel, Lee
    assert figures_["cold"] == {"contacted": 4, "replied": 2, "reply_rate": 0.5, "positive": 0}  # the alumni are neither
    eze = next(a for a in figures_["introducers"] if a["introducer"] == EZE)
    assert (eze["name"], eze["asked"], eze["introductions"], eze["positive"]) == ("Dr. Emeka Eze", 1, 2, 1)


def test_json_csv_html_and_text(history, tmp_path):
    runner = CliRunner()
    out = runner.invoke(cli, ["report", "--by", "introducer", "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert data["by"] == "introducer" and [g["group"] for g in data["groups"]][:2] == ["cold", "alumni"]
    assert any(c["a"] == "Dr. Emeka Eze" for c in data["comparisons"])  # Eze's 2 of 2 is the best rate
    assert runner.invoke(cli, ["report", "--by", "introducer", "--csv", str(tmp_path / "r.csv")]).exit_code == 0
    with (tmp_path / "r.csv").open(encoding="utf-8-sig") as handle:
        rows = {r["group"]: r for r in csv.DictReader(handle)}
    assert (rows["Dr. Emeka Eze"]["contacted"], rows["Dr. Emeka Eze"]["replied"], rows["Dr. Emeka Eze"]["funnel_offer"]) == ("2", "2", "1")
    assert rows["cold (no introducer)"]["bounced"] == "1"
    assert runner.invoke(cli, ["report", "--by", "introducer", "--html", str(tmp_path / "r.html")]).exit_code == 0
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "Dr. Emeka Eze" in page and "cold (no introducer)" in page
    text = runner.invoke(cli, ["report", "--by", "introducer"])
    assert text.exit_code == 0 and "Dr. Emeka Eze" in text.stdout and "by introducer" in text.stdout
    assert "introducer" in runner.invoke(cli, ["report", "--help"]).stdout
