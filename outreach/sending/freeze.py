"""The dry run and the freeze of a draft campaign, in one pass over the selection, in batches.

Both walk the selection a batch at a time (store.iter_contacts), decide for each contact whether
the campaign may write to them, and render each included contact's message exactly once: the
render is the check (a message with a problem yields the problem instead of a message). Each
message is written as it is rendered into a staging folder next to the campaign's, and what the
outbox needs of it (Message-ID, subject, attachments, file) goes to a TEMP table, so memory stays
flat in the number of contacts. Only when every contact rendered do the files move into the
campaign's folder and, for the freeze, the selection and the queued messages commit together;
a single problem leaves nothing behind and lists every problem.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from outreach.config import Settings
from outreach.contacts.store import email_domain, iter_contacts
from outreach.db import Database, record_event, utc_now
from outreach.errors import TemplateError
from outreach.mail.message import RenderedMessage
from outreach.sending import outbox
from outreach.sending.eml import MANIFEST, EmlWriter, eml_folder, eml_name, remove_dry_run
from outreach.templates.budget import TOO_MUCH
from outreach.templates.render import Sender, load_template, render_or_problems

SkipReason = Callable[[Mapping[str, Any]], "str | None"]  # campaigns.skip_reasons: why not write to a contact
BATCH = 1000  # rows per insert; also how often the staged rows are flushed to the TEMP tables
AWAY_SHOWN = 3


@dataclass
class Planned:
    """Who a pass over the selection included and skipped (the skipped ones with their reason)."""

    included: int = 0
    skipped: list[tuple[dict[str, Any], str]] = field(default_factory=list)
    away: list[str] = field(default_factory=list)  # the first AWAY_SHOWN included contacts who are away
    away_count: int = 0


class TemplateProblems(Exception):
    """Some contacts do not render; `problems` lists every one (nothing was written)."""

    def __init__(self, problems: list[TemplateError]) -> None:
        super().__init__(f"{len(problems)} problem(s)")
        self.problems = problems


def _walk(db: Database, campaign: Mapping[str, Any], skip: SkipReason, planned: Planned) -> Iterator[dict[str, Any]]:
    """The included contacts, in id order; skipped ones are recorded in `planned` with why (as
    {id, email}: all that is shown or stored of them)."""
    selection = campaign["selection"]
    for contact in iter_contacts(db, tags=selection.get("tags", ()), where=selection.get("where") or None):
        if reason := skip(contact):
            planned.skipped.append(({"id": contact["id"], "email": contact["email"]}, reason))
            continue
        planned.included += 1
        if contact["status"] == "away":
            planned.away_count += 1
            if len(planned.away) < AWAY_SHOWN:
                planned.away.append(contact["email"])
        yield contact


def plan(db: Database, campaign: Mapping[str, Any], skip: SkipReason) -> Planned:
    """Who a draft would include and skip, counted in one pass without rendering anything."""
    planned = Planned()
    for _ in _walk(db, campaign, skip, planned):
        pass
    return planned


@contextmanager
def _staging(folder: Path) -> Iterator[Path]:
    """A sibling folder the files are written into; removed on the way out whatever happens."""
    staging = folder.with_name(folder.name + ".staging")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _render_all(
    db: Database, settings: Settings, campaign: Mapping[str, Any], staging: Path, folder: Path,
    skip: SkipReason, keep: Any,
) -> Planned:
    """Render every included contact once into `staging`; `keep(contact, message, final_path)`
    for each; TemplateProblems if any contact fails (after checking everyone, or at a runaway loop)."""
    sender = Sender.from_settings(settings)
    template = load_template(settings.templates_dir, campaign["template"])
    details = dict(campaign)
    planned, problems = Planned(), []
    with EmlWriter() as writer:  # files are written while the next messages render
        for contact in _walk(db, campaign, skip, planned):
            message, found = render_or_problems(template, contact, sender=sender, campaign=details)
            if found:
                problems.extend(found)
                if any(p.reason.startswith(TOO_MUCH) for p in found):
                    break  # a runaway loop runs away for every contact: one report, not one each
                continue
            if problems or message is None:
                continue  # something failed already: nothing will be kept, only keep checking
            name = eml_name(planned.included, message.to_address)
            writer.write(staging / name, message.as_bytes())
            keep(contact, message, folder / name)
    if problems:
        raise TemplateProblems(problems)
    return planned


def _move_in(staging: Path, folder: Path, *, manifest: Path | None = None) -> None:
    """The staged files into the campaign's folder; their names into `manifest`, a line each
    (nothing kept in memory, however many there are)."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(manifest, "w", encoding="utf-8") if manifest else nullcontext() as names:
        with os.scandir(staging) as entries:
            for entry in entries:
                os.replace(entry.path, folder / entry.name)
                if names is not None:
                    names.write(entry.name + "\n")


