"""Replies: read new mail incrementally and match it to what we sent.

Matching uses the standard headers, so it works with any IMAP server: In-Reply-To / References
against our stored Message-IDs first; for bounces, the original's Message-ID or recipient inside
the delivery report; then the sender's address against people we wrote to. Unmatched mail is
left alone. Nothing on the server is ever changed: folders are opened read-only and bodies are
fetched with BODY.PEEK.

Only headers are fetched for everything new; a cheap header check picks the few messages that
may answer us, and only those are fetched whole, classified and stored (replystore.py), one
transaction per fetch batch together with the folder's progress.
"""

from __future__ import annotations

import gc
import re
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import BrokenExecutor, Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from email.message import Message
from typing import TYPE_CHECKING, Any

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientAbortError, IMAPClientError
from sqlite_utils import Database

from outreach.config import Settings
from outreach.db import utc_now
from outreach.mail.imap import (
    FetchedHeader,
    HeaderFields,
    connect_imap,
    imap_error,
    new_uids,
    open_folder,
    request_bodies,
    request_headers,
)
from outreach.mail.imap_folders import resolve_folder
from outreach.replies.authority import writes_for
from outreach.replies.store import Mailbox, MatchedReply, list_replies, own_addresses, snippet, store_reply, written_at
from outreach.replies.suggestions import add_suggested, dismiss_suggested, list_suggestions

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor

    from outreach.classify.classifier import Classification

__all__ = [
    "PollResult", "poll", "poll_client", "classify_many", "match_and_store", "select_candidates", "looks_like_bounce", "list_replies", "snippet",
    "list_suggestions", "add_suggested", "dismiss_suggested",
]

BATCH_SIZE = 500
CLOCK_SKEW = timedelta(minutes=15)
KINDS = ("human_reply", "auto_reply", "bounce", "unsubscribe")
SENT_STATES = ("sent", "bounced", "uncertain", "sending")
_MSGID = re.compile(r"<[^<>\s]+@[^<>\s]+>")
_BOUNCE_SUBJECT = re.compile(
    r"undeliver|delivery (status|failure|has failed|notification)|returned mail|failure notice|"
    r"mail delivery (failed|system|subsystem)|non.?delivery|could not be delivered|"
    r"delivery failed|unzustellbar|no se puede entregar|non remis",
    re.I,
)
_ANGLE_ADDRESS = re.compile(r"<\s*([^<>\s@]+@[^<>\s]+?)\s*>")
_BARE_ADDRESS = re.compile(r"[\w.+'=-]+@[\w-]+(?:\.[\w-]+)+")

Connect = Callable[[Settings], IMAPClient]


@dataclass
class PollResult:
    """What one poll found. `to_json` is the public `replies poll --json` document."""

    fetched: int = 0
    matched: int = 0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    folders: list[dict[str, Any]] = field(default_factory=list)
    replies: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    unclassified: int = 0  # messages a rule raised on (logged by classify_message), stored as "other"

    def to_json(self) -> dict[str, int]:
        """The interface keys; "unclassified" is added only when some message could not be classified."""
        counts = {"fetched": self.fetched, "matched": self.matched, **{k: self.counts[k] for k in KINDS}}
        return {**counts, "unclassified": self.unclassified} if self.unclassified else counts

    def add(self, summary: dict[str, Any], fetched: int, stored: list[dict[str, Any]], unclassified: int = 0) -> None:
        """Count one stored batch, in the totals and on its folder's line."""
        self.fetched += fetched
        self.unclassified += unclassified
        summary["fetched"] += fetched
        for reply in stored:
            if reply.get("unmatched_reason"):  # kept, but it answers nothing of ours: not a match
                self.notes.append(f"{reply['from_address']}: {reply['unmatched_reason']}; kept as an unmatched reply")
                continue
            self.matched += 1
            summary["matched"] += 1
            if reply["kind"] in self.counts:
                self.counts[reply["kind"]] += 1
            self.replies.append(reply)


