"""`templates check --spam`: what SpamAssassin's content rules say about a rendered letter.

A cold email that reads like spam is filed as spam, however well paced. SpamAssassin's local
rules (`-L`: no network tests, no DNS blocklists) give a rendered message a list of rules that
fired; rules about how a message travelled can't be judged before it is sent and are set aside
(ENVIRONMENT_RULES); any other rule with points is a wording or structure problem to fix.

Every message goes through one `spamassassin --mbox` run (starting SpamAssassin costs a second
or two; checking a message costs little). Bayes and auto-learning are off, and no preferences
file is created: checking never changes anything in the user's home folder.
"""

from __future__ import annotations

import mailbox
import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from outreach.errors import ConfigError, OutreachError

# Rules that describe the message's journey (or the lack of one: a preview has not travelled
# yet), not its content; they fire on any freshly written message.
ENVIRONMENT_RULES = {
    "NO_RECEIVED": "no Received headers: the message has not been sent yet",
    "NO_RELAYS": "not relayed via SMTP: the message has not been sent yet",
    "ALL_TRUSTED": "passed through trusted hosts only",
    "HTML_MESSAGE": "informational (0.001 points): the letter has an HTML part, as intended",
    "MISSING_DATE": "the server adds a Date when the message is sent",
    "MISSING_MID": "the server adds a Message-ID when the message is sent",
}
TIMEOUT = 120
_INSTALL = ("install it (Debian/Ubuntu: sudo apt-get install spamassassin; macOS: brew install spamassassin), "
            "or run the check without --spam")
_STATUS = re.compile(r"^X-Spam-Status:(.*(?:\n[ \t].*)*)", re.M)
_RULE_LINE = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s+([A-Z][A-Z0-9_]+)\s+(.*)$")


@dataclass(frozen=True)
class RuleHit:
    name: str
    points: float
    description: str

    @property
    def environment(self) -> bool:
        return self.name in ENVIRONMENT_RULES


@dataclass(frozen=True)
class SpamReport:
    """What SpamAssassin said about one message."""

    label: str
    score: float
    hits: tuple[RuleHit, ...]

    @property
    def content_hits(self) -> list[RuleHit]:
        """The rules about the letter itself, the ones to act on."""
        return [h for h in self.hits if not h.environment]


def spamassassin_path() -> str:
    """The spamassassin program, or a ConfigError saying how to get it."""
    found = shutil.which("spamassassin")
    if not found:
        raise ConfigError(f"--spam needs SpamAssassin, which is not installed (no `spamassassin` on PATH): {_INSTALL}")
    return found


def check_messages(messages: Sequence[tuple[str, bytes]]) -> list[SpamReport]:
    """One report per (label, raw message), in order, from a single local-rules run."""
    if not messages:
        return []
    program = spamassassin_path()
    with tempfile.TemporaryDirectory(prefix="outreach-spam-") as folder:
        path = Path(folder) / "messages.mbox"
        box = mailbox.mbox(path)
        for _label, raw in messages:
            box.add(raw)
        box.flush()
        command = [program, "-L", "-t", "-x", "--mbox", "--cf=use_bayes 0", "--cf=bayes_auto_learn 0"]
        try:
            with path.open("rb") as source:
                done = subprocess.run(command, stdin=source, capture_output=True, timeout=TIMEOUT, check=False)
        except (OSError, subprocess.TimeoutExpired) as error:
            raise OutreachError(f"SpamAssassin could not check the messages ({error}); {_INSTALL}") from None
    output = done.stdout.decode("utf-8", "replace")
    reports = parse_output(output, [label for label, _raw in messages])
    if len(reports) != len(messages):
        detail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no report"]
        raise OutreachError(f"SpamAssassin gave {len(reports)} report(s) for {len(messages)} message(s): {detail[0]}")
    return reports


def parse_output(output: str, labels: Sequence[str]) -> list[SpamReport]:
    """Reports from `spamassassin -t` output: the X-Spam-Status header names the rules and the
    score; the report table under "Content analysis details" gives each rule's points."""
    statuses = _STATUS.findall(output)
    tables = output.split("Content analysis details:")[1:]
    reports = []
    for label, status, table in zip(labels, statuses, tables):
        flat = " ".join(status.split())
        score = float(found.group(1)) if (found := re.search(r"score=(-?[\d.]+)", flat)) else 0.0
        names = re.search(r"tests=(\S*)", flat)
        fired = [n for n in (names.group(1).split(",") if names else []) if n and n != "none"]
        points = {}
        for line in table.splitlines()[3:]:
            match = _RULE_LINE.match(line)
            if match:
                points[match.group(2)] = (float(match.group(1)), match.group(3).strip())
            elif points and not line.strip():
                break
        hits = tuple(RuleHit(n, *points.get(n, (0.0, ""))) for n in fired)
        reports.append(SpamReport(label, score, hits))
    return reports
