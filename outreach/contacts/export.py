"""Contacts out: CSV that is safe to open in a spreadsheet, and JSON, written as they are read.

A selection is read a batch at a time (store.iter_contacts) and each row is written as soon as it
is read, so exporting 1,000,000 contacts needs the memory of exporting 1,000. The one thing a CSV
needs before its first row, the header with every custom field, comes from one SQL pass over the
custom fields alone.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import IO, Any

from outreach.contacts.store import EXPORT_COLUMNS, iter_contacts, selection_sql, spreadsheet_safe
from outreach.db import Database
from outreach.errors import InputFileError


def export_header(db: Database, *, tags: Iterable[str] = (), where: Mapping[str, str] | None = None) -> list[str]:
    """Standard columns, then every custom field of the selection in the order it first appears
    (by contact id, then by its place in that contact's fields), without reading the contacts."""
    clauses, params = selection_sql(tuple(tags), where)
    sql = (
        "SELECT j.key, min(c.id) AS first_id, j.id AS position FROM contacts c, json_each(c.custom) j"
        + (" WHERE " + " AND ".join(clauses) if clauses else "")
        + " GROUP BY j.key ORDER BY first_id, position"
    )
    custom = [key for key, _, _ in db.execute(sql, params).fetchall() if key not in EXPORT_COLUMNS]
    return list(EXPORT_COLUMNS) + custom


def export_row(header: list[str], contact: Mapping[str, Any]) -> list[Any]:
    """One contact as CSV cells in `header` order, every cell spreadsheet-safe; tags joined by `;`."""
    custom = contact.get("custom") or {}
    row = []
    for column in header:
        if column == "tags":
            value: Any = ";".join(contact.get("tags") or [])
        elif column in EXPORT_COLUMNS:
            value = contact.get(column)
        else:
            value = custom.get(column)
        row.append(spreadsheet_safe("" if value is None else value))
    return row


def write_csv(db: Database, handle: IO[str], *, tags: Iterable[str] = (), where: Mapping[str, str] | None = None) -> int:
    """The selection as CSV on `handle`, row by row; how many contacts were written.

    The header uses the names `contacts import` recognises, so an export can be edited and
    imported again."""
    tags = tuple(tags)
    header = export_header(db, tags=tags, where=where)
    writer = csv.writer(handle)
    writer.writerow(header)
    count = 0
    for contact in iter_contacts(db, tags=tags, where=where):
        writer.writerow(export_row(header, contact))
        count += 1
    return count


def export_csv(db: Database, path: Path, *, tags: Iterable[str] = (), where: Mapping[str, str] | None = None) -> int:
    """The selection as a CSV file (UTF-8 with BOM, so Excel opens it cleanly); how many contacts."""
    try:
        with path.open("w", encoding="utf-8-sig", newline="") as handle:
            return write_csv(db, handle, tags=tags, where=where)
    except OSError as error:
        raise InputFileError(str(path), f"cannot write: {error.strerror}; choose another path") from None


def write_json(items: Iterable[Any], handle: IO[str]) -> int:
    """A JSON array of `items` on `handle`, one item at a time, then a newline; how many items.

    Byte for byte what `json.dumps(list(items), ensure_ascii=False, default=str)` would write."""
    count = 0
    handle.write("[")
    for item in items:
        handle.write((", " if count else "") + json.dumps(item, ensure_ascii=False, default=str))
        count += 1
    handle.write("]\n")
    return count
