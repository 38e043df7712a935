"""Templates render real files for real contacts from the db, strictly, and never break a header."""

from __future__ import annotations

import json
import shutil
from datetime import date
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from click.testing import CliRunner

from outreach.cli import cli
from outreach.config import load_settings
from outreach.contacts.store import add_suppression, add_tags, get_contact, select_contacts
from outreach.db import open_db, utc_now
from outreach.errors import ConfigError, HeaderInjectionError, NotFoundError, TemplateError
from outreach.templates.render import (
    Sender,
    check_template,
    list_templates,
    load_template,
    render_message,
    salutation,
)

REPO = Path(__file__).resolve().parent.parent
SHIPPED = REPO / "templates"
SENDER = Sender("Ada Obí", "ada@example.com", "Ada Obí, MBBS\nLagos, Nigeria")
OPT_OUT = "If this isn't possible, a one-word reply is enough and I won't write again."


@pytest.fixture
def db(hermetic: Path):
    return open_db(hermetic / "outreach.db")


def add_contact(db, email: str, *, tags: tuple[str, ...] = (), custom: dict | None = None, **fields) -> dict:
    """Insert a row the way an import would, then read it back through the contact store."""
    now = utc_now()
    row_id = db["contacts"].insert(
        {"email": email, "custom": json.dumps(custom or {}), "created_at": now, "updated_at": now, **fields}
    ).last_pk
    add_tags(db, row_id, tags)
    return get_contact(db, email)


@pytest.fixture
def okafor(db) -> dict:
    return add_contact(
        db, "jane.okafor@mercy.example.org", tags=("physicians",), title="Dr.", first_name="Jane", last_name="Okafor",
        suffix="MD", specialty="Cardiology", hospital="Mercy Hospital", city="St. Louis", state="MO",
        medical_school="University of Lagos", graduation_year=2004,
    )


@pytest.fixture
def sparse(db) -> dict:
    """A contact with nothing but an address: every shipped template must still read well."""
    return add_contact(db, "someone@clinic.example.com", tags=("physicians",))


