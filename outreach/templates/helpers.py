"""What a template sees besides the contact's fields: strict blanks, filters, salutation, dates.

Kept apart from loading and rendering (templates.py) because it is the part a template author
meets: `{{ salutation }}`, `{{ last_name | possessive }}`, `{{ hospital | or_default("...") }}`,
`{{ today }}`, and the rule that a blank field printed without a fallback is an error.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date
from functools import lru_cache
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup, escape

from outreach.templates.budget import BudgetedSandbox

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


# --- Strictness -------------------------------------------------------------------------------


# While `check_template` runs, problems are recorded here and rendering carries on, so one pass
# finds every blank field in a part instead of stopping at the first.
_collector: ContextVar[Callable[[str], None] | None] = ContextVar("outreach_template_collector", default=None)


@contextmanager
def collecting(collect: Callable[[str], None] | None) -> Iterator[None]:
    """Within this block, problems go to `collect` instead of raising (None: raise as usual)."""
    token = _collector.set(collect)
    try:
        yield
    finally:
        _collector.reset(token)


def _report(message: str) -> None:
    collect = _collector.get()
    if collect is None:
        raise jinja2.UndefinedError(message)
    collect(message)


class _Reported:
    """Printing or looping over it is a problem: raised, or recorded while checking."""

    __slots__ = ()
    _undefined_message: str

    def __str__(self) -> str:
        _report(self._undefined_message)
        return ""

    def __iter__(self) -> Iterator[Any]:
        _report(self._undefined_message)
        return iter(())


class Missing(_Reported, jinja2.StrictUndefined):  # type: ignore[misc]  # _Reported reports where StrictUndefined raises, on purpose
    """A name this contact does not have at all: any use other than a fallback is an error."""

    __slots__ = ()

    @property
    def _undefined_message(self) -> str:  # type: ignore[override]  # jinja2 declares an attribute; a property computes it
        message = super()._undefined_message
        if self._undefined_hint is None and self._undefined_obj is jinja2.utils.missing:
            # A bare unknown name: usually a typo, or a CSV column only some contacts had.
            message += (
                ": no field or template value has this name; check the spelling (a CSV column"
                ' "Residency Program" is {{ residency_program }}), or list it under optional_fields'
                " if only some contacts have it"
            )
        return message

    def __bool__(self) -> bool:  # type: ignore[override]  # StrictUndefined fails here; Missing reports and goes on
        _report(self._undefined_message)
        return False


class Blank(_Reported, jinja2.Undefined):
    """A field the contact has but left empty.

    Falsy in `{% if %}`, replaced by `default`/`or_default`/`or`, an error when printed.
    """

    __slots__ = ()


@lru_cache(maxsize=4096)
def blank(label: str) -> Blank:
    """One per label, shared: a Blank holds nothing but its label and hint, and a contact list
    has the same empty columns row after row (17 per contact in a freeze, each built anew)."""
    return Blank(
        hint=f"{label} is blank for this contact: fill it in, or give the template a fallback "
        f'such as {{{{ {label} | or_default("...") }}}}',
        name=label,
    )


def is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _finalize(value: Any) -> Any:
    """Every `{{ ... }}` passes here: blanks and missing names raise, None/"" raise too."""
    if isinstance(value, jinja2.Undefined):
        return str(value)  # raises, or reports while checking
    if is_empty(value):
        _report("this expression is empty for this contact; give it a fallback with or_default(...)")
        return ""
    return value


def or_default(value: Any, fallback: Any = "") -> Any:
    """`{{ first_name | or_default("there") }}`: the fallback when blank, missing or None."""
    if isinstance(value, jinja2.Undefined) or is_empty(value):
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


def clean(value: Any) -> str:
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
    title, first, last = (clean(contact.get(k)) for k in ("title", "first_name", "last_name"))
    doctor = _has_doctor_suffix(clean(contact.get("suffix")))
    if title and last:
        return f"{_normal_title(title)} {last}"
    if doctor and last:
        return f"Dr. {last}"
    if first:
        return first
    return "Doctor"


def full_name(contact: Mapping[str, Any]) -> str:
    return " ".join(p for p in (clean(contact.get("first_name")), clean(contact.get("last_name"))) if p)


_MARKDOWN_SPECIALS = re.compile(r"([\\`*_{}\[\]()#+\-.!])")  # Python-Markdown's escapable characters


def quote(value: Any) -> str:
    """`{{ previous_text | quote }}`: "> " before each line, as mail programs quote a message."""
    if isinstance(value, jinja2.Undefined) or is_empty(value):
        return str(value) if isinstance(value, jinja2.Undefined) else ""
    return "\n".join(f"> {line}".rstrip() for line in str(value).rstrip("\n").splitlines())


def _finalize_markdown(value: Any) -> Any:
    """Values in a .md template: Markdown punctuation backslash-escaped, then HTML-escaped.

    Without this a contact field like `[site](javascript:...)` would become a link.
    """
    value = _finalize(value)
    if isinstance(value, Markup):
        return value
    return escape(_MARKDOWN_SPECIALS.sub(r"\\\1", str(value)))


def _environment(autoescape: bool, finalize: Callable[[Any], Any] = _finalize) -> SandboxedEnvironment:
    env = BudgetedSandbox(
        undefined=Missing,
        autoescape=autoescape,
        finalize=finalize,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.filters.update(or_default=or_default, possessive=possessive, linebreaks=linebreaks, quote=quote)
    return env


TEXT_ENV = _environment(autoescape=False)
HTML_ENV = _environment(autoescape=True)
MARKDOWN_ENV = _environment(autoescape=True, finalize=_finalize_markdown)


@lru_cache(maxsize=1)
def markdown_converter() -> Any:
    """One converter, reset per message; Python-Markdown loads only for a template with a .md part
    (13 ms of every other command's start)."""
    import markdown  # lazy: see the docstring

    return markdown.Markdown(output_format="html")