def dry_run(db: Database, settings: Settings, campaign: Mapping[str, Any], skip: SkipReason) -> tuple[Planned, Path]:
    """Every included contact's message as a .eml file in the campaign's folder, replacing the
    previous dry run's files (only those it recorded writing: campaigns.dry_run_files)."""
    folder = eml_folder(settings, campaign)
    row = db.execute("SELECT dry_run_files FROM campaigns WHERE id = ?", [campaign["id"]]).fetchone()
    with _staging(folder) as staging:
        planned = _render_all(db, settings, campaign, staging, folder, skip, keep=lambda *_: None)
        remove_dry_run(row[0] if row else None, folder)
        _move_in(staging, folder, manifest=folder / MANIFEST)
    with db.atomic():  # the next dry run deletes exactly these files, nothing else in the folder
        db.execute("UPDATE campaigns SET dry_run_files = ? WHERE id = ?",
                   [json.dumps({"manifest": str(folder / MANIFEST)}), campaign["id"]])
    return planned, folder


_TEMP = """CREATE TEMP TABLE IF NOT EXISTS freeze_messages
    (contact_id INTEGER, to_address TEXT, subject TEXT, message_id TEXT, attachments TEXT, eml_path TEXT)"""


def freeze(
    db: Database, settings: Settings, campaign: Mapping[str, Any], skip: SkipReason, *, now: datetime | None = None
) -> bool:
    """Store the selection and queue one message per included contact; False if another process
    froze the campaign first (only one freeze wins)."""
    account = campaign["account"] or Sender.from_settings(settings).address
    folder = eml_folder(settings, campaign)
    at = utc_now(now)
    db.execute(_TEMP)
    db.execute("DELETE FROM temp.freeze_messages")
    pending: list[tuple[Any, ...]] = []

    def keep(contact: dict[str, Any], message: RenderedMessage, path: Path) -> None:
        attachments = json.dumps([{"name": a.name, "size": a.size, "sha256": a.sha256} for a in message.attachments])
        pending.append((contact["id"], message.to_address, message.subject, message.message_id, attachments, str(path)))
        if len(pending) >= BATCH:
            _flush(db, pending)

    try:
        with _staging(folder) as staging:
            planned = _render_all(db, settings, campaign, staging, folder, skip, keep=keep)
            _flush(db, pending)
            _move_in(staging, folder)
        with db.atomic():
            cursor = db.execute(
                "UPDATE campaigns SET status = 'active', status_reason = NULL, started_at = ?, account = ? WHERE id = ? AND started_at IS NULL",
                [at, account, campaign["id"]],
            )
            if cursor.rowcount != 1:
                return False
            _store(db, campaign, planned, account=account, at=at)
        return True
    finally:
        db.execute("DROP TABLE IF EXISTS temp.freeze_messages")


def _flush(db: Database, pending: list[tuple[Any, ...]]) -> None:
    """Staged rows into the TEMP table, committed at once: an open transaction here would pin the
    read snapshot for the whole render and make the final write fail as `database is locked`."""
    with db.atomic():
        db.conn.executemany("INSERT INTO temp.freeze_messages VALUES (?, ?, ?, ?, ?, ?)", pending)
    pending.clear()


def _store(db: Database, campaign: Mapping[str, Any], planned: Planned, *, account: str, at: str) -> None:
    """The selection and the queued messages, a batch at a time, inside the caller's transaction."""
    campaign_id = campaign["id"]
    db.execute(
        "INSERT INTO campaign_contacts (campaign_id, contact_id, included, skip_reason, added_at) "
        "SELECT ?, contact_id, 1, NULL, ? FROM temp.freeze_messages",
        [campaign_id, at],
    )
    db.conn.executemany(
        "INSERT INTO campaign_contacts (campaign_id, contact_id, included, skip_reason, added_at) VALUES (?, ?, 0, ?, ?)",
        [(campaign_id, contact["id"], reason, at) for contact, reason in planned.skipped],
    )
    last = 0
    while True:
        rows = db.execute(
            "SELECT rowid, contact_id, to_address, subject, message_id, attachments, eml_path FROM temp.freeze_messages "
            "WHERE rowid > ? ORDER BY rowid LIMIT ?",
            [last, BATCH],
        ).fetchall()
        if not rows:
            break
        last = rows[-1][0]
        outbox.queue_messages(db, [
            {
                "kind": "campaign", "campaign_id": campaign_id, "contact_id": contact_id, "step": 0,
                "template": campaign["template"], "account": account, "from_address": account,
                "to_address": to_address, "to_domain": email_domain(to_address), "subject": subject,
                "message_id": message_id, "attachments": attachments, "eml_path": eml_path,
                "queued_at": at, "updated_at": at,
            }
            for _, contact_id, to_address, subject, message_id, attachments, eml_path in rows
        ])
    record_event(db, "campaign_started", campaign_id=campaign_id, at=at, queued=planned.included, skipped=len(planned.skipped))