def write_template(folder: Path, name: str, text: str, *, html: str | None = None, md: str | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.txt").write_text(text, encoding="utf-8")
    if html is not None:
        (folder / f"{name}.html").write_text(html, encoding="utf-8")
    if md is not None:
        (folder / f"{name}.md").write_text(md, encoding="utf-8")
    return folder


def one(folder: Path, body: str, *, subject: str = "Hello", extra: str = "", **kwargs):
    """A template named t whose body starts on line 4 of t.txt (after a 3-line front matter)."""
    write_template(folder, "t", f"---\nsubject: {subject}\n{extra}---\n{body}", **kwargs)
    return load_template(folder, "t")


def problem_of(template, contact) -> TemplateError:
    with pytest.raises(TemplateError) as info:
        render_message(template, contact, sender=SENDER)
    return info.value


# --- The shipped templates ---------------------------------------------------------------------


def test_every_shipped_template_renders_for_full_and_sparse_contacts(okafor, sparse):
    templates = list_templates(SHIPPED)
    assert {t.name for t in templates} >= {
        "observership-request", "research-volunteer-request", "alumni-advice-call", "alumni-introduction",
        "thank-you", "followup-1", "followup-2",
    }
    for template in templates:
        assert check_template(template, [okafor, sparse], sender=SENDER) == [], template.name


def test_every_shipped_template_renders_for_the_bundled_contact_lists(hermetic):
    for csv_name, tag in (("physicians.csv", "physicians"), ("alumni.csv", "alumni")):
        result = run("contacts", "import", str(REPO / "contacts" / csv_name), "--tag", tag, "--json")
        assert result.exit_code == 0 and json.loads(result.stdout)["inserted"] > 0, result.output
    contacts = select_contacts(open_db(hermetic / "outreach.db"))
    for template in list_templates(SHIPPED):
        problems = check_template(template, contacts, sender=SENDER)
        assert problems == [], [str(p) for p in problems]
        for contact in contacts:
            rendered = render_message(template, contact, sender=SENDER)
            assert len(rendered.text.split()) < 150 and "None" not in rendered.text, (template.name, contact["email"])


def test_shipped_templates_are_short_described_and_carry_the_opt_out(okafor, sparse):
    for template in list_templates(SHIPPED):
        assert template.description, template.name
        for contact in (okafor, sparse):
            rendered = render_message(template, contact, sender=SENDER)
            body = rendered.message.get_body(("plain",)).get_content()
            assert OPT_OUT in body, template.name
            assert len(body.split()) < 150, (template.name, len(body.split()))
            assert "  " not in rendered.subject and " ," not in body and "at ." not in body


def test_observership_request_reads_as_written_for_the_physician(okafor):
    template = load_template(SHIPPED, "observership-request")
    rendered = render_message(template, okafor, sender=SENDER)
    body = rendered.message.get_body(("plain",)).get_content()
    assert rendered.subject == "Observership request — Cardiology at Mercy Hospital"
    assert body.startswith("Dear Dr. Okafor,\n")
    assert "residency in Cardiology" in body and "Mercy Hospital" in body
    assert body.rstrip().endswith("Ada Obí, MBBS\nLagos, Nigeria")
    assert [a.name for a in rendered.attachments] == ["Ada Obí - CV.pdf"]
    assert rendered.message.get_body(("html",)) is not None


def test_a_template_that_changes_the_campaign_it_is_given_changes_it_for_that_message_only(tmp_path, okafor, sparse):
    """The sender's and campaign's values are built once per run and shared: each message gets its own copy."""
    template = one(tmp_path, '{{ campaign.name }} {{ sender.name }}{% set _ = campaign.update(name="changed") %}'
                             '{% set _ = sender.update(name="someone else") %}\n')
    campaign = {"name": "spring", "template": "t"}
    for contact in (okafor, sparse, okafor):
        assert render_message(template, contact, sender=SENDER, campaign=campaign).text.startswith("spring Ada Obí")
    assert campaign["name"] == "spring"


def test_sparse_contact_gets_polite_fallbacks(sparse):
    rendered = render_message(load_template(SHIPPED, "observership-request"), sparse, sender=SENDER)
    body = rendered.message.get_body(("plain",)).get_content()
    assert rendered.subject == "Observership request"
    assert body.startswith("Dear Doctor,\n")
    assert "observe in your department for two to four weeks" in body


def test_alumni_introduction_uses_target_fields_or_asks_for_a_colleague(db):
    template = load_template(SHIPPED, "alumni-introduction")
    named = add_contact(
        db, "k.mensah@alumni.example.org", first_name="Kofi", last_name="Mensah", title="Dr", medical_school="KNUST",
        custom={"target_physician": "Dr. Maria Chen", "target_program": "the UCSF cardiology fellowship"},
    )
    plain = add_contact(db, "p.rao@alumni.example.org", first_name="Priya", last_name="Rao", medical_school="KNUST")
    first = render_message(template, named, sender=SENDER)
    assert first.subject == "Could you introduce me to Dr. Maria Chen (the UCSF cardiology fellowship)?"
    assert "introducing me to Dr. Maria Chen (the UCSF cardiology fellowship)?" in first.text
    assert "    Dr. Maria Chen, may I introduce Ada Obí, an international medical graduate from KNUST" in first.text  # forwardable paragraph
    assert "<blockquote>" in first.html  # the Markdown alternative
    second = render_message(template, plain, sender=SENDER)
    assert second.subject == "Could you introduce me to a colleague?"
    assert second.text.startswith("Dear Priya,\n") and "a colleague in your department?" in second.text


def test_followups_reply_in_the_thread(okafor):
    template = load_template(SHIPPED, "followup-1")
    rendered = render_message(
        template, okafor, sender=SENDER, previous_subject="Observership request — Cardiology",
        in_reply_to="<first@example.com>", references=["<first@example.com>"],
    )
    assert rendered.subject == "Re: Observership request — Cardiology"
    assert rendered.message["In-Reply-To"] == "<first@example.com>"
    assert rendered.message["References"] == "<first@example.com>"
    without = render_message(template, okafor, sender=SENDER)
    assert without.subject == "Following up on my note about Cardiology"


# --- Helpers -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields, expected",
    [
        ({"title": "Dr.", "first_name": "Jane", "last_name": "Okafor"}, "Dr. Okafor"),
        ({"title": "dr", "last_name": "Okafor"}, "Dr. Okafor"),
        ({"title": "Prof", "last_name": "Lee"}, "Prof. Lee"),
        ({"suffix": "MD", "first_name": "Jane", "last_name": "Okafor"}, "Dr. Okafor"),
        ({"suffix": "D.O.", "last_name": "Okafor"}, "Dr. Okafor"),
        ({"suffix": "M.D., PhD", "last_name": "Okafor"}, "Dr. Okafor"),
        ({"suffix": "FACP", "first_name": "Jane", "last_name": "Okafor"}, "Jane"),
        ({"first_name": "Priya", "last_name": "Rao"}, "Priya"),
        ({"title": "Dr.", "first_name": "Jane"}, "Jane"),
        ({"title": "  ", "first_name": " ", "last_name": ""}, "Doctor"),
        ({}, "Doctor"),
    ],
)
def test_salutation_from_the_fields_present(fields, expected):
    assert salutation(fields) == expected


