"""Secrets never leak: a distinctive password, password-command output and OAuth2 token are used
for real (servers that accept them), then every byte the commands wrote is searched: stdout,
stderr, --json output, the database (and its WAL), the events log, the .eml files, and the
messages the servers received. `.env` written by init is 0600."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.mailservers import Certificates, DovecotServer, SmtpServer

SECRET = "Zq9-Secret-Pw-7781"
WRONG = "Wr0ng-Secret-Pw-4410"
LEAKY = "Cmd-Output-Secret-3321"


@pytest.fixture(scope="module")
def servers(certs: Certificates):
    """An SMTP server and a Dovecot that accept only SECRET."""
    smtp = SmtpServer(certs, password=SECRET).start()
    root = Path(tempfile.mkdtemp(prefix="outreach-dovecot-secret-"))
    imap = DovecotServer(root, certs, password=SECRET).start()
    smtp.handler.lmtp = (imap.host, imap.lmtp_port)
    yield smtp, imap
    smtp.stop()
    imap.stop()
    shutil.rmtree(root, ignore_errors=True)


class Transcript:
    """Runs `outreach` commands in one folder and keeps everything they printed."""

    def __init__(self, folder: Path, env: dict[str, str]) -> None:
        self.folder, self.env, self.output = folder, env, []

    def __call__(self, *args: str, extra: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        result = subprocess.run([sys.executable, "-m", "outreach", *args], capture_output=True, text=True, timeout=90,
                                stdin=subprocess.DEVNULL, cwd=self.folder, env={**os.environ, **self.env, **(extra or {})})
        self.output.append(result.stdout + result.stderr)
        return result


def leaks(secret: str, transcript: Transcript, folder: Path, received: list) -> list[str]:
    found = [f"output of command {n}" for n, text in enumerate(transcript.output) if secret in text]
    for path in folder.rglob("*"):
        if path.is_file() and path.name != ".env" and secret.encode() in path.read_bytes():
            found.append(str(path.relative_to(folder)))
    found += [f"message to {m.rcpt_tos}" for m in received if secret.encode() in m.data]
    return found


def test_secrets_appear_nowhere_but_env(servers, certs, tmp_path):
    smtp, imap = servers
    user = imap.new_user()
    run = Transcript(tmp_path, {
        "OUTREACH_CA_FILE": str(certs.ca_file), "OUTREACH_GAP": "0", "OUTREACH_DAILY_CAP": "0",
        "OUTREACH_HOURLY_CAP": "0", "OUTREACH_DOMAIN_CAP": "0", "OUTREACH_SENT_COPY": "yes",
    })
    assert run("init", "--provider", "custom", "--address", user, "--name", "Ada Obi", "--smtp-host", smtp.host,
               "--smtp-port", str(smtp.port), "--smtp-security", "starttls", "--imap-host", imap.host,
               "--imap-port", str(imap.imaps_port), "--imap-security", "tls", "--yes").returncode == 0
    env_file = tmp_path / ".env"
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    text = env_file.read_text().replace("OUTREACH_SMTP_PASSWORD=\n", f"OUTREACH_SMTP_PASSWORD={SECRET}\n")
    env_file.write_text(text.replace("OUTREACH_IMAP_PASSWORD=\n", f"OUTREACH_IMAP_PASSWORD={SECRET}\n"))

    assert run("doctor", "--json").returncode == 0, run.output[-1]
    assert run("contacts", "import", "contacts/physicians.csv", "--tag", "physicians", "--json").returncode == 0
    assert run("campaign", "create", "spring", "--template", "observership-request", "--tag", "physicians").returncode == 0
    assert run("campaign", "send", "spring", "--test-to", user).returncode == 0
    sent = run("campaign", "send", "spring", "--live", "--limit", "2", "--json")
    assert sent.returncode == 0, sent.stderr
    assert run("replies", "poll", "--json").returncode == 0, run.output[-1]
    assert run("campaign", "show", "spring", "--json").returncode == 0
    # Failures print errors: a wrong password, a failing password command, a refused token.
    assert run("doctor", "--json", extra={"OUTREACH_SMTP_PASSWORD": WRONG, "OUTREACH_IMAP_PASSWORD": WRONG}).returncode == 1
    assert run("campaign", "send", "spring", "--live", extra={"OUTREACH_SMTP_PASSWORD": WRONG}).returncode == 1
    assert run("replies", "poll", extra={"OUTREACH_IMAP_PASSWORD": WRONG}).returncode == 1
    leaky = f"{sys.executable} -c \"print('{LEAKY}'); raise SystemExit(2)\""
    assert run("campaign", "send", "spring", "--live",
               extra={"OUTREACH_SMTP_PASSWORD": "", "OUTREACH_SMTP_PASSWORD_CMD": leaky}).returncode == 1
    assert "OUTREACH_SMTP_PASSWORD_CMD: the command failed (exit status 2)" in run.output[-1]
    assert run("doctor", extra={"OUTREACH_OAUTH2_TOKEN_CMD": f"echo {LEAKY}"}).returncode == 1

    for secret in (SECRET, WRONG, LEAKY):
        assert leaks(secret, run, tmp_path, smtp.received) == [], secret
    assert (tmp_path / "outreach.db").is_file() and list((tmp_path / "outbox").rglob("*.eml"))
    assert len(smtp.received) >= 3  # the test message and two live sends really went through
