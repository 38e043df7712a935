"""Whole commands against whole commands: what a user waits for, next to a baseline doing the same job.

    .venv/bin/python bench/command_bench.py                 # every part below, 5 pairs each
    .venv/bin/python bench/command_bench.py --parts send,startup --pairs 7

Every figure is a whole process, start-up included, timed from spawn to exit; the two sides of
a comparison run alternately (A B A B ...) so both see the same machine load, and each side's
min / median / max over the pairs is printed with the ratio of the medians and the spread of the
per-pair ratios. Parts:

- send: `outreach campaign send NAME --live --no-limit` of 1,000 messages (start-up, selection,
  render, freeze, the durable outbox, SMTP) against bench/raw_clients.py `send`: a Python process
  importing aiosmtplib and sending the same messages, pre-rendered by outreach, over one STARTTLS
  connection to the same aiosmtpd sink (in its own process). Target: <= 1.5x.
- dryrun: `outreach campaign send NAME --no-limit` (the dry run: 10,000 messages, text + HTML +
  the CV PDF, written as .eml files) against `mailmerge --dry-run --no-limit --output-format raw`
  on the same contacts and letter (bench/render_bench.py's set-up; mailmerge prints every message
  to /dev/null, outreach writes 10,000 files). Target: faster than mailmerge.
- startup: `outreach --help` against `sqlite-utils --help` (another click CLI on the same
  Python) and `python -c pass` (the floor). Target: outreach <= 150 ms.
- poll: `outreach replies poll --json` with nothing new (after a first poll) against
  bench/raw_clients.py `poll` (log in over TLS, LIST, EXAMINE INBOX and Junk), on a Dovecot
  started for the bench. Target: <= 0.3 s.
"""

from __future__ import annotations

import argparse
import compileall
import csv
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))

WORK = BENCH / ".work"
BIN = Path(sys.executable).parent
OUTREACH = [str(BIN / "outreach")] if (BIN / "outreach").exists() else [sys.executable, "-m", "outreach"]


