"""What the next message needs before it goes, read while the server takes this one's DATA.

Between two messages sent back to back, the run asks the db whether the next contact may still
be written to and reads the next frozen .eml. Done after this message's reply, both sat on the
critical path, 0.1-0.2 ms of each message's 2-3 ms on a local server. Once this message's
`sending` commit has landed the db is idle until its reply, so the run asks for `read_soon`
right before DATA (Run._before_data): it runs on the event loop's next turn, once DATA is on its
way and the server is busy. A look-ahead that has not run by the reply is dropped (`drop_unread`,
from Run.flush). The answers serve that one message object only, the file once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from outreach.sending.eml import read_frozen
from outreach.sending.next_turn import NextTurn
from outreach.sending.outbox import QueuedMessage
from outreach.sending.pacing import Clock

ContactCheck = Callable[[QueuedMessage, datetime], "tuple[str, Any] | None"]


@dataclass
class _Ahead:
    message: QueuedMessage
    check: tuple[str, Any] | None
    raw: bytes | None


class LookAhead:
    def __init__(self, contact_check: ContactCheck, clock: Clock) -> None:
        self._contact_check = contact_check
        self._clock = clock
        self._ahead: _Ahead | None = None
        self._due: NextTurn | None = None

    def read_soon(self, following: QueuedMessage) -> None:
        """`read(following)` on the event loop's next turn."""
        self._due = NextTurn(lambda: self.read(following))

    def drop_unread(self) -> None:
        """Forget a `read_soon` that has not run (a no-op once it ran): the run asks itself, in order."""
        if self._due is not None:
            self._due.drop()
            self._due = None

    def read(self, following: QueuedMessage) -> None:
        """Ask the contact check and read the frozen file of `following` (an event-loop callback).

        Never raises: it runs while the current message's reply is awaited, and a
        problem with the *next* message (an unreadable file, a busy db) must not keep this one's
        outcome from being recorded. Nothing is kept then; the run asks again itself, in order,
        and any error comes up there."""
        self._ahead = None
        try:
            check = self._contact_check(following, self._clock.now())
            self._ahead = _Ahead(following, check, read_frozen(following.eml_path, following.message_id))
        except Exception:  # noqa: BLE001 - asked again in the run's own order (see above)
            self._ahead = None

    def contact_check(self, message: QueuedMessage, now: datetime) -> tuple[str, Any] | None:
        """The check read ahead for this very message, else asked now."""
        ahead = self._ahead
        if ahead is not None and ahead.message is message:
            return ahead.check
        return self._contact_check(message, now)

    def frozen(self, message: QueuedMessage) -> bytes | None:
        """The frozen bytes read ahead for this very message (once), else None."""
        ahead, self._ahead = self._ahead, None
        return ahead.raw if ahead is not None and ahead.message is message else None
