"""Import a contact list as people export it: any common header, encoding and delimiter.

The file is read once to pick the encoding, then streamed row by row and written in batches,
so memory stays flat however long the file is. Every row ends up in exactly one of the counts
inserted / updated / unchanged / skipped; every skipped row says why, with its physical line.

Decisions (the README repeats them):
- Identity is the address, case-insensitively (`contacts.dedupe_key`); the first spelling wins.
- Policy `update` (default): non-empty cells overwrite, blank cells never erase. Policy `keep`:
  existing contacts are left exactly as they are (fields and tags).
- A later row with the same address as an earlier row of the same file only fills that
  contact's empty fields (the first row wins); it counts as skipped, with a warning naming the
  line it joined. So importing the same file twice reports everything unchanged.
- Bad graduation years and NPIs are warnings and the field is left empty: a typo in a year
  should not cost the user a contact. A bad or missing address is an error: the row is skipped.
- Columns that are not recognised become custom fields named in snake_case
  ("Residency Program" -> `residency_program`), which templates can use as `{{ residency_program }}`.
"""

from __future__ import annotations

import codecs
import csv
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from email.utils import parseaddr
from pathlib import Path
from typing import Any, TextIO

from sqlite_utils import Database

from .contacts import STANDARD_FIELDS, InvalidEmail, SuppressionIndex, dedupe_key, is_role_address, normalise_email
from .db import utc_now
from .errors import InputFileError

csv.field_size_limit(1 << 24)

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

US_STATES = {
    "AL": "Alabama", "AK": "Alaska", "AZ": "Arizona", "AR": "Arkansas", "CA": "California", "CO": "Colorado",
    "CT": "Connecticut", "DE": "Delaware", "DC": "District of Columbia", "FL": "Florida", "GA": "Georgia",
    "HI": "Hawaii", "ID": "Idaho", "IL": "Illinois", "IN": "Indiana", "IA": "Iowa", "KS": "Kansas",
    "KY": "Kentucky", "LA": "Louisiana", "ME": "Maine", "MD": "Maryland", "MA": "Massachusetts",
    "MI": "Michigan", "MN": "Minnesota", "MS": "Mississippi", "MO": "Missouri", "MT": "Montana",
    "NE": "Nebraska", "NV": "Nevada", "NH": "New Hampshire", "NJ": "New Jersey", "NM": "New Mexico",
    "NY": "New York", "NC": "North Carolina", "ND": "North Dakota", "OH": "Ohio", "OK": "Oklahoma",
    "OR": "Oregon", "PA": "Pennsylvania", "RI": "Rhode Island", "SC": "South Carolina", "SD": "South Dakota",
    "TN": "Tennessee", "TX": "Texas", "UT": "Utah", "VT": "Vermont", "VA": "Virginia", "WA": "Washington",
    "WV": "West Virginia", "WI": "Wisconsin", "WY": "Wyoming", "PR": "Puerto Rico", "GU": "Guam",
    "VI": "U.S. Virgin Islands", "AS": "American Samoa", "MP": "Northern Mariana Islands",
}
_STATE_LOOKUP = {re.sub(r"[^a-z]", "", name.lower()): code for code, name in US_STATES.items()}
_STATE_LOOKUP.update({code.lower(): code for code in US_STATES})
_STATE_LOOKUP.update({"washingtondc": "DC", "virginislands": "VI", "usvirginislands": "VI"})

FORMULA_START = ("=", "+", "@")  # "-" is too common in real text ("- none -") to warn about
BATCH_SIZE = 1000
COLUMNS = ("email",) + STANDARD_FIELDS


@dataclass(frozen=True)
class RowProblem:
    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass
