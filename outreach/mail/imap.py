"""The IMAP side: a logged-in connection under the shared TLS rules and incremental fetching.
Special folders found by SPECIAL-USE and the small jobs other stages need (a copy in Sent, a draft
for review) are in mail/imap_folders.py.

Every library error becomes a MailServerError naming host:port and what to try next; the
password never appears in a message or a log line.
"""

from __future__ import annotations

import imaplib
import re
import socket
import ssl
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientAbortError, IMAPClientError, LoginError
from imapclient.imapclient import SocketTimeout

from outreach.config import Settings
from outreach.errors import MailServerError
from outreach.mail.auth import imap_credentials, imap_login
from outreach.mail.tls import require_safe_login, ssl_context
from outreach.providers import login_refused_hint

SENT = b"\\Sent"
DRAFTS = b"\\Drafts"
JUNK = b"\\Junk"
CONNECT_TIMEOUT = 20.0
READ_TIMEOUT = 120.0

T = TypeVar("T")


class LoginRefused(MailServerError):
    """The server rejected the username or password: retrying will not help."""


def connect_imap(settings: Settings, *, timeout: SocketTimeout | None = None) -> IMAPClient:
    """A logged-in IMAPClient (use it as a context manager: `with connect_imap(s) as client:`).

    security tls -> implicit TLS; starttls -> plain then STARTTLS before the password; none ->
    plain text, refused off loopback unless OUTREACH_ALLOW_PLAINTEXT_LOGIN=yes.
    """
    server = settings.imap
    require_safe_login(server, settings, what="IMAP")
    creds = imap_credentials(server)
    timeout = timeout or SocketTimeout(connect=CONNECT_TIMEOUT, read=READ_TIMEOUT)
    host, port = server.host, server.port
    context = ssl_context(settings) if server.security in ("tls", "starttls") else None
    client: IMAPClient | None = None
    try:
        client = IMAPClient(host, port, ssl=server.security == "tls", ssl_context=context, timeout=timeout)
        if server.security == "starttls":
            client.starttls(context)
        imap_login(client, creds)
        return client
    except BaseException as error:
        if client is not None:
            _shutdown_quietly(client)
        if isinstance(error, Exception):
            raise imap_error(error, settings, doing="connecting") from None
        raise


def imap_error(error: Exception, settings: Settings, *, doing: str) -> MailServerError:
    """Turn a socket/TLS/IMAP failure into a message that says what to do next."""
    host, port = settings.imap.host, settings.imap.port
    if isinstance(error, MailServerError):
        return error
    if isinstance(error, LoginError):
        return LoginRefused(
            f"IMAP login refused for {settings.imap.username}: "
            f"{login_refused_hint(settings.provider, settings.imap.auth_method, 'IMAP')}",
            host=host,
            port=port,
        )
    if isinstance(error, ssl.SSLCertVerificationError):
        hint = (
            f"the server's TLS certificate was not trusted ({error.verify_message}); for a "
            "self-signed server set OUTREACH_CA_FILE to its CA certificate"
        )
    elif isinstance(error, ssl.SSLError):
        hint = (
            f"TLS failed while {doing} ({error.reason or error}); check OUTREACH_IMAP_SECURITY "
            "(tls for port 993, starttls for port 143) and OUTREACH_IMAP_PORT"
        )
    elif isinstance(error, ConnectionRefusedError):
        hint = "connection refused: check OUTREACH_IMAP_HOST and OUTREACH_IMAP_PORT, and that the server is running"
    elif isinstance(error, (socket.timeout, TimeoutError)):
        hint = f"timed out while {doing}: the server is slow or unreachable; try again, or check the host and port"
        if doing == "connecting":
            hint += " and that OUTREACH_IMAP_SECURITY matches the port (tls for 993, starttls for 143)"
    elif isinstance(error, socket.gaierror):
        hint = f"cannot resolve host {host!r}: check OUTREACH_IMAP_HOST"
    elif isinstance(error, IMAPClientAbortError):
        hint = f"the connection dropped while {doing}; run the command again (progress so far is kept)"
    elif isinstance(error, IMAPClientError):
        text = str(error)
        if "STARTTLS" in text.upper() and "capab" in text.lower():
            hint = "the server does not offer STARTTLS; use OUTREACH_IMAP_SECURITY=tls (port 993)"
        else:
            hint = f"the server refused a command while {doing}: {text}"
    elif isinstance(error, OSError):
        hint = f"network error while {doing}: {error.strerror or error}; check the host, port and your connection"
    else:
        hint = f"unexpected error while {doing}: {error}"
    return MailServerError(hint, host=host, port=port)


