"""classify_message and its parts, by example."""

from __future__ import annotations

import json
from datetime import date
from email.message import EmailMessage

import pytest
from click.testing import CliRunner

from outreach.classify.autoreply import return_date
from outreach.classify.classifier import Classification, classify_message, is_unsubscribe_request
from outreach.cli import cli
from outreach.classify.reply_text import html_to_text, own_text

TODAY = date(2026, 11, 24)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I will be back on Monday, December 1.", date(2026, 12, 1)),
        ("I am out of the office, returning 12/01/2026.", date(2026, 12, 1)),
        ("I am on leave until 1 December.", date(2026, 12, 1)),
        ("Estaré fuera hasta el 3 de diciembre.", date(2026, 12, 3)),
        ("Je serai absente jusqu'au 2 décembre 2026.", date(2026, 12, 2)),
        ("Ich bin bis zum 05.12.2026 nicht im Büro.", date(2026, 12, 5)),
        ("Estarei fora até 4 de dezembro.", date(2026, 12, 4)),
        ("Regreso el 02/12/2026.", date(2026, 12, 2)),  # day first outside English
        ("Sarò fuori ufficio fino al 9 dicembre.", date(2026, 12, 9)),
        ("I will return on January 5th.", date(2027, 1, 5)),  # year rolls over: never in the past
        ("Back on 2026-12-07.", date(2026, 12, 7)),
        ("I return to the office on 2026/12/05.", date(2026, 12, 5)),
        ("Ich bin ab dem 7.12. wieder im Büro.", date(2026, 12, 7)),
        ("Ich bin vom 20.11. bis 04.12. im Urlaub.", date(2026, 12, 4)),
        ("Estaré de vacaciones del 23 de noviembre al 6 de diciembre.", date(2026, 12, 6)),
        ("Estarei de férias entre 20/11 e 05/12.", date(2026, 12, 5)),
        ("I'm out of the office until Mon 12/7.", date(2026, 12, 7)),
        ("On vacation from November 20 to December 5.", date(2026, 12, 5)),
        ("I am on the 1st of December back at my desk.", date(2026, 12, 1)),
        ("I am away, back on Thursday.", date(2026, 11, 26)),  # weekday only: the next one
        ("I am currently on maternity leave.", None),
        ("Je serai de retour le 03/01.", date(2027, 1, 3)),
        ("Call me at 555-0123 or on 12.5 extension.", None),
    ],
)
def test_return_date(text, expected):
    assert return_date(text, today=TODAY) == expected


def test_ambiguous_numeric_dates_prefer_the_language_order_unless_implausible():
    # English month-first would be 1 May; the note was written on 4 January: it means 5 January.
    assert return_date("I am out of the office until 05/01/2010.", today=date(2010, 1, 4)) == date(2010, 1, 5)
    assert return_date("Back 03/04.", today=date(2026, 3, 1)) == date(2026, 3, 4)
    assert return_date("De retour le 03/04.", today=date(2026, 3, 1)) == date(2026, 4, 3)