class ImportReport:
    file: str
    dry_run: bool = False
    policy: str = "update"
    encoding: str = ""
    delimiter: str = ","
    columns: dict[str, str] = field(default_factory=dict)  # CSV header -> where it went
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    errors: list[RowProblem] = field(default_factory=list)
    warnings: list[RowProblem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # about the file as a whole
    suppressed: int = 0
    role_addresses: int = 0
    duplicates: int = 0

    def to_json(self) -> dict[str, Any]:
        """The INTERFACE.md shape, exactly."""
        return {
            "inserted": self.inserted,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "skipped": self.skipped,
            "errors": [{"line": e.line, "reason": e.reason} for e in self.errors],
        }


# --- Reading the file ---------------------------------------------------------------------


def detect_encoding(path: Path) -> str:
    """UTF-8 (with or without BOM), UTF-16 (Excel's "Unicode text") or else Windows-1252.

    Decides from the whole file in one streaming pass, so a lone cp1252 byte on the last line
    is not a crash halfway through the import.
    """
    with path.open("rb") as raw:
        head = raw.read(8192)
        if head.startswith(codecs.BOM_UTF8):
            return "utf-8-sig"
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return "utf-16"
        if head.startswith(b"PK\x03\x04"):
            raise InputFileError(str(path), "this is an Excel/ZIP workbook, not CSV; in Excel use File > Save As > CSV UTF-8, then import that file")
        if b"\0" in head:
            raise InputFileError(str(path), "this is a binary file, not CSV text; export the list as CSV and import that file")
        raw.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        try:
            for chunk in iter(lambda: raw.read(1 << 20), b""):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "cp1252"
    return "utf-8"


def detect_delimiter(header_line: str) -> str:
    """The delimiter that occurs most in the header line (outside quotes); comma by default.

    csv.Sniffer guesses from data rows too, where commas inside "Smith, Jane" mislead it; a
    header line rarely contains anything but the real separator.
    """
    unquoted = re.sub(r'"[^"]*"', "", header_line)
    counts = {d: unquoted.count(d) for d in (",", ";", "\t", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


@dataclass
class CsvSource:
    header: list[str]
    rows: Iterator[tuple[int, list[str]]]  # (physical line where the row starts, cells)
    encoding: str
    delimiter: str
    position: Callable[[], int]  # bytes read so far, for progress
    size: int
    header_line: int = 1


@contextmanager
def open_csv(path: str | Path) -> Iterator[CsvSource]:
    """Open a CSV for streaming; InputFileError (one line, what to do) if it cannot be read."""
    path = Path(path)
    if not path.exists():
        raise InputFileError(str(path), "no such file; check the path (try `ls` on the folder)")
    if path.is_dir():
        raise InputFileError(str(path), "is a folder, not a CSV file; give the path of the .csv file inside it")
    try:
        encoding = detect_encoding(path)
        # "replace" never fires on a file that passed detection; it keeps a BOM file with stray
        # cp1252 bytes, or cp1252's five undefined bytes, from stopping the import halfway.
        handle: TextIO = path.open("r", encoding=encoding, errors="replace", newline="")
    except PermissionError:
        raise InputFileError(str(path), "permission denied; check the file's permissions") from None
    with handle:
        first = handle.readline()
        while first and not first.strip(" \t\r\n,;\ufeff"):
            first = handle.readline()  # leading blank lines before the header
        if not first:
            raise InputFileError(str(path), "the file is empty; it needs a header line (e.g. email,first_name,last_name) and rows")
        skipped_lines = 0
        handle.seek(0)
        for line in handle:  # count what we skipped, so line numbers stay physical
            if line.strip(" \t\r\n,;\ufeff"):
                break
            skipped_lines += 1
        delimiter = detect_delimiter(first)
        handle.seek(0)
        for _ in range(skipped_lines):
            handle.readline()
        reader = csv.reader(handle, delimiter=delimiter, skipinitialspace=False)
        try:
            header = next(reader)
        except csv.Error as error:
            raise InputFileError(str(path), f"the header line is not valid CSV ({error})") from None
        header = [clean_cell(h).lstrip("\ufeff") for h in header]

        def rows() -> Iterator[tuple[int, list[str]]]:
            previous = reader.line_num + skipped_lines
            while True:
                start = previous + 1
                try:
                    cells = next(reader)
                except StopIteration:
                    return
                except csv.Error as error:
                    previous = reader.line_num + skipped_lines
                    yield start, [f"\0{error}"]  # a marker the importer reports as a row error
                    continue
                previous = reader.line_num + skipped_lines
                yield start, cells

        yield CsvSource(header, rows(), encoding, delimiter, handle.buffer.tell, path.stat().st_size, skipped_lines + 1)


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


def _recognise(name: str) -> str | None:
    """The field a header names: "E-Mail Address" -> email; "Hospital / Institution" -> hospital."""
    target = _ALIAS_TO_TARGET.get(header_key(name))
    if target is None:
        for part in re.split(r"[/|&()]|\bor\b", name):
            target = _ALIAS_TO_TARGET.get(header_key(part))
            if target and target != "ignore":
                return target
    return target


def plan_columns(header: list[str], mapping: Mapping[str, str], path: str) -> list[str]:
    """Where each column goes: a standard field, email, name, tags, ignore, or custom:NAME."""
    by_key = {header_key(h): i for i, h in enumerate(header)}
    forced: dict[int, str] = {}
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
        if any("@" in h and " " not in h.strip() for h in header):
            raise InputFileError(path, "the first line looks like data, not column names; add a header line such as email,first_name,last_name")
        example = header[0] if header else "E-mail addr"
        raise InputFileError(path, f"no email column found; columns are: {shown}; name it with --map '{example}=email'")
    return plan


# --- Cells ----------------------------------------------------------------------------------

_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"), None)


def clean_cell(text: str) -> str:
    """Trim, turn non-breaking spaces into spaces and drop zero-width characters (web copy-paste)."""
    return text.replace("\xa0", " ").translate(_INVISIBLE).strip()


def one_line(text: str) -> str:
    return " ".join(text.split())


def normalise_state(text: str) -> str | None:
    """Two-letter code for a US state or territory, full name or code; None if not recognised."""
    return _STATE_LOOKUP.get(re.sub(r"[^a-z]", "", text.lower()))


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
        raw = cells[index] if index < len(cells) else ""
        value = clean_cell(raw)
        if not value or target == "ignore":
            continue
        if target == "email" and ("\n" in value or "\r" in value):
            raise InvalidEmail('the email cell runs over several lines: a quote (") opened in this row is never closed, so the lines after it were read into one cell')
        if target != "notes":
            value = one_line(value)
        if value.startswith(FORMULA_START) and target != "email":
            warnings.append(f"{header[index]} {value[:40]!r} looks like a spreadsheet formula; imported as text")
        if target == "email":
            email_cell = value
        elif target == "name":
            name_cell = value
        elif target == "tags":
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
            code = normalise_state(value)
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


# --- Writing --------------------------------------------------------------------------------


class _DryRun(Exception):
    """Raised inside the import transaction to roll it back."""


def import_csv(
    db: Database,
    path: str | Path,
    *,
    tags: Iterable[str] = (),
    mapping: Mapping[str, str] | None = None,
    policy: str = "update",
    dry_run: bool = False,
    progress: Callable[[int, int], None] | None = None,
    batch_size: int = BATCH_SIZE,
) -> ImportReport:
    """Import one CSV file; see the module docstring for the rules. Never prints.

    `policy` is "update" or "keep". `progress(bytes_done, bytes_total)` is called after each batch.
    With `dry_run` everything runs inside one transaction that is rolled back.
    """
    if policy not in ("update", "keep"):
        raise ValueError(f"policy must be 'update' or 'keep', not {policy!r}")
    tags = sorted({t.strip() for t in tags if t and t.strip()})
    report = ImportReport(file=str(path), dry_run=dry_run, policy=policy)
    with open_csv(path) as source:
        report.encoding, report.delimiter = source.encoding, source.delimiter
        plan = plan_columns(source.header, mapping or {}, str(path))
        report.columns = {h: t for h, t in zip(source.header, plan)}
        _note_header(report, source.header, plan)
        try:
            with db.atomic():
                job = _Importer(db, report, tags, policy, Path(path).name)
                import_id = None if dry_run else db.table("imports").insert({"file": str(path), "started_at": utc_now()}).last_pk
                batch: list[ParsedRow] = []
                for line, cells in source.rows:
                    if not cells or not any(c.strip() for c in cells):
                        continue  # blank lines and ",,,," rows from spreadsheets are not contacts
                    report.rows += 1
                    if cells[0].startswith("\0"):
                        report.errors.append(RowProblem(line, f"malformed CSV: {cells[0][1:]}"))
                        report.skipped += 1
                        continue
                    try:
                        batch.append(parse_row(line, cells, source.header, plan))
                    except InvalidEmail as error:
                        report.errors.append(RowProblem(line, str(error)))
                        report.skipped += 1
                        continue
                    if len(batch) >= batch_size:
                        with db.atomic():
                            job.write(batch)
                        batch = []
                        if progress:
                            progress(source.position(), source.size)
                with db.atomic():
                    job.write(batch)
                if progress:
                    progress(source.size, source.size)
                if dry_run:
                    raise _DryRun
                db.table("imports").update(
                    import_id,
                    {
                        "finished_at": utc_now(),
                        "inserted": report.inserted,
                        "updated": report.updated,
                        "unchanged": report.unchanged,
                        "skipped": report.skipped,
                        "errors": json.dumps(report.to_json()["errors"]),
                    },
                )
        except _DryRun:
            pass
    report.errors.sort(key=lambda p: p.line)
    report.warnings.sort(key=lambda p: p.line)
    return report


def _note_header(report: ImportReport, header: list[str], plan: list[str]) -> None:
    for name, target in zip(header, plan):
        if target == "ignore" and name:
            report.notes.append(f"column {name!r} is managed by outreach and was ignored")
    blanks = [i + 1 for i, h in enumerate(header) if not h]
    if blanks:
        report.notes.append(f"column(s) {', '.join(map(str, blanks))} have no header; kept as custom fields 'column'")
    if "name" in plan and not {"first_name", "last_name"} <= set(plan):
        report.notes.append("names were split from the name column; check them with `outreach contacts list`")


class _Importer:
    """Applies parsed rows to the db, batch by batch, remembering who it has seen."""

    def __init__(self, db: Database, report: ImportReport, tags: list[str], policy: str, source: str) -> None:
        self.db, self.report, self.policy, self.source = db, report, policy, source
        self.known = {key: cid for cid, key in db.execute("SELECT id, lower(email) FROM contacts")}
        self.first_line: dict[str, int] = {}
        self.suppressions = SuppressionIndex(db)
        self.tag_ids: list[int] = []
        for tag in tags:
            db.execute("INSERT OR IGNORE INTO tags (name) VALUES (?)", [tag])
            self.tag_ids.append(db.execute("SELECT id FROM tags WHERE name = ?", [tag]).fetchone()[0])

    def _tag_id(self, name: str) -> int:
        self.db.execute("INSERT OR IGNORE INTO tags (name) VALUES (?)", [name])
        return self.db.execute("SELECT id FROM tags WHERE name = ?", [name]).fetchone()[0]

    def write(self, batch: list[ParsedRow]) -> None:
        if not batch:
            return
        db, report = self.db, self.report
        wanted = {self.known[k] for k in (dedupe_key(r.email) for r in batch) if k in self.known}
        current: dict[str, dict[str, Any]] = {}
        if wanted:
            ids = list(wanted)
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                marks = ",".join("?" * len(chunk))
                by_id: dict[int, dict[str, Any]] = {}
                for row in db.query(f"SELECT * FROM contacts WHERE id IN ({marks})", chunk):
                    row["custom"] = json.loads(row["custom"] or "{}")
                    row["tag_ids"] = set()
                    current[dedupe_key(row["email"])] = by_id[row["id"]] = row
                for cid, tid in db.execute(f"SELECT contact_id, tag_id FROM contact_tags WHERE contact_id IN ({marks})", chunk):
                    by_id[cid]["tag_ids"].add(tid)
        now = utc_now()
        inserts: dict[str, dict[str, Any]] = {}
        dirty: dict[str, dict[str, Any]] = {}
        for row in batch:
            key = dedupe_key(row.email)
            for text in row.warnings:
                report.warnings.append(RowProblem(row.line, text))
            row_tag_ids = set(self.tag_ids) | {self._tag_id(t) for t in row.tags}
            duplicate_of = self.first_line.get(key)
            if duplicate_of is None:
                self.first_line[key] = row.line
                self._flag(row)
            state = inserts.get(key) or dirty.get(key) or current.get(key)
            if state is None:
                record = {c: row.fields.get(c) for c in STANDARD_FIELDS}
                record.update(email=row.email, custom=dict(row.custom), tag_ids=row_tag_ids, is_role_address=int(is_role_address(row.email)))
                inserts[key] = record
                report.inserted += 1
                continue
            changed = _merge(state, row, row_tag_ids, fill_only=duplicate_of is not None)
            if duplicate_of is not None:
                report.skipped += 1
                report.duplicates += 1
                kept = "filled its empty fields" if self.policy == "update" else "ignored (--keep-existing)"
                report.warnings.append(RowProblem(row.line, f"same address as line {duplicate_of} ({state['email']}); {kept}"))
            elif not changed:
                report.unchanged += 1
            elif self.policy == "keep":
                report.skipped += 1
                report.warnings.append(RowProblem(row.line, f"{state['email']} is already a contact; left unchanged (--keep-existing)"))
            else:
                report.updated += 1
            if changed and self.policy == "update":
                _apply(state, changed)
                if key not in inserts:
                    dirty[key] = state
        self._flush(inserts, dirty, now)

    def _flag(self, row: ParsedRow) -> None:
        if is_role_address(row.email):
            self.report.role_addresses += 1
            self.report.warnings.append(RowProblem(row.line, f"{row.email} is a role address (reaches a desk, not a person); imported and flagged"))
        reason = self.suppressions.reason(row.email)
        if reason:
            self.report.suppressed += 1
            self.report.warnings.append(RowProblem(row.line, f"{row.email} is on the suppression list ({reason}); imported, but it will never be sent to"))

    def _flush(self, inserts: dict[str, dict[str, Any]], dirty: dict[str, dict[str, Any]], now: str) -> None:
        db = self.db
        columns = ("email",) + STANDARD_FIELDS + ("custom", "is_role_address", "source", "created_at", "updated_at")
        sql = f"INSERT INTO contacts ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
        links: list[tuple[int, int]] = []
        events: list[tuple[str, str, int, str]] = []
        for key, record in inserts.items():
            values = [record.get(c) for c in ("email",) + STANDARD_FIELDS]
            values += [json.dumps(record["custom"], ensure_ascii=False), record["is_role_address"], self.source, now, now]
            cid = db.conn.execute(sql, values).lastrowid
            self.known[key] = cid
            links += [(cid, t) for t in record["tag_ids"]]
            events.append((now, "imported", cid, json.dumps({"file": self.source, "action": "inserted"})))
        update_sql = f"UPDATE contacts SET {', '.join(f'{c} = ?' for c in STANDARD_FIELDS)}, custom = ?, updated_at = ? WHERE id = ?"
        updates = []
        for record in dirty.values():
            updates.append([record.get(c) for c in STANDARD_FIELDS] + [json.dumps(record["custom"], ensure_ascii=False), now, record["id"]])
            links += [(record["id"], t) for t in record["tag_ids"]]
            events.append((now, "imported", record["id"], json.dumps({"file": self.source, "action": "updated"})))
        db.conn.executemany(update_sql, updates)
        db.conn.executemany("INSERT OR IGNORE INTO contact_tags (contact_id, tag_id) VALUES (?, ?)", links)
        db.conn.executemany("INSERT INTO events (at, kind, contact_id, detail) VALUES (?, ?, ?, ?)", events)


def _merge(state: dict[str, Any], row: ParsedRow, tag_ids: set[int], *, fill_only: bool = False) -> dict[str, Any]:
    """What this row would change in `state`: non-empty cells that differ, new custom values, new tags.

    With `fill_only` (a repeated row of the same file) only empty fields are filled, so the file's
    first row for a person wins and importing the file twice changes nothing the second time.
    """
    def wanted(old: Any, new: Any) -> bool:
        return new not in (None, "") and old != new and (not fill_only or old in (None, ""))

    changes: dict[str, Any] = {f: v for f, v in row.fields.items() if wanted(state.get(f), v)}
    custom = {k: v for k, v in row.custom.items() if wanted(state["custom"].get(k), v)}
    if custom:
        changes["custom"] = custom
    new_tags = tag_ids - state["tag_ids"]
    if new_tags:
        changes["tag_ids"] = new_tags
    return changes


def _apply(state: dict[str, Any], changes: dict[str, Any]) -> None:
    for key, value in changes.items():
        if key == "custom":
            state["custom"] = {**state["custom"], **value}
        elif key == "tag_ids":
            state["tag_ids"] = state["tag_ids"] | value
        else:
            state[key] = value


# --- Suppression files ----------------------------------------------------------------------


@dataclass
class SuppressionImport:
    added: int = 0
    already: int = 0
    errors: list[RowProblem] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"added": self.added, "already": self.already, "errors": [{"line": e.line, "reason": e.reason} for e in self.errors]}


def import_suppressions(db: Database, path: str | Path, *, reason: str | None = None) -> SuppressionImport:
    """Suppress each address/domain in a file: one per line (# comments allowed) or a CSV with an
    email column. Bad lines are reported, the rest are added, all in one transaction."""
    from .contacts import add_suppression

    result = SuppressionImport()
    with open_csv(path) as source:
        keys = [header_key(h) for h in source.header]
        email_index = next((i for i, k in enumerate(keys) if _ALIAS_TO_TARGET.get(k) == "email"), None)
        if email_index is None and len(source.header) > 1:
            email_index = next((i for i, k in enumerate(keys) if "email" in k), None)
        if email_index is None:
            # A plain list: the "header" is the first entry, and every cell of a line is one value.
            entries = [(source.header_line, source.header)] + list(source.rows)
            email_index = 0
        else:
            entries = list(source.rows)
        with db.atomic():
            for line, cells in entries:
                value = cells[email_index].strip() if email_index < len(cells) else ""
                if not value or value.startswith("#"):
                    continue
                if value.startswith("\0"):
                    result.errors.append(RowProblem(line, f"malformed CSV: {value[1:]}"))
                    continue
                try:
                    added = add_suppression(db, value, reason=reason, source="import")
                except InvalidEmail as error:
                    result.errors.append(RowProblem(line, str(error)))
                    continue
                if added:
                    result.added += 1
                else:
                    result.already += 1
    return result