def _shutdown_quietly(client: IMAPClient) -> None:
    try:
        client.shutdown()
    except Exception:
        pass


@contextmanager
def imap_session(settings: Settings, client: IMAPClient | None = None, *, doing: str) -> Iterator[IMAPClient]:
    """Use `client` if given (left open), else a fresh connection logged out at the end."""
    own = connect_imap(settings) if client is None else None
    try:
        yield client if client is not None else own
    except MailServerError:
        raise
    except (IMAPClientError, OSError) as error:
        raise imap_error(error, settings, doing=doing) from None
    finally:
        if own is not None:
            try:
                own.logout()
            except Exception:
                _shutdown_quietly(own)


# --- Incremental reading --------------------------------------------------------------------

# The whole header block: Dovecot serves it faster than a HEADER.FIELDS subset.
HEADER_ITEM = "BODY.PEEK[HEADER]"
_FETCH_UID = re.compile(rb"UID (\d+)")


class HeaderFields:
    """The reading half of email.message.Message (get, get_all) over a raw header block.

    Parsing 10,000 headers with the email package costs more than fetching them; matching only
    needs a few fields, and candidates are parsed properly once their body is fetched.
    """

    __slots__ = ("_fields",)

    def __init__(self, raw: bytes) -> None:
        fields: dict[str, list[str]] = {}
        current: list[str] | None = None
        for line in raw.decode("utf-8", "replace").splitlines():
            if not line:
                continue
            if line[0] in " \t":
                if current:
                    current[-1] += " " + line.strip()
                continue
            name, colon, value = line.partition(":")
            if not colon:
                current = None
                continue
            current = fields.setdefault(name.strip().lower(), [])
            current.append(value.strip())
        self._fields = fields

    def get(self, name: str, default: str | None = None) -> str | None:
        values = self._fields.get(name.lower())
        return values[0] if values else default

    def get_all(self, name: str, default: list[str] | None = None) -> list[str] | None:
        return self._fields.get(name.lower(), default)


@dataclass(frozen=True)
class FolderStatus:
    name: str
    uidvalidity: int
    uidnext: int | None
    exists: int


@dataclass
class FetchedHeader:
    uid: int
    header: HeaderFields


def open_folder(client: IMAPClient, name: str) -> FolderStatus:
    """EXAMINE (read-only SELECT): nothing we do can change a flag in this folder."""
    info = client.select_folder(name, readonly=True)
    uidnext = info.get(b"UIDNEXT")
    return FolderStatus(name, int(info[b"UIDVALIDITY"]), int(uidnext) if uidnext else None, int(info.get(b"EXISTS", 0)))


def new_uids(client: IMAPClient, status: FolderStatus, last_uid: int) -> list[int]:
    """UIDs above `last_uid`, oldest first. UIDNEXT answers "nothing new" without a search;
    `UID SEARCH UID n:*` always returns the newest message even when its UID is below n."""
    if status.exists == 0 or (status.uidnext is not None and status.uidnext <= last_uid + 1):
        return []
    return sorted(uid for uid in client.search(["UID", f"{last_uid + 1}:*"]) if uid > last_uid)


def uid_set(uids: Iterable[int]) -> str:
    """[1, 2, 3, 7] -> "1:3,7": short commands for big batches."""
    ranges: list[str] = []
    run: list[int] = []
    for uid in sorted(set(uids)):
        if run and uid == run[-1] + 1:
            run.append(uid)
            continue
        if run:
            ranges.append(f"{run[0]}:{run[-1]}" if len(run) > 1 else str(run[0]))
        run = [uid]
    if run:
        ranges.append(f"{run[0]}:{run[-1]}" if len(run) > 1 else str(run[0]))
    return ",".join(ranges)


_MAX_LINE = imaplib._MAXLINE  # type: ignore[attr-defined]  # private in imaplib, not in typeshed
_LITERAL_AT_END = re.compile(rb"\{(\d+)\}\r?\n?$")
_INTERNALDATE = re.compile(rb'INTERNALDATE "([^"]+)"')


class FetchRequest(Generic[T]):
    """A UID FETCH already sent; `result()` reads its reply. Asking before doing other work
    lets the server prepare the reply meanwhile. Keep one request in flight per connection:
    a server may interleave the untagged replies of pipelined commands."""

    def __init__(self, client: IMAPClient, uids: Iterable[int], items: str, parse: Callable[[list[Any], set[int]], T]) -> None:
        self.client = client
        self.uids = sorted(set(uids))
        self.parse = parse
        self.tag = client._imap._command("UID", "FETCH", uid_set(self.uids), items) if self.uids else None

    def result(self) -> T:
        return self.parse(_read_fetch(self.client, self.tag) if self.tag else [], set(self.uids))


