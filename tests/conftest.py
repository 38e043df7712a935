"""Shared fixtures: a private working folder per test, and real mail servers started once."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.mailservers import PASSWORD, SMTP_USER, Certificates, DovecotServer, SmtpServer

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def hermetic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test runs in its own folder with no OUTREACH_* settings leaking in."""
    import os

    for name in list(os.environ):
        if name.startswith("OUTREACH_"):
            monkeypatch.delenv(name)
    # Never read the real user's config folder (~/.config/outreach): point it into the test's folder.
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return Certificates.create(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="session")
def dovecot(certs: Certificates):
    """One Dovecot for the whole session; tests isolate themselves with `imap_account`."""
    if not DovecotServer.available():
        pytest.fail("dovecot is not installed: run .ci/run, or apt-get install dovecot-imapd dovecot-lmtpd")
    # Not under pytest's tmp dir: that is mode 0700 and Dovecot's mail user must traverse it.
    root = Path(tempfile.mkdtemp(prefix="outreach-dovecot-"))
    server = DovecotServer(root, certs).start()
    yield server
    server.stop()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def smtp_server_session(certs: Certificates):
    server = SmtpServer(certs).start()
    yield server
    server.stop()


@pytest.fixture
def smtp_server(smtp_server_session: SmtpServer) -> SmtpServer:
    """The session's SMTP server with an empty record and no injected faults."""
    smtp_server_session.handler.clear()
    yield smtp_server_session
    smtp_server_session.handler.clear()


@dataclass
class ImapAccount:
    host: str
    port: int
    tls_port: int
    username: str
    password: str
    ca_file: Path


@pytest.fixture
def imap_account(dovecot: DovecotServer, certs: Certificates) -> ImapAccount:
    """A fresh, empty mailbox on the session's Dovecot."""
    return ImapAccount(dovecot.host, dovecot.imap_port, dovecot.imaps_port, dovecot.new_user(), dovecot.password, certs.ca_file)


@pytest.fixture
def mail_env(smtp_server: SmtpServer, imap_account: ImapAccount, certs: Certificates, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """OUTREACH_* settings pointing at the test servers (STARTTLS SMTP, implicit-TLS IMAP)."""
    env = {
        "OUTREACH_FROM": f"Ada Obi <{SMTP_USER}>",
        "OUTREACH_PROVIDER": "custom",
        "OUTREACH_SMTP_HOST": smtp_server.host,
        "OUTREACH_SMTP_PORT": str(smtp_server.port),
        "OUTREACH_SMTP_USERNAME": SMTP_USER,
        "OUTREACH_SMTP_PASSWORD": PASSWORD,
        "OUTREACH_SMTP_SECURITY": "starttls",
        "OUTREACH_IMAP_HOST": imap_account.host,
        "OUTREACH_IMAP_PORT": str(imap_account.tls_port),
        "OUTREACH_IMAP_USERNAME": imap_account.username,
        "OUTREACH_IMAP_PASSWORD": imap_account.password,
        "OUTREACH_IMAP_SECURITY": "tls",
        "OUTREACH_CA_FILE": str(certs.ca_file),
        "OUTREACH_GAP": "0",
        "OUTREACH_DAILY_CAP": "0",
        "OUTREACH_HOURLY_CAP": "0",
        "OUTREACH_DOMAIN_CAP": "0",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env
