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
from outreach.mail.message import RenderedMessage


def eml_folder(settings: Settings, campaign: Mapping[str, Any]) -> Path:
    return (settings.outbox_dir / campaign["name"]).resolve()


def write_eml(folder: Path, index: int, to_address: str, raw: bytes) -> Path:
    """`0001-jane.okafor@mercy.example.org.eml`: sorted as sent, named for whom it is."""
    folder.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r"[^\w.@+-]", "_", to_address)
    path = folder / f"{index:04d}-{safe}.eml"
    path.write_bytes(raw)
    return path


def write_preview(folder: Path, rendered: Iterable[RenderedMessage]) -> None:
    """A dry run's files: the folder's earlier .eml files give way to this render."""
    if folder.is_dir():
        for old in folder.glob("*.eml"):
            old.unlink()
    for index, message in enumerate(rendered, start=1):
        write_eml(folder, index, message.to_address, message.as_bytes())


def read_frozen(path: str | None) -> bytes | None:
    """The frozen message's bytes; None when there is no file (deleted by someone)."""
    if not path:
        return None
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return None
