"""Pure rules of follow-ups: business days in the recipient's zone, and who is due (no servers)."""

from __future__ import annotations

from datetime import date, datetime, timezone
from email.utils import make_msgid
from pathlib import Path

import pytest

from outreach.config import load_settings
from outreach.contacts.conversation import closing_outcome, conversation_reason, replied_dates
from outreach.db import open_db, utc_now
from outreach.errors import OutreachError
from outreach.followups.compose import compose, reply_subject, thread_subject
from outreach.followups.due import candidates, due
from outreach.followups.sequence import (
    add_business_days,
    campaign_steps,
    due_date,
    is_business_day,
    parse_step,
    set_followups,
    us_holidays,
)
from outreach.sending import campaigns
from tests.campaign_fixtures import add_contacts, write_template

# --- business days --------------------------------------------------------------------------


def test_business_days_skip_weekends():
    assert add_business_days(date(2026, 3, 2), 3) == date(2026, 3, 5)  # Mon -> Thu
    assert add_business_days(date(2026, 3, 6), 3) == date(2026, 3, 11)  # Fri -> Wed
    assert add_business_days(date(2026, 3, 7), 1) == date(2026, 3, 9)  # Sat -> Mon
    assert add_business_days(date(2026, 3, 5), 7) == date(2026, 3, 16)


def test_business_days_skip_us_federal_holidays_as_observed():
    assert date(2026, 11, 26) in us_holidays(2026)  # Thanksgiving, 4th Thursday
    assert date(2026, 7, 3) in us_holidays(2026)  # July 4th is a Saturday: observed Friday
    assert date(2027, 12, 24) in us_holidays(2027)  # Christmas 2027 is a Saturday
    assert date(2026, 5, 25) in us_holidays(2026)  # Memorial Day, last Monday of May
    assert not is_business_day(date(2026, 1, 19))  # MLK Day
    assert add_business_days(date(2026, 11, 24), 2) == date(2026, 11, 27)  # Tue + 2 skips Thanksgiving
    assert add_business_days(date(2026, 12, 31), 1) == date(2027, 1, 4)  # New Year's Day, then a weekend


def test_due_dates_count_in_the_recipient_time_zone():
    # Friday 23:30 in Los Angeles is already Saturday in UTC: three business days from *their* Friday.
    sent = datetime(2026, 3, 7, 7, 30, tzinfo=timezone.utc)
    assert due_date(sent, 3, "CA", "America/New_York") == date(2026, 3, 11)
    assert due_date(sent, 3, None, "Europe/London") == date(2026, 3, 11)  # Saturday there: from Monday
    assert due_date(sent, 3, "NY", "America/New_York") == date(2026, 3, 11)
    assert due_date(datetime(2026, 3, 6, 23, tzinfo=timezone.utc), 3, "HI", "America/New_York") == date(2026, 3, 11)


@pytest.mark.parametrize("text, expected", [("followup-1:3", ("followup-1", 3)), (" thank-you : 10 ", ("thank-you", 10))])
def test_parse_step(text, expected):
    assert parse_step(text) == expected


@pytest.mark.parametrize("text", ["followup-1", "followup-1:0", "followup-1:x", ":3", "../x:3", "a:999"])
def test_parse_step_refuses_bad_steps(text):
    with pytest.raises(OutreachError):
        parse_step(text)


def test_subjects_thread_without_re_re():
    assert reply_subject("Observership inquiry") == "Re: Observership inquiry"
    assert reply_subject("Re: RE: Observership inquiry") == "Re: Observership inquiry"
    assert thread_subject("AW: Re[2]: Fwd: Observership") == "Observership"


# --- who is due -------------------------------------------------------------------------------