def test_return_date_year_is_inferred_from_the_message_date():
    msg = EmailMessage()
    msg["From"] = "x@example.org"
    msg["Subject"] = "Out of office"
    msg["Date"] = "Tue, 15 Dec 2026 10:00:00 +0000"
    msg["Auto-Submitted"] = "auto-replied"
    msg.set_content("I am away until 4 January.")
    result = classify_message(msg, today=date(2020, 1, 1))
    assert result.kind == "auto_reply"
    assert result.return_date == date(2027, 1, 4)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Yes!\n\nOn Mon, Nov 23, 2026 at 9:14 AM Ada <ada@example.com> wrote:\n> Hello\n> bye", "Yes!"),
        ("Sí.\n\nEl lun, 23 nov 2026 a las 9:14, Ada (<ada@example.com>) escribió:\n> Hola", "Sí."),
        ("Oui.\n\nLe lun. 23 nov. 2026 à 09:14, Ada <ada@example.com> a écrit :\n> Bonjour", "Oui."),
        ("Ja.\n\nAm Mo., 23. Nov. 2026 um 09:14 Uhr schrieb Ada <ada@example.com>:\n> Hallo", "Ja."),
        ("Sim.\n\nEm seg., 23 de nov. de 2026 às 09:14, Ada <ada@example.com> escreveu:\n> Olá", "Sim."),
        ("Fine.\n\n-----Original Message-----\nFrom: Ada\nSent: Monday\n\nHello", "Fine."),
        ("Fine.\n\nFrom: Ada Obi <ada@example.com>\nSent: Monday, November 23, 2026\nTo: X\n\nHello", "Fine."),
        ("Sure.\n\nSent from my iPhone", "Sure."),
        ("Vale.\n\nDe: Ada <ada@example.com>\nEnviado el: lunes, 23 de noviembre de 2026 9:14\nPara: x\n\nHola", "Vale."),
        ("Ok.\n\nDe: Ada <ada@example.com>\nEnviada em: segunda-feira, 23 de novembro de 2026 09:14\nPara: x\n\nOlá", "Ok."),
        ("D'accord.\n\nLe mar. 24 nov. 2026 à 15:19, Ada <ada@example.com> a\nécrit :\n\n> Bonjour", "D'accord."),
        ("Grazie!\n\nIl giorno lun 23 nov 2026 alle ore 09:14 Ada <ada@example.com> ha scritto:\n\n> Ciao", "Grazie!"),
        ("On Friday it works.\n\nOn Wed, Apr 4, 2026 at 9:32 AM, Bob <b@example.com> wrote:\n> old", "On Friday it works."),
        ("Sure.\n\n-- \nDr. X\nCardiology", "Sure."),
        ("Happy to help.\n\nBest regards,\nJane Okafor\nMercy Hospital", "Happy to help."),
        ("> quoted question?\nMy answer.\n> another quote\nSecond answer.", "My answer.\nSecond answer."),
    ],
)
def test_own_text_strips_quotes_and_signatures(text, expected):
    assert own_text(text) == expected


def test_return_date_below_a_sign_off_still_counts():
    raw = (b"From: j@example.org\nSubject: Out of office\nAuto-Submitted: auto-replied\nDate: Tue, 24 Nov 2026 10:00:00 +0000\n\n"
           b"Thank you for your message.\n\nKind regards,\nJane Okafor\nBack on 3 December.\n")
    result = classify_message(raw)
    assert (result.kind, result.return_date, result.own_text) == ("auto_reply", date(2026, 12, 3), "Thank you for your message.")


def test_plain_text_read_receipt_is_other():
    raw = (b"From: j@example.org\nSubject: Read: Observership inquiry\n\nYour message\n\n  To: Jane\n\n"
           b"was read on Tuesday, November 24, 2026 10:02 AM.\n")
    assert classify_message(raw).kind == "other"


def test_html_to_text_can_drop_quoted_blocks():
    html = '<div>Yes<br>please</div><blockquote type="cite">old <b>stuff</b></blockquote>'
    assert html_to_text(html, drop_quotes=True) == "Yes\nplease"
    assert "old stuff" in html_to_text(html)


@pytest.mark.parametrize(
    "text",
    ["Please remove me from your list.", "unsubscribe", "Stop", "Don't contact me again.", "stop emailing me",
     "Not interested, please stop.", "No more emails please.", "Por favor, dénme de baja.", "No me escriba más.",
     "Merci de ne plus me contacter.", "Désinscrivez-moi.", "Bitte keine weiteren E-Mails.",
     "Bitte streichen Sie mich aus Ihrem Verteiler.", "Por favor, não me envie mais e-mails.", "Descadastrar."],
)
def test_opt_out_requests(text):
    assert is_unsubscribe_request(text)


@pytest.mark.parametrize(
    "text",
    ["No.", "Not interested.", "Unfortunately we don't offer observerships.", "Please don't hesitate to contact me.",
     "Please stop by my office on Monday.", "You said you won't write again - but please do!", "",
     "You can opt out of the program at any time.",
     "Could you remove me from the cc and add my colleague, who coordinates observerships and knows the dates better?"],
)
def test_not_opt_outs(text):
    assert not is_unsubscribe_request(text)


