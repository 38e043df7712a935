"""Templates: load `templates/NAME.txt` (+ `.html` or `.md`) and render a contact into a message.

Rendering is sandboxed (a template cannot reach Python internals) and strict: an unknown name, a
blank contact field printed without a fallback, a missing attachment or a syntax error is a
`TemplateError` naming the file, the line in that file and the contact. Fallbacks still work:
`{{ hospital | or_default("your hospital") }}`, `{{ hospital | default("...") }}`,
`{{ hospital or "..." }}` and `{% if hospital %}` all treat a blank field as absent.

Front matter (a small YAML subset between `---` lines; unknown keys are errors)
- `subject` (a template), `description` (one line for `templates list`), `kind` (free text)
- `cc`, `reply_to`: addresses, templated, one value or a `- item` list
- `attachments`: `- path` or `- path as "Name the recipient sees.pdf"`; relative to the
  templates folder, templated per contact (contact values cannot leave the named folder)
- `optional_fields`: custom CSV columns that some contacts may lack

Template context
- every contact field (standard and custom CSV columns) by name, and the same as `contact.NAME`
- `salutation`: "Dr. Okafor" (title + last name, or an MD/DO/PhD-style suffix + last name),
  else the first name, else "Doctor"
- `full_name` ("Jane Okafor"), `sender` (name, first_name, address, domain, signature),
  `campaign` (the campaign row, or None), `today` ("November 25, 2026"),
  `previous_subject` (for follow-ups, when the caller knows it)
- custom columns listed in the front matter's `optional_fields` are blank (not unknown) for
  contacts whose CSV lacked them, so `{% if target_program %}` works; other unknown names are errors
- filters: `or_default(fallback)`, `possessive` (Okafor's, Jones'), `linebreaks` (HTML <br>)
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import jinja2
import markdown as markdown_lib
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup, escape

from .config import Settings
from .contacts import template_fields
from .errors import ConfigError, HeaderInjectionError, NotFoundError, TemplateError
from .message import (
    AttachmentInfo,
    RenderedMessage,
    build_message,
    header_value,
    load_attachment,
    parse_address_list,
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
    "salutation",
    "template_names",
]

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
FRONT_MATTER_KEYS = ("subject", "description", "kind", "cc", "reply_to", "attachments", "optional_fields")
LIST_KEYS = ("cc", "reply_to", "attachments", "optional_fields")
DOCTOR_SUFFIXES = frozenset("MD DO MBBS MBCHB MBBCH MBBCHIR PHD DPHIL DDS DMD".split())
TITLES = {
    "dr": "Dr.",
    "doctor": "Dr.",
    "prof": "Prof.",
    "professor": "Professor",
    "mr": "Mr.",
    "mrs": "Mrs.",
    "ms": "Ms.",
    "mx": "Mx.",
    "miss": "Miss",
}


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


# --- Strictness -------------------------------------------------------------------------------


# While `check_template` runs, problems are recorded here and rendering carries on, so one pass
# finds every blank field in a part instead of stopping at the first.
_collector: ContextVar[Callable[[str], None] | None] = ContextVar("outreach_template_collector", default=None)


def _report(message: str) -> None:
    collect = _collector.get()
    if collect is None:
        raise jinja2.UndefinedError(message)
    collect(message)


class Missing(jinja2.StrictUndefined):
    """A name this contact does not have at all: any use other than a fallback is an error."""

    __slots__ = ()

    def __str__(self) -> str:
        _report(self._undefined_message)
        return ""

    def __bool__(self) -> bool:
        _report(self._undefined_message)
        return False

    def __iter__(self) -> Iterator[Any]:
        _report(self._undefined_message)
        return iter(())


class Blank(jinja2.Undefined):
    """A field the contact has but left empty.

    Falsy in `{% if %}`, replaced by `default`/`or_default`/`or`, an error when printed.
    """

    __slots__ = ()

    def __str__(self) -> str:
        _report(self._undefined_message)
        return ""

    def __iter__(self) -> Iterator[Any]:
        _report(self._undefined_message)
        return iter(())


def _blank(label: str) -> Blank:
    return Blank(
        hint=f"{label} is blank for this contact: fill it in, or give the template a fallback "
        f'such as {{{{ {label} | or_default("...") }}}}',
        name=label,
    )


def _is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _finalize(value: Any) -> Any:
    """Every `{{ ... }}` passes here: blanks and missing names raise, None/"" raise too."""
    if isinstance(value, jinja2.Undefined):
        return str(value)  # raises, or reports while checking
    if _is_empty(value):
        _report("this expression is empty for this contact; give it a fallback with or_default(...)")
        return ""
    return value


def or_default(value: Any, fallback: Any = "") -> Any:
    """`{{ first_name | or_default("there") }}`: the fallback when blank, missing or None."""
    if isinstance(value, jinja2.Undefined) or _is_empty(value):
        return fallback
    return value


def possessive(value: Any) -> str:
    """Okafor -> Okafor's, Jones -> Jones'."""
    if isinstance(value, jinja2.Undefined):
        return str(value)  # raises, or reports while checking
    text = str(value).strip()
    if not text:
        _report("possessive of an empty value; give it a fallback with or_default(...)")
        return ""
    return text + ("'" if text[-1] in "sS" else "'s")


def linebreaks(value: Any) -> Markup:
    """HTML: escape, then turn newlines into <br>, for signatures and addresses."""
    if isinstance(value, jinja2.Undefined):
        return Markup(str(value))  # raises, or reports while checking
    return Markup("<br>\n").join(escape(line) for line in str(value).splitlines())


def us_date(day: date) -> str:
    return f"{day:%B} {day.day}, {day.year}"


def _clean(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _normal_title(title: str) -> str:
    return TITLES.get(title.lower().rstrip("."), title)


def _has_doctor_suffix(suffix: str) -> bool:
    parts = re.split(r"[,\s/;]+", suffix.upper().replace(".", ""))
    return any(part in DOCTOR_SUFFIXES for part in parts)


def salutation(contact: Mapping[str, Any]) -> str:
    """What follows "Dear": "Dr. Okafor" when the fields say doctor, else the first name.

    title + last name -> "Dr. Okafor" / "Prof. Lee"; no title but an MD/DO/MBBS/PhD suffix ->
    "Dr. Okafor"; otherwise the first name ("Priya"); with no names at all, "Doctor".
    """
    title, first, last = (_clean(contact.get(k)) for k in ("title", "first_name", "last_name"))
    doctor = _has_doctor_suffix(_clean(contact.get("suffix")))
    if title and last:
        return f"{_normal_title(title)} {last}"
    if doctor and last:
        return f"Dr. {last}"
    if first:
        return first
    return "Doctor"


def full_name(contact: Mapping[str, Any]) -> str:
    return " ".join(p for p in (_clean(contact.get("first_name")), _clean(contact.get("last_name"))) if p)


_MARKDOWN_SPECIALS = re.compile(r"([\\`*_{}\[\]()#+\-.!])")  # Python-Markdown's escapable characters


def _finalize_markdown(value: Any) -> Any:
    """Values in a .md template: Markdown punctuation backslash-escaped, then HTML-escaped.

    Without this a contact field like `[site](javascript:...)` would become a link.
    """
    value = _finalize(value)
    if isinstance(value, Markup):
        return value
    return escape(_MARKDOWN_SPECIALS.sub(r"\\\1", str(value)))


def _environment(autoescape: bool, finalize: Callable[[Any], Any] = _finalize) -> SandboxedEnvironment:
    env = SandboxedEnvironment(
        undefined=Missing,
        autoescape=autoescape,
        finalize=finalize,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.filters.update(or_default=or_default, possessive=possessive, linebreaks=linebreaks)
    return env


TEXT_ENV = _environment(autoescape=False)
HTML_ENV = _environment(autoescape=True)
MARKDOWN_ENV = _environment(autoescape=True, finalize=_finalize_markdown)
_MARKDOWN = markdown_lib.Markdown(output_format="html")  # one converter, reset per message


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
        known = ", ".join(template_names(templates_dir)) or "none"
        raise NotFoundError(f"no template {name!r}: {path} does not exist (templates in {templates_dir}: {known})")
    try:
        source = path.read_text(encoding="utf-8-sig")  # editors on Windows may add a BOM
    except (OSError, UnicodeDecodeError) as error:
        raise TemplateError(f"cannot read: {error}", template=path.name) from None
    meta, body, body_offset = _split_front_matter(source, path.name)
    subject, subject_line = meta.get("subject", (None, 0))
    if not _clean(subject):
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
        description=_scalar(meta, "description"),
        kind=_scalar(meta, "kind"),
        cc=[v for v, _ in _items(meta, "cc")],
        reply_to=[v for v, _ in _items(meta, "reply_to")],
        attachments=[v for v, _ in _items(meta, "attachments")],
        optional_fields=[v for v, _ in _items(meta, "optional_fields")],
        html_path=html_path,
    )
    parts: dict[str, Any] = {
        "subject": _compile(TEXT_ENV, subject, path.name, "subject", subject_line - 1),
        "body": _compile(TEXT_ENV, body, path.name, "body", body_offset),
        "cc": [_compile(TEXT_ENV, v, path.name, f"cc{i}", line - 1) for i, (v, line) in enumerate(_items(meta, "cc"))],
        "reply_to": [
            _compile(TEXT_ENV, v, path.name, f"reply_to{i}", line - 1) for i, (v, line) in enumerate(_items(meta, "reply_to"))
        ],
        "attachments": [
            _compile_attachment(v, path.name, i, line - 1) for i, (v, line) in enumerate(_items(meta, "attachments"))
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


def _split_front_matter(source: str, file: str) -> tuple[dict[str, Any], str, int]:
    """Front matter as {key: (value, line) | [(item, line), ...]}, the body and its line offset."""
    lines = source.splitlines(keepends=True)
    if not lines or lines[0].strip() != "---":
        raise TemplateError("must start with a front-matter block: a '---' line, 'subject: ...', then '---'", template=file, line=1)
    meta: dict[str, Any] = {}
    current_list: str | None = None
    for index in range(1, len(lines)):  # a deliberately small YAML subset: key: value, - items
        number = index + 1
        raw = lines[index].rstrip("\r\n")
        stripped = raw.strip()
        if stripped == "---":
            body_lines = lines[index + 1 :]
            offset = index + 1
            while body_lines and not body_lines[0].strip():  # blank lines after the block
                body_lines.pop(0)
                offset += 1
            return meta, "".join(body_lines), offset
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith("- ") or stripped == "-":
            if current_list is None:
                raise TemplateError("a '- item' line must follow a key such as 'attachments:'", template=file, line=number)
            meta[current_list].append((_unquote(stripped[1:].strip()), number))
            continue
        key, colon, value = raw.partition(":")
        key = key.strip()
        if not colon or not re.fullmatch(r"[a-z_]+", key):
            raise TemplateError(f"front matter line {stripped!r} is not 'key: value'", template=file, line=number)
        if key not in FRONT_MATTER_KEYS:
            raise TemplateError(
                f"unknown front-matter key {key!r} (known: {', '.join(FRONT_MATTER_KEYS)})", template=file, line=number
            )
        if key in meta:
            raise TemplateError(f"front-matter key {key!r} appears twice", template=file, line=number)
        value = value.strip()
        if key in LIST_KEYS:
            current_list = key
            meta[key] = [] if not value else [(_unquote(v.strip()), number) for v in _inline_list(key, value)]
        else:
            current_list = None
            meta[key] = (_unquote(value), number)
    raise TemplateError("the front-matter block has no closing '---' line", template=file, line=1)


def _inline_list(key: str, value: str) -> list[str]:
    if value.startswith("[") and value.endswith("]"):
        return [v for v in value[1:-1].split(",") if v.strip()]
    if key == "optional_fields":
        return [v for v in value.split(",") if v.strip()]
    return [value]


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def _scalar(meta: Mapping[str, Any], key: str) -> str | None:
    value = meta.get(key)
    return value[0] if value else None


def _items(meta: Mapping[str, Any], key: str) -> list[tuple[str, int]]:
    return [(v, line) for v, line in meta.get(key, []) if v]


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
    return {k: (_blank(prefix + k) if _is_empty(v) else v) for k, v in fields.items()}


def _context(
    contact: Mapping[str, Any], *, sender: Sender, campaign: Mapping[str, Any] | None, today: date,
    previous_subject: str | None, optional: Iterable[str] = (),
) -> dict[str, Any]:
    fields = template_fields(contact)
    for name in optional:
        fields.setdefault(name, None)
    context = _values(fields)
    context["contact"] = _values({**fields, "full_name": full_name(contact)}, "contact.")
    context.update(
        salutation=salutation(contact),
        full_name=full_name(contact) or _blank("full_name"),
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
        previous_subject=previous_subject if previous_subject else _blank("previous_subject"),
    )
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

        token = _collector.set(collect if self.collect else None)
        try:
            output = part.compiled.render(context)
        except Exception as error:  # a template can raise almost anything; report it with its line
            found.append((_reason(error), _line_of(error, part)))
            output = None
        finally:
            _collector.reset(token)
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
    path = Path(text).expanduser()
    return Path(os.path.realpath(path if path.is_absolute() else folder / path))


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
    campaign: Mapping[str, Any] | None,
    today: date | None,
    in_reply_to: str | None,
    references: list[str] | None,
    previous_subject: str | None,
    now: datetime | None,
    collect: bool,
) -> tuple[RenderedMessage | None, list[TemplateError]]:
    run = _Renderer(template, contact, collect=collect)
    parts = template._parts
    context = _context(contact, sender=sender, campaign=campaign, today=today or date.today(),
        previous_subject=previous_subject, optional=template.optional_fields,
    )

    subject = run.header("Subject", parts["subject"], context)
    text = run.render(parts["body"], context)
    html = run.render(parts["html"], context) if parts["html"] is not None else None
    if html is not None and parts.get("markdown"):
        html = _MARKDOWN.reset().convert(html)
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
) -> RenderedMessage:
    """The complete message for one contact; TemplateError (first problem) if it cannot be made.

    `previous_subject` lets a follow-up template say `Re: {{ previous_subject }}`; `now` fixes
    the Date header (tests, previews).
    """
    rendered, _ = _render(
        template, contact, sender=sender, campaign=campaign, today=today, in_reply_to=in_reply_to,
        references=references, previous_subject=previous_subject, now=now, collect=False,
    )
    assert rendered is not None
    return rendered


def check_template(
    template: Template, contacts: Iterable[dict], *, sender: Sender, campaign: dict | None = None
) -> list[TemplateError]:
    """Every problem for every contact (an empty list means all of them render)."""
    problems: list[TemplateError] = []
    for contact in contacts:
        _, found = _render(
            template, contact, sender=sender, campaign=campaign, today=None, in_reply_to=None,
            references=None, previous_subject=None, now=None, collect=True,
        )
        problems.extend(found)
    return problems
