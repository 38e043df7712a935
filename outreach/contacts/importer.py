"""Import a contact list as people export it: any common header, encoding and delimiter.

csv_read.py opens and streams the file, fields.py says what each column and cell means; this
module writes the rows in batches, so memory stays flat however long the file is. Every row ends
up in exactly one of the counts inserted / updated / unchanged / skipped; every skipped row says
why, with its physical line.

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

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from outreach.contacts.csv_reader import CsvSource, Malformed, open_csv
from outreach.contacts.fields import ParsedRow, header_key, is_own_export, named_field, parse_row, plan_columns, unguard
from outreach.contacts.store import (
    STANDARD_FIELDS,
    InvalidEmail,
    SuppressionIndex,
    add_suppression,
    dedupe_key,
    is_role_address,
    needs_smtputf8,
)
from outreach.db import Database, utc_now

BATCH_SIZE = 1000


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
        report.notes += source.notes
        _note_header(report, source.header, plan)
        own_export = is_own_export(source.header)
        if own_export:
            report.notes.append("this is an outreach export: the ' it puts before formula-like cells was removed again")
        try:
            with db.atomic():
                job = _Importer(db, report, tags, policy, Path(path).name)
                import_id = None if dry_run else db.table("imports").insert({"file": str(path), "started_at": utc_now()}).last_pk
                rows = _parsed_rows(source, report, plan, own_export=own_export)
                _write_batches(db, job, rows, source, batch_size=batch_size, progress=progress)
                if dry_run:
                    raise _DryRun
                assert import_id is not None  # inserted above unless dry_run
                _record_import(db, import_id, report)
        except _DryRun:
            pass
    report.errors.sort(key=lambda p: p.line)
    report.warnings.sort(key=lambda p: p.line)
    return report


def _parsed_rows(source: CsvSource, report: ImportReport, plan: list[str], *, own_export: bool) -> Iterator[ParsedRow]:
    """The file's contact rows, parsed; blank, malformed and unusable rows are counted and skipped."""
    for line, cells in source.rows:
        if not cells or not any(c.strip() for c in cells):
            continue  # blank lines and ",,,," rows from spreadsheets are not contacts
        report.rows += 1
        if isinstance(cells, Malformed):
            report.errors.append(RowProblem(line, f"malformed CSV: {cells[0]}"))
            report.skipped += 1
            continue
        if own_export:
            cells = [unguard(c) for c in cells]
        try:
            parsed = parse_row(line, cells, source.header, plan)
        except InvalidEmail as error:
            report.errors.append(RowProblem(line, str(error)))
            report.skipped += 1
            continue
        yield parsed


def _write_batches(
    db: Database,
    job: _Importer,
    rows: Iterable[ParsedRow],
    source: CsvSource,
    *,
    batch_size: int,
    progress: Callable[[int, int], None] | None,
) -> None:
    """Write the rows `batch_size` at a time, each batch in its own savepoint, reporting progress."""
    batch: list[ParsedRow] = []
    for row in rows:
        batch.append(row)
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


def _record_import(db: Database, import_id: Any, report: ImportReport) -> None:
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
                for found in db.query(f"SELECT * FROM contacts WHERE id IN ({marks})", chunk):
                    found["custom"] = json.loads(found["custom"] or "{}")
                    found["tag_ids"] = set()
                    current[dedupe_key(found["email"])] = by_id[found["id"]] = found
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
            self.report.warnings.append(RowProblem(row.line, f"{row.email} is a role address (reaches a desk, not a person); imported, marked (role) in contacts list"))
        if needs_smtputf8(row.email):
            self.report.warnings.append(RowProblem(row.line, f"{row.email} has non-ASCII characters before the @ (needs SMTPUTF8): "
                                                   "imported; campaigns send to it only through a server that offers SMTPUTF8, else skip it"))
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
            assert cid is not None  # an INSERT always sets it
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
    result = SuppressionImport()
    with open_csv(path) as source:
        email_index = next((i for i, h in enumerate(source.header) if named_field(h) == "email"), None)
        if email_index is None and len(source.header) > 1:
            email_index = next((i for i, h in enumerate(source.header) if "email" in header_key(h)), None)
        if email_index is None:
            # A plain list: the "header" is the first entry, and every cell of a line is one value.
            entries = [(source.header_line, source.header)] + list(source.rows)
            email_index = 0
        else:
            entries = list(source.rows)
        with db.atomic():
            for line, cells in entries:
                if isinstance(cells, Malformed):
                    result.errors.append(RowProblem(line, f"malformed CSV: {cells[0]}"))
                    continue
                value = cells[email_index].strip() if email_index < len(cells) else ""
                if not value or value.startswith("#"):
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
