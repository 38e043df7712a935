"""The report end to end, through the real paths: contacts imported from CSV, campaigns sent
live to the SMTP fixture, answers appended to the Dovecot fixture and read by `replies poll`,
outcomes set with `contacts outcome` and `replies review`. Every figure is checked against
numbers worked out by hand from the story below.

The story (9 threads):
  spring (template hello): a1 replies after 2 h, a2 declines after 5 h (copying in c1),
                           a3 is out of the office, a4 bounces (hard);
  summer (template ask):   b1 asks for a call after 10 h, b2 opts out, b3 and b4 are silent;
  intro  (template hello): c1, whom a2 suggested (warm), replies after 1 h.
Outcomes: a1 positive -> offer -> completed -> lor_received; b1 call; a2 declined (review).
"""

from __future__ import annotations

import json
import math
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from outreach.cli import cli
from outreach.db import open_db, parse_utc
from tests.campaign_fixtures import write_template
from tests.test_replies import Sent, append, dsn, reply

TEMPLATE = """\
---
subject: Observership inquiry
---
Dear {{ salutation }},

I would like to ask about an observership.

{{ sender.name }}
"""

CONTACTS = """\
Email,First Name,Last Name,Title,Specialty,State,Hospital
a1@mercy.example.org,Ann,One,Dr.,Cardiology,OH,Mercy
a2@mercy.example.org,Amy,Two,Dr.,Cardiology,OH,Mercy
a3@lake.example.org,Ali,Three,Dr.,Cardiology,OH,Lake
a4@gone.example.org,Abe,Four,Dr.,Cardiology,OH,Gone
b1@nyu.example.org,Ben,One,Dr.,Neurology,NY,NYU
b2@nyu.example.org,Bea,Two,Dr.,Neurology,NY,NYU
b3@mount.example.org,Bob,Three,Dr.,Neurology,NY,Mount
b4@mount.example.org,Bill,Four,Dr.,Neurology,NY,Mount
"""

HOUR = 3600


