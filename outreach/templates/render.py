"""Templates: load `templates/NAME.txt` (+ `.html` or `.md`) and render a contact into a message.

Rendering is sandboxed (a template cannot reach Python internals) and strict: an unknown name, a
blank contact field printed without a fallback, a missing attachment or a syntax error is a
`TemplateError` naming the file, the line in that file and the contact. Fallbacks still work:
`{{ hospital | or_default("your hospital") }}`, `{{ hospital | default("...") }}`,
`{{ hospital or "..." }}` and `{% if hospital %}` all treat a blank field as absent.

Front matter (a small YAML subset between `---` lines, read by front_matter.py; unknown keys
are errors)
- `subject` (a template), `description` (one line for `templates list`), `kind` (free text;
  `followup` marks a template meant as a follow-up step, never a first email)
- `include_replied: true`: a campaign with this first email also writes to people already in a
  conversation (a thank-you note), like `campaign create --include-replied`
- `cc`, `reply_to`: addresses, templated, one value or a `- item` list
- `attachments`: `- path` or `- path as "Name the recipient sees.pdf"`; relative to the
  templates folder, templated per contact (contact values cannot leave the named folder)
- `optional_fields`: custom CSV columns that some contacts may lack

Template context (the helpers and filters live in template_helpers.py)
- every contact field (standard and custom CSV columns) by name, and the same as `contact.NAME`
- `salutation`: "Dr. Okafor" (title + last name, or an MD/DO/PhD-style suffix + last name),
  else the first name, else "Doctor"
- `full_name` ("Jane Okafor"), `sender` (name, first_name, address, domain, signature),
  `campaign` (the campaign row, or None), `today` ("November 25, 2026"),
  `previous_subject`, `previous_sent_at` (the date of the last message, "March 2, 2026") and
  `previous_text` (its text, to quote with `{{ previous_text | quote }}`) for follow-ups
- custom columns listed in the front matter's `optional_fields` are blank (not unknown) for
  contacts whose CSV lacked them, so `{% if target_program %}` works; other unknown names are errors
- filters: `or_default(fallback)`, `possessive` (Okafor's, Jones'), `linebreaks` (HTML <br>),
  `quote` ("> " before each line, as mail programs quote)
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from outreach.config import Settings
from outreach.contacts.store import template_fields
from outreach.errors import ConfigError, HeaderInjectionError, NotFoundError, TemplateError
from outreach.templates.budget import TOO_MUCH, budget
from outreach.templates.front_matter import items, scalar, split_front_matter
from outreach.mail.message import (
    AttachmentInfo,
    RenderedMessage,
    build_message,
    check_message,
    header_value,
    load_attachment,
    parse_address_list,
)
from outreach.templates.helpers import (
    HTML_ENV,
    MARKDOWN,
    MARKDOWN_ENV,
    TEXT_ENV,
    TITLES,
    blank,
    clean,
    collecting,
    full_name,
    is_empty,
    salutation,
    us_date,
)

__all__ = [
    "AttachmentInfo",
    "RenderedMessage",
    "Sender",
    "Template",
    "TemplateHeaderInjection",
    "check_template",
    "list_templates",
    "load_template",
    "render_message",
    "render_or_problems",
    "salutation",
    "template_names",
]

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class TemplateHeaderInjection(TemplateError, HeaderInjectionError):
    """Contact or template data would put CR/LF/NUL into a header (catchable as either error)."""


# --- Sender ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sender:
    """Who the message is from: the configured account (OUTREACH_FROM) and signature."""

    name: str
    address: str
    signature: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Sender:
        if not settings.from_address:
            raise ConfigError(
                "OUTREACH_FROM is not set: add a line like OUTREACH_FROM=Ada Obi <ada@example.com> to .env"
            )
        return cls.parse(settings.from_address, signature=settings.signature)

    @classmethod
    def parse(cls, text: str, *, signature: str | None = None) -> Sender:
        """`"Ada Obi <ada@example.com>"` -> Sender; ConfigError if it is not one address."""
        try:
            addresses = parse_address_list("OUTREACH_FROM", text)
        except HeaderInjectionError as error:
            raise ConfigError(f"OUTREACH_FROM={text!r} is not an address like Ada Obi <ada@example.com> ({error})") from None
        if len(addresses) != 1:
            raise ConfigError(f"OUTREACH_FROM={text!r} must be exactly one address")
        return cls(addresses[0].display_name, addresses[0].addr_spec, signature or None)

    @property
    def domain(self) -> str:
        return self.address.rsplit("@", 1)[-1]

    @property
    def first_name(self) -> str:
        """"Dr. Ada Obi" -> "Ada": the first word that is not a title."""
        words = [w for w in self.name.replace(",", " ").split() if w.lower().rstrip(".") not in TITLES]
        return words[0] if words else ""



# --- Loading ----------------------------------------------------------------------------------


@dataclass
class _Part:
    """One compiled piece of a template file and where it sits in that file."""

    label: str  # unique per part; the compiled code's filename
    file: str  # e.g. "observership-request.txt"
    offset: int  # file line = template line + offset
    compiled: jinja2.Template
    source: str = ""


@dataclass
class Template:
    """A loaded, compiled template. `subject`, `cc`, ... are the front-matter sources."""

    name: str
    path: Path
    source: str
    subject: str
    description: str | None = None
    kind: str | None = None
    cc: list[str] = field(default_factory=list)
    reply_to: list[str] = field(default_factory=list)
    attachments: list[str] = field(default_factory=list)
    optional_fields: list[str] = field(default_factory=list)
    include_replied: bool = False
    html_path: Path | None = None
    _parts: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def templates_dir(self) -> Path:
        return self.path.parent

    @property
    def has_html(self) -> bool:
        return self.html_path is not None

    @property
    def file(self) -> str:
        return self.path.name

    @property
    def is_followup(self) -> bool:
        """Meant as a follow-up step (front matter `kind: followup`, or named followup-*)."""
        return (self.kind or "").strip().lower() in ("followup", "follow-up") or self.name.lower().startswith("followup")


def template_names(templates_dir: Path) -> list[str]:
    """Names of every `NAME.txt` in the folder, sorted."""
    templates_dir = Path(templates_dir)
    if not templates_dir.is_dir():
        return []
    return sorted(p.stem for p in templates_dir.glob("*.txt") if NAME_PATTERN.match(p.stem))


def list_templates(templates_dir: Path) -> list[Template]:
    """Every template in the folder, loaded (a broken one raises TemplateError)."""
    return [load_template(templates_dir, name) for name in template_names(templates_dir)]


def load_template(templates_dir: Path, name: str) -> Template:
    """Read and compile `NAME.txt` and its optional `NAME.html` or `NAME.md`."""
    templates_dir = Path(templates_dir)
    if not NAME_PATTERN.match(name or ""):
        raise NotFoundError(f"{name!r} is not a template name (letters, digits, '-', '_', '.'; no folders)")
    path = templates_dir / f"{name}.txt"
    if not path.is_file():
        known = template_names(templates_dir)
        where = (
            f"templates in {templates_dir}/: {', '.join(known)}" if known
            else f"{templates_dir}/ has no templates; point --templates-dir or OUTREACH_TEMPLATES_DIR at your templates folder"
        )
        raise NotFoundError(f"no template {name!r}: {path} does not exist ({where})")
    try:
        source = path.read_text(encoding="utf-8-sig")  # editors on Windows may add a BOM
    except (OSError, UnicodeDecodeError) as error:
        raise TemplateError(f"cannot read: {error}", template=path.name) from None
    meta, body, body_offset = split_front_matter(source, path.name)
    subject, subject_line = meta.get("subject", (None, 0))
    if not clean(subject):
        raise TemplateError("the front matter needs a subject: line", template=path.name, line=subject_line or 1)

    html_path = None
    for suffix in (".html", ".md"):
        candidate = templates_dir / f"{name}{suffix}"
        if candidate.is_file():
            if html_path is not None:
                raise TemplateError(f"has both {name}.html and {name}.md; keep one", template=path.name)
            html_path = candidate

    template = Template(
        name=name,
        path=path,
        source=source,
        subject=subject,
        description=scalar(meta, "description"),
        kind=scalar(meta, "kind"),
        cc=[v for v, _ in items(meta, "cc")],
        reply_to=[v for v, _ in items(meta, "reply_to")],
        attachments=[v for v, _ in items(meta, "attachments")],
        optional_fields=[v for v, _ in items(meta, "optional_fields")],
        include_replied=(scalar(meta, "include_replied") or "").strip().lower() in ("true", "yes", "1"),
        html_path=html_path,
    )
    parts: dict[str, Any] = {
        "subject": _compile(TEXT_ENV, subject, path.name, "subject", subject_line - 1),
        "body": _compile(TEXT_ENV, body, path.name, "body", body_offset),
        "cc": [_compile(TEXT_ENV, v, path.name, f"cc{i}", line - 1) for i, (v, line) in enumerate(items(meta, "cc"))],
        "reply_to": [
            _compile(TEXT_ENV, v, path.name, f"reply_to{i}", line - 1) for i, (v, line) in enumerate(items(meta, "reply_to"))
        ],
        "attachments": [
            _compile_attachment(v, path.name, i, line - 1) for i, (v, line) in enumerate(items(meta, "attachments"))
        ],
        "html": None,
    }
    if html_path is not None:
        try:
            html_source = html_path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as error:
            raise TemplateError(f"cannot read: {error}", template=html_path.name) from None
        env = MARKDOWN_ENV if html_path.suffix == ".md" else HTML_ENV
        parts["html"] = _compile(env, html_source, html_path.name, "html", 0)
        parts["markdown"] = html_path.suffix == ".md"
    template._parts = parts
    return template


ATTACHMENT_AS = re.compile(r"^(?P<path>.+?)\s+as\s+(?P<q>[\"'])(?P<name>.+)(?P=q)$")


def _compile_attachment(item: str, file: str, index: int, offset: int) -> tuple[_Part, _Part | None]:
    """`path/to/file.pdf` or `path/to/file.pdf as "Name shown to the recipient.pdf"`."""
    match = ATTACHMENT_AS.match(item)
    path, name = (match["path"], match["name"]) if match else (item, None)
    return (
        _compile(TEXT_ENV, path, file, f"attachment{index}", offset),
        _compile(TEXT_ENV, name, file, f"attachment{index}-name", offset) if name else None,
    )


def _compile(env: SandboxedEnvironment, source: str, file: str, part: str, offset: int) -> _Part:
    label = f"{file}#{part}"
    try:
        code = env.compile(source, name=label, filename=label)
    except jinja2.TemplateSyntaxError as error:
        raise TemplateError(f"syntax error: {error.message}", template=file, line=(error.lineno or 1) + offset) from None
    return _Part(label, file, offset, env.template_class.from_code(env, code, env.make_globals(None)), source)


# --- Rendering --------------------------------------------------------------------------------


def _values(fields: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    return {k: (blank(prefix + k) if is_empty(v) else v) for k, v in fields.items()}


def _context(
    contact: Mapping[str, Any], *, sender: Sender, campaign: Mapping[str, Any] | None, today: date,
    previous_subject: str | None, optional: Iterable[str] = (), previous: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    fields = template_fields(contact)
    for name in optional:
        fields.setdefault(name, None)
    context = _values(fields)
    context["contact"] = _values({**fields, "full_name": full_name(contact)}, "contact.")
    context.update(
        salutation=salutation(contact),
        full_name=full_name(contact) or blank("full_name"),
        sender=_values(
            {
                "name": sender.name,
                "first_name": sender.first_name,
                "address": sender.address,
                "domain": sender.domain,
                "signature": sender.signature,
            },
            "sender.",
        ),
        campaign=_values(dict(campaign), "campaign.") if campaign is not None else None,
        today=us_date(today),
        previous_subject=previous_subject if previous_subject else blank("previous_subject"),
    )
    for key in ("previous_sent_at", "previous_text"):
        value = (previous or {}).get(key)
        context[key] = blank(key) if is_empty(value) else value
    return context


def _line_of(error: BaseException, part: _Part) -> int | None:
    line = None
    tb = error.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == part.label:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line + part.offset if line else None


def _current_line(part: _Part) -> int | None:
    """The template line being rendered right now (for problems recorded without raising)."""
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_filename == part.label:
            return part.compiled.get_corresponding_lineno(frame.f_lineno) + part.offset
        frame = frame.f_back
    return None


def _reason(error: BaseException) -> str:
    if isinstance(error, (jinja2.exceptions.SecurityError, jinja2.UndefinedError)):
        return _explain(str(error))
    return f"{type(error).__name__}: {error}"


def _explain(message: str) -> str:
    """The sandbox reports blocked attributes as 'unsafe'; say plainly that it is not allowed."""
    return f"not allowed in a template: {message}" if "is unsafe" in message else message


class _Renderer:
    """Renders every part of one template for one contact, collecting or raising problems."""

    def __init__(self, template: Template, contact: Mapping[str, Any], *, collect: bool) -> None:
        self.template = template
        self.contact_label = str(contact.get("email") or f"id {contact.get('id')}")
        self.collect = collect
        self.problems: list[TemplateError] = []

    def problem(self, reason: str, *, file: str | None = None, line: int | None = None, injection: bool = False) -> None:
        cls = TemplateHeaderInjection if injection else TemplateError
        error = cls(reason, template=file or self.template.file, line=line, contact=self.contact_label)
        if not self.collect:
            raise error
        self.problems.append(error)

    def render(self, part: _Part, context: Mapping[str, Any]) -> str | None:
        found: list[tuple[str, int | None]] = []

        def collect(message: str) -> None:
            if (problem := (_explain(message), _current_line(part))) not in found:
                found.append(problem)

        try:
            with collecting(collect if self.collect else None):
                output = part.compiled.render(context)
        except Exception as error:  # a template can raise almost anything; report it with its line
            found.append((_reason(error), _line_of(error, part)))
            output = None
        for message, line in found:
            self.problem(message, file=part.file, line=line)
        return None if found else output

    def header(self, field_name: str, part: _Part, context: Mapping[str, Any]) -> str | None:
        value = self.render(part, context)
        if value is None:
            return None
        try:
            return header_value(field_name, value.strip(), contact=self.contact_label)
        except HeaderInjectionError as error:
            self.problem(str(error), file=part.file, line=part.offset + 1, injection=True)
            return None


def _resolve(folder: Path, text: str) -> Path:
    """The real path of an attachment (relative to the templates folder)."""
    path = Path(text).expanduser()
    return _realpath(os.path.abspath(path if path.is_absolute() else folder / path))


@lru_cache(maxsize=4096)
def _realpath(absolute: str) -> Path:
    """Cached by absolute path, as every contact names the same few files (realpath per
    contact was an eighth of `templates check`); abspath first, so a change of the current
    folder never returns another folder's file."""
    return Path(os.path.realpath(absolute))