# --- Polling ------------------------------------------------------------------------------


def poll(
    db: Database,
    settings: Settings,
    *,
    folders: Iterable[str] | None = None,
    now: datetime | None = None,
    connect: Connect = connect_imap,
    batch_size: int = BATCH_SIZE,
    retries: int = 2,
) -> PollResult:
    """Read new mail in each folder once. A connection dropped mid-way is reopened (up to
    `retries` times) and the poll carries on from the last saved batch, so nothing is lost
    or counted twice."""
    result = PollResult()
    attempt = 0
    while True:
        client = connect(settings)
        try:
            with client:
                poll_client(db, settings, client, folders=folders, now=now, batch_size=batch_size, result=result)
            return result
        except (IMAPClientAbortError, OSError) as error:
            if attempt >= retries:
                raise imap_error(error, settings, doing="reading new mail") from None
            attempt += 1
            result.notes.append(f"connection lost ({error}); reconnected and resumed")
        except IMAPClientError as error:
            raise imap_error(error, settings, doing="reading new mail") from None


def poll_client(
    db: Database,
    settings: Settings,
    client: IMAPClient,
    *,
    folders: Iterable[str] | None = None,
    now: datetime | None = None,
    batch_size: int = BATCH_SIZE,
    result: PollResult | None = None,
) -> PollResult:
    """`poll` on an already open connection (the watcher keeps one open)."""
    result = result or PollResult()
    now = now or datetime.now(timezone.utc)
    account = (settings.imap.username or "").lower()
    sent_to = _sent_addresses(db)
    for configured in folders or settings.imap_folders:
        name = resolve_folder(client, configured)
        if name is None:
            result.notes.append(f"folder {configured} not found on the server; skipped")
            continue
        summary = next((f for f in result.folders if f["folder"] == name), None)
        if summary is None:  # a poll resumed after a drop keeps adding to the same line
            summary = {"folder": name, "fetched": 0, "matched": 0, "resync": False}
            result.folders.append(summary)
        _poll_folder(db, settings, client, name, account, sent_to, now, batch_size, result, summary)
    return result


def _poll_folder(
    db: Database, settings: Settings, client: IMAPClient, name: str, account: str, sent_to: set[str],
    now: datetime, batch_size: int, result: PollResult, summary: dict[str, Any],
) -> None:
    status = open_folder(client, name)
    mailbox = Mailbox(account, name, status.uidvalidity)
    state = db.execute(
        "SELECT uidvalidity, last_uid FROM mailbox_state WHERE account = ? AND folder = ?", [account, name]
    ).fetchone()
    last_uid = state[1] if state and state[0] == status.uidvalidity else 0
    if state and state[0] != status.uidvalidity:
        summary["resync"] = True
        result.notes.append(f"{name}: UIDVALIDITY changed; rescanned the folder (already-seen replies are not counted again)")
    uids = new_uids(client, status, last_uid)
    own = own_addresses(settings)
    chunks = [uids[start : start + batch_size] for start in range(0, len(uids), batch_size)]
    today = now.date()

    def finish(batch: _Batch) -> None:
        """Match and store a classified batch, with the folder's progress, in one transaction."""
        try:
            classified = batch.classified.result()
        except BrokenExecutor:  # the worker died (killed, out of memory): classify here instead
            classified = classify_many([batch.bodies[h.uid][0] for h in batch.candidates], today)
        with db.atomic():  # the batch's replies and the folder's progress stand or fall together
            stored = match_and_store(db, settings, mailbox, batch.candidates, batch.bodies, classified, now)
            _save_progress(db, mailbox, batch.last_uid, now)
        result.add(summary, batch.fetched, stored, sum(1 for c in classified if c.error))

    pending: _Batch | None = None
    with _gc_paused(), _Classifier(parallel=len(chunks) > 1) as classifier:
        try:
            next_headers = request_headers(client, chunks[0]) if chunks else None
            for index, chunk in enumerate(chunks):
                assert next_headers is not None  # requested for every chunk before its turn
                headers = next_headers.result()
                candidates = _candidates(db, mailbox, headers, own, sent_to)
                bodies = request_bodies(client, [h.uid for h in candidates]).result()
                # Ask for the next headers now, so the server prepares them while this batch is
                # classified and stored. One command at a time: a server may interleave the untagged
                # replies of commands in flight together.
                next_headers = request_headers(client, chunks[index + 1]) if index + 1 < len(chunks) else None
                candidates = [h for h in candidates if h.uid in bodies]
                batch = _Batch(chunk[-1], len(headers), candidates, bodies,
                               classifier.submit([bodies[h.uid][0] for h in candidates], today))
                # The worker classifies this batch while the previous one is stored and the next fetched.
                if pending is not None:
                    finish(pending)
                pending = batch
        except (IMAPClientError, OSError):
            if pending is not None:  # keep what was already read and classified before the drop
                finish(pending)
            raise
        if pending is not None:
            finish(pending)
    if not uids:
        with db.atomic():
            _save_progress(db, mailbox, last_uid, now)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Hold the cyclic garbage collector during a folder's batches. Reading 10,000 headers
    allocates enough small objects to trigger it hundreds of times, each pass walking every
    live object; it cost more than half of parsing the headers. Nothing here builds reference
    cycles (refcounting frees it all), and the collector runs again as soon as the poll ends."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@dataclass