def outreach(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def outreach_json(*args: str):
    return json.loads(outreach(*args, "--json"))


def sent_message(db, email: str) -> Sent:
    row = next(db.query(
        """SELECT m.id, m.message_id, m.to_address, m.subject, m.contact_id FROM messages m
           JOIN contacts c ON c.id = m.contact_id WHERE c.email = ?""", [email]))
    return Sent(row["message_id"], row["to_address"], row["subject"], row["id"], row["contact_id"])


def answer(db, account, email: str, body: str, *, hours: float | None = None, **kwargs) -> None:
    """Append the contact's answer to the mailbox, written `hours` after our message went out."""
    sent = sent_message(db, email)
    sent_at = parse_utc(db.execute("SELECT sent_at FROM messages WHERE id = ?", [sent.row_id]).fetchone()[0])
    when = sent_at + timedelta(hours=hours if hours is not None else 1)
    append(account, reply(sent, body, when=when, **kwargs))


def send(name: str) -> None:
    outreach("campaign", "send", name, "--live", "--no-limit", "--yes")


@pytest.fixture
def story(mail_env, smtp_server, imap_account, hermetic: Path):
    """The database of the story above, built through the commands a user runs."""
    write_template(hermetic, "hello", TEMPLATE)
    write_template(hermetic, "ask", TEMPLATE)
    (hermetic / "contacts.csv").write_text(CONTACTS, encoding="utf-8")
    outreach("contacts", "import", "contacts.csv", "--tag", "physicians")
    outreach("campaign", "create", "spring", "--template", "hello", "--tag", "physicians", "--where", "specialty=Cardiology")
    outreach("campaign", "create", "summer", "--template", "ask", "--tag", "physicians", "--where", "specialty=Neurology")
    send("spring")
    send("summer")
    assert len(smtp_server.received) == 8
    db = open_db("outreach.db")
    answer(db, imap_account, "a1@mercy.example.org", "Dear Ada,\n\nHappy to host you in May. Send your CV.\n\nAnn", hours=2)
    answer(db, imap_account, "a2@mercy.example.org",
           "Dear Ada,\n\nUnfortunately we do not offer observerships. My colleague Dr. Sam Lee may help.\n\nAmy",
           hours=5, cc="Dr. Sam Lee <c1@mercy.example.org>")
    answer(db, imap_account, "a3@lake.example.org", "I am out of the office until March 30, 2026 with limited access to email.",
           subject="Automatic reply: Observership inquiry", headers={"Auto-Submitted": "auto-replied"})
    append(imap_account, dsn(sent_message(db, "a4@gone.example.org")))
    answer(db, imap_account, "b1@nyu.example.org", "Hello Ada,\n\nPlease call me on Monday, my cell is 555 0100.\n\nBen", hours=10)
    answer(db, imap_account, "b2@nyu.example.org", "Please remove me from your mailing list.", hours=3)
    assert outreach_json("replies", "poll") == {"fetched": 6, "matched": 6, "human_reply": 3, "auto_reply": 1, "bounce": 1, "unsubscribe": 1}
    outreach("replies", "add-suggested", "c1@mercy.example.org", "--tag", "physicians")
    outreach("campaign", "create", "intro", "--template", "hello", "--tag", "physicians", "--where", "email=c1@mercy.example.org")
    send("intro")
    answer(db, imap_account, "c1@mercy.example.org", "Dear Ada,\n\nYes, glad to have you. Amy told me about you.\n\nSam", hours=1)
    assert outreach_json("replies", "poll")["human_reply"] == 1
    for outcome in ("positive", "offer", "completed", "lor_received"):
        outreach("contacts", "outcome", "a1@mercy.example.org", outcome, "--note", f"step {outcome}")
    outreach("contacts", "outcome", "b1@nyu.example.org", "call", "--note", "Monday 4 pm")
    return db


def wilson(k: int, n: int) -> tuple[float, float]:
    """Written out again from the textbook, independently of outreach.reports.stats."""
    z = 1.959963984540054
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def test_the_whole_selection_in_one_group(story):
    [everything] = outreach_json("report")["groups"]
    assert {k: everything[k] for k in ("group", "contacted", "delivered", "bounced", "replied", "auto_replied", "opted_out")} == {
        "group": "all", "contacted": 9, "delivered": 8, "bounced": 1, "replied": 4, "auto_replied": 1, "opted_out": 1}
    assert everything["bounce_rate"] == pytest.approx(1 / 9, abs=1e-6)
    assert everything["reply_rate"] == 0.5
    # 4 of 8 by hand: centre 0.5, half-width 1.96 * sqrt(1/32 + 3.8415/256) / 1.4802 = 0.2848
    assert (everything["reply_rate_low"], everything["reply_rate_high"]) == pytest.approx((0.215213, 0.784787), abs=1e-5)
    assert (everything["reply_rate_low"], everything["reply_rate_high"]) == pytest.approx(wilson(4, 8), abs=1e-6)
    # first replies after 1 h, 2 h, 5 h, 10 h: median (2 + 5) / 2 = 3.5 h; p90 at rank 2.7 = 5 + 0.7 * 5 = 8.5 h
    assert everything["median_seconds_to_reply"] == 3.5 * HOUR
    assert everything["p90_seconds_to_reply"] == pytest.approx(8.5 * HOUR)
    assert everything["replied_after_step"] == {"0": 4}
    assert everything["warm"] == {"contacted": 1, "delivered": 1, "replied": 1, "reply_rate": 1.0}
    assert everything["cold"] == {"contacted": 8, "delivered": 7, "replied": 3, "reply_rate": pytest.approx(3 / 7, abs=1e-6)}
    assert everything["funnel"] == {"contacted": 9, "replied": 4, "positive": 2, "offer": 1, "completed": 1, "letter": 1}


def beta_greater(a1: int, b1: int, a2: int, b2: int, steps: int = 4000) -> float:
    """P(X > Y) by the midpoint rule on a grid, independently of the exact sum in stats.py."""
    def pdf(x: float, a: int, b: int) -> float:
        return x ** (a - 1) * (1 - x) ** (b - 1) * math.gamma(a + b) / (math.gamma(a) * math.gamma(b))
    h = 1 / steps
    cdf_y, total = 0.0, 0.0
    for i in range(steps):
        x = (i + 0.5) * h
        cdf_y += pdf(x, a2, b2) * h / 2
        total += pdf(x, a1, b1) * cdf_y * h
        cdf_y += pdf(x, a2, b2) * h / 2
    return total


def test_by_template_compares_the_two_in_plain_words(story):
    report = outreach_json("report", "--by", "template")
    rows = {g["group"]: g for g in report["groups"]}
    hello, ask = rows["hello"], rows["ask"]
    assert (hello["contacted"], hello["delivered"], hello["bounced"], hello["replied"], hello["auto_replied"]) == (5, 4, 1, 3, 1)
    assert (ask["contacted"], ask["delivered"], ask["bounced"], ask["replied"], ask["opted_out"]) == (4, 4, 0, 1, 1)
    assert (hello["reply_rate_low"], hello["reply_rate_high"]) == pytest.approx(wilson(3, 4), abs=1e-6)
    assert (ask["reply_rate_low"], ask["reply_rate_high"]) == pytest.approx(wilson(1, 4), abs=1e-6)
    # hello's first replies: 1 h, 2 h, 5 h -> median 2 h, p90 at rank 1.8 = 2 + 0.8 * 3 = 4.4 h
    assert (hello["median_seconds_to_reply"], hello["p90_seconds_to_reply"]) == (2 * HOUR, pytest.approx(4.4 * HOUR))
    assert (ask["median_seconds_to_reply"], ask["p90_seconds_to_reply"]) == (10 * HOUR, 10 * HOUR)
    [line] = report["comparisons"]
    p = beta_greater(1 + 3, 1 + 1, 1 + 1, 1 + 3)
    assert line["probability"] == pytest.approx(p, abs=1e-3)
    assert line["within_noise"] is True  # 4 delivered each: too few, whatever the probability
    assert line["text"] == (f"Template hello's true reply rate is higher than ask's with probability {p:.2f}: "
                            "within noise at these counts (only 4 delivered).")
    assert report["warm_vs_cold"] is None  # by message: a thread can be in two groups, so no overall sum here


def test_by_campaign_and_the_campaign_commands(story):
    rows = {g["group"]: g for g in outreach_json("report", "--by", "campaign")["groups"]}
    assert {name: (g["contacted"], g["delivered"], g["replied"], g["opted_out"], g["bounced"]) for name, g in rows.items()} == {
        "spring": (4, 3, 2, 0, 1), "summer": (4, 4, 1, 1, 0), "intro": (1, 1, 1, 0, 0)}
    listed = {c["name"]: c["replies"] for c in outreach_json("campaign", "list")}
    assert listed["spring"]["replied"] == 2 and listed["spring"]["reply_rate"] == pytest.approx(2 / 3, abs=1e-6)
    assert (listed["summer"]["opted_out"], listed["spring"]["bounced"]) == (1, 1)
    text = outreach("campaign", "show", "spring")
    low, high = wilson(2, 3)
    assert "messages:  3 sent, 1 bounced" in text
    assert f"replies:   2 replied (66.7% of 3 delivered, 95%: {low * 100:.1f}%–{high * 100:.1f}%), 0 opted out" in text
    assert "1 replied (25.0% of 4 delivered" in outreach("campaign", "list")


def test_campaign_filter_since_and_warm_against_cold(story):
    [spring] = outreach_json("report", "--campaign", "spring")["groups"]
    assert (spring["contacted"], spring["replied"], spring["funnel"]["letter"]) == (4, 2, 1)
    assert outreach_json("report", "--since", "2999-01-01")["groups"] == []
    report = outreach_json("report", "--by", "state")
    states = {g["group"]: g["contacted"] for g in report["groups"]}
    assert states == {"OH": 5, "NY": 4}  # c1 took Mercy's state from a2, who suggested her
    warm = report["warm_vs_cold"]
    assert warm["a"] == "warm (introduced) contacts" and warm["within_noise"] is True
    assert warm["probability"] == pytest.approx(beta_greater(2, 1, 4, 5), abs=1e-3)


def test_outcomes_lists_show_and_declined_contacts_stay_out_of_new_campaigns(story):
    assert [c["email"] for c in outreach_json("contacts", "list", "--outcome", "lor_received")] == ["a1@mercy.example.org"]
    assert outreach_json("contacts", "show", "b1@nyu.example.org")["outcome"] == "call"
    history = list(story.query("SELECT outcome, note FROM contact_outcomes WHERE contact_id = ? ORDER BY id",
                               [sent_message(story, "a1@mercy.example.org").contact_id]))
    assert [h["outcome"] for h in history] == ["positive", "offer", "completed", "lor_received"]
    result = CliRunner().invoke(cli, ["contacts", "outcome", "a1@mercy.example.org", "hired"])
    assert result.exit_code == 1 and "unknown outcome 'hired'" in result.output
    outreach("contacts", "outcome", "a2@mercy.example.org", "declined", "--note", "no observerships")
    outreach("campaign", "create", "autumn", "--template", "ask", "--tag", "physicians", "--where", "specialty=Cardiology")
    skipped = {s["email"]: s["reason"] for s in outreach_json("campaign", "show", "autumn")["skipped"]}
    assert skipped["a2@mercy.example.org"].startswith("declined earlier")
    outreach("campaign", "create", "again", "--template", "ask", "--where", "email=a2@mercy.example.org")
    named = outreach_json("campaign", "show", "again")
    assert named["would_include"] == 1 and named["skipped"] == []


def test_custom_outcomes_come_from_the_settings(story, monkeypatch):
    monkeypatch.setenv("OUTREACH_OUTCOMES", "interview, waitlisted")
    outreach("contacts", "outcome", "b3@mount.example.org", "waitlisted")
    assert outreach_json("contacts", "show", "b3@mount.example.org")["outcome"] == "waitlisted"


def test_review_lists_untriaged_replies_and_triage_records_outcomes(story, monkeypatch, imap_account):
    items = outreach_json("replies", "review")
    # oldest first: c1 wrote 1 h after her email, a2 5 h; a1 and b1 are settled: the story gave them
    # outcomes with `contacts outcome`, which means their replies so far have been read
    assert [(i["email"], i["campaign"], i["suggested_outcome"]) for i in items] == [
        ("c1@mercy.example.org", "intro", "positive"),
        ("a2@mercy.example.org", "spring", "declined"),
    ]
    assert "Unfortunately we do not offer observerships" in items[1]["text"] and ">" not in items[1]["text"]
    assert set(items[0]) == {"email", "campaign", "received_at", "text", "suggested_outcome"}
    piped = CliRunner().invoke(cli, ["replies", "review"], input="")
    assert piped.exit_code == 0 and "a2@mercy.example.org" in piped.output  # lists, asks nothing
    monkeypatch.setattr("outreach.cli.review._interactive", lambda: True)
    walked = CliRunner().invoke(cli, ["replies", "review"], input="n\r")  # c1 later, a2 Enter (declined)
    assert walked.exit_code == 0, walked.output
    assert "Triaged 1 of 2" in walked.output
    assert [i["email"] for i in outreach_json("replies", "review")] == ["c1@mercy.example.org"]
    assert outreach_json("contacts", "show", "a2@mercy.example.org")["outcome"] == "declined"
    reply_of = story.execute("SELECT reply_id FROM contact_outcomes WHERE outcome = 'declined'").fetchone()[0]
    assert reply_of == story.execute("SELECT id FROM replies WHERE from_address = 'a2@mercy.example.org'").fetchone()[0]

    # a reply that comes after the outcome was recorded is asked about again
    answer(story, imap_account, "b1@nyu.example.org", "Hello Ada,\n\nSorry, Monday no longer works. Tuesday?\n\nBen", hours=30)
    assert outreach_json("replies", "poll")["human_reply"] == 1
    assert [i["email"] for i in outreach_json("replies", "review")] == ["c1@mercy.example.org", "b1@nyu.example.org"]
    outreach("contacts", "outcome", "b1@nyu.example.org", "call", "--note", "Tuesday instead")
    assert [i["email"] for i in outreach_json("replies", "review")] == ["c1@mercy.example.org"]


def test_status_shows_sends_new_replies_and_paused_campaigns(story):
    outreach("campaign", "create", "winter", "--template", "ask", "--tag", "physicians")
    outreach("campaign", "pause", "winter", "--reason", "waiting for step-1 exam results")
    status = outreach_json("status")
    assert (status["sent_last_24h"], status["daily_cap"], status["last_look"]) == (9, 0, None)
    assert sorted((r["email"], r["kind"]) for r in status["new_replies"]) == [
        ("a1@mercy.example.org", "human_reply"), ("a2@mercy.example.org", "human_reply"), ("b1@nyu.example.org", "human_reply"),
        ("b2@nyu.example.org", "unsubscribe"), ("c1@mercy.example.org", "human_reply")]
    assert status["paused_campaigns"] == [{"name": "winter", "reason": "waiting for step-1 exam results"}]
    assert status["untriaged_replies"] == 2  # c1 and a2: a1's and b1's replies are settled by their outcomes
    assert status["followups_due"] in (None, 0)  # None until the follow-up stage is installed; nothing is due yet anyway
    again = outreach_json("status")
    assert again["new_replies"] == [] and again["last_look"] == status["now"]
    text = outreach("status")
    assert "Sent in the last 24 h: 9 (no daily cap)" in text and "Paused: winter (waiting for step-1 exam results)" in text


def test_terminal_and_csv_output(story, hermetic):
    text = outreach("report", "--by", "template")
    assert "hello" in text and "75.0%" in text and "within noise at these counts" in text
    assert "Replies per day" in text
    outreach("report", "--by", "campaign", "--csv", "report.csv")
    lines = (hermetic / "report.csv").read_text(encoding="utf-8-sig").splitlines()
    assert lines[0].startswith("group,contacted,delivered,bounced,bounce_rate,replied")
    assert lines[1].startswith("spring,4,3,1,")
    usage = CliRunner().invoke(cli, ["report", "--json", "--csv", "x.csv"])
    assert usage.exit_code == 2
    missing = CliRunner().invoke(cli, ["report", "--campaign", "nope"])
    assert missing.exit_code == 1 and missing.output.startswith("Error: no campaign called 'nope'")