def test_helpers_possessive_today_full_name_sender_and_campaign(tmp_path, okafor, db):
    jones = add_contact(db, "sam.jones@example.org", first_name="Sam", last_name="Jones")
    template = one(
        tmp_path,
        "{{ last_name | possessive }} team; {{ full_name }}; {{ contact.first_name }}; {{ today }}; "
        "{{ sender.first_name }} <{{ sender.address }}> at {{ sender.domain }}; {{ campaign.name }}\n",
    )
    first = render_message(template, okafor, sender=SENDER, campaign={"name": "spring"}, today=date(2026, 11, 5))
    assert first.text == "Okafor's team; Jane Okafor; Jane; November 5, 2026; Ada <ada@example.com> at example.com; spring\n"
    second = render_message(template, jones, sender=SENDER, campaign={"name": "spring"}, today=date(2026, 11, 5))
    assert second.text.startswith("Jones' team; Sam Jones;")


def test_every_fallback_treats_a_blank_field_as_absent(tmp_path, db):
    blank = add_contact(db, "blank@example.org", first_name="", hospital="   ", specialty=None)
    template = one(
        tmp_path,
        '{{ first_name | or_default("there") }}|{{ hospital | default("your hospital") }}|'
        '{{ specialty or "your field" }}|{% if hospital %}at {{ hospital }}{% else %}no hospital{% endif %}|'
        '{{ nickname | or_default("no such column") }}|{{ sender.signature | or_default(sender.name) }}\n',
    )
    unsigned = Sender("Ada Obi", "ada@example.com", None)
    rendered = render_message(template, blank, sender=unsigned)
    assert rendered.text == "there|your hospital|your field|no hospital|no such column|Ada Obi\n"


def test_optional_fields_are_blank_for_contacts_whose_csv_lacked_them(tmp_path, db):
    with_column = add_contact(db, "a@example.org", custom={"paper": "the CABG outcomes study"})
    without = add_contact(db, "b@example.org")
    template = one(tmp_path, "{% if paper %}I read {{ paper }}.{% else %}Hello.{% endif %}\n", extra="optional_fields: paper\n")
    assert render_message(template, with_column, sender=SENDER).text == "I read the CABG outcomes study.\n"
    assert render_message(template, without, sender=SENDER).text == "Hello.\n"
    strict = one(tmp_path, "{% if paper %}I read {{ paper }}.{% endif %}\n")
    assert "'paper' is undefined" in str(problem_of(strict, without))


# --- Strictness --------------------------------------------------------------------------------


def test_blank_field_without_fallback_names_template_line_and_contact(tmp_path, db):
    contact = add_contact(db, "blank.hospital@example.org", title="Dr.", last_name="Okafor", hospital="")
    template = one(tmp_path, "Dear {{ salutation }},\n\nI saw your work at {{ hospital }}.\n")
    error = problem_of(template, contact)
    assert (error.template, error.line, error.contact) == ("t.txt", 6, "blank.hospital@example.org")
    assert "hospital is blank" in error.reason and "or_default" in error.reason
    assert str(error).startswith("t.txt:6, contact blank.hospital@example.org: hospital is blank")