def test_bounce_references_the_original_message_id():
    raw = (
        b"From: MAILER-DAEMON@mx.example.net\nTo: ada@example.com\nSubject: Undelivered Mail Returned to Sender\n\n"
        b"This is the mail system at host mx.example.net.\n\n<x@example.org>: host said: 550 5.1.1 User unknown\n\n"
        b"--- Below this line is a copy of the message.\n\nFrom: Ada <ada@example.com>\nTo: x@example.org\n"
        b"Message-ID: <sent-1@example.com>\n\nHello\n"
    )
    result = classify_message(raw)
    assert (result.kind, result.bounce_type, result.bounced_addresses) == ("bounce", "hard", ["x@example.org"])
    assert result.referenced_message_ids == ["<sent-1@example.com>"]
    assert "ada@example.com" not in result.bounced_addresses


def test_reply_references_are_kept_in_order():
    raw = b"From: a@example.org\nSubject: Re: hi\nIn-Reply-To: <2@x>\nReferences: <1@x> <2@x>\n\nThanks, yes.\n"
    result = classify_message(raw)
    assert result.kind == "human_reply"
    assert result.referenced_message_ids == ["<2@x>", "<1@x>"]
    assert result.own_text == "Thanks, yes."


def test_to_json_is_the_interface_object():
    result = Classification("auto_reply", None, [], date(2026, 12, 1), "away", [], rule="header Auto-Submitted", evidence="Auto-Submitted: auto-replied")
    got = result.to_json("a.eml")
    assert {k: got[k] for k in ("file", "kind", "bounce_type", "bounced_addresses", "return_date")} == {
        "file": "a.eml", "kind": "auto_reply", "bounce_type": None, "bounced_addresses": [], "return_date": "2026-12-01"}
    assert (got["rule"], got["evidence"], got["suggested_outcome"], got["suppress_domain"], got["error"]) == (
        "header Auto-Submitted", "Auto-Submitted: auto-replied", None, None, None)


@pytest.mark.parametrize("raw", [b"", b"\x00\xff", b"Content-Type: multipart/mixed; boundary=x\n\n--x\n", b"From: <<<\n\n\xff"])
def test_never_crashes(raw):
    assert classify_message(raw).kind in {"other", "human_reply"}


def test_cli_reports_unreadable_files_and_continues(tmp_path):
    good = tmp_path / "good.eml"
    good.write_bytes(b"From: a@example.org\nSubject: Re: hi\nIn-Reply-To: <1@x>\n\nPlease remove me from your list.\n")
    result = CliRunner().invoke(cli, ["classify", str(tmp_path / "missing.eml"), str(good), "--json"])
    assert result.exit_code == 1
    assert "missing.eml" in result.stderr
    assert [json.loads(line)["kind"] for line in result.stdout.splitlines()] == ["unsubscribe"]


def test_cli_says_to_pass_the_messages_inside_a_folder(tmp_path):
    result = CliRunner().invoke(cli, ["classify", str(tmp_path)])
    assert result.exit_code == 1
    assert result.stderr == f"Error: {tmp_path} is a folder; pass the messages in it, e.g. {tmp_path}/*.eml\n"


def test_cli_table_and_stdin():
    raw = b"From: a@example.org\nSubject: Automatic reply: hi\nAuto-Submitted: auto-replied\n\nAway until 3 December 2026.\n"
    result = CliRunner().invoke(cli, ["classify", "-"], input=raw)
    assert result.exit_code == 0
    assert "auto_reply" in result.stdout and "2026-12-03" in result.stdout


def test_bounce_with_8bit_headers_is_parsed_quietly(capfd):
    # Raw UTF-8 in a header makes some flufl.bounce detectors crash; the others still run and
    # nothing is logged to the user's terminal.
    raw = (
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.net>\nTo: Ada Öbi <ada@example.com>\n"
        "Subject: Undelivered Mail Returned to Sender\n\nThis is the mail system at host mx.example.net.\n\n"
        "<müller@example.org>: host mx.example.org said: 550 5.1.1 User unknown\n"
        "<jo@example.org>: host mx.example.org said: 550 5.1.1 User unknown\n"
    ).encode()
    result = classify_message(raw)
    assert (result.kind, result.bounce_type) == ("bounce", "hard")
    assert "jo@example.org" in result.bounced_addresses
    captured = capfd.readouterr()
    assert captured.err == "" and captured.out == ""
