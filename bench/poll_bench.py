"""How fast is `replies poll` on a big mailbox, next to the plainest possible header fetch?

Starts its own Dovecot (tests.mailservers), fills INBOX with 10,000 messages of which 1,000
answer mail recorded as sent in a fresh database (human replies, out-of-office notes, bounces),
then prints, from the same run:
  - a plain imapclient loop fetching BODY.PEEK[HEADER] for every UID in batches of 500,
  - the first `poll` (everything new),
  - a `poll` with nothing new.
Targets: first poll within 1.5x of the raw fetch; nothing-new poll under 0.5 s.

    python bench/poll_bench.py [--messages 10000] [--replies 1000]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from imapclient import IMAPClient  # noqa: E402

from outreach.config import load_settings  # noqa: E402
from outreach.db import open_db, utc_now  # noqa: E402
from outreach.replies.poll import classify_many, poll  # noqa: E402
from tests.mailservers import Certificates, DovecotServer  # noqa: E402

ME = "ada@example.com"
SENT_AT = datetime(2026, 3, 2, 14, 0, tzinfo=timezone.utc)


def build_messages(total: int, answers: int) -> tuple[list[bytes], list[dict]]:
    """`answers` replies to sent mail spread among `total` messages; the rest is unrelated mail."""
    sent, mail = [], []
    every = max(total // max(answers, 1), 1)
    n_reply = 0
    for n in range(total):
        date = format_datetime(SENT_AT + timedelta(minutes=n))
        if n % every == 0 and n_reply < answers:
            i = n_reply
            n_reply += 1
            to = f"doctor{i}@hospital{i % 50}.example.org"
            msgid = f"<bench-{i}@example.com>"
            sent.append({"to": to, "message_id": msgid})
            if i % 20 == 0:
                mail.append(_bounce(to, msgid, date, i))
            elif i % 10 == 1:
                mail.append(_message(to, msgid, date, i, "Automatic reply: Observership inquiry",
                                     "I am out of the office until March 20, 2026.", auto=True))
            else:
                mail.append(_message(to, msgid, date, i, "Re: Observership inquiry",
                                     f"Dear Ada,\n\nThank you for writing. We can host you in May ({i}).\n\nBest,\nDr. {i}\n\n"
                                     "On Mon, Mar 2, 2026 Ada Obi wrote:\n> Dear Doctor,\n> I am writing to ask about an observership.\n"))
        else:
            mail.append(_message(f"sender{n}@news{n % 300}.example.com", None, date, n, f"Newsletter {n}",
                                 "This week: new guidelines, a case report and a job board.\n" * 5))
    return mail, sent


def _message(sender: str, in_reply_to: str | None, date: str, n: int, subject: str, body: str, auto: bool = False) -> bytes:
    lines = [
        f"From: {sender}", f"To: Ada Obi <{ME}>", f"Subject: {subject}", f"Date: {date}",
        f"Message-ID: <m{n}-{time.time_ns()}@{sender.split('@')[1]}>", "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8", "Received: from mx.example.org by imap.example.com; " + date,
    ]
    if in_reply_to:
        lines += [f"In-Reply-To: {in_reply_to}", f"References: {in_reply_to}"]
    if auto:
        lines.append("Auto-Submitted: auto-replied")
    return ("\r\n".join(lines) + "\r\n\r\n" + body.replace("\n", "\r\n")).encode()


def _bounce(to: str, msgid: str, date: str, n: int) -> bytes:
    b = f"bounce{n}"
    return (
        f"Return-Path: <>\r\nFrom: MAILER-DAEMON@mx.example.org (Mail Delivery System)\r\nTo: {ME}\r\n"
        f"Subject: Undelivered Mail Returned to Sender\r\nDate: {date}\r\nMessage-ID: <b{n}@mx.example.org>\r\n"
        f"MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"{b}\"\r\n\r\n"
        f"--{b}\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered to <{to}>.\r\n\r\n"
        f"--{b}\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.org\r\n\r\n"
        f"Final-Recipient: rfc822; {to}\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        f"Diagnostic-Code: smtp; 550 5.1.1 user unknown\r\n\r\n"
        f"--{b}\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: {ME}\r\nTo: {to}\r\nMessage-ID: {msgid}\r\n\r\n--{b}--\r\n"
    ).encode()


def fill(server: DovecotServer, user: str, mail: list[bytes], workers: int = 4) -> None:
    """APPEND in bulk: MULTIAPPEND when offered, several connections in parallel, chunks in order
    per connection (order across chunks does not matter to the benchmark)."""
    chunks = [mail[i : i + 250] for i in range(0, len(mail), 250)]

    def work(part: list[list[bytes]]) -> None:
        with IMAPClient(server.host, server.imap_port, ssl=False) as client:
            client.login(user, server.password)
            for chunk in part:
                if client.has_capability("MULTIAPPEND"):
                    typ, data = client.multiappend("INBOX", chunk)
                    if typ != "OK":
                        raise RuntimeError(f"MULTIAPPEND failed: {data}")
                else:
                    for raw in chunk:
                        client.append("INBOX", raw)

    with IMAPClient(server.host, server.imap_port, ssl=False) as client:
        client.login(user, server.password)
        client.select_folder("INBOX")  # create the mailbox once, before parallel appends
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(work, [chunks[i::workers] for i in range(workers)]))


def record_sent(db, sent: list[dict]) -> None:
    now = utc_now(SENT_AT)
    with db.atomic():
        campaign = db.table("campaigns").insert({"name": "bench", "template": "t", "created_at": now}).last_pk
        for i, s in enumerate(sent):
            contact = db.table("contacts").insert(
                {"email": s["to"], "first_name": f"D{i}", "stage": "contacted", "created_at": now, "updated_at": now}
            ).last_pk
            db.table("messages").insert(
                {"campaign_id": campaign, "contact_id": contact, "to_address": s["to"], "to_domain": s["to"].split("@")[1],
                 "account": ME, "message_id": s["message_id"], "state": "sent", "queued_at": now, "sent_at": now,
                 "updated_at": now}
            )


def raw_fetch(server: DovecotServer, user: str, certs: Certificates, batch: int = 500) -> tuple[float, int]:
    """The baseline: connect over TLS, then BODY.PEEK[HEADER] for every UID in batches."""
    import ssl

    started = time.perf_counter()
    context = ssl.create_default_context(cafile=str(certs.ca_file))
    with IMAPClient(server.host, server.imaps_port, ssl=True, ssl_context=context) as client:
        client.login(user, server.password)
        client.select_folder("INBOX", readonly=True)
        uids = client.search("ALL")
        count = 0
        for i in range(0, len(uids), batch):
            count += len(client.fetch(uids[i : i + batch], ["BODY.PEEK[HEADER]"]))
    return time.perf_counter() - started, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--replies", type=int, default=1_000)
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="outreach-pollbench-"))  # Dovecot's mail user must traverse it
    certs = Certificates.create(root / "certs")
    server = DovecotServer(root, certs).start()
    try:
        user = server.new_user()
        mail, sent = build_messages(args.messages, args.replies)
        started = time.perf_counter()
        fill(server, user, mail)
        print(f"setup: {len(mail)} messages appended in {time.perf_counter() - started:.1f} s ({len(sent)} answer sent mail)")

        db = open_db(root / "state" / "bench.db")
        record_sent(db, sent)
        settings = load_settings(
            environ={
                "OUTREACH_FROM": f"Ada Obi <{ME}>", "OUTREACH_IMAP_HOST": server.host,
                "OUTREACH_IMAP_PORT": str(server.imaps_port), "OUTREACH_IMAP_USERNAME": user,
                "OUTREACH_IMAP_PASSWORD": server.password, "OUTREACH_IMAP_SECURITY": "tls",
                "OUTREACH_CA_FILE": str(certs.ca_file),
            },
            env_file=None,
        )
        raw_before, count = raw_fetch(server, user, certs)
        started = time.perf_counter()
        first = poll(db, settings)
        first_time = time.perf_counter() - started
        raw_after, _ = raw_fetch(server, user, certs)
        started = time.perf_counter()
        again = poll(db, settings)
        again_time = time.perf_counter() - started

        answers = [m for m in mail if b"In-Reply-To:" in m or b"MAILER-DAEMON" in m]
        started = time.perf_counter()
        classify_many(answers, SENT_AT.date())
        classify_time = time.perf_counter() - started

        raw = min(raw_before, raw_after)
        print(f"raw imapclient header fetch ({count} messages): {raw_before:.2f} s, again {raw_after:.2f} s")
        print(f"first poll:   {first_time:.2f} s  ({first_time / raw:.2f}x the raw fetch; target <= 1.5x)  {first.to_json()}")
        print(f"for scale: classifying the {len(answers)} answers alone, in one process: {classify_time:.2f} s")
        print(f"nothing new:  {again_time:.3f} s  (target < 0.5 s)  {again.to_json()}")
        ok = first_time <= 1.5 * raw and again_time < 0.5 and first.matched == len(sent)
        print("PASS" if ok else "MISS")
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
