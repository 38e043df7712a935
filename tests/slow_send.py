"""`python -m tests.slow_send ARGS...`: the `outreach` command with each step of the send state
machine slowed by OUTREACH_TEST_SEND_DELAY seconds, so a crash test's SIGKILL can land inside any
step: before `sending` is committed, between that commit and DATA, during DATA, and between the
server's reply and its commit; OUTREACH_TEST_BACKOFF shortens the wait before a retry so that
4xx retries happen within a short run. Only tests run it; the product has neither."""

from __future__ import annotations

import os
import time

from outreach.cli import main
from outreach.sending import run

DELAY_ENV = "OUTREACH_TEST_SEND_DELAY"
BACKOFF_ENV = "OUTREACH_TEST_BACKOFF"  # seconds before the first retry after a 4xx, instead of 60


def _pause() -> None:
    time.sleep(float(os.environ.get(DELAY_ENV) or 0))


if __name__ == "__main__":
    run.step_hook = _pause
    if os.environ.get(BACKOFF_ENV):
        run.BACKOFF_BASE = float(os.environ[BACKOFF_ENV])
    main()