class _Batch:
    """A fetched batch whose candidates are being classified."""

    last_uid: int
    fetched: int
    candidates: list[FetchedHeader]
    bodies: dict[int, tuple[bytes, datetime | None]]
    classified: Future[list[Classification]]


class _Classifier:
    """Classifies batches in one forked worker process, so that classifying a batch overlaps
    fetching and storing its neighbours (the poll is CPU-bound in this process; the server and
    the worker use the other cores). Small polls, and systems without fork, classify in-process."""

    def __init__(self, parallel: bool) -> None:
        self.pool: ProcessPoolExecutor | None = None
        if parallel:
            # lazy: start-up time (a poll with nothing new never forks)
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            if "fork" in multiprocessing.get_all_start_methods():
                self.pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("fork"))

    def submit(self, raws: list[bytes], today: date) -> Future[list[Classification]]:
        if self.pool is not None and raws:
            try:
                return self.pool.submit(classify_many, raws, today)
            except BrokenExecutor:
                self.pool.shutdown(wait=False)
                self.pool = None
        done: Future[list[Classification]] = Future()
        done.set_result(classify_many(raws, today))
        return done

    def __enter__(self) -> _Classifier:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)


def _save_progress(db: Database, mailbox: Mailbox, last_uid: int, now: datetime) -> None:
    db.execute(
        """INSERT INTO mailbox_state (account, folder, uidvalidity, last_uid, polled_at) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT(account, folder) DO UPDATE SET uidvalidity = excluded.uidvalidity,
           last_uid = excluded.last_uid, polled_at = excluded.polled_at""",
        [mailbox.account, mailbox.folder, mailbox.uidvalidity, last_uid, utc_now(now)],
    )


def match_and_store(
    db: Database, settings: Settings, mailbox: Mailbox, candidates: list[FetchedHeader],
    bodies: dict[int, tuple[bytes, datetime | None]], classified: list[Classification], now: datetime,
) -> list[dict[str, Any]]:
    """Match classified candidates to what we sent and store the matches (inside the caller's
    transaction); the summaries of the newly stored ones. The one path from a candidate to a
    stored reply, whether it came from IMAP (`poll`) or from files (`replies import`)."""
    found = [r for h, c in zip(candidates, classified) if (r := _match(db, h, bodies[h.uid], c)) is not None]
    stored = [store_reply(db, settings, reply, mailbox, now) for reply in found]
    return [s for s in stored if s is not None]


