"""Start-up stays cheap: the CLI imports a noun's module, and its heavy libraries, only when it runs.

`outreach --help` took 0.56 s when every subcommand module (SMTP, IMAP, Jinja2, rich, the
classifier) was imported up front. These tests look at sys.modules in a fresh interpreter, so an
import added at the top of the wrong module fails here instead of slowing every command.
"""

from __future__ import annotations

import importlib
import inspect
import json
import subprocess
import sys

import click
from click.testing import CliRunner

from outreach.cli import COMMANDS, cli

HEAVY = ("sqlite_utils", "aiosmtplib", "imapclient", "jinja2", "rich", "flufl", "email_validator", "markdown", "numpy", "matplotlib",
         "multiprocessing", "outreach.classify", "outreach.templates", "outreach.sending", "outreach.replies",
         "outreach.contacts", "outreach.reports", "outreach.followups")


def _imported_after(code: str) -> set[str]:
    """The heavy modules a fresh interpreter has loaded after running `code`."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    return {name for name in loaded if name.startswith(HEAVY)}


def test_importing_the_cli_imports_no_command_library():
    assert _imported_after("import outreach.cli") == set()


def test_help_imports_no_command_library():
    code = "from outreach.cli import cli\ntry:\n    cli(['--help'], prog_name='outreach')\nexcept SystemExit:\n    pass"
    assert _imported_after(code) == set()


def test_a_poll_with_nothing_new_needs_no_classifier_templates_or_smtp():
    """The matcher, the classifier and the outbox load only when a folder has something new."""
    loaded = _imported_after("import outreach.cli.replies, outreach.cli.review")  # the `replies` group's modules
    assert not {m for m in loaded if m.startswith(("sqlite_utils", "outreach.contacts", "outreach.reports", "aiosmtplib", "jinja2", "rich", "flufl", "email_validator",
                                                    "markdown", "multiprocessing", "outreach.classify", "outreach.templates",
                                                    "outreach.mail.smtp", "outreach.sending", "outreach.followups",
                                                    "outreach.replies.matching", "outreach.replies.store"))}


def test_a_send_loads_no_imap_client_and_no_terminal_display_library():
    """`campaign send` and its send run: imapclient only when a Sent-folder copy is asked for,
    rich only when there is a terminal to draw the progress line on."""
    loaded = _imported_after("import outreach.cli.campaign, outreach.cli.campaign_send, outreach.sending.sender, outreach.sending.run")
    assert not {m for m in loaded if m.startswith(("imapclient", "rich", "outreach.classify", "outreach.replies"))}


def test_contacts_commands_need_no_mail_libraries():
    loaded = _imported_after("import outreach.cli.contacts")
    assert not {m for m in loaded if m.startswith(("aiosmtplib", "imapclient", "jinja2", "rich", "flufl", "markdown", "outreach.classify"))}


def test_every_command_is_registered_with_its_own_summary():
    """COMMANDS names each command's module and repeats its help's first paragraph (shown by
    `outreach --help` without importing the module): both must match the module."""
    found = {}
    for name, (modules, summary) in COMMANDS.items():
        for command in importlib.import_module(f"outreach.cli.{modules[0]}").COMMANDS:
            found[command.name] = (command.name, inspect.cleandoc(command.help or "").split("\n\n")[0])
        assert found[name] == (name, summary), name
    every = {c.name for m in {m for ms, _ in COMMANDS.values() for m in ms}
             for c in importlib.import_module(f"outreach.cli.{m}").COMMANDS}
    assert every == set(COMMANDS)


def test_help_lists_the_commands_as_click_would_with_everything_imported():
    lazy = CliRunner().invoke(cli, ["--help"], prog_name="outreach").output
    eager = click.Group(name="outreach", params=cli.params, help=cli.help, context_settings=cli.context_settings)
    for name in COMMANDS:
        eager.add_command(cli.commands[name], name)
    assert lazy == CliRunner().invoke(eager, ["--help"], prog_name="outreach").output
    assert "replies" in lazy and "Import, list, tag and export" in lazy
