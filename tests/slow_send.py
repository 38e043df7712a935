"""`python -m tests.slow_send ARGS...`: the `outreach` command with each step of the send state
machine slowed by OUTREACH_TEST_SEND_DELAY seconds, so a crash test's SIGKILL can land inside any
step: before `sending` is committed, between that commit and DATA, during DATA, and between the
server's reply and its commit. Only tests run it; the product has no such delay."""

from __future__ import annotations

import os
import time

from outreach.cli import main
from outreach.sending import run

DELAY_ENV = "OUTREACH_TEST_SEND_DELAY"


def _pause() -> None:
    time.sleep(float(os.environ.get(DELAY_ENV) or 0))


if __name__ == "__main__":
    run.step_hook = _pause
    main()
