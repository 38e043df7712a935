"""Every decision explained; a rule's bug caught at one place; opt-outs, refusals and bounces by kind."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from click.testing import CliRunner

from outreach.classify import classifier
from outreach.classify.classifier import classify_message
from outreach.classify.declines import find_decline
from outreach.classify.optout import find_opt_out
from outreach.cli import cli

CORPUS = Path(__file__).parent / "corpus"


def _reply(body: str, *, sender: str = "Dr. Jane Okafor <jane@mercy.example.org>", subject: str = "Re: Observership inquiry",
           headers: str = "") -> bytes:
    return (f"From: {sender}\nTo: ada@example.com\nSubject: {subject}\nMessage-ID: <r1@mercy.example.org>\n"
            f"In-Reply-To: <o1@example.com>\n{headers}Content-Type: text/plain; charset=utf-8\n\n{body}\n").encode()


@pytest.mark.parametrize(
    ("text", "rule", "language"),
    [
        ("Kindly refrain from contacting me in future.", "stop-contacting", "en"),
        ("I would prefer not to receive any more emails.", "does-not-wish", "en"),
        ("If this continues I will report you as spam.", "spam-report", "en"),
        ("Dr. Park has asked that you not contact her again.", "negated-contact", "en"),
        ("Dr. Park wishes to be removed from your mailing list.", "asked-not-to", "en"),
        ("Le ruego que no vuelva a escribirme.", "negated-contact", "es"),
        ("Je ne souhaite plus recevoir vos messages.", "no-more-messages", "fr"),
        ("Ich möchte nicht mehr angeschrieben werden.", "negated-contact", "de"),
        ("Por favor, não me mande mais e-mails.", "negated-contact", "pt"),
        ("Smettete di scrivermi.", "stop-contacting", "it"),
    ],
)
def test_opt_outs_are_found_by_the_request_they_make(text, rule, language):
    found = find_opt_out(text)
    assert found is not None and (found.rule, found.language) == (rule, language)
    assert found.evidence == text


@pytest.mark.parametrize(
    "text",
    [
        "Please don't hesitate to contact me again.",
        "Don't email me until the portal opens in June.",
        "Please don't email me directly; write to the coordinator instead.",
        "Don't send me your CV yet.",
        "Stop by my office on Friday.",
        "We removed the tumour yesterday.",
        "Attached is the list of electives.",
        "Your email was in my spam folder.",
        "If you would prefer not to hear from me, just reply stop and I won't write again.",
        "No me molesta que me escriba.",
        "Não deixe de me escrever.",
        "Spero che non la disturbi.",
    ],
)
def test_hard_negatives_are_not_opt_outs(text):
    assert find_opt_out(text) is None


def test_a_polite_refusal_is_a_human_reply_that_suggests_declined():
    result = classify_message(_reply("Thank you, but we do not offer observerships. Good luck!"))
    assert (result.kind, result.suggested_outcome) == ("human_reply", "declined")
    assert "do not offer observerships" in result.evidence
    assert find_decline("Not in May, but we can host you in June.") is None


def test_an_organisation_wide_opt_out_proposes_the_domain_but_a_mailbox_provider_never():
    hospital = classify_message(_reply("Please do not email our physicians again.", sender="GME <gme@stjude.example.org>"))
    assert (hospital.kind, hospital.suppress_domain) == ("unsubscribe", "stjude.example.org")
    gmail = classify_message(_reply("Please do not email our physicians again.", sender="Office <office.mercy@gmail.com>"))
    assert (gmail.kind, gmail.suppress_domain) == ("unsubscribe", None)
    personal = classify_message(_reply("Please do not email me again.", sender="Jane <jane@stjude.example.org>"))
    assert (personal.kind, personal.suppress_domain) == ("unsubscribe", None)


def test_an_opt_out_only_in_the_subject_counts_when_the_body_says_nothing():
    quoted = "On Mon, Nov 23, 2026 Ada Obi <ada@example.com> wrote:\n> Dear Dr. Okafor,\n> may I observe?"
    result = classify_message(_reply(quoted, subject="RE: Please stop emailing me"))
    assert result.kind == "unsubscribe" and result.rule.startswith("opt-out subject-")


def test_a_shared_mailbox_acknowledgement_without_auto_submitted_is_an_auto_reply():
    raw = _reply("Thank you for contacting the GME office. This mailbox is not monitored.", subject="RE: Observership inquiry",
                 headers="X-MS-Exchange-Inbox-Rules-Loop: gme@mercy.example.org\n")
    result = classify_message(raw)
    assert result.kind == "auto_reply" and "mailbox is not monitored" in result.evidence
    personal = classify_message(_reply("We have received your message and Dr. Fox would like to meet you. Are you free Tuesday?"))
    assert personal.kind == "human_reply"


def test_a_bounce_never_names_our_own_address_or_a_mail_system():
    raw = (b"Return-Path: <>\nFrom: MAILER-DAEMON@mx.example.net\nTo: ada@example.com\nDelivered-To: ada@example.com\n"
           b"Subject: Undelivered Mail Returned to Sender\n\nThis is the mail system at host mx.example.net.\n\n"
           b"<postmaster@mx.example.net>: host said: 550 5.1.1 User unknown\n<ada@example.com>: host said: 550 5.1.1 User unknown\n\n"
           b"--- original ---\nFrom: Ada Obi <ada@example.com>\nTo: ada@example.com\n")
    result = classify_message(raw)
    assert result.kind == "bounce" and result.bounced_addresses == []
    assert result.rule.endswith("no address found")


def test_a_bug_inside_a_rule_is_caught_once_logged_with_the_source_and_reported_as_other(monkeypatch, caplog):
    def broken(text):
        raise RuntimeError("boom")

    monkeypatch.setattr(classifier, "find_opt_out", broken)
    with caplog.at_level(logging.WARNING, logger="outreach.classify.classifier"):
        result = classify_message(_reply("Please stop."), source="inbox/7.eml")
    assert (result.kind, result.error, result.rule) == ("other", "RuntimeError: boom", "error: a rule failed (see the log)")
    assert any("inbox/7.eml" in r.getMessage() and "boom" in r.getMessage() for r in caplog.records)
    without_source = classify_message(_reply("Please stop."))
    assert without_source.evidence == "<r1@mercy.example.org>: RuntimeError: boom"  # the Message-ID stands in for the file


def test_malformed_mail_is_handled_by_the_rules_not_the_error_path():
    for raw in (b"", b"\x00\xff", b"Content-Type: multipart/mixed; boundary=x\n\n--x\n", b"From: <<<\n\n\xff",
                b"Subject: =?x-bogus?b?////?=\nContent-Type: text/plain; charset=x-bogus-42\n\nhi",
                b"Subject: =?u\xfff-8?q?Re=3A_hola?=\nContent-Type: text/plain; charset=\"iso-8859-\xff\"\n\nhola"):
        assert classify_message(raw).error is None


def test_classify_explain_prints_the_rule_and_what_it_matched():
    files = [str(CORPUS / "optout-fr-cessez.eml"), str(CORPUS / "auto-rule-gme-not-monitored.eml"), str(CORPUS / "bounce-qmail-ptbr.eml"),
             str(CORPUS / "optout-en-org-do-not-email-physicians.eml"), str(CORPUS / "human-decline-no-observerships.eml")]
    result = CliRunner().invoke(cli, ["classify", *files, "--explain"], catch_exceptions=False)
    assert result.exit_code == 0
    out = result.output
    assert "optout-fr-cessez.eml: unsubscribe\n  rule:     opt-out stop-contacting (fr)\n  matched:  Cessez de m'envoyer des messages." in out
    assert "mailbox-rule header (X-MS-Exchange-Inbox-Rules-Loop)" in out
    assert "flufl.bounce Qmail scanner" in out and "bounced:  contato@clinicavida.example.br" in out
    assert "confirm with `outreach suppress add stjoseph.example.org`" in out
    assert "suggested outcome: declined" in out


def test_classify_json_keeps_the_interface_keys_and_adds_the_explanation(tmp_path, monkeypatch):
    file = tmp_path / "r.eml"
    file.write_bytes(_reply("Bitte keine weiteren E-Mails."))
    row = json.loads(CliRunner().invoke(cli, ["classify", str(file), "--json"]).output)
    assert list(row)[:5] == ["file", "kind", "bounce_type", "bounced_addresses", "return_date"]
    assert (row["kind"], row["rule"], row["error"]) == ("unsubscribe", "opt-out no-more-messages (de)", None)

    monkeypatch.setattr(classifier, "find_opt_out", lambda text: 1 / 0)
    broken = CliRunner().invoke(cli, ["classify", str(file), "--json"])
    assert broken.exit_code == 1
    assert json.loads(broken.stdout)["error"] == "ZeroDivisionError: division by zero"
    assert "could not be classified" in broken.stderr and "Traceback" not in broken.output


def test_a_delivery_report_naming_our_own_address_falls_back_to_the_text():
    raw = (b"Return-Path: <>\nFrom: MAILER-DAEMON@mx.example.net\nTo: ada@example.com\nSubject: Undelivered Mail Returned to Sender\n"
           b"Content-Type: multipart/report; report-type=delivery-status; boundary=B\n\n--B\nContent-Type: text/plain\n\n"
           b"<jo@clinic.example.org>: host said: 550 5.1.1 User unknown\n\n--B\nContent-Type: message/delivery-status\n\n"
           b"Reporting-MTA: dns; mx.example.net\n\nFinal-Recipient: rfc822; ada@example.com\nAction: failed\nStatus: 5.1.1\n\n--B--\n")
    result = classify_message(raw)
    assert (result.kind, result.bounced_addresses) == ("bounce", ["jo@clinic.example.org"])
