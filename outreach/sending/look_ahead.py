"""What the next message needs before it goes, read while the server takes this one's DATA.

Between two messages sent back to back, the run asks the db whether the next contact may still
be written to and reads the next frozen .eml; done after this message's reply, both wait on the
server's turn (0.2 ms of each message's 2-3 ms on a local server). Asked right after this
message's DATA is on the wire instead, they run while the server is busy with it. The answers
are for that one message object only, and only the file is kept past the next commit.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from outreach.sending.eml import read_frozen
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

    def schedule(self, following: QueuedMessage | None, still_wanted: Callable[[QueuedMessage], bool]) -> None:
        """Read for `following` at the event loop's next turn (once DATA is written), if
        `still_wanted(following)` then: the caller says the db is free and it is still next."""
        if following is not None:
            asyncio.get_running_loop().call_soon(self._read, following, still_wanted)

    def _read(self, following: QueuedMessage, still_wanted: Callable[[QueuedMessage], bool]) -> None:
        if still_wanted(following):
            check = self._contact_check(following, self._clock.now())
            self._ahead = _Ahead(following, check, read_frozen(following.eml_path, following.message_id))

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