def test_whitespace_only_and_none_count_as_blank(tmp_path, db):
    spaces = add_contact(db, "spaces@example.org", first_name="   ")
    template = one(tmp_path, "Hi {{ first_name }}\n")
    assert "first_name is blank" in problem_of(template, spaces).reason
    signature = one(tmp_path, "{{ sender.signature }}\n")
    unsigned = Sender("Ada", "ada@example.com", None)
    with pytest.raises(TemplateError, match="sender.signature is blank"):
        render_message(signature, spaces, sender=unsigned)


def test_undefined_variable_is_an_error_with_its_line(tmp_path, okafor):
    template = one(tmp_path, "Dear {{ salutation }},\n{{ hospitl }}\n")
    error = problem_of(template, okafor)
    assert (error.line, error.contact) == (5, okafor["email"])
    assert "'hospitl' is undefined" in error.reason
    assert "check the spelling" in error.reason and "optional_fields" in error.reason


def test_errors_in_the_subject_point_at_the_subject_line(tmp_path, db):
    contact = add_contact(db, "no.specialty@example.org")
    write_template(tmp_path, "s", "---\ndescription: x\nsubject: About {{ specialty }}\n---\nHello\n")
    error = problem_of(load_template(tmp_path, "s"), contact)
    assert (error.template, error.line) == ("s.txt", 3)


def test_errors_in_the_html_part_name_the_html_file(tmp_path, db):
    contact = add_contact(db, "x@example.org", first_name="X")
    template = one(tmp_path, "Hi {{ first_name }}\n", html="<p>Hi {{ first_name }}</p>\n<p>{{ city }}</p>\n")
    error = problem_of(template, contact)
    assert (error.template, error.line) == ("t.html", 2)


def test_syntax_error_is_reported_at_load_with_the_line_in_the_file(tmp_path):
    write_template(tmp_path, "broken", "---\nsubject: Hi\n# a comment\n---\n\nDear {{ salutation },\n")
    with pytest.raises(TemplateError) as info:
        load_template(tmp_path, "broken")
    assert (info.value.template, info.value.line) == ("broken.txt", 6)
    assert "syntax error" in info.value.reason


@pytest.mark.parametrize(
    "text, line, reason",
    [
        ("Dear Dr,\n", 1, "front-matter block"),
        ("---\nsubjet: Hi\n---\nbody\n", 2, "unknown front-matter key 'subjet'"),
        ("---\ndescription: x\n---\nbody\n", 1, "needs a subject"),
        ("---\nsubject: Hi\n", 1, "no closing '---'"),
        ("---\nsubject: Hi\nbody\n", 3, "front matter line 'body' is not 'key: value'"),
    ],
)
def test_front_matter_mistakes(tmp_path, text, line, reason):
    write_template(tmp_path, "fm", text)
    with pytest.raises(TemplateError) as info:
        load_template(tmp_path, "fm")
    assert info.value.line == line and reason in info.value.reason


def test_unknown_template_lists_the_known_ones(tmp_path):
    write_template(tmp_path, "hello", "---\nsubject: Hi\n---\nbody\n")
    with pytest.raises(NotFoundError, match="hello"):
        load_template(tmp_path, "goodbye")
    with pytest.raises(NotFoundError):
        load_template(tmp_path, "../etc/passwd")


def test_missing_attachment_names_template_line_and_contact(tmp_path, okafor):
    template = one(tmp_path, "Hello\n", extra="attachments:\n  - files/{{ last_name }}-letter.pdf\n")
    error = problem_of(template, okafor)
    assert (error.template, error.line, error.contact) == ("t.txt", 4, okafor["email"])
    assert "'files/Okafor-letter.pdf' not found" in error.reason
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "Okafor-letter.pdf").write_bytes(b"%PDF-1.4 letter for Okafor")
    rendered = render_message(template, okafor, sender=SENDER)
    assert [(a.name, a.size) for a in rendered.attachments] == [("Okafor-letter.pdf", 26)]


