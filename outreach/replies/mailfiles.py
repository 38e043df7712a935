"""`replies import`: read replies from exported mail files instead of IMAP.

Many hospital and university accounts block IMAP, but their users can still export mail: `.eml`
files (one message each, or a folder of them), an mbox file, or a Maildir folder. Every message
found goes through the same header check, classifier, matching and storing as `replies poll`
(matching.select_candidates, matching.match_and_store), so a file and a mailbox give the same answer.

Re-importing changes nothing. A message with a Message-ID is recognised by it (also when `poll`
already read it from the server); one without is recognised by a hash of its bytes, stored where
an IMAP message keeps its UID: folder `(imported)`, UIDVALIDITY 0, UID = the first 7 bytes of
the SHA-256 of the message with line endings made LF (so the same message from an mbox or from
a CRLF `.eml` is the same message).

A file that is not mail is named in one note and skipped; the rest still import.
"""

from __future__ import annotations

import hashlib
import mailbox
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from email import policy
from email.parser import BytesHeaderParser
from pathlib import Path

from outreach.config import Settings
from outreach.db import Database
from outreach.mail.imap import FetchedHeader, HeaderFields
from outreach.replies.matching import match_and_store, select_candidates
from outreach.replies.poll import PollResult, classify_many
from outreach.replies.store import Mailbox

IMPORT_MAILBOX = Mailbox(account="", folder="(imported)", uidvalidity=0)
_MAIL_HEADERS = ("from", "message-id", "return-path", "received", "date")


@dataclass(frozen=True)
class MailFile:
    """One message read from a file: where it came from (for notes) and its bytes."""

    label: str
    raw: bytes


def import_paths(
    db: Database, settings: Settings, paths: Iterable[str | Path], *, now: datetime | None = None
) -> PollResult:
    """Import every message in `paths` (files, mbox files, Maildir or plain folders); the result
    has the counts of `replies poll` and a note for each path or message that was skipped."""
    now = now or datetime.now(timezone.utc)
    result = PollResult()
    summary = {"folder": IMPORT_MAILBOX.folder, "fetched": 0, "matched": 0, "resync": False}
    result.folders.append(summary)
    messages: dict[int, MailFile] = {}
    for found in read_paths(paths, result.notes):
        messages.setdefault(content_uid(found.raw), found)  # the same message twice counts once
    headers = [FetchedHeader(uid, HeaderFields(_header_block(m.raw))) for uid, m in messages.items()]
    candidates = select_candidates(db, settings, IMPORT_MAILBOX, headers)
    bodies: dict[int, tuple[bytes, datetime | None]] = {h.uid: (messages[h.uid].raw, None) for h in candidates}
    classified = classify_many([bodies[h.uid][0] for h in candidates], now.date())
    with db.atomic():
        stored = match_and_store(db, settings, IMPORT_MAILBOX, candidates, bodies, classified, now)
    result.add(summary, len(messages), stored, sum(1 for c in classified if c.error))
    return result


def read_paths(paths: Iterable[str | Path], notes: list[str]) -> Iterator[MailFile]:
    """Every message in `paths`, in order; what cannot be read becomes one line in `notes`."""
    for path in map(Path, paths):
        try:
            if path.is_dir():
                yield from _read_folder(path, notes)
            elif not path.exists():
                notes.append(f"{path}: no such file or folder; skipped")
            else:
                yield from _read_file(path, notes)
        except (OSError, mailbox.Error, UnicodeError, ValueError) as error:
            notes.append(f"{path}: could not be read ({error}); skipped")


def _read_folder(path: Path, notes: list[str]) -> Iterator[MailFile]:
    if (path / "cur").is_dir() and (path / "new").is_dir():
        box = mailbox.Maildir(path, factory=None, create=False)
        for key in sorted(box.keys()):
            yield from _checked(f"{path} ({key})", box.get_bytes(key), notes)
        return
    files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() == ".eml")
    if not files:
        notes.append(f"{path}: a folder with neither .eml files nor a Maildir (cur/ and new/); skipped")
    for file in files:
        yield from _read_file(file, notes)


def _read_file(path: Path, notes: list[str]) -> Iterator[MailFile]:
    with path.open("rb") as handle:
        start = handle.read(5)
    if start == b"From ":
        box = mailbox.mbox(path, factory=None, create=False)
        count = 0
        for count, key in enumerate(box.keys(), start=1):
            yield from _checked(f"{path} (message {count})", box.get_bytes(key), notes)
        if not count:
            notes.append(f"{path}: an empty mbox; nothing to import")
        return
    yield from _checked(str(path), path.read_bytes(), notes)


def _checked(label: str, raw: bytes, notes: list[str]) -> Iterator[MailFile]:
    """The message, or a note when the bytes are not an email message at all."""
    if looks_like_mail(raw):
        yield MailFile(label, raw)
    else:
        notes.append(f"{label}: not an email message (no From, Message-ID or Received header); skipped")


def looks_like_mail(raw: bytes) -> bool:
    """A header block that names at least one header every real message has."""
    if b"\0" in raw[:4096]:
        return False
    header = BytesHeaderParser(policy=policy.compat32).parsebytes(_header_block(raw))
    return any(name.lower() in _MAIL_HEADERS for name in header.keys())


def content_uid(raw: bytes) -> int:
    """A positive 56-bit number from the message's bytes (line endings made LF): its identity
    when it has no Message-ID, kept where an IMAP message keeps its UID."""
    normal = raw.replace(b"\r\n", b"\n").strip(b"\n")
    return int.from_bytes(hashlib.sha256(normal).digest()[:7], "big")


def _header_block(raw: bytes) -> bytes:
    """The header lines (up to the first blank line), as `poll` fetches them."""
    normal = raw.replace(b"\r\n", b"\n")
    end = normal.find(b"\n\n")
    return normal if end < 0 else normal[: end + 1]
