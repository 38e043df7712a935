"""`outreach init`, the starters shipped in the package, the config folder, and commands that
fail without leaving a database behind. Run through the real command with no terminal."""

from __future__ import annotations

import contextlib
import filecmp
import os
import stat
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from outreach.cli import cli
from outreach.onboard.starter import copy_starters, starter_dir

REPO = Path(__file__).resolve().parent.parent


def outreach(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "outreach", *args], capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL, cwd=cwd, env={**os.environ, **(env or {})})


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """The same command in-process (CliRunner: stdin is not a terminal either), for speed."""
    with contextlib.chdir(cwd):
        result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return subprocess.CompletedProcess(args, result.exit_code, result.stdout, result.stderr)


def files_under(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_the_built_package_carries_the_repository_starters_byte_for_byte(tmp_path):
    """setup.py maps templates/ and contacts/ into outreach/starter/: build it and compare."""
    subprocess.run([sys.executable, "setup.py", "-q", "build_py", "--build-lib", str(tmp_path)], cwd=REPO,
                   check=True, capture_output=True, timeout=120)
    for kind in ("templates", "contacts"):
        shipped = files_under(tmp_path / "outreach" / "starter" / kind)
        assert shipped == files_under(REPO / kind), kind
    assert "attachments/cv.pdf" in files_under(tmp_path / "outreach" / "starter" / "templates")


def test_a_checkout_uses_its_own_folders_and_init_copies_them_exactly(tmp_path):
    assert starter_dir("templates") == REPO / "templates"
    copied = copy_starters(tmp_path)
    for kind in ("templates", "contacts"):
        assert not filecmp.dircmp(REPO / kind, tmp_path / kind).diff_files
        assert files_under(tmp_path / kind) == files_under(REPO / kind)
    (tmp_path / "templates" / "thank-you.txt").write_text("mine")
    again = copy_starters(tmp_path)
    assert not again.written and len(again.kept) == len(copied.written)
    assert (tmp_path / "templates" / "thank-you.txt").read_text() == "mine"


def test_init_with_flags_writes_a_private_env_and_the_starters(tmp_path):
    result = outreach("init", "work", "--provider", "gmail", "--name", "Ada Obi", "--address", "ada.obi@gmail.com",
                      "--yes", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    env = tmp_path / "work" / ".env"
    assert stat.S_IMODE(env.stat().st_mode) == 0o600
    text = env.read_text()
    assert 'OUTREACH_FROM="Ada Obi <ada.obi@gmail.com>"' in text and "OUTREACH_PROVIDER=gmail" in text
    assert "myaccount.google.com/apppasswords" in result.stdout
    assert "outreach doctor" in result.stdout and "outreach contacts import contacts/physicians.csv" in result.stdout
    assert (tmp_path / "work" / "templates" / "attachments" / "cv.pdf").is_file()
    listed = outreach("templates", "list", cwd=tmp_path / "work")
    assert "observership-request" in listed.stdout


def test_init_explains_oauth_for_outlook_and_writes_the_token_command(tmp_path):
    result = run("init", "--address", "ada@outlook.com", "--token-command", "oama access ada@outlook.com",
                      "--yes", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Outlook.com refuses passwords" in result.stdout
    text = (tmp_path / ".env").read_text()
    assert "OUTREACH_PROVIDER=outlook" in text  # guessed from the address
    assert 'OUTREACH_OAUTH2_TOKEN_CMD="oama access ada@outlook.com"' in text
    assert "OUTREACH_SMTP_PASSWORD" not in text


def test_init_never_overwrites_env_without_force(tmp_path):
    (tmp_path / ".env").write_text("OUTREACH_FROM=keep@example.com\n")
    refused = run("init", "--address", "ada@example.com", "--yes", cwd=tmp_path)
    assert refused.returncode == 1
    assert refused.stderr.startswith("Error: .env already exists") and "--force" in refused.stderr
    assert (tmp_path / ".env").read_text() == "OUTREACH_FROM=keep@example.com\n"
    (tmp_path / ".env").chmod(0o644)
    forced = run("init", "--address", "ada@example.com", "--yes", "--force", cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert "ada@example.com" in (tmp_path / ".env").read_text()
    assert stat.S_IMODE((tmp_path / ".env").stat().st_mode) == 0o600


def test_init_without_a_terminal_asks_nothing_and_names_the_missing_flag(tmp_path):
    result = outreach("init", cwd=tmp_path)
    assert result.returncode == 2
    assert "--address is needed when there is no terminal" in result.stderr
    assert not (tmp_path / ".env").exists()
    bad = outreach("init", "--address", "not-an-address", "--yes", cwd=tmp_path)
    assert bad.returncode == 1 and "is not an email address" in bad.stderr


def test_custom_provider_servers_from_flags(tmp_path):
    result = run("init", "--address", "ada@uni.example.edu", "--provider", "custom", "--smtp-host", "smtp.uni.example.edu",
                      "--smtp-port", "465", "--smtp-security", "tls", "--imap-host", "imap.uni.example.edu",
                      "--password-command", "pass show uni", "--yes", cwd=tmp_path)  # the command implies the source
    assert result.returncode == 0, result.stderr
    text = (tmp_path / ".env").read_text()
    for line in ("OUTREACH_SMTP_HOST=smtp.uni.example.edu", "OUTREACH_SMTP_PORT=465", "OUTREACH_SMTP_SECURITY=tls",
                 "OUTREACH_IMAP_HOST=imap.uni.example.edu", "OUTREACH_IMAP_PORT=993", 'OUTREACH_SMTP_PASSWORD_CMD="pass show uni"'):
        assert line in text


def test_an_empty_folder_says_run_init_and_failed_commands_leave_no_database(tmp_path):
    listed = outreach("templates", "list", cwd=tmp_path)
    assert listed.returncode == 1
    assert "run `outreach init`" in listed.stderr and "No templates in" not in listed.stderr
    shown = outreach("campaign", "show", "nope", cwd=tmp_path)
    assert shown.returncode == 1 and "no campaign called 'nope'" in shown.stderr
    bad = outreach("contacts", "import", "missing.csv", cwd=tmp_path)
    assert bad.returncode == 1
    assert not any(tmp_path.glob("outreach.db*"))


def test_a_database_with_data_is_kept_when_a_later_command_fails(tmp_path):
    (tmp_path / "c.csv").write_text("email,first_name\nzed@example.org,Zed\n")
    assert run("contacts", "import", "c.csv", cwd=tmp_path).returncode == 0
    assert run("campaign", "show", "nope", cwd=tmp_path).returncode == 1
    assert (tmp_path / "outreach.db").is_file()


def test_the_config_folder_works_from_anywhere(tmp_path):
    config = tmp_path / "xdg-config" / "outreach"
    made = run("init", str(config), "--address", "ada@example.com", "--yes", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    listed = run("templates", "list", cwd=elsewhere)
    assert "observership-request" in listed.stdout, listed.stderr
    imported = run("contacts", "import", str(config / "contacts" / "physicians.csv"), cwd=elsewhere)
    assert imported.returncode == 0, imported.stderr
    assert (config / "outreach.db").is_file() and not (elsewhere / "outreach.db").exists()
    # A folder set up by itself wins over the config folder.
    (elsewhere / ".env").write_text("OUTREACH_FROM=local@example.com\n")
    assert "No templates in templates/" in run("templates", "list", cwd=elsewhere).stderr


def converse(argv: list[str], cwd: Path, script: list[tuple[str, str]], timeout: float = 30.0) -> str:
    """Run `argv` on a pseudo-terminal, answering each prompt (matched by text) in turn."""
    import pty
    import select
    import time

    pid, fd = pty.fork()
    if pid == 0:  # the child: become the command
        os.chdir(cwd)
        os.execv(sys.executable, [sys.executable, "-m", "outreach", *argv])
    seen, deadline = b"", time.monotonic() + timeout
    try:
        for prompt, answer in [*script, ("\x00never", "")]:
            while prompt.encode() not in seen and time.monotonic() < deadline:
                if select.select([fd], [], [], 0.2)[0]:
                    try:
                        chunk = os.read(fd, 4096)
                    except OSError:
                        chunk = b""
                    if not chunk:
                        return seen.decode(errors="replace")
                    seen += chunk
            if prompt.encode() in seen:
                seen = seen.replace(prompt.encode(), b"<" + prompt.encode() + b">", 1)
                os.write(fd, answer.encode() + b"\r")
        return seen.decode(errors="replace")
    finally:
        os.close(fd)
        os.waitpid(pid, 0)


def test_init_in_a_terminal_asks_and_hides_the_password(tmp_path):
    text = converse(["init"], tmp_path, [
        ("Set up here", "here"), ("Your email address", "ada.obi@gmail.com"), ("Provider", ""), ("Your name", "Ada Obi"),
        ("Where does the secret come from", ""), ("Paste the app password", "abcd efgh ijkl mnop"),
    ])
    assert "myaccount.google.com/apppasswords" in text and "[gmail]" in text  # guessed from the address
    assert "abcd" not in text  # hidden input is not echoed
    assert "Your password is in .env" in text
    env = (tmp_path / ".env").read_text()
    assert 'OUTREACH_SMTP_PASSWORD="abcdefghijklmnop"' in env and "OUTREACH_PROVIDER=gmail" in env
    assert stat.S_IMODE((tmp_path / ".env").stat().st_mode) == 0o600
    again = converse(["init"], tmp_path, [("Set up here", "here"), ("Replace it", "")])
    assert "already exists and was left as it is" in again


def test_init_in_a_terminal_can_set_up_the_config_folder(tmp_path):
    text = converse(["init"], tmp_path, [
        ("Set up here", "config"), ("Your email address", "ada@outlook.com"), ("Provider", ""), ("Your name", ""),
        ("Where does the secret come from", ""), ("access token", ""),
    ])
    config = tmp_path / "xdg-config" / "outreach"
    assert "refuses passwords" in text and "[oauth]" in text
    assert (config / "templates" / "observership-request.txt").is_file()
    assert 'OUTREACH_OAUTH2_TOKEN_CMD="oama access ada@outlook.com"' in (config / ".env").read_text()
    assert not (tmp_path / ".env").exists()