def test_contact_data_cannot_point_an_attachment_outside_its_folder(tmp_path, db):
    (tmp_path / "letters").mkdir()
    (tmp_path / "letters" / "Okafor.pdf").write_bytes(b"%PDF-1.4 letter")
    (tmp_path / "secret.txt").write_text("private")
    template = one(tmp_path, "Hello\n", extra="attachments:\n  - letters/{{ last_name }}.pdf\n")
    fine = add_contact(db, "fine@example.org", last_name="Okafor")
    assert [a.name for a in render_message(template, fine, sender=SENDER).attachments] == ["Okafor.pdf"]
    for index, last_name in enumerate(("../secret", "../../../../etc/passwd")):
        sneaky = add_contact(db, f"sneaky{index}@example.org", last_name=last_name)
        error = problem_of(template, sneaky)
        assert "may not move an attachment out of the folder" in error.reason and error.line == 4
    anywhere = one(tmp_path, "Hello\n", extra=f"attachments:\n  - {tmp_path / 'secret.txt'}\n")
    assert [a.name for a in render_message(anywhere, fine, sender=SENDER).attachments] == ["secret.txt"]


def test_sandbox_keeps_templates_away_from_python_internals(tmp_path, okafor):
    for body in (
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ contact.__class__ }}",
        "{{ salutation.__class__.__init__.__globals__ }}",
        "{{ cycler.__init__.__globals__.os.system('echo pwned') }}",
    ):
        error = problem_of(one(tmp_path, body + "\n"), okafor)
        assert error.line == 4 and error.contact == okafor["email"], body
        assert error.reason.startswith("not allowed in a template: access to attribute"), error.reason
        problems = check_template(one(tmp_path, body + "\n"), [okafor], sender=SENDER)
        assert [p.reason.startswith("not allowed in a template") for p in problems] == [True], body


def test_check_template_returns_every_problem_for_every_contact(tmp_path, db, okafor):
    blank_a = add_contact(db, "a@example.org", last_name="A")
    blank_b = add_contact(db, "b@example.org", last_name="B", hospital="Mercy")
    template = one(tmp_path, "{{ hospital }}\n{{ specialty }}\n", subject="For {{ city }}")
    problems = check_template(template, [okafor, blank_a, blank_b], sender=SENDER)
    assert sorted((p.contact, p.line) for p in problems) == [
        ("a@example.org", 2), ("a@example.org", 4), ("a@example.org", 5),
        ("b@example.org", 2), ("b@example.org", 5),
    ]


# --- Headers are safe --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields, field_name",
    [
        ({"first_name": "Jane\r\nBcc: victim@example.net", "last_name": "Okafor"}, "To name"),
        ({"first_name": "Jane\nBcc: victim@example.net"}, "To name"),
        ({"specialty": "Cardiology\r\nBcc: victim@example.net"}, "Subject"),
        ({"specialty": "Cardiology\0"}, "Subject"),
        ({"specialty": "Cardiology\u2028Bcc: victim@example.net"}, "Subject"),
        ({"last_name": "Okafor\x0bBcc: victim@example.net"}, "To name"),
    ],
)
def test_contact_data_cannot_inject_headers(tmp_path, db, fields, field_name):
    contact = add_contact(db, "target@example.org", **fields)
    template = one(tmp_path, "Hello\n", subject="About {{ specialty | or_default('you') }}")
    with pytest.raises(HeaderInjectionError) as info:
        render_message(template, contact, sender=SENDER)
    assert isinstance(info.value, TemplateError)  # the campaign can catch either
    assert field_name in str(info.value) and "target@example.org" in str(info.value)
    assert check_template(template, [contact], sender=SENDER)


def test_cc_and_reply_to_are_addresses_and_cannot_be_injected(tmp_path, db):
    good = add_contact(db, "good@example.org", custom={"assistant": "Lee Park <lee@mercy.example.org>"})
    evil = add_contact(db, "evil@example.org", custom={"assistant": "lee@mercy.example.org\nBcc: victim@example.net"})
    template = one(tmp_path, "Hello\n", extra="cc: '{{ assistant }}'\nreply_to: Ada Obi <ada.personal@example.net>\n")
    rendered = render_message(template, good, sender=SENDER)
    assert rendered.message["Cc"] == "Lee Park <lee@mercy.example.org>"
    assert rendered.message["Reply-To"] == "Ada Obi <ada.personal@example.net>"
    with pytest.raises(HeaderInjectionError, match="Cc for contact evil@example.org"):
        render_message(template, evil, sender=SENDER)


# --- HTML --------------------------------------------------------------------------------------


