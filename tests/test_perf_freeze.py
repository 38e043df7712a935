"""The dry run and the freeze read the selection in batches, render each message once, and leave
nothing behind when any contact fails to render."""

from __future__ import annotations

import json
from email import message_from_bytes
from email.policy import default
from pathlib import Path

import pytest

from outreach.contacts.store import add_suppression
from outreach.sending import campaigns, freeze
from outreach.templates import render
from tests.campaign_fixtures import add_contacts, db_open, settings, write_template


@pytest.fixture
def renders(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every contact a campaign renders, in order; batches of 2 so that several are used."""
    seen: list[str] = []
    original = render.render_or_problems

    def counting(template, contact, **kwargs):
        seen.append(contact["email"])
        return original(template, contact, **kwargs)

    monkeypatch.setattr(render, "render_or_problems", counting)
    monkeypatch.setattr(freeze, "render_or_problems", counting)
    monkeypatch.setattr(freeze, "BATCH", 2)
    monkeypatch.setattr("outreach.contacts.store.SELECT_BATCH", 2)
    return seen


def _campaign(db, name: str = "spring") -> dict:
    return campaigns.create_campaign(db, name, template="hello", templates_dir=settings().templates_dir, tags=["physicians"])


def test_the_freeze_renders_each_message_once_and_queues_what_it_wrote(mail_env, hermetic, renders):
    write_template(hermetic)
    db = db_open()
    add_contacts(db, 7)
    add_suppression(db, "doc3@hospital3.example.org", reason="asked to stop")
    campaign = campaigns.freeze_campaign(db, settings(), _campaign(db))
    assert campaign["status"] == "active"
    included = [f"doc{n}@hospital{n}.example.org" for n in (1, 2, 4, 5, 6, 7)]
    assert renders == included  # once each; the suppressed contact is never rendered
    rows = list(db.query("SELECT contact_id, to_address, subject, message_id, eml_path, state, attachments FROM messages ORDER BY id"))
    assert [r["to_address"] for r in rows] == included and {r["state"] for r in rows} == {"queued"}
    for index, row in enumerate(rows, start=1):
        path = Path(row["eml_path"])
        assert path.name == f"{index:04d}-{row['to_address']}.eml"
        message = message_from_bytes(path.read_bytes(), policy=default)
        assert (message["Message-ID"], message["Subject"], message["To"].addresses[0].addr_spec) == (row["message_id"], row["subject"], row["to_address"])
        assert json.loads(row["attachments"])[0]["name"] == "cv.pdf"
    selection = dict(db.execute("SELECT contact_id, coalesce(skip_reason, 'included') FROM campaign_contacts").fetchall())
    assert len(selection) == 7 and selection[3].startswith("suppressed address")
    assert not list((hermetic / "outbox").glob("*.staging"))


def test_a_problem_anywhere_leaves_no_row_no_file_and_lists_every_problem(mail_env, hermetic, renders):
    write_template(hermetic, text="---\nsubject: Hello {{ hospital }}\n---\nDear {{ salutation }}, about {{ research_topic }}.\n")
    db = db_open()
    add_contacts(db, 1, custom=json.dumps({"research_topic": "heart failure"}))
    add_contacts(db, 4, start=2)
    add_contacts(db, 1, start=6, custom=json.dumps({"research_topic": "sepsis"}))
    campaign = _campaign(db)
    with pytest.raises(campaigns.CampaignTemplateError) as raised:
        campaigns.freeze_campaign(db, settings(), campaign)
    assert sorted({p.contact for p in raised.value.problems}) == [f"doc{n}@hospital{n}.example.org" for n in (2, 3, 4, 5)]
    assert db.execute("SELECT count(*) FROM messages").fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM campaign_contacts").fetchone()[0] == 0
    assert campaigns.get_campaign(db, "spring")["status"] == "draft"
    assert not list((hermetic / "outbox").rglob("*.eml")) and not list((hermetic / "outbox").glob("*.staging"))


def test_a_dry_run_with_a_problem_keeps_the_previous_preview(mail_env, hermetic, renders):
    write_template(hermetic)
    db = db_open()
    add_contacts(db, 3)
    campaign = _campaign(db)
    result = campaigns.dry_run(db, settings(), campaign)
    assert (result.rendered, result.plan.included, len(result.plan.skipped)) == (3, 3, 0)
    before = sorted(p.name for p in result.folder.glob("*.eml"))
    assert len(before) == 3 and len(renders) == 3
    write_template(hermetic, text="---\nsubject: Hello\n---\nAbout {{ research_topic }}.\n")
    with pytest.raises(campaigns.CampaignTemplateError):
        campaigns.dry_run(db, settings(), campaign)
    assert sorted(p.name for p in result.folder.glob("*.eml")) == before
    assert not list((hermetic / "outbox").glob("*.staging"))


def test_the_send_run_commits_with_full_syncs_and_restores_normal_after(mail_env, smtp_server, hermetic, monkeypatch):
    """synchronous=FULL while messages are marked `sending` and recorded `sent` (a power cut must
    not bring a sent message back as queued); the connection is back to NORMAL afterwards."""
    from outreach.sending import outbox
    from tests.campaign_fixtures import run_send, started_campaign

    write_template(hermetic)
    db = db_open()
    add_contacts(db, 2)
    campaign = started_campaign(db)
    seen = []
    original = outbox.mark

    def mark(db, message, at):
        seen.append(db.execute("PRAGMA synchronous").fetchone()[0])
        return original(db, message, at)

    monkeypatch.setattr(outbox, "mark", mark)
    assert run_send(db, campaign).sent == 2
    assert seen == [2, 2]  # FULL
    assert db.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