@pytest.fixture
def world(hermetic):
    """A started campaign whose first emails went on Monday 2 March, recorded as the outbox does."""
    write_template(hermetic)
    db = open_db(hermetic / "outreach.db")
    people = add_contacts(db, 3)
    settings = load_settings(env_file=None)
    camp = campaigns.create_campaign(db, "spring", template="hello", templates_dir=settings.templates_dir, tags=["physicians"],
                                     followups=[("followup-1", 3), ("followup-2", 7)])
    sent_at = "2026-03-02T14:00:00+00:00"
    with db.atomic():
        db.execute("UPDATE campaigns SET status = 'active', started_at = ?, account = 'ada@example.com' WHERE id = ?", [sent_at, camp["id"]])
        for person in people:
            db.table("messages").insert({"campaign_id": camp["id"], "contact_id": person["id"], "step": 0, "template": "hello",
                                         "to_address": person["email"], "subject": "Observership", "message_id": make_msgid(),
                                         "state": "sent", "queued_at": sent_at, "sent_at": sent_at, "updated_at": sent_at})
    return db, settings, people


def emails(found) -> dict[str, int]:
    return {c.email: c.step.public for c in found}


def test_everyone_is_due_three_business_days_later(world):
    db, settings, people = world
    assert due(db, settings, as_of=date(2026, 3, 4)) == []
    assert emails(due(db, settings, as_of=date(2026, 3, 5))) == {p["email"]: 2 for p in people}
    assert emails(due(db, settings, as_of=datetime(2026, 3, 5, 4, tzinfo=timezone.utc))) == {}  # still Wednesday in Ohio


def test_never_due_after_a_reply_an_opt_out_a_bounce_a_suppression_or_a_closing_outcome(world):
    db, settings, people = world
    db.execute("UPDATE contacts SET stage = 'replied', replied_at = '2026-03-03T10:00:00+00:00' WHERE id = ?", [people[0]["id"]])
    db.execute("UPDATE contacts SET status = 'opted_out' WHERE id = ?", [people[1]["id"]])
    db.execute("INSERT INTO suppressions (value, kind, source, created_at) VALUES (?, 'address', 'manual', ?)", [people[2]["email"], utc_now()])
    db.conn.commit()
    reasons = {c.email: c.reason for c in candidates(db, settings, as_of=date(2026, 3, 20))}
    assert reasons == {
        people[0]["email"]: "no more follow-ups: replied (2026-03-03)",
        people[1]["email"]: "no more follow-ups: opted out",
        people[2]["email"]: "no more follow-ups: suppressed address (manual)",
    }


def test_a_reply_in_another_campaign_stops_this_one(world):
    db, settings, people = world
    now = utc_now()
    other = db.table("campaigns").insert({"name": "older", "template": "hello", "created_at": now}).last_pk
    message = db.table("messages").insert({"campaign_id": other, "contact_id": people[0]["id"], "step": 0, "to_address": people[0]["email"],
                                           "message_id": make_msgid(), "state": "sent", "queued_at": now, "updated_at": now}).last_pk
    db.table("replies").insert({"message_id": message, "contact_id": people[0]["id"], "campaign_id": other, "folder": "INBOX",
                                "uidvalidity": 1, "uid": 1, "kind": "human_reply", "received_at": "2026-03-03T10:00:00+00:00", "created_at": now})
    assert people[0]["email"] not in emails(due(db, settings, as_of=date(2026, 3, 5)))


def test_any_recorded_outcome_stops_follow_ups(world):
    db, settings, people = world
    assert closing_outcome(db, {"id": people[0]["id"]}) is None
    db.execute("UPDATE contacts SET outcome = 'declined' WHERE id = ?", [people[0]["id"]])
    db.execute("UPDATE contacts SET outcome = 'call' WHERE id = ?", [people[1]["id"]])  # talking already: no nudge
    db.conn.commit()
    assert closing_outcome(db, {"id": people[0]["id"]}) == "declined"
    assert emails(due(db, settings, as_of=date(2026, 3, 5))) == {people[2]["email"]: 2}
    reasons = {c.email: c.reason for c in candidates(db, settings, as_of=date(2026, 3, 5))}
    assert reasons[people[1]["email"]] == "no more follow-ups: outcome call"


def test_away_contacts_are_due_the_business_day_after_they_are_back(world):
    db, settings, people = world
    db.execute("UPDATE contacts SET status = 'away', away_until = '2026-03-13' WHERE id = ?", [people[0]["id"]])  # a Friday
    db.conn.commit()
    assert people[0]["email"] not in emails(due(db, settings, as_of=date(2026, 3, 13)))
    assert people[0]["email"] in emails(due(db, settings, as_of=date(2026, 3, 16)))
    [item] = [c for c in candidates(db, settings, as_of=date(2026, 3, 10)) if c.email == people[0]["email"]]
    assert item.reason == ("not yet: due Mon 16 Mar (3 business days after the first email (Mon 02 Mar); "
                           "away until Fri 13 Mar, so the first business day after)")


