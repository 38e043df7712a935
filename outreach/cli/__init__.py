"""The `outreach` command line: a thin layer that parses, calls the core, prints, maps errors.

Each noun has its own module (contacts, templates, campaign, replies); this one holds the root
group, the shared context and the error-to-exit-code mapping. A noun's module is imported only
when that noun runs (COMMANDS below), so `outreach --help` or `outreach contacts list` does not
pay for SMTP, IMAP, Jinja2 or the classifier: start-up was 0.56 s with everything imported.
"""

from __future__ import annotations

import importlib
import sqlite3
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import click

from outreach.errors import OutreachError

if TYPE_CHECKING:
    from outreach.config import Settings
    from outreach.db import Database


@dataclass
class App:
    """What every command needs: settings resolved once, the db opened on first use."""

    flags: dict[str, Any]
    env_file: str | None
    _settings: Settings | None = field(default=None, repr=False)
    _db: Database | None = field(default=None, repr=False)
    _new_db: bool = field(default=False, repr=False)

    @property
    def settings(self) -> Settings:
        from outreach.config import load_settings  # lazy: start-up time

        if self._settings is None:
            self._settings = load_settings(self.flags, env_file=self.env_file)
        return self._settings

    def settings_with(self, **flags: Any) -> Settings:
        """Settings with extra command-level flags layered on top (flags beat everything)."""
        from outreach.config import load_settings  # lazy: start-up time

        return load_settings({**self.flags, **{k: v for k, v in flags.items() if v is not None}}, env_file=self.env_file)

    def settings_for(self, profile: str | None) -> Settings:
        """The settings of account `profile` (None, or the profile in force: this command's own)."""
        if profile is None or profile == self.settings.profile:
            return self.settings
        return self.settings_with(profile=profile)

    @property
    def chosen_profile(self) -> str | None:
        """The profile named with --profile on this command line (not OUTREACH_PROFILE)."""
        return self.flags.get("profile")

    @property
    def db(self) -> Database:
        from outreach.db import open_db  # lazy: start-up time (sqlite-utils)

        if self._db is None:
            path = self.settings.db_path
            self._new_db = not path.exists()
            self._db = open_db(path, busy_timeout=self.settings.busy_timeout)
        return self._db

    def use_profile(self, profile: str | None) -> None:
        """Settings for this account from now on (a campaign remembers the profile it sends from)."""
        if profile and profile != self.settings.profile:
            if self.flags.get("profile") and self.flags["profile"].lower() != profile:
                raise OutreachError(
                    f"this campaign sends from profile {profile!r}, not {self.flags['profile']!r}: drop --profile"
                )
            from outreach.config import load_settings  # lazy: start-up time

            self._settings = load_settings({**self.flags, "profile": profile}, env_file=self.env_file)

    def discard_new_empty_db(self) -> None:
        """A command that failed leaves no database behind if it created an empty one."""
        if self._db is None or not self._new_db:
            return
        from outreach.db import is_empty, remove_db_files  # lazy: start-up time

        db, self._db = self._db, None
        try:
            empty = is_empty(db)
        finally:
            db.close()
        if empty:
            remove_db_files(self.settings.db_path)


pass_app = click.make_pass_decorator(App)


def print_json(data: Any) -> None:
    """Exactly one JSON document on stdout."""
    import json  # lazy: start-up time

    click.echo(json.dumps(data, ensure_ascii=False, default=str))


def one_line(text: str) -> str:
    """Text that stays on one line of a terminal: line-ending characters (which may come from a
    file's bytes, quoted in an error) are shown escaped, as repr would."""
    return "".join(repr(ch)[1:-1] if ch in _LINE_ENDS else ch for ch in text)


_LINE_ENDS = frozenset("\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")


def local_time(stamp: str | None, *, blank: str = "") -> str:
    """A db timestamp (UTC) as this machine's local time, for people."""
    from outreach.db import parse_utc  # lazy: start-up time

    when = parse_utc(stamp)
    return when.astimezone().strftime("%Y-%m-%d %H:%M") if when else blank


