"""What a contact list's columns and cells mean: header recognition and the cell parsers.

Pure text in, values out (no files, no db): "E-Mail Address" is the email column, "Dr. Jane A.
Smith, MD" splits into title/first/middle/last/suffix, "texas" is TX, "Class of 2015" is 2015 and
an NPI must pass its check digit. `parse_row` turns one CSV row into a `ParsedRow`; problems that
should not cost the user a contact come back as warnings, an unusable address raises InvalidEmail.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from email.utils import parseaddr
from typing import Any

from outreach.contacts.store import EXPORT_COLUMNS, FORMULA_PREFIXES, STANDARD_FIELDS, InvalidEmail, normalise_email
from outreach.errors import InputFileError
from outreach.timezones import state_code

# Targets a column can map to, besides standard fields: the address, a full name to split,
# tags to add, or "ignore".
SPECIAL_TARGETS = ("email", "name", "tags", "ignore")
MAPPABLE_FIELDS = SPECIAL_TARGETS[:1] + ("name",) + STANDARD_FIELDS + ("tags", "ignore")

HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "email": ("email", "emailaddress", "emailaddr", "mail", "emailid", "primaryemail", "workemail", "contactemail", "emails"),
    "name": ("name", "fullname", "contactname", "physicianname", "doctorname", "displayname", "physician", "doctor", "contact", "providername"),
    "title": ("title", "salutation", "prefix", "honorific", "nameprefix"),
    "first_name": ("firstname", "first", "givenname", "forename", "fname", "first_name"),
    "middle_name": ("middlename", "middle", "middleinitial", "mi", "additionalname"),
    "last_name": ("lastname", "last", "surname", "familyname", "lname"),
    "suffix": ("suffix", "credentials", "credential", "degree", "degrees", "namesuffix"),
    "specialty": ("specialty", "speciality", "department", "dept", "specialization", "specialisation", "division", "primaryspecialty"),
    "hospital": ("hospital", "institution", "organization", "organisation", "affiliation", "practice", "company", "employer", "hospitalname", "org", "clinic", "practicename", "hospitalaffiliation"),
    "city": ("city", "town", "practicecity"),
    "state": ("state", "stateprovince", "st", "practicestate", "stateterritory"),
    "medical_school": ("medicalschool", "school", "almamater", "medschool", "university"),
    "graduation_year": ("graduationyear", "gradyear", "classof", "yearofgraduation", "graduated", "class"),
    "npi": ("npi", "npinumber", "npiid"),
    "notes": ("notes", "note", "comments", "comment", "remarks"),
    "tags": ("tags", "tag", "labels", "groups"),
    # Written by `contacts export`; managed by outreach, never taken from a file.
    "ignore": ("id", "status", "stage", "isroleaddress", "awayuntil", "repliedat", "source", "createdat", "updatedat"),
}
_ALIAS_TO_TARGET = {alias: target for target, aliases in HEADER_ALIASES.items() for alias in aliases}

HONORIFICS = {"dr": "Dr.", "doctor": "Dr.", "prof": "Prof.", "professor": "Prof.", "mr": "Mr.", "mrs": "Mrs.", "ms": "Ms.", "miss": "Miss", "mx": "Mx.", "dra": "Dra."}
SUFFIXES = {
    s.lower().replace(".", ""): s
    for s in "MD DO PhD MBBS MBChB MPH MS MSc MBA MHA FACP FACS FACC FAAP FACEP FRCS FRCP FRCPC DrPH DNP NP PA PA-C RN "
    "Jr. Sr. II III IV".split()
}
NAME_PARTICLES = {"van", "von", "de", "der", "den", "da", "das", "do", "dos", "del", "della", "di", "du", "la", "le", "bin", "binti", "al", "el", "ibn", "ter", "st", "st."}

FORMULA_START = ("=", "+", "@")  # "-" is too common in real text ("- none -") to warn about
COLUMNS = ("email",) + STANDARD_FIELDS


# --- Columns --------------------------------------------------------------------------------


def header_key(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def custom_field_name(header: str) -> str:
    """A template-friendly name for an unknown column: "Residency Program" -> residency_program."""
    name = re.sub(r"[^0-9a-zA-Z]+", "_", header.strip()).strip("_").lower()
    if not name:
        name = "column"
    if name[0].isdigit():
        name = "field_" + name
    return name


def parse_mapping(items: Iterable[str]) -> dict[str, str]:
    """`--map "CSV column=field"` values -> {header_key(column): field}. ValueError if malformed."""
    mapping: dict[str, str] = {}
    for item in items:
        column, sep, target = item.rpartition("=")
        column, target = column.strip(), target.strip().lower().replace(" ", "_").replace("-", "_")
        if not sep or not column or not target:
            raise ValueError(f"{item!r} is not CSV column=field (e.g. --map 'E-mail addr=email')")
        if target not in MAPPABLE_FIELDS and not target.startswith("custom:"):
            raise ValueError(f"unknown field {target!r} in {item!r}; fields are: {', '.join(MAPPABLE_FIELDS)} (or custom:NAME)")
        if target.startswith("custom:"):
            target = "custom:" + custom_field_name(target[7:])
        mapping[column] = target
    return mapping


def named_field(header: str) -> str | None:
    """The target a header spells exactly (case and punctuation aside): "E-Mail" -> email."""
    return _ALIAS_TO_TARGET.get(header_key(header))


def _recognise(name: str) -> str | None:
    """The field a header names: "E-Mail Address" -> email; "Hospital / Institution" -> hospital."""
    target = named_field(name)
    if target is None:
        for part in re.split(r"[/|&()]|\bor\b", name):
            target = named_field(part)
            if target and target != "ignore":
                return target
    return target


def plan_columns(header: list[str], mapping: Mapping[str, str], path: str) -> list[str]:
    """Where each column goes: a standard field, email, name, tags, ignore, or custom:NAME."""
    by_key = {header_key(h): i for i, h in enumerate(header)}
    forced: dict[int, str] = {}
    target: str | None
    for column, target in mapping.items():
        index = header.index(column) if column in header else by_key.get(header_key(column))
        if index is None:
            raise InputFileError(path, f"--map names column {column!r}, which is not in the file; columns are: {', '.join(header)}")
        forced[index] = target
    plan: list[str] = []
    taken = set(forced.values()) - {"ignore"}
    custom_taken: set[str] = set()
    for index, name in enumerate(header):
        if index in forced:
            plan.append(forced[index])
            continue
        target = _recognise(name)
        if target and target != "ignore" and target in taken:
            target = None  # a second "Email" column: keep it, as a custom field
        if target is None:
            custom = custom_field_name(name)
            while custom in custom_taken or custom in COLUMNS:
                custom += "_2"
            custom_taken.add(custom)
            target = "custom:" + custom
        plan.append(target)
        taken.add(target)
    if "email" not in plan:
        # "Work E-mail", "E-mail 1 - Value" (Google), "Email (primary)"...
        for index, name in enumerate(header):
            if "email" in header_key(name) and index not in forced:
                plan[index] = "email"
                break
    if "email" not in plan:
        shown = ", ".join(repr(h) for h in header[:12]) + (" ..." if len(header) > 12 else "")
        if header and header[0].startswith("#"):
            raise InputFileError(path, "the first line is a # comment, not column names; if this is a list of people not to write to, use `outreach suppress import` instead")
        if any("@" in h and " " not in h.strip() for h in header):
            raise InputFileError(path, "the first line looks like data, not column names; add a header line such as email,first_name,last_name")
        example = header[0] if header and header[0].strip() and header[0].isprintable() else "E-mail addr"
        raise InputFileError(path, f"no email column found; columns are: {shown}; name it with --map '{example}=email'")
    return plan

# --- Cells ----------------------------------------------------------------------------------

_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"), None)


def clean_cell(text: str) -> str:
    """Trim, turn non-breaking spaces into spaces and drop zero-width characters (web copy-paste)."""
    return text.replace("\xa0", " ").translate(_INVISIBLE).strip()


# C0 controls except tab/CR/LF, DEL and the C1 controls: invisible, and NUL or ESC in a 7-bit
# body corrupts the message, so they never reach the database.
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_CONTROL_NAMES = {0: "NUL", 7: "BEL", 8: "BS", 0x1B: "ESC", 0x7F: "DEL"}


def strip_controls(text: str) -> tuple[str, list[str]]:
    """(text without control characters, the names of those removed, e.g. ["NUL", "U+0001"])."""
    found = _CONTROLS.findall(text)
    if not found:
        return text, []
    names = [_CONTROL_NAMES.get(ord(c), f"U+{ord(c):04X}") for c in dict.fromkeys(found)]
    return _CONTROLS.sub("", text), names


# `contacts export` puts ' before cells a spreadsheet would run as formulas (and before a
# cell that already starts with ' and then one of those characters, so the guard can be undone).
_GUARDED = re.compile("^'+(?=[" + re.escape("".join(FORMULA_PREFIXES)) + "])")


def is_own_export(header: list[str]) -> bool:
    """A file written by `contacts export`: its header starts with exactly the export columns."""
    return [h.strip() for h in header[: len(EXPORT_COLUMNS)]] == list(EXPORT_COLUMNS)


def unguard(cell: str) -> str:
    """`'=SUM(A1)` -> `=SUM(A1)`, `'+1-2@x.org` -> `+1-2@x.org`: undo export's formula guard."""
    return cell[1:] if _GUARDED.match(cell) else cell