def test_html_is_autoescaped_and_text_is_literal(tmp_path, db):
    contact = add_contact(db, "x@example.org", first_name="Zoë", hospital="<script>alert('x')</script> & Co")
    template = one(tmp_path, "At {{ hospital }}\n", html="<p>At {{ hospital }}</p>\n")
    rendered = render_message(template, contact, sender=SENDER)
    assert rendered.text == "At <script>alert('x')</script> & Co\n"
    html = rendered.message.get_body(("html",)).get_content()
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; Co" in html and "<script>" not in html


def test_markdown_alternative_is_escaped_then_converted(tmp_path, db):
    contact = add_contact(db, "x@example.org", hospital="<img src=x onerror=alert(1)>")
    template = one(tmp_path, "At {{ hospital }}\n", md="**At** {{ hospital }}\n")
    html = render_message(template, contact, sender=SENDER).html
    assert html == "<p><strong>At</strong> &lt;img src=x onerror=alert(1)&gt;</p>"
    linked = add_contact(db, "y@example.org", hospital="[Mercy](javascript:alert(1)) *St. Mary's* #1 > 2")
    html = render_message(template, linked, sender=SENDER).html
    assert html == "<p><strong>At</strong> [Mercy](javascript:alert(1)) *St. Mary&#39;s* #1 &gt; 2</p>"


# --- Sender ------------------------------------------------------------------------------------


def test_sender_first_name_skips_a_title():
    assert Sender("Dr. Ada Obi", "ada@example.com").first_name == "Ada"
    assert Sender("", "ada@example.com").first_name == ""


def test_sender_comes_from_settings_and_says_what_to_set():
    with pytest.raises(ConfigError, match="OUTREACH_FROM"):
        Sender.from_settings(load_settings(environ={}, env_file=None))
    settings = load_settings(
        environ={"OUTREACH_FROM": '"Obí, Ada" <ada@example.com>', "OUTREACH_SIGNATURE": "Ada\\nLagos"}, env_file=None
    )
    assert Sender.from_settings(settings) == Sender("Obí, Ada", "ada@example.com", "Ada\nLagos")
    with pytest.raises(ConfigError):
        Sender.from_settings(load_settings(environ={"OUTREACH_FROM": "not an address"}, env_file=None))


# --- Commands ----------------------------------------------------------------------------------


@pytest.fixture
def project(hermetic: Path, okafor, sparse, monkeypatch) -> Path:
    """The shipped templates in ./templates and a sender in the environment."""
    shutil.copytree(SHIPPED, hermetic / "templates")
    monkeypatch.setenv("OUTREACH_FROM", "Ada Obí <ada@example.com>")
    return hermetic


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_templates_list_json(project):
    result = run("templates", "list", "--json")
    assert result.exit_code == 0
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert rows["observership-request"]["has_html"] is True
    assert rows["observership-request"]["attachments"] == ['attachments/cv.pdf as "{{ sender.name }} - CV.pdf"']
    assert rows["thank-you"]["description"].startswith("Thank someone")
    human = run("templates", "list")
    assert "observership-request" in human.stdout and "First email to a physician" in human.stdout
    assert "[html, attaches attachments/cv.pdf]" in human.stdout  # the file, not the template syntax


def test_templates_check_points_out_role_addresses(project, db):
    add_contact(db, "info@valley.example.net", tags=("desk",), first_name="Info", last_name="Desk", is_role_address=1)
    result = run("templates", "check", "thank-you", "--tag", "desk")
    assert result.exit_code == 0
    assert "Note: 1 of them reaches a desk, not a person (info@valley.example.net)" in result.stderr


def test_preview_without_a_sender_uses_a_placeholder_that_reads_as_one(project, okafor, monkeypatch):
    monkeypatch.delenv("OUTREACH_FROM")
    result = run("templates", "preview", "alumni-introduction", "--contact", okafor["email"])
    assert "Using Firstname Lastname <you@example.com> for now" in result.stderr
    assert "From: Firstname Lastname <you@example.com>" in result.stdout


def test_an_empty_templates_folder_says_where_to_point_instead(hermetic):
    (hermetic / "elsewhere").mkdir()
    result = CliRunner().invoke(cli, ["--templates-dir", "elsewhere", "templates", "preview", "x", "--contact", "a@example.org"])
    assert result.exit_code == 1
    assert "elsewhere/ has no templates; point --templates-dir or OUTREACH_TEMPLATES_DIR at your templates folder" in result.stderr