def test_the_next_step_waits_for_the_one_before_and_the_sequence_ends(world):
    db, settings, people = world
    person = people[0]
    now = "2026-03-05T15:00:00+00:00"
    db.table("messages").insert({"kind": "followup", "campaign_id": 1, "contact_id": person["id"], "step": 1, "to_address": person["email"],
                                 "message_id": make_msgid(), "state": "drafted", "queued_at": now, "updated_at": now})
    [item] = [c for c in candidates(db, settings, as_of=date(2026, 4, 1)) if c.email == person["email"]]
    assert (item.due, item.reason) == (False, "follow-up 1 waiting in your Drafts folder")
    db.execute("UPDATE messages SET state = 'sent', sent_at = ? WHERE step = 1", [now])
    db.conn.commit()
    assert person["email"] not in emails(due(db, settings, as_of=date(2026, 3, 13)))
    assert emails(due(db, settings, as_of=date(2026, 3, 16)))[person["email"]] == 3
    set_followups(db, campaigns.get_campaign(db, "spring"), [("followup-1", 3)])
    assert [s.template for s in campaign_steps(db, campaigns.get_campaign(db, "spring"))] == ["hello", "followup-1"]
    [item] = [c for c in candidates(db, settings, as_of=date(2026, 4, 1)) if c.email == person["email"]]
    assert item.reason.startswith("sequence complete")


def test_a_paused_campaign_has_nobody_due(world):
    db, settings, _people = world
    campaigns.pause_campaign(db, "spring")
    assert due(db, settings, as_of=date(2026, 3, 20)) == []


def test_conversation_reason(world):
    db, _settings, people = world
    assert conversation_reason(db, people[0]) is None
    replied = {**people[0], "replied_at": "2026-03-03T10:00:00+00:00"}
    assert conversation_reason(db, replied) == "already in a conversation (replied 2026-03-03); use --include-replied to write anyway"
    assert conversation_reason(db, {**people[0], "status": "opted_out"}) == "opted out"
    # a reply recorded only in the replies table: the same answer read once for a whole selection
    with db.atomic():
        [message] = db.execute("SELECT id FROM messages WHERE contact_id = ?", [people[1]["id"]]).fetchone()
        db.execute("INSERT INTO replies (message_id, contact_id, folder, uidvalidity, uid, kind, received_at, created_at) "
                   "VALUES (?, ?, 'INBOX', 1, 1, 'human_reply', ?, ?)", [message, people[1]["id"], "2026-03-04T09:00:00+00:00", utc_now()])
    expected = "already in a conversation (replied 2026-03-04); use --include-replied to write anyway"
    assert conversation_reason(db, people[1]) == conversation_reason(db, people[1], replied=replied_dates(db)) == expected
    assert conversation_reason(db, people[0], replied=replied_dates(db)) is None


def test_a_follow_up_always_takes_the_thread_subject(world, monkeypatch):
    db, _settings, people = world
    monkeypatch.setenv("OUTREACH_FROM", "Ada Obi <ada@example.com>")
    Path("templates/nudge.txt").write_text("---\nsubject: Just checking in\nkind: followup\n---\nDear {{ salutation }},\n\nAny news?\n")
    set_followups(db, campaigns.get_campaign(db, "spring"), [("nudge", 3)])
    db.execute("UPDATE messages SET subject = 'RE: Re: Observership' WHERE step = 0")
    db.conn.commit()
    settings = load_settings(env_file=None)
    item = next(c for c in due(db, settings, as_of=date(2026, 3, 5)) if c.email == people[0]["email"])
    composed = compose(settings, db, item)
    assert composed.rendered.subject == "Re: Observership"
    assert composed.rendered.message["Subject"] == "Re: Observership"
    assert composed.row(state="queued", at="2026-03-05T14:00:00+00:00", account="ada@example.com", eml_path=Path("x.eml"))["step"] == 1