def one_line(text: str) -> str:
    return " ".join(text.split())


def parse_year(text: str) -> int | None:
    """"2015", "2015.0" (Excel), "Class of 2015", "May 2015" -> 2015; None if no plausible year."""
    match = re.search(r"(?<!\d)(1[89]\d\d|20\d\d)(?!\d)(?:\.0+)?", text)
    if not match:
        return None
    year = int(match.group(1))
    return year if 1940 <= year <= date.today().year + 8 else None


def npi_is_valid(npi: str) -> bool:
    """The NPI check digit: Luhn over "80840" + the first nine digits."""
    digits = [int(d) for d in "80840" + npi[:9]]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 0:
            d *= 2
            d -= 9 if d > 9 else 0
        total += d
    return (10 - total % 10) % 10 == int(npi[9])


def parse_npi(text: str) -> tuple[str | None, str | None]:
    """(npi, problem). Problems leave the field empty and become a warning."""
    if re.fullmatch(r"\d(\.\d+)?[eE]\+?\d+", text):
        return None, f"NPI {text!r} was turned into a number by a spreadsheet; format the column as Text and export again"
    digits = re.sub(r"[\s\-]", "", text)
    digits = re.sub(r"\.0+$", "", digits)
    if not re.fullmatch(r"\d{10}", digits):
        return None, f"NPI {text!r} is not 10 digits; left empty"
    if not npi_is_valid(digits):
        return None, f"NPI {text!r} fails the NPI check digit (typo?); left empty"
    return digits, None


