"""Database work for the event loop's next turns, settled at once if its result is wanted first.

The send run writes one message's outcome and marks the next one `sending` in one transaction,
which must be on disk before the next DATA. Done right after the reply, its statements and its
sync to disk sat where the server waits for us. Handed to the event loop instead, the work runs
while the server works: the statements once the next MAIL FROM is on its way (the loop's next
turn), the COMMIT once its RCPT TO is (`commit_soon`, called when MAIL FROM is accepted). The
run settles the whole before that DATA and before anything else touches the db (Run.flush).

A thread did this before and cost more than it saved: its Python work took turns with the event
loop for the GIL, and on a 2-core machine the socket writes took 4x the raw loop's time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from outreach.db import Database


class NextTurn:
    """`work` on the event loop's next turn; `settle()` runs it now if the loop has not yet."""

    def __init__(self, work: Callable[[], None]) -> None:
        self._work: Callable[[], None] | None = work
        self._error: Exception | None = None
        self._handle = asyncio.get_running_loop().call_soon(self._run)

    def _run(self) -> None:
        work, self._work = self._work, None
        if work is None:
            return
        try:
            work()
        except Exception as error:  # kept for settle(): an event-loop callback has no one to raise to
            self._error = error

    def settle(self) -> None:
        """Run the work unless it ran; raise what it raised."""
        self._handle.cancel()
        self._run()
        if self._error is not None:
            raise self._error

    def drop(self) -> None:
        """Never run the work, if it has not run."""
        self._handle.cancel()
        self._work = None


class CommitInTwoTurns:
    """One write transaction: BEGIN and `statements` on the loop's next turn, COMMIT on the turn
    after `commit_soon()`; `settle()` finishes what is left, in order, and raises what failed
    (a failed write is rolled back and never committed)."""

    def __init__(self, db: Database, statements: Callable[[], None]) -> None:
        self._db = db
        self._statements = statements
        self._written = False
        self._write = NextTurn(self._begin_and_write)
        self._commit: NextTurn | None = None

    def _begin_and_write(self) -> None:
        self._db.begin()
        try:
            self._statements()
        except BaseException:
            self._db.rollback()
            raise
        self._written = True

    def _commit_if_written(self) -> None:
        if self._written:
            self._db.commit()

    def commit_soon(self) -> None:
        if self._commit is None:
            self._commit = NextTurn(self._commit_if_written)

    def settle(self) -> None:
        try:
            self._write.settle()
        except BaseException:
            if self._commit is not None:
                self._commit.drop()
            raise
        self.commit_soon()
        assert self._commit is not None
        self._commit.settle()