def _read_fetch(client: IMAPClient, tag: bytes) -> list[Any]:
    """A UID FETCH reply read straight off imaplib's socket file.

    On a 10,000-message first poll imaplib's general response loop (and imapclient's parser on
    top) cost more than the fetch itself; a FETCH reply has one fixed shape. The result has
    imaplib's shape: (line, literal) for each literal, then the rest of the line as bytes.
    """
    imap = client._imap
    # imaplib's own readline/read only wrap the socket file's, adding the length check kept here.
    if type(imap).readline is imaplib.IMAP4.readline and type(imap).read is imaplib.IMAP4.read:
        readline, read = imap.file.readline, imap.file.read
    else:  # a subclass reads its own way
        readline, read = (lambda _limit: imap.readline()), imap.read
    done = tag + b" "
    search = _LITERAL_AT_END.search
    data: list[Any] = []
    while True:
        line = readline(_MAX_LINE + 1)
        if len(line) > _MAX_LINE:
            raise IMAPClientAbortError(f"got a line longer than {_MAX_LINE} bytes during UID FETCH")
        if not line:
            raise IMAPClientAbortError("socket error: EOF during UID FETCH")
        if line.startswith(done):
            imap.tagged_commands.pop(tag, None)
            if line[len(done) :].startswith(b"OK"):
                return data
            raise IMAPClientError(f"UID FETCH failed: {line.strip()!r}")
        while (literal := search(line)) is not None:
            data.append((line.rstrip(b"\r\n"), read(int(literal.group(1)))))
            line = readline(_MAX_LINE + 1)
            if len(line) > _MAX_LINE:
                raise IMAPClientAbortError(f"got a line longer than {_MAX_LINE} bytes during UID FETCH")
            if not line:
                raise IMAPClientAbortError("socket error: EOF during UID FETCH")
        data.append(line.rstrip(b"\r\n"))


def _literals(data: list[Any], wanted: set[int]) -> Iterator[tuple[int, bytes, bytes]]:
    """(uid, the response text around the literal, the literal) for each message in a FETCH reply."""
    for index, item in enumerate(data):
        if not isinstance(item, tuple):
            continue
        prefix, literal = item
        after = data[index + 1] if index + 1 < len(data) and isinstance(data[index + 1], bytes) else b""
        match = _FETCH_UID.search(prefix) or _FETCH_UID.search(after)  # some servers put UID last
        if match and int(match.group(1)) in wanted:
            yield int(match.group(1)), prefix + b" " + after, literal


def _headers_in(data: list[Any], wanted: set[int]) -> list[FetchedHeader]:
    found = {uid: HeaderFields(literal) for uid, _, literal in _literals(data, wanted)}
    return [FetchedHeader(uid, found[uid]) for uid in sorted(found)]


def _bodies_in(data: list[Any], wanted: set[int]) -> dict[int, tuple[bytes, datetime | None]]:
    out: dict[int, tuple[bytes, datetime | None]] = {}
    for uid, around, literal in _literals(data, wanted):
        match = _INTERNALDATE.search(around)
        when = None
        if match:
            try:
                when = datetime.strptime(match.group(1).decode(), "%d-%b-%Y %H:%M:%S %z")
            except ValueError:
                when = None
        out[uid] = (literal, when)
    return out


def request_headers(client: IMAPClient, uids: Iterable[int]) -> FetchRequest[list[FetchedHeader]]:
    """Ask for the header block of each message (BODY.PEEK: never sets \\Seen); oldest first."""
    return FetchRequest(client, uids, f"({HEADER_ITEM})", _headers_in)


def request_bodies(client: IMAPClient, uids: Iterable[int]) -> FetchRequest[dict[int, tuple[bytes, datetime | None]]]:
    """Ask for whole messages (BODY.PEEK[], so still unread) and their arrival times, by UID."""
    return FetchRequest(client, uids, "(INTERNALDATE BODY.PEEK[])", _bodies_in)


def fetch_headers(client: IMAPClient, uids: list[int]) -> list[FetchedHeader]:
    """`request_headers` and wait for the reply."""
    return request_headers(client, uids).result()


def fetch_bodies(client: IMAPClient, uids: Iterable[int]) -> dict[int, tuple[bytes, datetime | None]]:
    """`request_bodies` and wait for the reply."""
    return request_bodies(client, uids).result()


def with_imap(settings: Settings, job: Callable[[IMAPClient], T], *, doing: str) -> T:
    """Run `job` on a fresh connection, wrapping errors; for callers outside this module."""
    with imap_session(settings, doing=doing) as client:
        return job(client)