def split_name(text: str) -> dict[str, str]:
    """"Dr. Jane A. Smith, MD" -> title Dr., first Jane, middle A., last Smith, suffix MD.

    Also "Smith, Jane", "Jane Smith MD, FACP", "Maria de la Cruz" (particles join the last name).
    A single word is a last name after a title ("Dr. Okafor"), otherwise a first name.
    """
    text = one_line(text)
    parts = [p.strip() for p in text.split(",") if p.strip()]
    suffixes: list[str] = []
    while len(parts) > 1 and all(_suffix(w) for w in parts[-1].split()):
        suffixes[:0] = [_suffix(w) for w in parts.pop().split()]  # type: ignore[misc]
    if len(parts) == 2:  # "Smith, Jane A."
        words = parts[1].split() + parts[0].split()
        reordered_last = len(parts[0].split())
    else:
        words = " ".join(parts).split()
        reordered_last = 0
    result: dict[str, str] = {}
    titles = []
    while words and HONORIFICS.get(words[0].lower().rstrip(".")):
        titles.append(HONORIFICS[words.pop(0).lower().rstrip(".")])
    while len(words) > 1 and _suffix(words[-1]) and not reordered_last:
        suffixes.insert(0, _suffix(words.pop()))  # type: ignore[arg-type]
    if titles:
        result["title"] = titles[0]
    if suffixes:
        result["suffix"] = ", ".join(suffixes)
    if not words:
        return result
    if len(words) == 1:
        result["last_name" if titles or reordered_last else "first_name"] = words[0]
        return result
    if reordered_last:
        last = words[-reordered_last:]
        rest = words[:-reordered_last]
    else:
        cut = len(words) - 1
        while cut > 1 and words[cut - 1].lower() in NAME_PARTICLES:
            cut -= 1
        last, rest = words[cut:], words[:cut]
    result["last_name"] = " ".join(last)
    if rest:
        result["first_name"] = rest[0]
    if len(rest) > 1:
        result["middle_name"] = " ".join(rest[1:])
    return result


def _suffix(word: str) -> str | None:
    return SUFFIXES.get(word.lower().replace(".", "").rstrip(","))


@dataclass
class ParsedRow:
    line: int
    email: str
    fields: dict[str, Any]
    custom: dict[str, str]
    tags: list[str]
    warnings: list[str]


