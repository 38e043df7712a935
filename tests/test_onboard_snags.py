"""Newcomer snags (issue 16): grouped template problems with suggestions, the waiting message's
reason and --ignore-window, import counts that add up, campaign delete, non-ASCII local parts."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from click.testing import CliRunner

from outreach.cli import cli
from outreach.errors import TemplateError
from outreach.templates.problems import group_problems
from tests.campaign_fixtures import add_contacts, db_open, limits, run_send, started_campaign, write_template


def test_undefined_names_are_grouped_per_name_with_a_suggestion():
    problems = [TemplateError("'hosptial' is undefined: no field ...", template="t.txt", line=line, contact=f"c{n}@x.org")
                for n in range(51) for line in (2, 4)]
    problems += [TemplateError("'specialy' is undefined: no field ...", template="t.txt", line=4, contact="c1@x.org")]
    groups = [str(g) for g in group_problems(problems, [{"custom": '{"residency_program": "x"}'}])]
    assert groups == [
        "t.txt:2,4  `hosptial` is undefined for 51 contacts (e.g. c0@x.org, c1@x.org, c2@x.org, ...); did you mean `hospital`?",
        "t.txt:4  `specialy` is undefined for c1@x.org; did you mean `specialty`?",
    ]


def test_suggestions_come_from_custom_fields_and_sender_too_and_nonsense_gets_none():
    problems = [TemplateError("'residency_programme' is undefined", template="t.txt", line=1, contact="a@x.org"),
                TemplateError("'outreach.templates.render.Sender object' has no attribute 'signatur'", template="t.txt", line=9, contact="a@x.org"),
                TemplateError("'zzz' is undefined", template="t.txt", line=3, contact="a@x.org")]
    text = [str(g) for g in group_problems(problems, [{"custom": {"residency_program": "IM"}}])]
    assert "did you mean `residency_program`?" in text[0]
    assert "`signatur` is undefined" in text[1] and "did you mean `signature`?" in text[1]
    assert "did you mean" not in text[2] and "optional_fields" in text[2]


def test_other_problems_group_by_place_and_reason():
    blank = "hospital is blank for this contact: fill it in, or give the template a fallback"
    problems = [TemplateError(blank, template="t.txt", line=2, contact=f"c{n}@x.org") for n in range(5)]
    [group] = group_problems(problems)
    assert str(group) == "t.txt:2  hospital is blank for 5 contacts (e.g. c0@x.org, c1@x.org, c2@x.org, ...): fill it in, or give the template a fallback"


# --- the waiting message and --ignore-window -------------------------------------------------



def outreach(*args: str, input: str | None = None):
    return CliRunner().invoke(cli, list(args), input=input)


def test_a_run_held_by_a_cap_says_which_cap(mail_env, smtp_server, hermetic):
    write_template(hermetic)
    db = db_open()
    add_contacts(db, 2)
    report = run_send(db, started_campaign(db), lim=limits(daily_cap=1))
    assert (report.sent, report.waiting) == (1, 1)
    assert report.wait_reason == "daily cap 1 reached (rolling 24 h)"


def test_outside_the_send_window_the_message_names_it_and_ignore_window_sends_anyway(mail_env, smtp_server, hermetic):
    write_template(hermetic)
    add_contacts(db_open(), 1)  # in Ohio: New York time
    day = (datetime.now(ZoneInfo("America/New_York")) + timedelta(days=2)).strftime("%a")
    assert outreach("campaign", "create", "spring", "--template", "hello", "--tag", "physicians",
                    "--send-window", f"{day} 09:00-17:00").exit_code == 0
    held = outreach("campaign", "send", "spring", "--live")
    assert held.exit_code == 0, held.output
    assert f"1 message(s) wait: outside the send window {day} 09:00-17:00 (recipient's time, America/New_York)" in held.stdout
    assert "--ignore-window for one run" in held.stdout and not smtp_server.received
    sent = outreach("campaign", "send", "spring", "--live", "--ignore-window", "--json")
    assert json.loads(sent.stdout)["sent"] == 1 and len(smtp_server.received) == 1


# --- import counts add up ----------------------------------------------------------------------


def test_import_counts_add_up_and_the_wording_agrees(hermetic):
    (hermetic / "list.csv").write_text(
        "Email,First Name,Last Name\nbad,A,B\nx@y.example.org,X,Y\nX@y.example.org,X,Y\n,,\nnot-an-email@,C,D\nz@y.example.org,Z,Z\n")
    result = outreach("contacts", "import", "list.csv")
    assert result.exit_code == 0, result.output
    counts = {line.split()[0]: int(line.split()[1]) for line in result.stdout.splitlines()
              if line.strip() and line.split()[0] in ("inserted", "updated", "unchanged", "skipped", "total")}
    assert counts == {"inserted": 2, "updated": 0, "unchanged": 0, "skipped": 3, "total": 5}
    assert "3  (2 with errors, 1 repeated address)" in result.stdout
    assert "Errors (2 rows skipped):" in result.stdout and "rows imported" not in result.stdout
    data = json.loads(outreach("contacts", "import", "list.csv", "--json").stdout)
    assert data["inserted"] + data["updated"] + data["unchanged"] + data["skipped"] == 5


# --- non-ASCII local parts -----------------------------------------------------------------------


ZOE_LIST = ("Email,Title,First Name,Last Name,Specialty,Hospital\n"
            "zoë.adeyemi@lagos.example.org,Dr.,Zoë,Adeyemi,Surgery,Lagos General\n"
            "ok@mercy.example.org,Dr.,Jane,Okafor,Cardiology,Mercy\n")


def _zoe_campaign(hermetic) -> None:
    write_template(hermetic)
    (hermetic / "list.csv").write_text(ZOE_LIST, encoding="utf-8")
    imported = outreach("contacts", "import", "list.csv", "--tag", "t")
    assert "line 2: zoë.adeyemi@lagos.example.org has non-ASCII characters before the @ (needs SMTPUTF8)" in imported.stdout
    check = outreach("templates", "check", "hello", "--tag", "t")
    assert check.exit_code == 0, check.output  # never a template problem
    assert "zoë.adeyemi@lagos.example.org needs SMTPUTF8" in check.stderr
    outreach("campaign", "create", "c", "--template", "hello", "--tag", "t")


def test_a_non_ascii_local_part_is_skipped_with_its_reason_when_the_server_lacks_smtputf8(mail_env, smtp_server, hermetic):
    _zoe_campaign(hermetic)
    dry = outreach("campaign", "send", "c")
    assert "zoë.adeyemi@lagos.example.org: needs SMTPUTF8" in dry.stdout
    sent = outreach("campaign", "send", "c", "--live", "--json")
    assert sent.exit_code == 0, sent.output
    assert json.loads(sent.stdout) == {"sent": 1, "failed": 0, "deferred": 0, "uncertain": 0, "skipped": 1, "remaining": 0}
    assert [r.rcpt_tos for r in smtp_server.received] == [["ok@mercy.example.org"]]
    shown = outreach("campaign", "show", "c")
    assert "zoë.adeyemi@lagos.example.org" in shown.stdout and "needs SMTPUTF8" in shown.stdout


def test_a_non_ascii_local_part_is_sent_with_smtputf8_when_the_server_offers_it(mail_env, certs, hermetic, monkeypatch):
    from email import message_from_string, policy

    from tests.mailservers import SmtpServer

    server = SmtpServer(certs, smtputf8=True).start()
    try:
        monkeypatch.setenv("OUTREACH_SMTP_PORT", str(server.port))
        _zoe_campaign(hermetic)
        sent = outreach("campaign", "send", "c", "--live", "--json")
        assert sent.exit_code == 0, sent.output
        assert json.loads(sent.stdout)["sent"] == 2
        zoe = next(r for r in server.received if r.rcpt_tos == ["zoë.adeyemi@lagos.example.org"])
        message = message_from_string(zoe.data.decode("utf-8"), policy=policy.default)  # RFC 6532: UTF-8 headers
        assert message["To"].addresses[0].addr_spec == "zoë.adeyemi@lagos.example.org"
        assert message["To"].addresses[0].display_name == "Zoë Adeyemi"
    finally:
        server.stop()


# --- campaign delete ----------------------------------------------------------------------------


def test_campaign_delete_removes_a_campaign_that_never_sent_and_refuses_one_that_did(mail_env, smtp_server, hermetic):
    write_template(hermetic)
    db = db_open()
    add_contacts(db, 2)
    started_campaign(db, "typo")  # frozen, two messages queued, never sent
    frozen = sorted((hermetic / "outbox" / "typo").glob("*.eml"))
    assert len(frozen) == 2
    asked = outreach("campaign", "delete", "typo")  # stdin is not a terminal: never waits
    assert asked.exit_code == 1 and "add --yes" in asked.stderr
    done = outreach("campaign", "delete", "typo", "--yes")
    assert done.exit_code == 0 and "Deleted campaign 'typo' and its 2 queued message(s)." in done.stdout
    assert db.execute("SELECT count(*) FROM messages").fetchone()[0] == 0 and not any(p.exists() for p in frozen)
    assert db.execute("SELECT count(*) FROM campaigns").fetchone()[0] == 0

    assert outreach("campaign", "create", "real", "--template", "hello", "--tag", "physicians").exit_code == 0
    assert outreach("campaign", "send", "real", "--live", "--limit", "1").exit_code == 0
    refused = outreach("campaign", "delete", "real", "--yes")
    assert refused.exit_code == 1 and "has already sent 1 message(s)" in refused.stderr and "campaign pause real" in refused.stderr
    assert db.execute("SELECT count(*) FROM campaigns").fetchone()[0] == 1


def test_deleting_a_draft_campaign_removes_its_dry_run_files_and_nothing_else(mail_env, hermetic):
    write_template(hermetic)
    add_contacts(db_open(), 2)
    assert outreach("campaign", "create", "typo", "--template", "hello", "--tag", "physicians").exit_code == 0
    assert outreach("campaign", "send", "typo").exit_code == 0  # the dry run
    folder = hermetic / "outbox" / "typo"
    assert len(list(folder.glob("*.eml"))) == 2
    (folder / "my-notes.eml").write_text("the user's own file")
    assert outreach("campaign", "delete", "typo", "--yes").exit_code == 0
    assert sorted(p.name for p in folder.iterdir()) == ["my-notes.eml"]
    (folder / "my-notes.eml").unlink()
    assert outreach("campaign", "create", "empty", "--template", "hello", "--tag", "physicians").exit_code == 0
    assert outreach("campaign", "send", "empty").exit_code == 0
    assert outreach("campaign", "delete", "empty", "--yes").exit_code == 0
    assert not (hermetic / "outbox" / "empty").exists()  # nothing of the user's in it: the folder goes too


def test_ctrl_c_anywhere_else_exits_130_with_one_line(hermetic, monkeypatch):
    import outreach.replies.mailfiles as mailfiles

    def interrupted(*_args, **_kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(mailfiles, "import_paths", interrupted)
    (hermetic / "reply.eml").write_bytes(b"From: a@b.example.org\n\nhi\n")
    result = outreach("replies", "import", "reply.eml")
    assert result.exit_code == 130 and result.stderr == "Stopped by Ctrl-C.\n"
