"""`outreach init` and `outreach doctor`: set up a folder, then check the account works."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from outreach.config import SECURITY_MODES, user_config_dir
from outreach.errors import OutreachError
from outreach.onboard import doctor as doctor_core
from outreach.onboard.init import (
    SECRET_SOURCES, Answers, check_address, default_secret_source, from_header, guess_provider, initialise,
)
from outreach.providers import APP_PASSWORD_HELP, PRESETS
from outreach.sending.pacing import Limits
from . import App, pass_app, print_json

MARKS = {"ok": "ok  ", "warn": "WARN", "fail": "FAIL", "skip": "skip"}


def _interactive() -> bool:
    return sys.stdin.isatty()


def _need(value: str | None, flag: str, interactive: bool, ask: str, default: str | None = None,
          choices: tuple[str, ...] | list[str] | None = None) -> str:
    """A flag's value, else the answer to a question, else (no terminal) a clear error."""
    if value:
        return value
    if interactive:
        kind = click.Choice(list(choices)) if choices else None
        return click.prompt(ask, default=default, show_default=default is not None, type=kind)
    if default is not None:
        return default
    raise click.UsageError(f"{flag} is needed when there is no terminal to ask (see `outreach init --help`)")


@click.command(name="init")
@click.argument("folder", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option("--provider", type=click.Choice(list(PRESETS)), help="Your mail provider (guessed from --address when it can be).")
@click.option("--name", help='Your name as recipients see it, e.g. "Ada Obi".')
@click.option("--address", help="The address you send from, e.g. ada.obi@gmail.com.")
@click.option("--secret-source", type=click.Choice(SECRET_SOURCES),
              help="env: an (app) password in .env; command: a command prints it; oauth: OAuth2 token command.")
@click.option("--password-command", metavar="CMD", help="With --secret-source command: the command that prints the password.")
@click.option("--token-command", metavar="CMD", help="With --secret-source oauth: the command that prints an access token.")
@click.option("--smtp-host", help="custom provider: SMTP server.")
@click.option("--smtp-port", type=click.IntRange(1, 65535), help="custom provider: SMTP port (465 tls, 587 starttls).")
@click.option("--smtp-security", type=click.Choice(SECURITY_MODES), help="custom provider: tls, starttls or none.")
@click.option("--imap-host", help="custom provider: IMAP server.")
@click.option("--imap-port", type=click.IntRange(1, 65535), help="custom provider: IMAP port (993 tls, 143 starttls).")
@click.option("--imap-security", type=click.Choice(SECURITY_MODES), help="custom provider: tls, starttls or none.")
@click.option("--yes", "-y", is_flag=True, help="Ask nothing: take the flags and the defaults.")
@click.option("--force", is_flag=True, help="Replace an existing .env (the old one is lost).")
@pass_app
def init(app: App, folder: Path | None, provider: str | None, name: str | None, address: str | None, secret_source: str | None,
         password_command: str | None, token_command: str | None, smtp_host: str | None, smtp_port: int | None,
         smtp_security: str | None, imap_host: str | None, imap_port: int | None, imap_security: str | None,
         yes: bool, force: bool) -> None:
    """Set up a folder: your account in .env (mode 0600), the starter templates and example contacts.

    Without FOLDER: the current folder (in a terminal you may pick your config folder,
    ~/.config/outreach, so outreach works from anywhere). Existing files are never overwritten
    (.env only with --force). No password is taken as a flag: paste it into .env afterwards,
    or use a command (--secret-source command) or OAuth2 (--secret-source oauth).

    \b
    outreach init                                   # asks a few questions
    outreach init ~/outreach --provider gmail --name "Ada Obi" --address ada.obi@gmail.com --yes
    outreach init --address ada@uni.edu --provider custom --smtp-host smtp.uni.edu --imap-host imap.uni.edu --yes
    """
    interactive = _interactive() and not yes
    folder = _folder(folder, interactive)
    env_file = folder / ".env"
    overwrite = False
    if env_file.exists():
        if force:
            overwrite = True
        elif interactive and click.confirm(f"{env_file} exists. Replace it (the old settings are lost)?", default=False):
            overwrite = True
        else:
            raise OutreachError(f"{env_file} already exists and was left as it is: edit it, or run `outreach init` with --force to replace it")
    address = check_address(_need(address, "--address", interactive, "Your email address (the one you send from)"))
    provider = _need(provider, "--provider", interactive, "Provider", guess_provider(address) or "custom", list(PRESETS))
    if provider not in PRESETS:
        raise click.BadParameter(f"use one of {', '.join(PRESETS)}", param_hint="provider")
    name = _need(name, "--name", interactive, "Your name as recipients see it", "")
    for line in APP_PASSWORD_HELP[provider]:
        click.echo(line)
    if not secret_source and (token_command or password_command):  # the command given says which
        secret_source = "oauth" if token_command else "command"
    secret_source = _need(secret_source, "--secret-source", interactive,
                          "Where does the secret come from? env (in .env), command (prints it), oauth (OAuth2 token command)",
                          default_secret_source(provider), SECRET_SOURCES)
    if secret_source not in SECRET_SOURCES:
        raise click.BadParameter(f"use one of {', '.join(SECRET_SOURCES)}", param_hint="secret source")
    password = None
    if interactive and secret_source == "env":
        password = click.prompt("Paste the app password now (hidden; Enter to add it to .env later)", default="",
                                show_default=False, hide_input=True).replace(" ", "") or None
    if interactive and secret_source == "command" and not password_command:
        password_command = click.prompt("Command that prints the password", default=f"pass show email/{address}")
    if interactive and secret_source == "oauth" and not token_command:
        token_command = click.prompt("Command that prints an OAuth2 access token", default=f"oama access {address}")
    if provider == "custom" and interactive:
        smtp_host = smtp_host or click.prompt("SMTP server (e.g. smtp.uni.edu)")
        smtp_security = smtp_security or click.prompt("SMTP security", type=click.Choice(SECURITY_MODES), default="starttls")
        smtp_port = smtp_port or click.prompt("SMTP port", type=int, default=465 if smtp_security == "tls" else 587)
        imap_host = imap_host or click.prompt("IMAP server (e.g. imap.uni.edu)")
        imap_security = imap_security or click.prompt("IMAP security", type=click.Choice(SECURITY_MODES), default="tls")
        imap_port = imap_port or click.prompt("IMAP port", type=int, default=993 if imap_security == "tls" else 143)
    answers = Answers(provider, name, address, secret_source, password_command, token_command,
                      smtp_host, smtp_port, smtp_security, imap_host, imap_port, imap_security)
    result = initialise(folder, answers, overwrite_env=overwrite, password=password)
    _print_done(result, answers, folder, password_given=password is not None)


def _folder(folder: Path | None, interactive: bool) -> Path:
    if folder is not None:
        return folder.expanduser()
    if interactive:
        config = user_config_dir()
        choice = click.prompt(
            f"Set up here ({Path.cwd()}) or in your config folder ({config}, used from any folder)?",
            type=click.Choice(["here", "config"]), default="here",
        )
        return config if choice == "config" else Path(".")
    return Path(".")


def _print_done(result, answers: Answers, folder: Path, *, password_given: bool) -> None:
    click.echo(f"Wrote {result.env_file} (readable only by you) for {from_header(answers.name, answers.address)} via {answers.provider}.")
    if result.starters.written:
        click.echo(f"Copied {len(result.starters.written)} starter file(s) into {folder / 'templates'} and {folder / 'contacts'}.")
    if result.starters.kept:
        click.echo(f"Kept {len(result.starters.kept)} existing file(s) as they were.")
    step = {
        "env": f"Paste your app password after OUTREACH_SMTP_PASSWORD= and OUTREACH_IMAP_PASSWORD= in {result.env_file}",
        "command": f"Check the password command in {result.env_file} prints your password",
        "oauth": f"Check OUTREACH_OAUTH2_TOKEN_CMD in {result.env_file} prints a fresh access token",
    }[answers.secret_source]
    if password_given:
        step = f"Your password is in {result.env_file}; keep that file private"
    cd = "" if folder.resolve() == Path.cwd().resolve() else f"cd {folder}   # or run from anywhere if this is your config folder\n  "
    click.echo("Next:")
    click.echo(f"  1. {step}.")
    click.echo(f"  2. {cd}outreach doctor                 # signs in to SMTP and IMAP, sends nothing")
    click.echo("  3. outreach contacts import contacts/physicians.csv --tag physicians")
    click.echo("     outreach templates preview observership-request --contact jane.okafor@mercy.example.org")
    click.echo("     outreach campaign create spring --template observership-request --tag physicians")
    click.echo("     outreach campaign send spring    # a dry run; add --live to send")


@click.command(name="doctor")
@click.option("--json", "as_json", is_flag=True, help='Print {"ok", "account", "checks": [{"name","status","detail","fix"}]}.')
@pass_app
def doctor(app: App, as_json: bool) -> None:
    """Check the account before sending: sign-in to SMTP and IMAP, TLS and its certificate, the
    Sent / Drafts / Junk folders, the caps and window in force. Sends nothing; exit 1 when a
    check fails, with what to do for each problem.

    \b
    outreach doctor
    outreach --profile uni doctor --json
    """
    settings = app.settings
    limits = str(Limits.from_settings(settings))
    if not as_json:
        _print_account(settings, limits)
    report = doctor_core.diagnose(settings, limits_text=limits, progress=None if as_json else _print_check)
    if as_json:
        print_json(report.to_json())
    elif report.ok:
        click.echo("All checks passed: `outreach campaign send NAME --test-to YOUR-ADDRESS` sends yourself a sample.")
    if not report.ok:
        failed = sum(c.status == "fail" for c in report.checks)
        raise OutreachError(f"{failed} check(s) failed; fix them as shown above and run `outreach doctor` again")


def _print_account(settings, limits: str) -> None:
    profile = f" (profile {settings.profile})" if settings.profile else ""
    click.echo(f"Account{profile}: {settings.from_address or '(no OUTREACH_FROM)'} via {settings.provider}")
    where = f"{settings.env_file} ({settings.source})" if settings.env_file else "the environment only (no .env here or in the config folder)"
    click.echo(f"  settings: {where}")
    click.echo(f"  SMTP {settings.smtp.address} {settings.smtp.security}, sign-in: {settings.smtp.auth_method}")
    click.echo(f"  IMAP {settings.imap.address} {settings.imap.security}, sign-in: {settings.imap.auth_method}")
    click.echo(f"  limits in force: {limits}")


def _print_check(check: doctor_core.Check) -> None:
    click.echo(f"[{MARKS[check.status]}] {check.name}: {check.detail}")
    if check.fix and check.status != "ok":
        click.echo(f"       -> {check.fix}")


COMMANDS = [init, doctor]