def select_candidates(
    db: Database, settings: Settings, mailbox: Mailbox, headers: list[FetchedHeader]
) -> list[FetchedHeader]:
    """The messages among `headers` that may answer something we sent and are not stored yet
    (the cheap header check `poll` runs before fetching bodies)."""
    return _candidates(db, mailbox, headers, own_addresses(settings), _sent_addresses(db))


def classify_many(raws: list[bytes], today: date) -> list[Classification]:
    """Classify messages in order (in whichever process calls it)."""
    from outreach.classify.classifier import classify_message  # lazy: start-up time (nothing new, nothing to classify)

    return [classify_message(raw, today=today) for raw in raws]


# --- Which messages may answer us ------------------------------------------------------------


def _sent_addresses(db: Database) -> set[str]:
    marks = ",".join("?" * len(SENT_STATES))
    rows = db.execute(
        f"SELECT DISTINCT lower(to_address) FROM messages WHERE sent_at IS NOT NULL OR state IN ({marks})",
        list(SENT_STATES),
    ).fetchall()
    return {row[0] for row in rows}


def _address(value: str | None) -> str:
    """The address in a From header, lower-cased (a regex: parseaddr is slow on 10,000 headers)."""
    if not value:
        return ""
    match = _ANGLE_ADDRESS.search(value)
    if match:
        return match.group(1).lower()
    match = _BARE_ADDRESS.search(value)
    return match.group(0).lower() if match else ""


def _header_ids(header: Message | HeaderFields) -> list[str]:
    """In-Reply-To first, then References newest first: the order to try them in."""
    in_reply_to = _MSGID.findall(str(header.get("In-Reply-To") or ""))
    references = _MSGID.findall(" ".join(str(v) for v in header.get_all("References") or []))
    return list(dict.fromkeys(in_reply_to + references[::-1]))


def looks_like_bounce(header: Message | HeaderFields) -> bool:
    """Worth fetching the body to look for the original inside a delivery report."""
    return _looks_like_bounce(header, _address(header.get("From")))


def _looks_like_bounce(header: Message | HeaderFields, sender: str) -> bool:
    from outreach.classify.bounces import is_daemon_address  # lazy: start-up time

    if is_daemon_address(sender):
        return True
    if (header.get("Return-Path") or "").strip() == "<>" or header.get("X-Failed-Recipients"):
        return True
    content_type = str(header.get("Content-Type") or "").lower()
    if "multipart/report" in content_type and "delivery-status" in content_type:
        return True
    return bool(_BOUNCE_SUBJECT.search(str(header.get("Subject") or "")))


def _candidates(
    db: Database, mailbox: Mailbox, headers: list[FetchedHeader], own: frozenset[str], sent_to: set[str]
) -> list[FetchedHeader]:
    """Messages that may answer something we sent and that we have not stored before: they
    thread to a Message-ID of ours, come from someone we wrote to, or look like a bounce."""
    if not headers:
        return []
    rfc_ids = [(h.header.get("Message-ID") or "").strip() for h in headers]
    known_ids = _existing(db, "SELECT rfc_message_id FROM replies WHERE rfc_message_id IN ({})", [i for i in rfc_ids if i])
    known_uids = _existing(
        db,
        "SELECT uid FROM replies WHERE folder = ? AND uidvalidity = ? AND uid IN ({})",
        [h.uid for h in headers],
        prefix=[mailbox.folder, mailbox.uidvalidity],
    )
    ids = [_header_ids(h.header) for h in headers]
    threaded = _existing(db, "SELECT message_id FROM messages WHERE message_id IN ({})", [i for some in ids for i in some])
    out = []
    for header, rfc_id, their_ids in zip(headers, rfc_ids, ids):
        if rfc_id in known_ids or header.uid in known_uids:
            continue
        sender = _address(header.header.get("From"))
        if sender in own:
            continue  # our own mail (a Bcc to self, a copy in the inbox)
        if sender in sent_to or any(i in threaded for i in their_ids) or _looks_like_bounce(header.header, sender):
            out.append(header)
    return out


