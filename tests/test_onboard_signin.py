"""Sign-in beyond a password in .env, against real servers: a password from a command, OAuth2
(SASL XOAUTH2) to aiosmtpd and to Dovecot (oauth2 passdb + a local introspection endpoint), and a
relay that needs no login. Every run goes through the `outreach` command itself."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from outreach.cli import cli
from outreach.config import load_settings
from outreach.errors import ConfigError
from outreach.mail.auth import credentials, run_secret_command
from outreach.mail.imap import connect_imap
from tests.mailservers import PASSWORD, SMTP_USER, Certificates, SmtpServer
from tests.oauth_servers import Introspection, OAuthDovecot, OAuthSmtpServer

TOKEN = "ya29.Token-Zq7XwV3"
USER = "ada@example.com"


def outreach(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "outreach", *args], capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL, env={**os.environ, **(env or {})}, cwd=cwd)


def printer(folder: Path, text: str, *, exit_code: int = 0) -> str:
    """A command (no shell needed) that prints `text` and exits with `exit_code`."""
    script = folder / f"secret-{abs(hash((text, exit_code)))}.py"
    script.write_text(f"import sys\nprint({text!r})\nprint('second line is ignored')\nsys.exit({exit_code})\n")
    return f"{sys.executable} {script}"


def start_live_campaign(folder: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    """init, import the example physicians and create a campaign (in-process, for speed), then
    send one message live with the `outreach` command itself."""
    runner = CliRunner()
    steps = [
        ("init", str(folder), "--address", USER, "--name", "Ada Obi", "--provider", "custom", "--yes"),
        ("contacts", "import", "contacts/physicians.csv", "--tag", "physicians"),
        ("campaign", "create", "spring", "--template", "observership-request", "--tag", "physicians"),
    ]
    for step in steps:
        with contextlib.chdir(folder if step[0] != "init" else Path.cwd()):
            result = runner.invoke(cli, list(step), env=env, catch_exceptions=False)
        assert result.exit_code == 0, (step, result.output)
    return outreach("campaign", "send", "spring", "--live", "--limit", "1", "--json", env=env, cwd=folder)


# --- password commands -------------------------------------------------------------------------


def test_a_password_command_signs_in_to_smtp_and_imap(mail_env, tmp_path):
    command = printer(tmp_path, PASSWORD)
    env = {"OUTREACH_SMTP_PASSWORD": "", "OUTREACH_IMAP_PASSWORD": "",
           "OUTREACH_SMTP_PASSWORD_CMD": command, "OUTREACH_IMAP_PASSWORD_CMD": command}
    result = outreach("doctor", "--json", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    checks = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
    assert checks["smtp sign-in"]["status"] == checks["imap sign-in"]["status"] == "ok"


def test_a_failing_command_names_the_setting_and_never_its_output(mail_env, tmp_path):
    env = {"OUTREACH_SMTP_PASSWORD": "", "OUTREACH_SMTP_PASSWORD_CMD": printer(tmp_path, "Leaky-Pw-991", exit_code=3)}
    result = outreach("doctor", env=env)
    assert result.returncode == 1
    assert "OUTREACH_SMTP_PASSWORD_CMD: the command failed (exit status 3)" in result.stdout
    assert "Leaky-Pw-991" not in result.stdout + result.stderr


def test_secret_commands_unit_rules(tmp_path):
    assert run_secret_command(printer(tmp_path, " s3cret "), "X") == "s3cret"  # first line, trimmed
    assert run_secret_command("echo abc | tr a-c x-z", "X") == "xyz"  # shell syntax runs in a shell
    with pytest.raises(ConfigError, match="X: command 'no-such-outreach-helper' not found"):
        run_secret_command("no-such-outreach-helper --flag", "X")
    with pytest.raises(ConfigError, match="printed nothing"):
        run_secret_command(f"{sys.executable} -c pass", "X")
    with pytest.raises(ConfigError, match=r"did not finish within 0 s"):
        run_secret_command(f"{sys.executable} -c \"import time; time.sleep(5)\"", "X", timeout=0.2)


def test_a_command_runs_only_when_a_login_needs_it(tmp_path):
    marker = tmp_path / "ran"
    settings = load_settings(environ={"OUTREACH_FROM": USER, "OUTREACH_SMTP_PASSWORD_CMD": f"touch {marker}"}, env_file=None)
    assert not marker.exists()  # loading settings ran nothing
    assert "touch" not in repr(settings)
    with pytest.raises(ConfigError, match="printed nothing"):
        credentials(settings.smtp)
    assert marker.exists()


# --- OAuth2 ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def oauth_smtp(certs: Certificates):
    server = OAuthSmtpServer(certs, {USER: TOKEN}).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def oauth_dovecot(certs: Certificates):
    """A second Dovecot that signs in by OAuth2 only, asking a local introspection endpoint."""
    introspection = Introspection({USER: TOKEN}).start()
    root = Path(tempfile.mkdtemp(prefix="outreach-dovecot-oauth-"))
    server = OAuthDovecot(root, certs, introspection).start()
    yield server
    server.stop()
    introspection.stop()
    shutil.rmtree(root, ignore_errors=True)


def oauth_env(smtp: OAuthSmtpServer, imap: OAuthDovecot, certs: Certificates, token_command: str) -> dict[str, str]:
    return {
        "OUTREACH_PROVIDER": "custom", "OUTREACH_FROM": f"Ada Obi <{USER}>",
        "OUTREACH_SMTP_HOST": smtp.host, "OUTREACH_SMTP_PORT": str(smtp.port), "OUTREACH_SMTP_SECURITY": "starttls",
        "OUTREACH_IMAP_HOST": imap.host, "OUTREACH_IMAP_PORT": str(imap.imaps_port), "OUTREACH_IMAP_SECURITY": "tls",
        "OUTREACH_CA_FILE": str(certs.ca_file), "OUTREACH_OAUTH2_TOKEN_CMD": token_command,
        "OUTREACH_GAP": "0", "OUTREACH_DAILY_CAP": "0", "OUTREACH_HOURLY_CAP": "0", "OUTREACH_DOMAIN_CAP": "0",
    }


def test_xoauth2_sends_a_live_campaign_and_reads_imap(oauth_smtp, oauth_dovecot, certs, tmp_path):
    env = oauth_env(oauth_smtp, oauth_dovecot, certs, printer(tmp_path, TOKEN))
    result = start_live_campaign(tmp_path / "work", env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)["sent"] == 1
    assert oauth_smtp.handler.logins[-1] == ("XOAUTH2", USER)
    assert oauth_smtp.handler.received[-1].login == USER

    doctor = outreach("doctor", "--json", env=env, cwd=tmp_path / "work")
    checks = {c["name"]: c for c in json.loads(doctor.stdout)["checks"]}
    assert checks["smtp sign-in"]["detail"].startswith(f"signed in as {USER} with OAuth2 (XOAUTH2)")
    assert checks["imap sign-in"]["detail"] == f"signed in as {USER} with OAuth2 (XOAUTH2)"
    assert checks["sent folder"]["status"] == "ok"
    assert oauth_dovecot.introspection.asked >= 1
    # The accepted token is nowhere in what the commands printed or wrote.
    assert TOKEN not in result.stdout + result.stderr + doctor.stdout + doctor.stderr
    written = [p for p in (tmp_path / "work").rglob("*") if p.is_file() and TOKEN.encode() in p.read_bytes()]
    assert written == []


def test_imap_xoauth2_through_the_core(oauth_dovecot, certs, tmp_path):
    environ = {"OUTREACH_IMAP_HOST": oauth_dovecot.host, "OUTREACH_IMAP_PORT": str(oauth_dovecot.imap_port),
               "OUTREACH_IMAP_SECURITY": "starttls", "OUTREACH_IMAP_USERNAME": USER, "OUTREACH_CA_FILE": str(certs.ca_file),
               "OUTREACH_IMAP_OAUTH2_CMD": printer(tmp_path, TOKEN)}
    with connect_imap(load_settings(environ=environ, env_file=None)) as client:
        assert client.find_special_folder(b"\\Drafts") == "Drafts"


def test_a_refused_token_says_so_and_is_never_shown(oauth_smtp, oauth_dovecot, certs, tmp_path):
    env = oauth_env(oauth_smtp, oauth_dovecot, certs, printer(tmp_path, "Expired-Tok-5150"))
    result = outreach("doctor", "--json", env=env)
    assert result.returncode == 1
    checks = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
    assert checks["smtp sign-in"]["detail"].startswith("535 5.7.8")
    assert "OAuth2 access token" in checks["smtp sign-in"]["fix"]
    assert checks["imap sign-in"]["status"] == "fail"
    assert "OAuth2 access token" in checks["imap sign-in"]["detail"]
    assert "Expired-Tok-5150" not in result.stdout + result.stderr


def test_oauth_to_a_server_without_xoauth2_is_a_clear_error(smtp_server, certs, tmp_path):
    env = {"OUTREACH_SMTP_HOST": smtp_server.host, "OUTREACH_SMTP_PORT": str(smtp_server.port), "OUTREACH_FROM": USER,
           "OUTREACH_SMTP_SECURITY": "starttls", "OUTREACH_CA_FILE": str(certs.ca_file),
           "OUTREACH_SMTP_OAUTH2_CMD": printer(tmp_path, TOKEN), "OUTREACH_IMAP_HOST": "127.0.0.1", "OUTREACH_IMAP_PORT": "9"}
    result = outreach("doctor", "--json", env=env)
    check = {c["name"]: c for c in json.loads(result.stdout)["checks"]}["smtp sign-in"]
    assert check["status"] == "fail" and "does not offer XOAUTH2 (it offers: login, plain)" in check["detail"]


# --- a relay that needs no login ----------------------------------------------------------------


def test_an_empty_username_sends_through_a_relay_without_login(certs, tmp_path):
    relay = SmtpServer(certs, require_auth=False).start()
    try:
        env = {"OUTREACH_PROVIDER": "custom", "OUTREACH_FROM": f"Ada Obi <{SMTP_USER}>", "OUTREACH_SMTP_HOST": relay.host,
               "OUTREACH_SMTP_PORT": str(relay.port), "OUTREACH_SMTP_SECURITY": "starttls", "OUTREACH_SMTP_USERNAME": "",
               "OUTREACH_CA_FILE": str(certs.ca_file), "OUTREACH_SENT_COPY": "no", "OUTREACH_GAP": "0",
               "OUTREACH_DAILY_CAP": "0", "OUTREACH_HOURLY_CAP": "0", "OUTREACH_DOMAIN_CAP": "0"}
        result = start_live_campaign(tmp_path / "work", env)
        assert result.returncode == 0, result.stdout + result.stderr
        assert json.loads(result.stdout)["sent"] == 1
        assert relay.received[-1].login is None
    finally:
        relay.stop()


def test_one_process_asks_a_command_once_a_minute(tmp_path, monkeypatch):
    from outreach.mail import auth

    script = tmp_path / "count.py"
    script.write_text(f"open({str(tmp_path / 'runs')!r}, 'a').write('x')\nprint('tok')\n")
    command = f"{sys.executable} {script}"
    assert run_secret_command(command, "X") == run_secret_command(command, "X") == "tok"
    assert (tmp_path / "runs").read_text() == "x"
    monkeypatch.setattr(auth, "REUSE_SECONDS", 0.0)  # as if a minute had passed: tokens expire
    run_secret_command(command, "X")
    assert (tmp_path / "runs").read_text() == "xx"
