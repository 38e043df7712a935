"""The whole corpus through `outreach classify --json`, as a user would run it.

tests/corpus/*.eml are realistic messages modelled on what real servers and mail clients send
(Postfix, Exim, Sendmail, qmail, Exchange/Microsoft 365, Gmail, Yahoo, Domino; Outlook, Gmail,
Apple Mail and Thunderbird replies; out-of-office notes in five languages). expected.json holds
the answer for each file.
"""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from outreach.cli import cli

CORPUS = Path(__file__).parent / "corpus"


def test_corpus_is_big_enough_and_fully_labelled():
    files = sorted(p.name for p in CORPUS.glob("*.eml"))
    expected = json.loads((CORPUS / "expected.json").read_text())
    assert len(files) >= 80
    assert set(files) == set(expected)
    kinds = {e["kind"] for e in expected.values()}
    assert kinds == {"human_reply", "auto_reply", "bounce", "unsubscribe", "other"}


def test_every_corpus_message_is_classified_as_expected():
    expected = json.loads((CORPUS / "expected.json").read_text())
    files = [str(CORPUS / name) for name in sorted(expected)]
    result = CliRunner().invoke(cli, ["classify", *files, "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == len(files)
    mismatches = []
    for line in lines:
        got = json.loads(line)
        assert set(got) == {"file", "kind", "bounce_type", "bounced_addresses", "return_date"}
        name = Path(got.pop("file")).name
        if got != expected[name]:
            diff = {k: (got[k], expected[name][k]) for k in got if got[k] != expected[name][k]}
            mismatches.append(f"{name}: " + ", ".join(f"{k} got {g!r} want {w!r}" for k, (g, w) in diff.items()))
    assert not mismatches, "\n" + "\n".join(mismatches)