def _existing(db: Database, sql: str, values: list[Any], *, prefix: list[Any] | None = None) -> set[Any]:
    found: set[Any] = set()
    values = list(dict.fromkeys(values))
    for start in range(0, len(values), 500):
        chunk = values[start : start + 500]
        rows = db.execute(sql.format(",".join("?" * len(chunk))), (prefix or []) + chunk).fetchall()
        found.update(row[0] for row in rows)
    return found


# --- Matching a classified candidate to what we sent -----------------------------------------


def _match(
    db: Database, fetched: FetchedHeader, body: tuple[bytes, datetime | None], classification: Classification
) -> MatchedReply | None:
    """Find the message of ours a classified candidate answers, or None."""
    raw, internaldate = body
    header = fetched.header
    kind = classification.kind
    written = written_at(header, internaldate)
    ids = _header_ids(header) + [i for i in classification.referenced_message_ids if i]
    sender = _address(header.get("From"))
    unmatched = None
    if kind == "bounce":
        body_ids = _MSGID.findall(raw.decode("utf-8", "replace"))
        sent, unmatched = _bounced_message(db, _by_message_id(db, ids + body_ids), classification.bounced_addresses, written)
    else:
        sent = _by_message_id(db, ids)
        if sent is not None:
            # Threading names a message of ours; only its recipient (or their side) may answer it.
            unmatched = writes_for(header, sender, sent["to_address"])
            if unmatched and (own := _by_recipient(db, [sender], written)) is not None:
                sent, unmatched = own, None  # someone we also wrote to, answering in another's thread
        elif not looks_like_bounce(header):
            sent = _by_recipient(db, [sender], written)
    if sent is None:
        return None
    return MatchedReply(fetched.uid, header, internaldate, sent, kind, classification, sender, unmatched)


def _bounced_message(
    db: Database, quoted: dict[str, Any] | None, named: Iterable[str], written: datetime
) -> tuple[dict[str, Any] | None, str | None]:
    """(the message a bounce is about, why it is unmatched). The failed address the report
    names decides, not the Message-ID it quotes: a report about someone else (a forward, a
    list, a forgery) must not suppress our contact. Without a named address the quoted
    Message-ID stands."""
    named = [a.strip().lower() for a in named if a and a.strip()]
    if not named or (quoted is not None and quoted["to_address"].lower() in named):
        return quoted, None
    ours = _by_recipient(db, named, written)
    if ours is not None:
        return ours, None
    if quoted is not None:
        return quoted, f"the bounce names {', '.join(named)}, not {quoted['to_address']}; nobody was suppressed"
    return None, None


def _by_message_id(db: Database, ids: list[str]) -> dict[str, Any] | None:
    for message_id in dict.fromkeys(ids):
        rows = list(db.query("SELECT * FROM messages WHERE message_id = ?", [message_id]))
        if rows:
            return rows[0]
    return None


def _by_recipient(db: Database, addresses: Iterable[str], written: datetime) -> dict[str, Any] | None:
    """The most recent message we sent to any of these addresses before this mail was written
    (mail someone sent before we ever wrote to them answers nothing; clocks may be off a little)."""
    marks = ",".join("?" * len(SENT_STATES))
    latest = utc_now(written + CLOCK_SKEW)
    for address in addresses:
        if not address:
            continue
        rows = list(
            db.query(
                f"""SELECT * FROM messages WHERE lower(to_address) = lower(?)
                    AND (sent_at IS NOT NULL OR state IN ({marks})) AND coalesce(sent_at, queued_at) <= ?
                    ORDER BY coalesce(sent_at, queued_at) DESC, id DESC LIMIT 1""",
                [address.strip(), *SENT_STATES, latest],
            )
        )
        if rows:
            return rows[0]
    return None
