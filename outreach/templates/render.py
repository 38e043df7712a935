"""Templates: load `templates/NAME.txt` (+ `.html` or `.md`) and render a contact into a message.

Rendering is sandboxed (a template cannot reach Python internals) and strict: an unknown name, a
blank contact field printed without a fallback, a missing attachment or a syntax error is a
`TemplateError` naming the file, the line in that file and the contact. Fallbacks still work:
`{{ hospital | or_default("your hospital") }}`, `{{ hospital | default("...") }}`,
`{{ hospital or "..." }}` and `{% if hospital %}` all treat a blank field as absent.

Loading (the Template, its front matter and where attachments resolve to) is in loading.py;
its names are re-exported here, so `from outreach.templates.render import load_template` works.

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

import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from email.headerregistry import Address
from types import FrameType
from typing import Any

import jinja2

from outreach.config import Settings
from outreach.contacts.store import template_fields
from outreach.errors import ConfigError, HeaderInjectionError, TemplateError
from outreach.mail.headers import sender_address
from outreach.mail.message import (
    Attachment,
    AttachmentInfo,
    RenderedMessage,
    build_message,
    check_message,
    header_value,
    load_attachment,
    parse_address_list,
)
from outreach.templates.budget import TOO_MUCH, budget
from outreach.templates.helpers import (
    TITLES,
    blank,
    collecting,
    full_name,
    is_empty,
    markdown_converter,
    salutation,
    us_date,
)
from outreach.templates.loading import (  # noqa: F401 (re-exported: callers import these from render)
    ATTACHMENT_AS,
    NAME_PATTERN,
    Template,
    _literal_folder,
    _Part,
    _within,
    list_templates,
    load_template,
    template_names,
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
        address = sender_address(text)
        return cls(address.display_name, address.addr_spec, signature or None)

    @property
    def domain(self) -> str:
        return self.address.rsplit("@", 1)[-1]

    @property
    def first_name(self) -> str:
        """"Dr. Ada Obi" -> "Ada": the first word that is not a title."""
        words = [w for w in self.name.replace(",", " ").split() if w.lower().rstrip(".") not in TITLES]
        return words[0] if words else ""



# --- Rendering --------------------------------------------------------------------------------


def _values(fields: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    return {k: (blank(prefix + k) if is_empty(v) else v) for k, v in fields.items()}


_shared: list[Any] = [None, None, {}, None]  # the last (sender, campaign) and their values


def _sender_and_campaign(sender: Sender, campaign: Mapping[str, Any] | None) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The `sender` and `campaign` values: the same for every contact of a run, so built once
    per (sender, campaign) pair, the same objects (a freeze of 1,000 spent 10% of its render
    here); each render gets its own copy, as a template may change a dict it is given."""
    if _shared[0] is not sender or _shared[1] is not campaign:
        sender_values = _values({"name": sender.name, "first_name": sender.first_name, "address": sender.address,
                                 "domain": sender.domain, "signature": sender.signature}, "sender.")
        _shared[:] = [sender, campaign, sender_values, _values(dict(campaign), "campaign.") if campaign is not None else None]
    return dict(_shared[2]), (dict(_shared[3]) if _shared[3] is not None else None)


def _context(
    contact: Mapping[str, Any], *, sender: Sender, campaign: Mapping[str, Any] | None, today: date,
    previous_subject: str | None, optional: Iterable[str] = (), previous: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    fields = template_fields(contact)
    for name in optional:
        fields.setdefault(name, None)
    context = _values(fields)
    context["contact"] = _values({**fields, "full_name": full_name(contact)}, "contact.")
    sender_values, campaign_values = _sender_and_campaign(sender, campaign)
    context.update(
        salutation=salutation(contact),
        full_name=full_name(contact) or blank("full_name"),
        sender=sender_values,
        campaign=campaign_values,
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
    frame: FrameType | None = sys._getframe(1)
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
        html = markdown_converter().reset().convert(html)
    if text is not None:
        text = text.rstrip() + "\n"
    cc, reply_to = _addresses(run, parts, context)
    attachments = _attachments(run, template, context)

    if run.problems or subject is None or text is None:
        return None, run.problems
    headers: dict[str, Any] = dict(
        from_name=sender.name, from_address=sender.address, to_name=full_name(contact),
        to_address=str(contact.get("email") or ""), subject=subject, cc=cc, reply_to=reply_to,
        attachments=attachments, in_reply_to=in_reply_to, references=references, contact=run.contact_label,
    )
    if not build:  # a check: the verdict of build_message without the MIME tree
        try:
            check_message(**headers)
        except HeaderInjectionError as error:
            run.problem(str(error), injection=True)
        return None, run.problems
    try:
        rendered = build_message(text=text, html=html, date=now, **headers)
    except HeaderInjectionError as error:
        run.problem(str(error), injection=True)
        return None, run.problems
    rendered.text = text
    rendered.html = html
    return rendered, []


def _addresses(run: _Renderer, parts: Mapping[str, Any], context: Mapping[str, Any]) -> tuple[list[Address], list[Address]]:
    """The rendered Cc and Reply-To addresses (problems go to `run`)."""
    cc: list[Address] = []
    reply_to: list[Address] = []
    for key, into in (("cc", cc), ("reply_to", reply_to)):
        for part in parts[key]:
            value = run.header(key.replace("_", "-").title(), part, context)
            if value:
                try:
                    into.extend(parse_address_list(key, value, contact=run.contact_label))
                except HeaderInjectionError as error:
                    run.problem(str(error), file=part.file, line=part.offset + 1, injection=True)
    return cc, reply_to


def _attachments(run: _Renderer, template: Template, context: Mapping[str, Any]) -> list[Attachment]:
    """The rendered attachments, loaded (problems go to `run`)."""
    attachments: list[Attachment] = []
    for part, name_part in template._parts["attachments"]:
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
    return attachments


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
