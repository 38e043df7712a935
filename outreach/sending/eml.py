"""A campaign's .eml files: OUTREACH_OUTBOX_DIR/NAME/0001-jane.okafor@mercy.example.org.eml.

The first live send freezes every message into one of these files (the bytes that will be sent,
Message-ID included); a dry run writes the same files so the user can open them first.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from outreach.config import Settings
from outreach.errors import OutreachError
from outreach.mail.message import RenderedMessage


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


def write_eml(folder: Path, index: int, to_address: str, raw: bytes) -> Path:
    """The message as FOLDER/eml_name(...)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / eml_name(index, to_address)
    path.write_bytes(raw)
    return path


def write_preview(folder: Path, rendered: Iterable[RenderedMessage], *, previous: Iterable[str] = ()) -> list[str]:
    """A dry run's files, replacing the previous dry run's: only the files it recorded writing
    (`previous`) are deleted, never a glob of a folder that may hold the user's own files.
    Returns the paths written, for the next dry run."""
    remove_preview(folder, previous)
    return [str(write_eml(folder, index, m.to_address, m.as_bytes())) for index, m in enumerate(rendered, start=1)]


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
    return raw if re.search(rb"^Message-ID: *" + re.escape(message_id.encode()) + rb"\r?$", head, re.M | re.I) else None
