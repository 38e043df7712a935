"""Template problems for people: one line per cause, not one per contact.

Two typos in a template used to print 51 lines ("'hosptial' is undefined" once per contact and
place). Here problems with the same cause are grouped: an undefined name is one group whatever
line and contact it came from, with the contacts counted, a few shown, and a difflib suggestion
from the names the template could have meant ("did you mean `hospital`?"). Other problems group
by file, line and reason.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from outreach.errors import TemplateError

SHOW_CONTACTS = 3
# Names every template sees besides the contact's fields (render._context).
TEMPLATE_NAMES = ("salutation", "full_name", "contact", "sender", "campaign", "today", "previous_subject")
SENDER_NAMES = ("name", "first_name", "address", "domain", "signature")
_UNDEFINED = re.compile(r"^'([^']+)' is undefined")
_NO_ATTRIBUTE = re.compile(r"has no attribute '([^']+)'")


@dataclass
class ProblemGroup:
    """Problems with one cause: where it happens, for whom, and a likely fix."""

    reason: str
    name: str | None = None  # the undefined name, when that is the cause
    places: list[str] = field(default_factory=list)  # "file:line", in order of first appearance
    contacts: list[str] = field(default_factory=list)
    suggestion: str | None = None

    def __str__(self) -> str:
        where = _places(self.places)
        count = len(self.contacts)
        shown = ", ".join(self.contacts[:SHOW_CONTACTS]) + (", ..." if count > SHOW_CONTACTS else "")
        whom = f"for {count} contact{'' if count == 1 else 's'} (e.g. {shown})" if count > 1 else f"for {shown}" if count else ""
        if self.name:
            hint = f"; did you mean `{self.suggestion}`?" if self.suggestion else (
                "; check the spelling, or list it under optional_fields if only some contacts have it")
            return f"{where}  `{self.name}` is undefined {whom}{hint}".strip()
        if count <= 1:
            return "  ".join(p for p in (where, shown, self.reason) if p)
        reason = self.reason.replace(" for this contact", "")
        head, colon, tail = reason.partition(": ")
        return f"{where}  {head} {whom}{colon}{tail}".strip()


def group_problems(problems: Iterable[TemplateError], contacts: Iterable[Mapping[str, Any]] = ()) -> list[ProblemGroup]:
    """Group `problems` by cause; suggestions come from the standard fields, the custom fields
    of `contacts` and the names every template sees."""
    known = _known_names(contacts)
    groups: dict[tuple[str, ...], ProblemGroup] = {}
    for problem in problems:
        name = _undefined_name(problem.reason)
        place = f"{problem.template}:{problem.line}" if problem.line else str(problem.template or "")
        key = ("undefined", name) if name else ("other", place, problem.reason)
        group = groups.get(key)
        if group is None:
            group = groups[key] = ProblemGroup(problem.reason, name=name)
            if name:
                group.suggestion = suggest(name, known)
        if place and place not in group.places:
            group.places.append(place)
        if problem.contact and problem.contact not in group.contacts:
            group.contacts.append(problem.contact)
    return list(groups.values())


def suggest(name: str, known: Iterable[str]) -> str | None:
    """The closest known name, if one is close enough to be a typo."""
    import difflib  # only when a template has a problem: not worth 10 ms on every start

    leaf = name.rsplit(".", 1)[-1]
    matches = difflib.get_close_matches(leaf, [k for k in known if k != leaf], n=1, cutoff=0.75)
    return matches[0] if matches else None


def _undefined_name(reason: str) -> str | None:
    match = _UNDEFINED.match(reason) or _NO_ATTRIBUTE.search(reason)
    return match.group(1) if match else None


def _known_names(contacts: Iterable[Mapping[str, Any]]) -> list[str]:
    from outreach.contacts.store import STANDARD_FIELDS  # only when there is a problem to explain

    names = dict.fromkeys([*STANDARD_FIELDS, "email", *TEMPLATE_NAMES, *SENDER_NAMES])
    for contact in contacts:
        custom = contact.get("custom")
        if isinstance(custom, str):
            try:
                custom = json.loads(custom)
            except ValueError:
                continue
        if isinstance(custom, Mapping):
            names.update(dict.fromkeys(custom))
    return list(names)


def _places(places: list[str]) -> str:
    """'typo.txt:2,4' for lines of one file; several files are listed in full."""
    files: dict[str, list[str]] = {}
    for place in places:
        file, _, line = place.partition(":")
        files.setdefault(file, [])
        if line:
            files[file].append(line)
    return "; ".join(f"{file}:{','.join(lines)}" if lines else file for file, lines in files.items())
