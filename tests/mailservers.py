"""Real mail servers on 127.0.0.1 for tests and benchmarks: aiosmtpd (STARTTLS + AUTH) and Dovecot.

Nothing here is mocked: the product talks SMTP and IMAP to these servers exactly as it would to
a provider. Dovecot runs unprivileged from a private config; any username logs in with the shared
password, so each test can take a fresh, empty mailbox.
"""

from __future__ import annotations

import os
import shutil
import smtplib
import socket
import ssl
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from pathlib import Path

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

LOOPBACK = "127.0.0.1"
SMTP_USER = "ada@example.com"
PASSWORD = "test-password"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


@dataclass
class Certificates:
    """A throwaway CA and a server certificate for 127.0.0.1/localhost, as PEM files."""

    ca_file: Path
    cert_file: Path
    key_file: Path

    @classmethod
    def create(cls, folder: Path) -> Certificates:
        ca = trustme.CA()
        server = ca.issue_cert("127.0.0.1", "localhost")
        folder.mkdir(parents=True, exist_ok=True)
        certs = cls(folder / "ca.pem", folder / "server.pem", folder / "server.key")
        ca.cert_pem.write_to_path(str(certs.ca_file))
        server.private_key_pem.write_to_path(str(certs.key_file))
        certs.cert_file.write_bytes(b"".join(blob.bytes() for blob in server.cert_chain_pems))
        for path in (certs.ca_file, certs.cert_file, certs.key_file):
            path.chmod(0o644)
        return certs

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(str(self.cert_file), str(self.key_file))
        return context


@dataclass
class Received:
    """One message as the SMTP server accepted it."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    login: str | None

    @property
    def message(self) -> Message:
        return message_from_bytes(self.data)

    @property
    def message_id(self) -> str | None:
        return self.message.get("Message-ID")


@dataclass
class RecordingHandler:
    """Accepts and records mail. Tests may set `on_rcpt` / `on_data` to return an SMTP reply
    (e.g. "451 4.3.0 try later") instead of accepting, or to drop the connection."""

    received: list[Received] = field(default_factory=list)
    on_rcpt: Callable[[str], str | None] | None = None
    on_data: Callable[[Envelope], str | None] | None = None
    lmtp: tuple[str, int] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]) -> str:
        if self.on_rcpt and (reply := self.on_rcpt(address)):
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.on_data and (reply := self.on_data(envelope)):
            return reply
        login = session.auth_data.decode() if isinstance(session.auth_data, bytes) else session.auth_data
        with self.lock:
            self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.content), login))
        if self.lmtp:
            self._deliver(envelope)
        return "250 2.0.0 Message accepted for delivery"

    def _deliver(self, envelope: Envelope) -> None:
        """Hand each recipient to Dovecot's LMTP, one at a time (LMTP replies per recipient)."""
        for rcpt in envelope.rcpt_tos:
            with smtplib.LMTP(*self.lmtp) as lmtp:
                lmtp.sendmail(envelope.mail_from, [rcpt], envelope.content)

    def clear(self) -> None:
        with self.lock:
            self.received.clear()
        self.on_rcpt = None
        self.on_data = None


