"""Which file the database is: a send checks, before each message, that it still records there."""

from __future__ import annotations

import os
from pathlib import Path

from outreach.errors import OutreachError


class DatabaseReplaced(OutreachError):
    """The database file was deleted or replaced during a send: nothing more may be sent."""


class DatabaseIdentity:
    """Which file the database is, taken when a send starts; checked before each message.

    Someone deleting or replacing the file mid-send leaves this process writing to a file nobody
    will read again: the history would be gone and a re-created campaign would send everyone
    again. The run stops instead."""

    def __init__(self, db_path: Path) -> None:
        self.path = os.path.realpath(db_path)
        self.identity = self._read()

    def _read(self) -> tuple[int, int] | None:
        try:
            status = os.stat(self.path)
        except FileNotFoundError:
            return None
        return status.st_dev, status.st_ino

    def check(self) -> None:
        """Raise DatabaseReplaced when the file is gone or is another file now."""
        now = self._read()
        if now is None or now != self.identity:
            what = "deleted" if now is None else "replaced by another file"
            raise DatabaseReplaced(
                f"the database {self.path} was {what} during the send; stopped before sending anything more. "
                "Restore it from a backup before sending again: a new database would write to everyone again"
            )
