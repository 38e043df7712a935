"""Replies: read new mail incrementally and match it to what we sent.

Matching (matching.py) uses the standard headers, so it works with any IMAP server. Unmatched
mail is left alone. Nothing on the server is ever changed: folders are opened read-only and bodies are
fetched with BODY.PEEK.

A folder with nothing new costs one SELECT and one SEARCH, and loads neither the matcher nor the
classifier (start-up time: a `replies poll` that finds nothing is the common case). Only headers
are fetched for everything new; a cheap header check picks the few messages that
may answer us, and only those are fetched whole, classified and stored (replystore.py), one
transaction per fetch batch together with the folder's progress.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import BrokenExecutor, Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import TYPE_CHECKING, Any

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientAbortError, IMAPClientError

from outreach.config import Settings
from outreach.db import Database, utc_now
from outreach.mail.imap import (
    FetchedHeader,
    FolderStatus,
    connect_imap,
    imap_error,
    new_uids,
    open_folder,
    request_bodies,
    request_headers,
)
from outreach.mail.imap_folders import resolve_folder

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor

    from outreach.classify.classifier import Classification

__all__ = ["PollResult", "poll", "poll_client", "classify_many"]

BATCH_SIZE = 500
KINDS = ("human_reply", "auto_reply", "bounce", "unsubscribe")

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
    sent_to: set[str] | None = None  # read once, when a folder first has something new
    for configured in folders or settings.imap_folders:
        name = resolve_folder(client, configured)
        if name is None:
            result.notes.append(f"folder {configured} not found on the server; skipped")
            continue
        summary = next((f for f in result.folders if f["folder"] == name), None)
        if summary is None:  # a poll resumed after a drop keeps adding to the same line
            summary = {"folder": name, "fetched": 0, "matched": 0, "resync": False}
            result.folders.append(summary)
        status = open_folder(client, name)
        last_uid = _last_uid(db, account, name, status, summary, result)
        uids = new_uids(client, status, last_uid)
        if not uids:
            with db.atomic():
                _save_progress(db, account, name, status.uidvalidity, last_uid, now)
            continue
        if sent_to is None:
            sent_to = _sent_addresses(db)
        _read_new(db, settings, client, (account, name, status.uidvalidity), uids, sent_to, now, batch_size, result, summary)
    return result


def _last_uid(db: Database, account: str, name: str, status: FolderStatus, summary: dict[str, Any], result: PollResult) -> int:
    """Where the last poll of this folder stopped; 0 (read it all again) when its UIDVALIDITY changed."""
    state = db.execute(
        "SELECT uidvalidity, last_uid FROM mailbox_state WHERE account = ? AND folder = ?", [account, name]
    ).fetchone()
    if state and state[0] != status.uidvalidity:
        summary["resync"] = True
        result.notes.append(f"{name}: UIDVALIDITY changed; rescanned the folder (already-seen replies are not counted again)")
    return state[1] if state and state[0] == status.uidvalidity else 0


def _sent_addresses(db: Database) -> set[str]:
    from outreach.replies.matching import sent_addresses  # lazy: only when a folder has something new

    return sent_addresses(db)


# long: the fetch/classify/store pipeline of one folder, kept together so its overlap reads in order
def _read_new(
    db: Database, settings: Settings, client: IMAPClient, where: tuple[str, str, int], uids: list[int], sent_to: set[str],
    now: datetime, batch_size: int, result: PollResult, summary: dict[str, Any],
) -> None:
    """Fetch the new messages' headers in batches; fetch, classify and store the candidates."""
    # lazy: the matcher and what it stores through load only when there is something new
    from outreach.replies.matching import find_candidates, match_and_store
    from outreach.replies.store import Mailbox, own_addresses

    mailbox = Mailbox(*where)
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
            _save_progress(db, mailbox.account, mailbox.folder, mailbox.uidvalidity, batch.last_uid, now)
        result.add(summary, batch.fetched, stored, sum(1 for c in classified if c.error))

    pending: _Batch | None = None
    with _gc_paused(), _Classifier(parallel=len(chunks) > 1) as classifier:
        try:
            next_headers = request_headers(client, chunks[0]) if chunks else None
            for index, chunk in enumerate(chunks):
                assert next_headers is not None  # requested for every chunk before its turn
                headers = next_headers.result()
                candidates = find_candidates(db, mailbox, headers, own, sent_to)
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


def _save_progress(db: Database, account: str, folder: str, uidvalidity: int, last_uid: int, now: datetime) -> None:
    db.execute(
        """INSERT INTO mailbox_state (account, folder, uidvalidity, last_uid, polled_at) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT(account, folder) DO UPDATE SET uidvalidity = excluded.uidvalidity,
           last_uid = excluded.last_uid, polled_at = excluded.polled_at""",
        [account, folder, uidvalidity, last_uid, utc_now(now)],
    )


def classify_many(raws: list[bytes], today: date) -> list[Classification]:
    """Classify messages in order (in whichever process calls it)."""
    from outreach.classify.classifier import classify_message  # lazy: start-up time (nothing new, nothing to classify)

    return [classify_message(raw, today=today) for raw in raws]