def timed(command: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None, input: str | None = None) -> float:
    """Wall seconds of one process, spawn to exit; it must succeed."""
    started = time.perf_counter()
    result = subprocess.run(command, env=env, cwd=cwd, input=input, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - started
    if result.returncode:
        sys.exit(f"{' '.join(command[:4])} ... failed ({result.returncode}): {result.stderr.strip()[-800:]}")
    return seconds


def alternate(pairs: int, a: Callable[[], float], b: Callable[[], float]) -> tuple[list[float], list[float]]:
    """A B A B ...: both sides see the same moments of the machine's load."""
    first, second = [], []
    for _ in range(pairs):
        first.append(a())
        second.append(b())
    return first, second


def spread(values: list[float], unit: str = "s") -> str:
    scale, fmt = (1000, "{:.0f} ms") if unit == "ms" else (1, "{:.2f} s")
    low, mid, high = (fmt.format(v * scale) for v in (min(values), statistics.median(values), max(values)))
    return f"min {low}  median {mid}  max {high}"


def report(title: str, a_label: str, a: list[float], b_label: str, b: list[float], *, unit: str = "s", target: str = "") -> None:
    ratios = [x / y for x, y in zip(a, b)]
    width = max(len(a_label), len(b_label))
    print(f"{title} ({len(a)} pairs, alternated)")
    print(f"  {a_label:<{width}}  {spread(a, unit)}")
    print(f"  {b_label:<{width}}  {spread(b, unit)}")
    print(f"  ratio of medians {statistics.median(a) / statistics.median(b):.2f}x; per pair {min(ratios):.2f}-{max(ratios):.2f}x" + (f"  ({target})" if target else ""))


# --- send: the live send of 1,000 messages ---------------------------------------------------


def part_send(pairs: int, count: int, scratch: Path) -> None:
    import asyncio

    from send_bench import TEMPLATE, Sink, contacts, env_for, raw_loop

    from tests.mailservers import PASSWORD, SMTP_USER, Certificates

    certs = Certificates.create(scratch / "certs")
    server = Sink(certs)
    try:
        people = contacts(count)
        asyncio.run(raw_loop([b"Subject: warm-up\r\n\r\nhello\r\n"] * 200, people[:200], server, certs))  # the sink's first connections are slow
        server.clear()
        folder = scratch / "send"
        (folder / "templates").mkdir(parents=True)
        (folder / "templates" / "bench.txt").write_text(TEMPLATE, encoding="utf-8")
        with open(folder / "people.csv", "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(people[0]))
            writer.writeheader()
            writer.writerows(people)
        env = {**os.environ, **env_for(server, certs, folder), "OUTREACH_DB": str(folder / "pristine.db")}
        timed([*OUTREACH, "contacts", "import", str(folder / "people.csv"), "--tag", "bench"], env=env)
        timed([*OUTREACH, "campaign", "create", "bench", "--template", "bench", "--tag", "bench"], env=env)
        timed([*OUTREACH, "campaign", "send", "bench", "--no-limit"], env=env)  # a dry run: the .eml files the raw side sends
        rendered = folder / "rendered"
        shutil.move(str(folder / "outbox" / "bench"), rendered)
        assert len(list(rendered.glob("*.eml"))) == count

        spent = scratch / "spent-outboxes"
        spent.mkdir()

        def ours() -> float:
            for suffix in ("", "-wal", "-shm"):  # a fresh copy of the unsent campaign each time (not timed)
                Path(f"{folder / 'run.db'}{suffix}").unlink(missing_ok=True)
            shutil.copy(folder / "pristine.db", folder / "run.db")
            # The last run's 1,000 .eml files are moved aside, not deleted, until every pair has run:
            # on ext4 without a journal (this machine's disk) each new file's inode allocation skips
            # over inodes deleted in the last seconds-to-minutes, so deleting 1,000 files right before
            # the run made the freeze's own file creation 5-10x slower: a cost of the bench's cleanup,
            # not of the command (a journalled ext4, XFS or APFS has no such check).
            if (folder / "outbox").exists():
                (folder / "outbox").rename(spent / str(len(list(spent.iterdir()))))
            seconds = timed([*OUTREACH, "campaign", "send", "bench", "--live", "--no-limit", "--json"], env={**env, "OUTREACH_DB": str(folder / "run.db")})
            assert server.received() == count, server.received()
            server.clear()
            return seconds

        def raw() -> float:
            seconds = timed([sys.executable, str(BENCH / "raw_clients.py"), "send", str(rendered), server.host, str(server.port),
                             str(certs.ca_file), SMTP_USER, PASSWORD])
            assert server.received() == count, server.received()
            server.clear()
            return seconds

        a, b = alternate(pairs, ours, raw)
    finally:
        server.stop()
        shutil.rmtree(scratch / "spent-outboxes", ignore_errors=True)
    report(f"send {count:,} messages to a local aiosmtpd sink (STARTTLS + AUTH), whole processes",
           "outreach campaign send --live", a, "raw aiosmtplib process", b, target="target <= 1.5x")


# --- dryrun: 10,000 messages with HTML and a PDF vs mailmerge --------------------------------


def part_dryrun(pairs: int, count: int, scratch: Path) -> None:
    from render_bench import contacts, ensure_mailmerge, prepare

    work = prepare(scratch / "dryrun", contacts(count))
    mailmerge = ensure_mailmerge()
    env = {
        **os.environ, "OUTREACH_DB": str(work / "outreach.db"), "OUTREACH_TEMPLATES_DIR": str(ROOT / "templates"),
        "OUTREACH_OUTBOX_DIR": str(work / "outbox"), "OUTREACH_FROM": "Ada Obi <ada@example.com>",
        "OUTREACH_SIGNATURE": "Ada Obi, MBBS\\nLagos, Nigeria",
    }
    timed([*OUTREACH, "campaign", "create", "dry", "--template", "observership-request"], env=env)

    def ours() -> float:
        seconds = timed([*OUTREACH, "campaign", "send", "dry", "--no-limit"], env=env)
        assert len(list((work / "outbox" / "dry").glob("*.eml"))) == count
        return seconds

    def theirs() -> float:
        return timed([str(mailmerge), "--template", "mailmerge-html.txt", "--database", "contacts.csv", "--config",
                      "mailmerge_server.conf", "--dry-run", "--output-format", "raw", "--no-limit"], cwd=work)

    a, b = alternate(pairs, ours, theirs)
    report(f"dry run of {count:,} messages (text + HTML + PDF), whole processes",
           "outreach campaign send (dry run)", a, "mailmerge --dry-run --no-limit", b, target="target < 1.0x")


# --- startup -----------------------------------------------------------------------------------


def part_startup(pairs: int) -> None:
    pairs = max(pairs, 10)
    sqlite_utils = [str(BIN / "sqlite-utils")] if (BIN / "sqlite-utils").exists() else [sys.executable, "-m", "sqlite_utils"]
    a, b = alternate(pairs, lambda: timed([*OUTREACH, "--help"]), lambda: timed([*sqlite_utils, "--help"]))
    report("start-up: --help", "outreach --help", a, "sqlite-utils --help", b, unit="ms", target="target: outreach <= 150 ms")
    floor = [timed([sys.executable, "-c", "pass"]) for _ in range(pairs)]
    print(f"  {'python -c pass':<20}  {spread(floor, 'ms')}  (the floor every Python command pays)")


# --- poll: nothing new -------------------------------------------------------------------------


def part_poll(pairs: int, scratch: Path) -> None:
    from imapclient import IMAPClient

    from tests.mailservers import Certificates, DovecotServer

    root = Path(tempfile.mkdtemp(prefix="outreach-commandbench-"))  # Dovecot's mail user must traverse it
    certs = Certificates.create(root / "certs")
    server = DovecotServer(root, certs).start()
    try:
        user = server.new_user()
        with IMAPClient(server.host, server.imap_port, ssl=False) as client:
            client.login(user, server.password)
            for n in range(50):
                client.append("INBOX", f"From: news{n}@example.com\r\nTo: ada@example.com\r\nSubject: Newsletter {n}\r\n"
                                       f"Message-ID: <n{n}@example.com>\r\n\r\nHello.\r\n".encode())
        env = {
            **os.environ, "OUTREACH_DB": str(scratch / "poll.db"), "OUTREACH_FROM": "Ada Obi <ada@example.com>",
            "OUTREACH_IMAP_HOST": server.host, "OUTREACH_IMAP_PORT": str(server.imaps_port), "OUTREACH_IMAP_USERNAME": user,
            "OUTREACH_IMAP_PASSWORD": server.password, "OUTREACH_IMAP_SECURITY": "tls", "OUTREACH_CA_FILE": str(certs.ca_file),
        }
        command = [*OUTREACH, "replies", "poll", "--json"]
        timed(command, env=env)  # the first poll reads the 50 messages; every timed one finds nothing new
        raw = [sys.executable, str(BENCH / "raw_clients.py"), "poll", server.host, str(server.imaps_port), str(certs.ca_file), user, server.password]
        a, b = alternate(pairs, lambda: timed(command, env=env), lambda: timed(raw))
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
    report("replies poll with nothing new (Dovecot, implicit TLS), whole processes",
           "outreach replies poll", a, "raw imapclient process", b, target="target: outreach <= 0.3 s")


def file_creation_probe(folder: Path, count: int = 1000) -> float:
    """Seconds to create `count` small files in a new folder next to the bench's own files.

    The freeze creates one .eml file per message, so this disk's condition shows in the send
    figure: on ext4 without a journal (this development machine), new inodes skip those freed
    in the last one to six minutes, and creating files near a large recent delete (the test
    suite, or the previous bench run's clean-up) took 0.4-0.6 s per 1,000 instead of 0.06-0.1 s.
    The probe's files are left in place (deleting them would cause what it measures)."""
    probe = Path(tempfile.mkdtemp(prefix="file-probe-", dir=folder))
    started = time.perf_counter()
    for n in range(count):
        (probe / f"{n:04d}-probe@example.org.eml").write_bytes(b"x" * 1500)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parts", default="startup,poll,send,dryrun", help="comma-separated: startup,poll,send,dryrun")
    parser.add_argument("--pairs", type=int, default=5, help="A/B pairs per comparison (start-up: at least 10)")
    parser.add_argument("--send-count", type=int, default=1000)
    parser.add_argument("--dryrun-count", type=int, default=10_000)
    parser.add_argument("--work", type=Path, default=WORK, help=f"where the scratch folders go (default {WORK})")
    args = parser.parse_args()
    # Byte-compile outreach first, as `pip install` does: with PYTHONDONTWRITEBYTECODE set (or a
    # read-only checkout), every timed process would otherwise compile its modules again (~0.1 s).
    compileall.compile_dir(str(ROOT / "outreach"), quiet=1)
    args.work.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="command-bench-", dir=args.work))
    writes_files = bool({"send", "dryrun"} & set(args.parts.split(",")))  # the parts whose commands write .eml files
    if writes_files:
        probe = file_creation_probe(scratch)
        print(f"this disk: creating 1,000 files took {probe * 1000:.0f} ms (60-100 ms when healthy; see file_creation_probe)", flush=True)
        if probe > 0.25:
            print("  slow: the freeze's 1,000 files will cost the send about as much again; on ext4 without a journal this "
                  "passes a few minutes after the last large delete (the test suite, a previous bench run's clean-up)", flush=True)
        print(flush=True)
    try:
        for part in args.parts.split(","):
            if part == "startup":
                part_startup(args.pairs)
            elif part == "poll":
                part_poll(args.pairs, scratch)
            elif part == "send":
                part_send(args.pairs, args.send_count, scratch)
            elif part == "dryrun":
                part_dryrun(args.pairs, args.dryrun_count, scratch)
            else:
                parser.error(f"unknown part {part!r}")
            print(flush=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        if writes_files:
            print("(scratch deleted: on ext4 without a journal, creating files near it stays slow for a few minutes; "
                  "wait before the next run, or pass another --work)")


if __name__ == "__main__":
    main()