def account_label(profile: str | None) -> str:
    """How an account is named when a command handles several: "profile uni" or "your account"."""
    return f"profile {profile}" if profile else "your account"


def in_mailbox(profile: str | None, account: str, accounts: int) -> str:
    """"" with one account; " (profile uni: ada@uni.example.edu)" after a line when there are several."""
    return f" ({account_label(profile)}: {account})" if accounts > 1 else ""


def _parse_where(_ctx: click.Context, _param: click.Parameter, items: tuple[str, ...]) -> dict[str, str]:
    from outreach.contacts.store import parse_where  # lazy: start-up time (email-validator)

    try:
        return parse_where(items)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None


where_option = click.option(
    "--where",
    "where",
    multiple=True,
    metavar="FIELD=VALUE",
    callback=_parse_where,
    help="Only contacts whose field equals VALUE, case-insensitive (repeatable; custom fields too), e.g. state=OH.",
)
"""The one `--where FIELD=VALUE` option of every command that selects contacts; gives a dict."""


# Every top-level command: its name -> (the modules under outreach.cli that define it and its
# subcommands, the first paragraph of its help, which `outreach --help` shows without importing
# anything). A new command is one line here; tests/test_perf_startup.py checks the help matches.
COMMANDS: dict[str, tuple[tuple[str, ...], str]] = {
    "contacts": (("contacts", "outcomes"), "Import, list, tag and export the people you write to."),
    "suppress": (("suppress",), "Addresses and domains that must never be written to, whatever list they come back in."),
    "templates": (("templates",), "Message templates: templates/NAME.txt (+ optional NAME.html or NAME.md)."),
    "campaign": (("campaign",), "Campaigns: send one template to a selection of contacts, safely paced."),
    "replies": (("replies", "review"), "Replies: who answered, who bounced, who is away, and who they pointed you to."),
    "classify": (("classify",), "Classify saved messages as human_reply, auto_reply, bounce, unsubscribe or other."),
    "followups": (("followups",), "Follow-ups: the next step of each campaign's sequence, as a reply in the same thread."),
    "report": (("report",), "Who answers: reply rates per group with their 95% intervals, time to reply, opt-outs,\n"
               "bounces, warm (introduced) against cold, and what came of it (positive, offer, letter)."),
    "init": (("onboard",), "Set up a folder: your account in .env (mode 0600), the starter templates and example contacts."),
    "doctor": (("onboard",), "Check the account before sending: sign-in to SMTP and IMAP, TLS and its certificate, the\n"
               "Sent / Drafts / Junk folders, the caps and window in force. Sends nothing; exit 1 when a\n"
               "check fails, with what to do for each problem."),
    "intros": (("intros",), "Warm introductions: ask an alumnus, answer the introduction, thank them when it leads somewhere."),
    "status": (("status",), "What happened since you last looked: sends in the last 24 h against the daily cap, new\n"
               "replies (who, a snippet), follow-ups due and paused campaigns with the reason."),
}


class _LazyCommands(MutableMapping):
    """The root group's commands: every name known at once, its module imported on first use."""

    def __init__(self) -> None:
        self._loaded: dict[str, click.Command] = {}

    def __getitem__(self, name: str) -> click.Command:
        if name not in self._loaded:
            if name not in COMMANDS:
                raise KeyError(name)
            for module in COMMANDS[name][0]:  # the first defines it; others add subcommands to it
                for command in importlib.import_module(f"outreach.cli.{module}").COMMANDS:
                    self._loaded.setdefault(command.name, command)
        return self._loaded[name]

    def __setitem__(self, name: str, command: click.Command) -> None:
        self._loaded[name] = command

    def __delitem__(self, name: str) -> None:
        del self._loaded[name]

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys([*COMMANDS, *self._loaded]))

    def __len__(self) -> int:
        return len(set(COMMANDS) | set(self._loaded))

    def summary(self, name: str) -> click.Command:
        """The command if loaded, else a stand-in with its help's first paragraph, for listings."""
        return self._loaded.get(name) or click.Command(name, help=COMMANDS[name][1])