def extract_address(cell: str) -> tuple[str, str | None]:
    """The address in an email cell: handles "mailto:", "Jane <jane@x>", and lists (first wins)."""
    text = cell.strip()
    if text.lower().startswith("mailto:"):
        text = text[7:].split("?", 1)[0]
    if text.count("<") == 1 and text.endswith(">"):
        text = parseaddr(text)[1] or text
    candidates = [c for c in re.split(r"[;,\s]+(?=[^;,\s]*@)", text) if c.strip()]
    warning = None
    if len(candidates) > 1:
        text = candidates[0].strip().rstrip(";,")
        warning = f"{len(candidates)} addresses in one email cell; used the first ({text})"
    return text, warning


def _cell_value(raw: str, target: str, name: str, warnings: list[str]) -> str | None:
    """A cell cleaned for its target column (None when empty); raises InvalidEmail for an unusable email cell."""
    raw, controls = strip_controls(raw)
    if controls and target == "email":
        raise InvalidEmail(f"the email cell contains control character(s) {', '.join(controls)}; retype the address and import again")
    if controls:
        warnings.append(f"{name}: removed control character(s) {', '.join(controls)}")
    value = clean_cell(raw)
    if not value:
        return None
    if target == "email" and ("\n" in value or "\r" in value):
        raise InvalidEmail('the email cell runs over several lines: a quote (") opened in this row is never closed, so the lines after it were read into one cell')
    if target != "notes":
        value = one_line(value)
    return value


def _apply_field(target: str, value: str, fields: dict[str, Any], custom: dict[str, str], tags: list[str], warnings: list[str]) -> None:
    """Put one cleaned cell where its target column says (everything but email and name)."""
    if target == "tags":
        tags.extend(t.strip() for t in re.split(r"[;,]", value) if t.strip())
    elif target.startswith("custom:"):
        custom[target[7:]] = value
    elif target == "title":
        honorific = HONORIFICS.get(value.lower().rstrip("."))
        if honorific:
            fields["title"] = honorific
        else:  # "Program Director": a job title, not a form of address
            custom.setdefault("job_title", value)
    elif target == "state":
        code = state_code(value)
        if code is None:
            warnings.append(f"state {value!r} is not a US state; kept as written")
        fields["state"] = code or value
    elif target == "graduation_year":
        year = parse_year(value)
        if year is None:
            warnings.append(f"graduation year {value!r} is not a plausible year; left empty")
        else:
            fields["graduation_year"] = year
    elif target == "npi":
        npi, problem = parse_npi(value)
        if problem:
            warnings.append(problem)
        if npi:
            fields["npi"] = npi
    elif target == "suffix":
        fields["suffix"] = ", ".join(SUFFIXES.get(s.lower().replace(".", ""), s) for s in re.split(r"[,\s]+", value) if s)
    else:
        fields[target] = value


def parse_row(line: int, cells: list[str], header: list[str], plan: list[str]) -> ParsedRow:
    """One CSV row -> ParsedRow; raises InvalidEmail (the row's error) if the address is unusable."""
    fields: dict[str, Any] = {}
    custom: dict[str, str] = {}
    tags: list[str] = []
    warnings: list[str] = []
    email_cell = ""
    name_cell = ""
    if len(cells) > len(header) and any(c.strip() for c in cells[len(header):]):
        warnings.append(f"{len(cells)} cells but {len(header)} columns; extra cells ignored (a stray delimiter?)")
    for index, target in enumerate(plan):
        if target == "ignore":
            continue
        raw = cells[index] if index < len(cells) else ""
        value = _cell_value(raw, target, header[index] or "column " + str(index + 1), warnings)
        if value is None:
            continue
        if value.startswith(FORMULA_START) and target != "email":
            warnings.append(f"{header[index]} {value[:40]!r} looks like a spreadsheet formula; imported as text")
        if target == "email":
            email_cell = value
        elif target == "name":
            name_cell = value
        else:
            _apply_field(target, value, fields, custom, tags, warnings)
    if name_cell:
        for key, value in split_name(name_cell).items():
            fields.setdefault(key, value)
    if not email_cell:
        who = " ".join(str(fields[k]) for k in ("first_name", "last_name") if fields.get(k)) or name_cell
        raise InvalidEmail("email is blank" + (f" ({who})" if who else ""))
    address, warning = extract_address(email_cell)
    if warning:
        warnings.append(warning)
    email = normalise_email(address)
    return ParsedRow(line, email, fields, custom, tags, warnings)

