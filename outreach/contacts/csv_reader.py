"""Open a contact list as people export it: any common encoding, delimiter and stray blank lines.

The encoding is decided from the whole file in one streaming pass, then the rows are streamed
with their physical line numbers, so memory stays flat and errors can point at a line.
"""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, TextIO

from outreach.errors import InputFileError
from outreach.contacts.fields import clean_cell, strip_controls

csv.field_size_limit(1 << 24)


_BINARY = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]")
MIXED = "utf-8+cp1252"  # UTF-8 lines and Windows-1252 lines in one file, each read as written


def detect_encoding(path: Path) -> str:
    """UTF-8 (with or without BOM), UTF-16 (Excel's "Unicode text"), Windows-1252, or MIXED.

    Decides from the whole file in one streaming pass, so a lone cp1252 byte on the last line
    is not a crash halfway through the import. A file that is not UTF-8 as a whole but has
    UTF-8 lines (rows pasted from two sources) is MIXED: read per line, not all as cp1252.
    """
    with path.open("rb") as raw:
        head = raw.read(8192)
        if head.startswith(codecs.BOM_UTF8):
            return "utf-8-sig"
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return "utf-16"
        if head.startswith(b"PK\x03\x04"):
            raise InputFileError(str(path), "this is an Excel/ZIP workbook, not CSV; in Excel use File > Save As > CSV UTF-8, then import that file")
        if b"\0" in head and len(_BINARY.findall(head)) > max(4, len(head) // 50):  # a few are bad cells, reported per row
            raise InputFileError(str(path), "this is a binary file, not CSV text; export the list as CSV and import that file")
        raw.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        try:
            for chunk in iter(lambda: raw.read(1 << 20), b""):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raw.seek(0)
            utf8, cp1252 = encoding_by_line(raw)
            return MIXED if utf8 and cp1252 else "cp1252"
    return "utf-8"


def encoding_by_line(raw: BinaryIO) -> tuple[int, list[int]]:
    """(lines that need UTF-8, physical numbers of lines that are not UTF-8) in a binary file."""
    utf8, cp1252 = 0, []
    for number, line in enumerate(raw, start=1):
        if line.isascii():
            continue
        try:
            line.decode("utf-8")
            utf8 += 1
        except UnicodeDecodeError:
            cp1252.append(number)
    return utf8, cp1252


def _cp1252_fallback(error: UnicodeError) -> tuple[str, int]:
    """Decoding error handler for MIXED files: bytes that are not UTF-8 are Windows-1252.

    Per byte run rather than per line, so it streams; the two differ only for a Windows-1252
    line that also happens to hold a valid UTF-8 sequence ("Ã©"), which real names do not."""
    if not isinstance(error, UnicodeDecodeError):
        raise error
    bad = error.object[error.start : error.end]
    return bad.decode("cp1252", errors="replace"), error.end


codecs.register_error("outreach-cp1252", _cp1252_fallback)


def mixed_note(path: Path) -> str:
    """What the report says about a MIXED file."""
    with path.open("rb") as raw:
        utf8, cp1252 = encoding_by_line(raw)
    shown = ", ".join(map(str, cp1252[:5])) + (", ..." if len(cp1252) > 5 else "")
    return (f"the file mixes encodings: of its lines with accented letters, {utf8} are UTF-8 and {len(cp1252)} "
            f"Windows-1252 (line {shown}); each line was read in its own encoding (save as CSV UTF-8 to avoid this)")


def detect_delimiter(header_line: str) -> str:
    """The delimiter that occurs most in the header line (outside quotes); comma by default.

    csv.Sniffer guesses from data rows too, where commas inside "Smith, Jane" mislead it; a
    header line rarely contains anything but the real separator.
    """
    unquoted = re.sub(r'"[^"]*"', "", header_line)
    counts = {d: unquoted.count(d) for d in (",", ";", "\t", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


class Malformed(list):
    """The cells of a row the csv module could not parse: one item, the reason."""


@dataclass
class CsvSource:
    header: list[str]
    rows: Iterator[tuple[int, list[str]]]  # (physical line where the row starts, cells)
    encoding: str
    delimiter: str
    position: Callable[[], int]  # bytes read so far, for progress
    size: int
    header_line: int = 1
    notes: list[str] = field(default_factory=list)  # about the file as a whole


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
        if encoding == MIXED:
            handle: TextIO = path.open("r", encoding="utf-8", errors="outreach-cp1252", newline="")
        else:
            handle = path.open("r", encoding=encoding, errors="replace", newline="")
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
        header = [strip_controls(clean_cell(h))[0].lstrip("\ufeff") for h in header]

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
                    yield start, Malformed([str(error)])  # the importer reports it as the row's error
                    continue
                previous = reader.line_num + skipped_lines
                yield start, cells

        notes = [mixed_note(path)] if encoding == MIXED else []
        yield CsvSource(header, rows(), encoding, delimiter, handle.buffer.tell, path.stat().st_size, skipped_lines + 1, notes)
