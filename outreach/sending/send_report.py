"""What one send run did, for the command's summary and its JSON (sending/run.py fills it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from outreach.errors import OutreachError


@dataclass
class SendReport:
    sent: int = 0
    failed: int = 0
    deferred: int = 0
    uncertain: int = 0
    skipped: int = 0
    remaining: int = 0
    waiting: int = 0  # messages this run left for later because pacing would wait too long, or the contact is away
    away: int = 0  # of those, held until the contact is back
    next_send_at: datetime | None = None
    wait_reason: str | None = None  # what holds the earliest waiting message: the window, a cap, a retry
    stopped: str | None = None  # why the run ended before the outbox was empty
    error: OutreachError | None = None  # a fatal error (login, TLS, quota): the run stopped there
    warnings: list[str] = field(default_factory=list)
    failures: list[dict[str, Any]] = field(default_factory=list)
    uncertain_messages: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, int]:
        """The INTERFACE.md summary, exactly these keys."""
        return {k: getattr(self, k) for k in ("sent", "failed", "deferred", "uncertain", "skipped", "remaining")}
