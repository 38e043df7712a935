"""Every command has help text, and `--help` works on each (as sqlite-utils checks its docs)."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from outreach.cli import cli


def _walk(group: click.Group, path: tuple[str, ...] = ()):
    for name, command in sorted(group.commands.items()):
        yield path + (name,), command
        if isinstance(command, click.Group):
            yield from _walk(command, path + (name,))


COMMANDS = list(_walk(cli))


def test_the_public_commands_exist():
    names = {" ".join(path) for path, _ in COMMANDS}
    for expected in ["contacts import", "contacts list", "suppress add", "templates list", "templates preview",
                     "templates check", "campaign create", "campaign send", "replies poll", "classify"]:
        assert expected in names


@pytest.mark.parametrize("path", [p for p, _ in COMMANDS], ids=[" ".join(p) for p, _ in COMMANDS])
def test_every_command_has_help(path):
    command = dict(COMMANDS)[path]
    assert (command.help or "").strip(), f"outreach {' '.join(path)} has no help text"
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


@pytest.mark.parametrize("path", [p for p, _ in COMMANDS], ids=[" ".join(p) for p, _ in COMMANDS])
def test_every_help_page_shows_an_example(path):
    """The README promises an example in every --help: an indented `outreach ...` line that
    runs this very command (a `\\b` block, so click keeps the line as written)."""
    result = CliRunner().invoke(cli, [*path, "--help"])
    examples = [line.strip() for line in result.output.splitlines() if line.startswith("  ") and line.strip().startswith("outreach ")]
    assert any(e.startswith("outreach " + " ".join(path)) for e in examples), f"`outreach {' '.join(path)} --help` has no example"
