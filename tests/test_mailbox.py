"""The IMAP connection and the Sent/Drafts helpers, against the real Dovecot fixture."""

from __future__ import annotations

import os
import shutil
import tempfile
from datetime import datetime, timezone
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import pytest

from outreach.config import load_settings
from outreach.errors import ConfigError, MailServerError
from outreach.mail.imap import DRAFTS, JUNK, SENT, connect_imap
from outreach.mail.imap_folders import append_to_sent, find_in_sent, find_special_folder, save_draft
from tests.mailservers import DovecotServer, free_port


def settings(**env: str):
    """Settings from the test environment (mail_env) with some OUTREACH_* values overridden."""
    environ = dict(os.environ)
    environ.update({f"OUTREACH_{k.upper()}": v for k, v in env.items()})
    return load_settings(environ=environ, env_file=None)


def raw_message(subject: str = "Observership inquiry") -> tuple[str, bytes]:
    message = EmailMessage()
    message["From"] = "Ada Obi <ada@example.com>"
    message["To"] = "jane@mercy.example.org"
    message["Subject"] = subject
    message["Message-ID"] = message_id = make_msgid(domain="example.com")
    message.set_content("Dear Dr. Okafor,\n\nI am writing to ask about observerships.\n")
    return message_id, message.as_bytes()


@pytest.mark.parametrize(
    "security, port_attr",
    [("tls", "tls_port"), ("starttls", "port"), ("none", "port")],
)
def test_connects_and_logs_in_with_each_security_mode(mail_env, imap_account, security, port_attr):
    config = settings(imap_security=security, imap_port=str(getattr(imap_account, port_attr)))
    with connect_imap(config) as client:
        assert client.select_folder("INBOX", readonly=True)[b"EXISTS"] == 0


def test_dovecot_special_use_folders_are_found(mail_env):
    with connect_imap(settings()) as client:
        assert find_special_folder(client, SENT) == "Sent"
        assert find_special_folder(client, DRAFTS) == "Drafts"
        assert find_special_folder(client, JUNK) == "Junk"


@pytest.fixture
def private_dovecot(certs):
    """A Dovecot of our own: a failed login makes Dovecot slow down every later login from this
    IP (its auth penalty), which must not leak into the shared server's other tests."""
    root = Path(tempfile.mkdtemp(prefix="outreach-dovecot-"))
    server = DovecotServer(root, certs).start()
    yield server
    server.stop()
    shutil.rmtree(root, ignore_errors=True)


def test_a_wrong_password_says_which_server_and_what_to_check_without_the_password(mail_env, private_dovecot):
    port = private_dovecot.imaps_port
    with pytest.raises(MailServerError) as caught:
        connect_imap(settings(imap_port=str(port), imap_password="not-the-password"))
    text = str(caught.value)
    assert f"127.0.0.1:{port}" in text
    assert "OUTREACH_IMAP_PASSWORD" in text
    assert "not-the-password" not in text


def test_connection_refused_names_host_and_port(mail_env):
    port = free_port()
    with pytest.raises(MailServerError, match=f"127.0.0.1:{port}: connection refused"):
        connect_imap(settings(imap_port=str(port)))


def test_an_untrusted_certificate_points_at_ca_file(mail_env, monkeypatch):
    monkeypatch.delenv("OUTREACH_CA_FILE")
    with pytest.raises(MailServerError, match="OUTREACH_CA_FILE"):
        connect_imap(settings())


def test_tls_against_a_plain_port_is_a_tls_error_with_a_hint(mail_env, imap_account):
    with pytest.raises(MailServerError, match="OUTREACH_IMAP_SECURITY"):
        connect_imap(settings(imap_port=str(imap_account.port)))


def test_plain_text_password_to_a_remote_host_is_refused_before_connecting(mail_env):
    with pytest.raises(ConfigError, match="unencrypted"):
        connect_imap(settings(imap_host="imap.example.org", imap_security="none"))


def test_a_missing_password_is_a_config_error(mail_env, monkeypatch):
    monkeypatch.delenv("OUTREACH_IMAP_PASSWORD")
    with pytest.raises(ConfigError, match="OUTREACH_IMAP_PASSWORD"):
        connect_imap(settings())


def test_append_to_sent_stores_a_read_copy_that_find_in_sent_then_finds(mail_env):
    config = settings()
    message_id, raw = raw_message()
    when = datetime(2026, 3, 2, 14, 5, tzinfo=timezone.utc)
    assert append_to_sent(config, raw, when=when) == "Sent"
    other_id = make_msgid(domain="example.com")
    assert find_in_sent(config, [message_id, other_id]) == {message_id}
    with connect_imap(config) as client:
        client.select_folder("Sent", readonly=True)
        [(uid, data)] = client.fetch(client.search("ALL"), ["FLAGS", "INTERNALDATE", "BODY.PEEK[]"]).items()
    assert b"\\Seen" in data[b"FLAGS"]
    assert data[b"BODY[]"].replace(b"\r\n", b"\n") == raw.replace(b"\r\n", b"\n")


def test_one_connection_can_be_reused_for_many_sent_copies(mail_env):
    config = settings()
    ids = []
    with connect_imap(config) as client:
        for n in range(3):
            message_id, raw = raw_message(f"Inquiry {n}")
            ids.append(message_id)
            append_to_sent(config, raw, client=client)
        assert find_in_sent(config, ids, client=client) == set(ids)
        assert client.noop()  # still open: the helpers did not log it out


def test_find_in_sent_with_nothing_to_look_for_does_not_connect(monkeypatch):
    assert find_in_sent(load_settings(environ={}, env_file=None), []) == set()


def test_save_draft_puts_the_message_in_drafts_flagged_as_a_draft(mail_env):
    config = settings()
    message_id, raw = raw_message("Following up")
    assert save_draft(config, raw) == "Drafts"
    with connect_imap(config) as client:
        client.select_folder("Drafts", readonly=True)
        [(uid, data)] = client.fetch(client.search("ALL"), ["FLAGS", "BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"]).items()
    assert b"\\Draft" in data[b"FLAGS"]
    assert message_id.encode() in data[b"BODY[HEADER.FIELDS (MESSAGE-ID)]"]