class _Authenticator:
    def __init__(self, password: str) -> None:
        self.password = password

    def __call__(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and auth_data.password.decode() == self.password
        # handled=False lets aiosmtpd send the 535 itself; otherwise a bad login hangs the client.
        return AuthResult(success=ok, handled=False, auth_data=auth_data.login if ok else None)


class SmtpServer:
    """aiosmtpd on 127.0.0.1 requiring STARTTLS and AUTH (PLAIN/LOGIN) with `password`."""

    def __init__(self, certs: Certificates, *, password: str = PASSWORD, require_auth: bool = True, smtputf8: bool = False) -> None:
        self.handler = RecordingHandler()
        self.port = free_port()
        self.host = LOOPBACK
        self.password = password
        self.controller = Controller(
            self.handler,
            hostname=LOOPBACK,
            port=self.port,
            tls_context=certs.server_context(),
            require_starttls=True,
            authenticator=_Authenticator(password),
            auth_required=require_auth,
            auth_require_tls=True,
            enable_SMTPUTF8=smtputf8,
            ready_timeout=10,
        )

    @property
    def received(self) -> list[Received]:
        return self.handler.received

    def start(self) -> SmtpServer:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()


DOVECOT_CONFIG = """\
protocols = imap lmtp
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
info_log_path = {root}/dovecot.log
ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{root}/mail/%u/Maildir
mail_uid = {uid}
mail_gid = {gid}
first_valid_uid = 1
default_internal_user = {internal_user}
default_login_user = {login_user}
postmaster_address = postmaster@example.com
# No auth-failure penalty: one wrong-password test must not slow every later login.
auth_failure_delay = 0
imap_idle_notify_interval = 1 secs
service imap-login {{
  chroot = {chroot}
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap_port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps_port}
    ssl = yes
  }}
}}
service auth {{
  chroot = {chroot}
}}
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {lmtp_port}
  }}
}}
passdb {{
  driver = static
  args = password={password}
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/mail/%u
}}
namespace inbox {{
  inbox = yes
  separator = /
  mailbox Drafts {{
    special_use = \\Drafts
    auto = subscribe
  }}
  mailbox Sent {{
    special_use = \\Sent
    auto = subscribe
  }}
  mailbox Junk {{
    special_use = \\Junk
    auto = subscribe
  }}
  mailbox Trash {{
    special_use = \\Trash
    auto = subscribe
  }}
}}
"""


class DovecotServer:
    """Dovecot in the foreground from a private config; plain IMAP, IMAPS and LMTP on loopback."""

    def __init__(self, root: Path, certs: Certificates, *, password: str = PASSWORD) -> None:
        self.root = root
        self.certs = certs
        self.password = password
        self.host = LOOPBACK
        self.imap_port, self.imaps_port, self.lmtp_port = free_port(), free_port(), free_port()
        self.process: subprocess.Popen | None = None

    @staticmethod
    def available() -> bool:
        return shutil.which("dovecot") is not None or Path("/usr/sbin/dovecot").exists()

    def _config(self) -> str:
        as_root = os.geteuid() == 0
        uid, gid = (65534, 65534) if as_root else (os.getuid(), os.getgid())
        import pwd

        me = pwd.getpwuid(os.getuid()).pw_name
        return DOVECOT_CONFIG.format(
            root=self.root,
            cert=self.certs.cert_file,
            key=self.certs.key_file,
            uid=uid,
            gid=gid,
            internal_user="dovecot" if as_root else me,
            login_user="dovenull" if as_root else me,
            chroot="login" if as_root else "",
            imap_port=self.imap_port,
            imaps_port=self.imaps_port,
            lmtp_port=self.lmtp_port,
            password=self.password,
        )

    def start(self, deadline: float = 15.0) -> DovecotServer:
        for sub in ("run", "state", "mail"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            self.root.chmod(0o755)
            os.chown(self.root / "mail", 65534, 65534)
        config = self.root / "dovecot.conf"
        config.write_text(self._config())
        binary = shutil.which("dovecot") or "/usr/sbin/dovecot"
        self.process = subprocess.Popen([binary, "-F", "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self._wait_for_greeting(time.monotonic() + deadline)
        return self

    def _wait_for_greeting(self, until: float) -> None:
        """Dovecot may accept connections before it can greet; wait for a real `* OK`."""
        while time.monotonic() < until:
            if self.process and self.process.poll() is not None:
                raise RuntimeError(f"dovecot exited: {self.process.stderr.read().decode()} {self.log()}")
            try:
                with socket.create_connection((LOOPBACK, self.imap_port), timeout=1) as sock:
                    if sock.recv(100).startswith(b"* OK"):
                        return
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"dovecot did not greet within the deadline:\n{self.log()}")

    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def new_user(self) -> str:
        """A fresh, empty mailbox for one test."""
        return f"user-{uuid.uuid4().hex[:12]}@example.com"

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.process = None