def test_templates_show_prints_the_source(project):
    result = run("templates", "show", "followup-2")
    assert result.stdout == (SHIPPED / "followup-2.txt").read_text(encoding="utf-8")
    assert run("templates", "show", "observership-request", "--html").stdout.startswith("<p>Dear")


def test_templates_preview_prints_the_message_and_a_summary(project, okafor):
    result = run("templates", "preview", "observership-request", "--contact", "Jane.Okafor@MERCY.example.org")
    assert result.exit_code == 0, result.stderr
    message = message_from_bytes(result.stdout_bytes, policy=policy.default)
    assert message["To"] == "Jane Okafor <jane.okafor@mercy.example.org>"
    assert message["From"] == "Ada Obí <ada@example.com>"
    assert message["Message-ID"].endswith("@example.com>")
    assert b"\r\n" in result.stdout_bytes  # exactly the bytes that go over SMTP
    assert "Subject:  Observership request — Cardiology at Mercy Hospital" in result.stderr
    assert "Parts:    text/plain, text/html" in result.stderr
    assert "Attached: Ada Obí - CV.pdf (686 bytes" in result.stderr


def test_templates_preview_without_sender_warns_and_unknown_contact_fails(project, monkeypatch):
    monkeypatch.delenv("OUTREACH_FROM")
    result = run("templates", "preview", "thank-you", "--contact", "jane.okafor@mercy.example.org")
    assert result.exit_code == 0 and "OUTREACH_FROM is not set" in result.stderr
    add_suppression(open_db("outreach.db"), "mercy.example.org", reason="asked not to be contacted")
    noted = run("templates", "preview", "thank-you", "--contact", "jane.okafor@mercy.example.org")
    assert "Note: a campaign would not write to this contact: suppressed domain mercy.example.org" in noted.stderr
    missing = run("templates", "preview", "thank-you", "--contact", "nobody@example.org")
    assert missing.exit_code == 1 and "no contact 'nobody@example.org'" in missing.stderr


def test_templates_check_fails_a_selection_with_a_blank_field(project, db):
    write_template(
        project / "templates", "strict", "---\nsubject: Observing at {{ hospital }}\n---\nDear {{ salutation }},\n"
    )
    ok = run("templates", "check", "strict", "--where", "hospital=Mercy Hospital")
    assert ok.exit_code == 0 and "renders for all 1 selected" in ok.stderr
    bad = run("templates", "check", "strict", "--tag", "physicians")
    assert bad.exit_code == 1
    assert bad.stdout.splitlines() == [
        "strict.txt:2  someone@clinic.example.com  hospital is blank for this contact: fill it in, or give the "
        'template a fallback such as {{ hospital | or_default("...") }}'
    ]
    assert "1 problem(s) in 1 of 2 contact(s)" in bad.stderr
    as_json = json.loads(run("templates", "check", "strict", "--tag", "physicians", "--json").stdout)
    assert as_json["checked"] == 2 and as_json["failing_contacts"] == 1
    assert as_json["problems"][0] == {
        "file": "strict.txt", "line": 2, "contact": "someone@clinic.example.com", "reason": as_json["problems"][0]["reason"],
    }
    assert run("templates", "check", "observership-request", "--tag", "physicians").exit_code == 0
    nobody = run("templates", "check", "observership-request", "--tag", "nobody")
    assert nobody.exit_code == 1 and "no contacts match" in nobody.stderr


def test_templates_check_reports_a_broken_template(project):
    write_template(project / "templates", "broken", "---\nsubject: Hi\n---\n{% if %}\n")
    result = run("templates", "check", "broken")
    assert result.exit_code == 1 and result.stdout.startswith("broken.txt:4")


def test_windows_editors_bom_and_crlf_are_fine(tmp_path, okafor):
    (tmp_path / "win.txt").write_bytes("\ufeff---\r\nsubject: Hi {{ first_name }}\r\n---\r\nDear {{ salutation }},\r\n".encode())
    rendered = render_message(load_template(tmp_path, "win"), okafor, sender=SENDER)
    assert (rendered.subject, rendered.text) == ("Hi Jane", "Dear Dr. Okafor,\n")