def _literal_folder(folder: Path, source: str) -> Path:
    """The folder an attachment line names before any {{ ... }}: "letters/{{ x }}.pdf" -> letters."""
    literal = source.split("{", 1)[0]
    if not literal or literal.endswith(("/", os.sep)):
        return _resolve(folder, literal or ".")
    return _resolve(folder, literal).parent


def _within(folder: Path, value: str, source: str) -> Path | None:
    """The file to attach, or None when values from the contact lead outside the named folder.

    A template that writes `attachments/{{ last_name }}.pdf` must not be made to send
    `../../.ssh/id_rsa` by a contact whose last name says so.
    """
    path = _resolve(folder, value)
    if "{" not in source:
        return path  # written out by the user: any path they like
    base = _literal_folder(folder, source)
    return path if os.path.commonpath([base, path]) == str(base) else None


def _render(
    template: Template,
    contact: Mapping[str, Any],
    *,
    sender: Sender,
    collect: bool,
    campaign: Mapping[str, Any] | None = None,
    today: date | None = None,
    in_reply_to: str | None = None,
    references: list[str] | None = None,
    previous_subject: str | None = None,
    now: datetime | None = None,
    previous: Mapping[str, Any] | None = None,
    build: bool = True,
) -> tuple[RenderedMessage | None, list[TemplateError]]:
    """The message, or (with `collect`) None and every problem found; without it, the first raises.

    `build=False` checks everything build_message checks but builds nothing (message is None)."""
    run = _Renderer(template, contact, collect=collect)
    parts = template._parts
    context = _context(contact, sender=sender, campaign=campaign, today=today or date.today(),
        previous_subject=previous_subject, optional=template.optional_fields, previous=previous,
    )

    subject = run.header("Subject", parts["subject"], context)
    text = run.render(parts["body"], context)
    html = run.render(parts["html"], context) if parts["html"] is not None else None
    if html is not None and parts.get("markdown"):
        html = MARKDOWN.reset().convert(html)
    if text is not None:
        text = text.rstrip() + "\n"

    cc, reply_to = [], []
    for key, into in (("cc", cc), ("reply_to", reply_to)):
        for part in parts[key]:
            value = run.header(key.replace("_", "-").title(), part, context)
            if value:
                try:
                    into.extend(parse_address_list(key, value, contact=run.contact_label))
                except HeaderInjectionError as error:
                    run.problem(str(error), file=part.file, line=part.offset + 1, injection=True)

    attachments = []
    for part, name_part in parts["attachments"]:
        value = run.render(part, context)
        shown = run.header("attachment name", name_part, context) if name_part else None
        if value is None or (name_part and shown is None):
            continue
        path = _within(template.templates_dir, value.strip(), part.source)
        if path is None:
            run.problem(
                f"attachment {value.strip()!r}: contact data may not move an attachment out of the folder "
                f"the template names ({_literal_folder(template.templates_dir, part.source)})",
                file=part.file, line=part.offset + 1,
            )
            continue
        try:
            attachments.append(load_attachment(path, filename=shown))
        except OSError as error:
            reason = "not found" if isinstance(error, FileNotFoundError) else f"cannot be read ({error.strerror or error})"
            run.problem(f"attachment {value.strip()!r} {reason} (looked for {path})", file=part.file, line=part.offset + 1)

    if run.problems or subject is None or text is None:
        return None, run.problems
    if not build:  # a check: the verdict of build_message without the MIME tree
        try:
            check_message(
                from_name=sender.name, from_address=sender.address, to_name=full_name(contact),
                to_address=str(contact.get("email") or ""), subject=subject, cc=cc, reply_to=reply_to,
                attachments=attachments, in_reply_to=in_reply_to, references=references, contact=run.contact_label,
            )
        except HeaderInjectionError as error:
            run.problem(str(error), injection=True)
        return None, run.problems
    try:
        rendered = build_message(
            from_name=sender.name,
            from_address=sender.address,
            to_name=full_name(contact),
            to_address=str(contact.get("email") or ""),
            subject=subject,
            text=text,
            html=html,
            cc=cc,
            reply_to=reply_to,
            attachments=attachments,
            in_reply_to=in_reply_to,
            references=references,
            date=now,
            contact=run.contact_label,
        )
    except HeaderInjectionError as error:
        run.problem(str(error), injection=True)
        return None, run.problems
    rendered.text = text
    rendered.html = html
    return rendered, []


