"""IMAP folder jobs: special folders found by SPECIAL-USE (or their usual names) and the small
jobs other stages need on them: a copy in Sent, a draft for review, finding or deleting our own
message by its Message-ID. Connections, login and fetching stay in mail/imap.py.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any
from weakref import WeakKeyDictionary

from imapclient import IMAPClient

from outreach.config import Settings
from outreach.errors import MailServerError
from outreach.mail.imap import DRAFTS, SENT, HeaderFields, imap_session


def find_special_folder(client: IMAPClient, flag: bytes) -> str | None:
    """The folder carrying a SPECIAL-USE flag (b"\\Sent", b"\\Drafts", b"\\Junk"), else a folder
    with the usual name for it (Sent Items, Spam, ...), else None. Remembered per connection, so
    saving 500 copies to Sent lists the folders once."""
    known = _special_folders.setdefault(client, {})
    if flag not in known:
        known[flag] = client.find_special_folder(flag)
    return known[flag]


_special_folders: WeakKeyDictionary[IMAPClient, dict[bytes, str | None]] = WeakKeyDictionary()


def resolve_folder(client: IMAPClient, name: str) -> str | None:
    """A configured folder name: `\\Junk` means the special-use folder; other names must exist."""
    if name.startswith("\\"):
        return find_special_folder(client, name.encode())
    return name if name.upper() == "INBOX" or client.folder_exists(name) else None


def _require_folder(client: IMAPClient, flag: bytes, settings: Settings) -> str:
    folder = find_special_folder(client, flag)
    if folder is None:
        name = flag.decode().lstrip("\\")
        raise MailServerError(
            f"no {name} folder found (no folder flagged {flag.decode()} and none named {name}); "
            f"create a {name} folder in your mail program",
            host=settings.imap.host,
            port=settings.imap.port,
        )
    return folder


def append_to_sent(
    settings: Settings, raw: bytes, *, when: datetime | None = None, client: IMAPClient | None = None
) -> str:
    """Put a copy of a sent message in the Sent folder (marked read), as mail programs do.

    Returns the folder name. Pass `client` to reuse one connection for many messages.
    """
    with imap_session(settings, client, doing="saving a copy in Sent") as imap:
        folder = _require_folder(imap, SENT, settings)
        imap.append(folder, raw, flags=(b"\\Seen",), msg_time=when)
        return folder


def find_in_sent(
    settings: Settings, message_ids: Iterable[str], *, client: IMAPClient | None = None
) -> set[str]:
    """Which of these Message-IDs already have a copy in Sent (so a resend does not duplicate it)."""
    wanted = [mid.strip() for mid in message_ids if mid and mid.strip()]
    if not wanted:
        return set()
    with imap_session(settings, client, doing="searching the Sent folder") as imap:
        folder = find_special_folder(imap, SENT)
        if folder is None:
            return set()
        imap.select_folder(folder, readonly=True)
        found = set()
        for message_id in wanted:
            if imap.search(["HEADER", "Message-ID", message_id]):
                found.add(message_id)
        return found


def save_draft(settings: Settings, raw: bytes, *, client: IMAPClient | None = None) -> str:
    """Put a message in Drafts for the user to review and send themselves. Returns the folder."""
    with imap_session(settings, client, doing="saving a draft") as imap:
        folder = _require_folder(imap, DRAFTS, settings)
        imap.append(folder, raw, flags=(b"\\Draft", b"\\Seen"))
        return folder


def special_folder(client: IMAPClient, flag: bytes) -> str | None:
    """The folder flagged `flag` (SPECIAL-USE), or the one with the usual name; None if neither."""
    return find_special_folder(client, flag)


def search_header(client: IMAPClient, name: str, value: str, *, also: list[Any] | None = None) -> list[int]:
    """UIDs in the selected folder whose header `name` contains `value` (and `also` criteria)."""
    return sorted(client.search(["HEADER", name, value, *(also or [])]))


def find_copy(client: IMAPClient, folder: str, message_id: str, *,
              fallback: tuple[str, str] | None = None) -> tuple[datetime | None, str] | None:
    """(its Date, else its arrival; its Message-ID) for the copy of this message filed in
    `folder`, or None. `fallback` (in_reply_to, to_address) finds a copy whose mail program gave
    it a Message-ID of its own: the same reply to the same person."""
    client.select_folder(folder, readonly=True)
    uids = search_header(client, "Message-ID", message_id)
    if not uids and fallback and fallback[0]:
        uids = search_header(client, "In-Reply-To", fallback[0], also=["TO", fallback[1]])
    if not uids:
        return None
    data = client.fetch(uids[:1], ["INTERNALDATE", "BODY.PEEK[HEADER.FIELDS (DATE MESSAGE-ID)]"])
    item = data.get(uids[0], {})
    header = HeaderFields(next((v for k, v in item.items() if k.startswith(b"BODY")), b"") or b"")
    try:
        when = parsedate_to_datetime(header.get("Date") or "")
    except (TypeError, ValueError, IndexError):
        when = None
    when = when or item.get(b"INTERNALDATE")
    if when is not None and when.tzinfo is None:
        when = when.astimezone()
    return when, (header.get("Message-ID") or message_id).strip()


def delete_by_message_id(client: IMAPClient, folder: str, message_id: str) -> int:
    """Delete our own message (a follow-up draft nobody should send) from `folder`; returns how
    many copies went. Only this message is expunged where the server has UIDPLUS."""
    client.select_folder(folder)
    uids = search_header(client, "Message-ID", message_id)
    if not uids:
        return 0
    client.add_flags(uids, [b"\\Deleted"], silent=True)
    if client.has_capability("UIDPLUS"):
        client.uid_expunge(uids)
    else:
        client.expunge()
    return len(uids)


def exists_in(client: IMAPClient, folder: str, message_id: str) -> bool:
    client.select_folder(folder, readonly=True)
    return bool(search_header(client, "Message-ID", message_id))
