"""The `outreach` command line: a thin layer that parses, calls the core, prints, maps errors.

Each noun has its own module (contacts, templates, campaign, replies); this one holds the root
group, the shared context and the error-to-exit-code mapping.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from dataclasses import dataclass, field
from typing import Any

import click
from sqlite_utils import Database

from outreach.config import AUTO, Settings, load_settings
from outreach.contacts.store import parse_where
from outreach.db import database_error, is_empty, open_db, parse_utc, remove_db_files
from outreach.errors import OutreachError


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
        if self._settings is None:
            self._settings = load_settings(self.flags, env_file=self.env_file)
        return self._settings

    def settings_with(self, **flags: Any) -> Settings:
        """Settings with extra command-level flags layered on top (flags beat everything)."""
        return load_settings({**self.flags, **{k: v for k, v in flags.items() if v is not None}}, env_file=self.env_file)

    @property
    def db(self) -> Database:
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
            self._settings = load_settings({**self.flags, "profile": profile}, env_file=self.env_file)

    def discard_new_empty_db(self) -> None:
        """A command that failed leaves no database behind if it created an empty one."""
        if self._db is None or not self._new_db:
            return
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
    click.echo(json.dumps(data, ensure_ascii=False, default=str))


def local_time(stamp: str | None, *, blank: str = "") -> str:
    """A db timestamp (UTC) as this machine's local time, for people."""
    when = parse_utc(stamp)
    return when.astimezone().strftime("%Y-%m-%d %H:%M") if when else blank


def _parse_where(_ctx: click.Context, _param: click.Parameter, items: tuple[str, ...]) -> dict[str, str]:
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


class OutreachGroup(click.Group):
    """Turns core errors into one `Error: ...` line on stderr and exit code 1; a database that is
    busy, read-only, damaged or on a full disk is one of those errors too (db.database_error)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except OutreachError as error:
            _discard(ctx)
            click.echo(f"Error: {error}", err=True)
            ctx.exit(error.exit_code)
        except sqlite3.Error as error:
            app = ctx.obj if isinstance(ctx.obj, App) else None
            path = app._settings.db_path if app is not None and app._settings is not None else None
            click.echo(f"Error: {database_error(error, path)}", err=True)
            _discard(ctx)
            ctx.exit(1)
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
    ctx.obj = App(flags={"db": db, "templates_dir": templates_dir, "profile": profile}, env_file=env_file or AUTO)


def _register_commands() -> None:
    # the command modules import App from this one: load them once it is defined
    from . import campaign, classify, contacts, followups, replies, templates
    from . import intros, onboard, outcomes, report, status

    for module in (contacts, templates, campaign, replies, classify, followups, outcomes, report, status, onboard, intros):
        for command in module.COMMANDS:
            cli.add_command(command)


_register_commands()


def main() -> None:
    cli(prog_name="outreach")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