def render_message(
    template: Template,
    contact: dict,
    *,
    sender: Sender,
    campaign: dict | None = None,
    today: date | None = None,
    in_reply_to: str | None = None,
    references: list[str] | None = None,
    previous_subject: str | None = None,
    now: datetime | None = None,
    previous: dict | None = None,
) -> RenderedMessage:
    """The complete message for one contact; TemplateError (first problem) if it cannot be made.

    `previous_subject` lets a follow-up template say `Re: {{ previous_subject }}`, `previous`
    gives it `previous_sent_at` and `previous_text`; `now` fixes the Date header (tests, previews).
    """
    with budget():  # bounded work per message: a runaway loop is an error, not a hang
        rendered, _ = _render(
            template, contact, sender=sender, campaign=campaign, today=today, in_reply_to=in_reply_to,
            references=references, previous_subject=previous_subject, now=now, collect=False, previous=previous,
        )
    assert rendered is not None
    return rendered


def render_or_problems(
    template: Template, contact: dict, *, sender: Sender, campaign: dict | None = None, today: date | None = None
) -> tuple[RenderedMessage | None, list[TemplateError]]:
    """The message and no problems, or None and every problem: a check that keeps what it rendered,
    so a campaign renders each message once. Bounded work per message, as render_message."""
    with budget():
        return _render(template, contact, sender=sender, campaign=campaign, today=today, collect=True)


def check_template(
    template: Template, contacts: Iterable[dict], *, sender: Sender, campaign: dict | None = None
) -> list[TemplateError]:
    """Every problem for every contact (an empty list means all of them render)."""
    problems: list[TemplateError] = []
    for contact in contacts:
        with budget():
            found = _render(template, contact, sender=sender, campaign=campaign, collect=True, build=False)[1]
        problems.extend(found)
        if any(p.reason.startswith(TOO_MUCH) for p in found):
            break  # a runaway loop runs away for every contact: one report, not one minute each
    return problems
