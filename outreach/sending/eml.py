"""A campaign's .eml files: OUTREACH_OUTBOX_DIR/NAME/0001-jane.okafor@mercy.example.org.eml.

The first live send freezes every message into one of these files (the bytes that will be sent,
Message-ID included); a dry run writes the same files so the user can open them first.
"""

from __future__ import annotations

import json
import queue
import re
import threading
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from outreach.config import Settings
from outreach.errors import OutreachError


def eml_folder(settings: Settings, campaign: Mapping[str, Any]) -> Path:
    """`outbox/NAME`; an error for an old campaign whose name leads out of the outbox (`..`)."""
    outbox = settings.outbox_dir.resolve()
    folder = (outbox / campaign["name"]).resolve()
    if folder.parent != outbox:
        raise OutreachError(f"campaign {campaign['name']!r}: its name is not a folder name inside {outbox}; "
                            f"create a new campaign with a plain name (letters, digits, '-', '_', '.')")
    return folder


def eml_name(index: int, to_address: str) -> str:
    """`0001-jane.okafor@mercy.example.org.eml`: sorted as sent, named for whom it is."""
    safe = re.sub(r"[^\w.@+-]", "_", to_address)
    return f"{index:04d}-{safe}.eml"


class EmlWriter:
    """Writes files on a worker thread while the caller renders the next messages.

    Creating a file costs 0.1-0.3 ms of kernel time on the development machine's virtual disk
    (up to 1 ms when many files were deleted a moment before: ext4 without a journal skips
    recently freed inodes), a third to all of what rendering the message costs. Files are
    handed over in batches (one wake-up of the worker per batch, not per file) through a bounded
    queue, so memory stays flat however many messages there are; the first failed write is
    raised in the caller (at the next hand-over, or on leaving the block)."""

    BATCH = 32

    def __init__(self, depth: int = 8) -> None:
        self._queue: queue.Queue[list[tuple[Path, bytes]] | None] = queue.Queue(maxsize=depth)
        self._batch: list[tuple[Path, bytes]] = []
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="eml-writer", daemon=True)

    def __enter__(self) -> EmlWriter:
        self._thread.start()
        return self

    def write(self, path: Path, raw: bytes) -> None:
        self._batch.append((path, raw))
        if len(self._batch) >= self.BATCH:
            self._hand_over()

    def _hand_over(self) -> None:
        if self._error is not None:
            raise self._error
        if self._batch:
            self._queue.put(self._batch)
            self._batch = []

    def _run(self) -> None:
        while (batch := self._queue.get()) is not None:
            for path, raw in batch:
                if self._error is None:  # after a failure, only drain the queue
                    try:
                        path.write_bytes(raw)
                    except BaseException as error:  # raised in the caller's thread
                        self._error = error

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        if kind is None:
            self._queue.put(self._batch)
        self._queue.put(None)
        self._thread.join()
        if kind is None and self._error is not None:
            raise self._error


# The names of the files a dry run wrote, one per line, in the campaign's folder: read and written
# a line at a time, so a dry run of 100,000 messages holds no list of them in memory.
MANIFEST = ".outreach-dry-run"


def recorded_files(recorded: str | None, folder: Path) -> Iterator[str]:
    """The files the previous dry run recorded writing (campaigns.dry_run_files): a manifest
    `{"manifest": PATH}`, or, from databases before it, a JSON list of paths."""
    value = json.loads(recorded or "[]")
    if isinstance(value, list):
        yield from (str(path) for path in value)
        return
    manifest = Path(value.get("manifest", ""))
    if manifest.parent != folder or not manifest.is_file():
        return
    with open(manifest, encoding="utf-8") as lines:
        yield from (str(folder / line.rstrip("\n")) for line in lines if line.strip())


def remove_dry_run(recorded: str | None, folder: Path) -> None:
    """Delete what the last dry run recorded writing in `folder` (the campaign's: never other
    files there, never another folder) and its manifest."""
    remove_preview(folder, recorded_files(recorded, folder))
    (folder / MANIFEST).unlink(missing_ok=True)


def remove_preview(folder: Path, previous: Iterable[str]) -> None:
    """Delete the files a previous dry run recorded writing (.eml files directly in `folder`, no
    symlinks), never a glob of a folder that may hold the user's own files."""
    for old in previous:
        path = Path(old)
        if path.parent == folder and path.suffix == ".eml" and path.is_file() and not path.is_symlink():
            path.unlink()


def read_frozen(path: str | None, message_id: str) -> bytes | None:
    """The frozen message's bytes; None when the file is gone, or holds another message than the
    one recorded (something rewrote it, e.g. a dry run racing the freeze)."""
    if not path:
        return None
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except FileNotFoundError:
        return None
    end = raw.find(b"\r\n\r\n")
    head = raw[: end if end >= 0 else len(raw)]
    return raw if message_id.encode() in FROZEN_MESSAGE_ID.findall(head) else None


# One pattern compiled once: a pattern built per message (with the id in it) missed re's cache
# and cost 0.5 ms of compiling for every message sent.
FROZEN_MESSAGE_ID = re.compile(rb"^Message-ID: *(.*?)\r?$", re.M | re.I)
