"""The real test servers work: one message through SMTP, one appended to IMAP and read back."""

from __future__ import annotations

import asyncio
import ssl
from email.message import EmailMessage

import aiosmtplib
import pytest
from imapclient import IMAPClient

from tests.mailservers import PASSWORD, SMTP_USER


def _message(to: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = SMTP_USER
    message["To"] = to
    message["Subject"] = "Smoke test"
    message["Message-ID"] = "<smoke-1@example.com>"
    message.set_content("Hello from the smoke test.\n")
    return message


def test_smtp_fixture_requires_starttls_and_auth_then_records_the_message(smtp_server, certs):
    context = ssl.create_default_context(cafile=str(certs.ca_file))
    asyncio.run(
        aiosmtplib.send(
            _message("jane@mercy.example.org"),
            hostname=smtp_server.host,
            port=smtp_server.port,
            start_tls=True,
            tls_context=context,
            username=SMTP_USER,
            password=PASSWORD,
        )
    )
    [received] = smtp_server.received
    assert received.rcpt_tos == ["jane@mercy.example.org"]
    assert received.message_id == "<smoke-1@example.com>"
    assert received.login == SMTP_USER


def test_smtp_fixture_rejects_a_wrong_password(smtp_server, certs):
    context = ssl.create_default_context(cafile=str(certs.ca_file))
    with pytest.raises(aiosmtplib.SMTPAuthenticationError):
        asyncio.run(
            aiosmtplib.send(
                _message("jane@mercy.example.org"),
                hostname=smtp_server.host,
                port=smtp_server.port,
                start_tls=True,
                tls_context=context,
                username=SMTP_USER,
                password="wrong",
                timeout=10,
            )
        )
    assert smtp_server.received == []


def test_imap_fixture_appends_and_reads_back_over_tls(imap_account):
    context = ssl.create_default_context(cafile=str(imap_account.ca_file))
    with IMAPClient(imap_account.host, port=imap_account.tls_port, ssl=True, ssl_context=context) as imap:
        imap.login(imap_account.username, imap_account.password)
        imap.append("INBOX", _message(imap_account.username).as_bytes())
        imap.select_folder("INBOX", readonly=True)
        [uid] = imap.search(["HEADER", "Message-ID", "<smoke-1@example.com>"])
        fetched = imap.fetch([uid], ["BODY.PEEK[HEADER.FIELDS (SUBJECT)]"])[uid]
        assert b"Smoke test" in fetched[b"BODY[HEADER.FIELDS (SUBJECT)]"]
        special = {flag for _flags, _sep, name in imap.list_folders() for flag in _flags}
        assert {b"\\Sent", b"\\Drafts", b"\\Junk"} <= special


def test_smtp_to_lmtp_to_imap_full_loop(smtp_server, dovecot, imap_account, certs):
    smtp_server.handler.lmtp = (dovecot.host, dovecot.lmtp_port)
    context = ssl.create_default_context(cafile=str(certs.ca_file))
    asyncio.run(
        aiosmtplib.send(
            _message(imap_account.username),
            hostname=smtp_server.host,
            port=smtp_server.port,
            start_tls=True,
            tls_context=context,
            username=SMTP_USER,
            password=PASSWORD,
        )
    )
    with IMAPClient(imap_account.host, port=imap_account.port, ssl=False) as imap:
        imap.login(imap_account.username, imap_account.password)
        imap.select_folder("INBOX", readonly=True)
        assert len(imap.search(["ALL"])) == 1