class OutreachGroup(click.Group):
    """Turns core errors into one `Error: ...` line on stderr and exit code 1; a database that is
    busy, read-only, damaged or on a full disk is one of those errors too (db.database_error)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.commands: _LazyCommands = _LazyCommands()

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list of `outreach --help`, from COMMANDS' summaries: nothing imported."""
        rows = [(name, self.commands.summary(name)) for name in self.list_commands(ctx)]
        rows = [(name, command) for name, command in rows if not command.hidden]
        if rows:
            limit = formatter.width - 6 - max(len(name) for name, _ in rows)
            with formatter.section("Commands"):
                formatter.write_dl([(name, command.get_short_help_str(limit)) for name, command in rows])

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except OutreachError as error:
            _discard(ctx)
            click.echo(f"Error: {one_line(str(error))}", err=True)
            ctx.exit(error.exit_code)
        except sqlite3.Error as error:
            from outreach.db import database_error  # lazy: start-up time (sqlite-utils)

            app = ctx.obj if isinstance(ctx.obj, App) else None
            path = app._settings.db_path if app is not None and app._settings is not None else None
            click.echo(f"Error: {database_error(error, path)}", err=True)
            _discard(ctx)
            ctx.exit(1)
        except KeyboardInterrupt:
            # Anywhere else Ctrl-C lands, the open transaction rolls back: a clean stop. Exit 130
            # as a shell expects (click would print "Aborted!" and exit 1).
            _discard(ctx)
            click.echo("Stopped by Ctrl-C.", err=True)
            ctx.exit(130)
        except click.exceptions.Exit as stop:
            if stop.exit_code:
                _discard(ctx)
            raise
        except BaseException:
            _discard(ctx)
            raise


def _discard(ctx: click.Context) -> None:
    """After a failure: remove the database this command created, if it is still empty."""
    if isinstance(ctx.obj, App):
        try:
            ctx.obj.discard_new_empty_db()
        except Exception:  # a broken or locked database is left as it is; the error above says why
            pass


@click.group(cls=OutreachGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="outreach")
@click.option("--db", "db", type=click.Path(dir_okay=False), help="SQLite database (env OUTREACH_DB, default ./outreach.db).")
@click.option("--templates-dir", type=click.Path(file_okay=False), help="Template folder (env OUTREACH_TEMPLATES_DIR, default ./templates).")
@click.option("--env-file", type=click.Path(dir_okay=False), help="Settings file read after the environment "
              "(default: ./.env, else the user's config folder, ~/.config/outreach/.env).")
@click.option("--profile", metavar="NAME", help="Use account NAME (OUTREACH_PROFILE_<NAME>_* settings; env OUTREACH_PROFILE).")
@click.pass_context
def cli(ctx: click.Context, db: str | None, templates_dir: str | None, env_file: str | None, profile: str | None) -> None:
    """Personal outreach email from your own mailbox: contacts, templates, campaigns, replies.

    \b
    Start with:
      outreach init                            # who you are, your mail account, starter templates
      outreach doctor                          # checks the sign-in before the first send
      outreach contacts import contacts/physicians.csv --tag physicians
      outreach templates preview observership-request --contact jane.okafor@mercy.example.org
      outreach campaign create spring --template observership-request --tag physicians
      outreach campaign send spring            # a dry run: writes .eml files, sends nothing
    """
    from outreach.config import AUTO  # lazy: start-up time

    ctx.obj = App(flags={"db": db, "templates_dir": templates_dir, "profile": profile}, env_file=env_file or AUTO)


def main() -> None:
    cli(prog_name="outreach")


if __name__ == "__main__":  # pragma: no cover
    main()
