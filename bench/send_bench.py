"""Sending throughput: our full path vs a plain aiosmtplib loop vs mailmerge, same 2,000 messages.

    .venv/bin/python bench/send_bench.py [--count 2000] [--no-mailmerge]

Starts the test suite's aiosmtpd sink (STARTTLS + AUTH, tests/mailservers.py) on 127.0.0.1, in
its own process as a real server would be (in-process it would compete for our GIL), and
sends the same messages three ways, each timed on its own:

- outreach: `sender.send_campaign` with throttling off: the durable outbox, with a committed
  transaction before and after every SMTP transaction, each synced to disk (WAL, synchronous=FULL
  for the send run: db.durable_commits), as shipped;
- outreach, NORMAL sync: the same with synchronous=NORMAL (survives a killed process, not a
  power cut), to show what the durable commits cost;
- raw: one aiosmtplib connection, `sendmail` in a loop over the same message bytes, no db;
- mailmerge: PyPI `mailmerge --no-dry-run --no-limit` on the same contacts, installed in a
  throwaway venv under bench/.work/ (git-ignored) on first use.

Rendering and freezing the campaign happen before the clock starts for "outreach" and are shown
on their own line. Target: outreach within 1.5x of raw, faster than mailmerge.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import shutil
import statistics
import ssl
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.mailservers import PASSWORD, SMTP_USER, Certificates, SmtpServer  # noqa: E402

WORK = ROOT / "bench" / ".work"
TEMPLATE = """\
---
subject: Observership inquiry — {{ specialty }} at {{ hospital }}
---
Dear {{ salutation }},

I am an international medical graduate preparing to apply for residency in {{ specialty }}, and I
am writing to ask whether I could observe in your department at {{ hospital }} for two to four
weeks in the coming months.

With thanks,
{{ sender.name }}
"""
MAILMERGE_TEMPLATE = """\
TO: {{email}}
SUBJECT: Observership inquiry — {{specialty}} at {{hospital}}
FROM: Ada Obi <ada@example.com>

Dear Dr. {{last_name}},

I am an international medical graduate preparing to apply for residency in {{specialty}}, and I
am writing to ask whether I could observe in your department at {{hospital}} for two to four
weeks in the coming months.

With thanks,
Ada Obi
"""


class Sink:
    """The aiosmtpd server in its own process, as a real server would be: it must not share our GIL."""

    def __init__(self, certs: Certificates) -> None:
        import multiprocessing

        self.certs = certs
        self.parent, child = multiprocessing.Pipe()
        self.process = multiprocessing.get_context("fork").Process(target=_serve, args=(certs, child), daemon=True)
        self.process.start()
        self.host, self.port = self.parent.recv()

    def ask(self, command: str) -> int:
        self.parent.send(command)
        return self.parent.recv()

    def received(self) -> int:
        return self.ask("count")

    def clear(self) -> None:
        self.ask("clear")

    def stop(self) -> None:
        self.ask("stop")
        self.process.join(5)


def _serve(certs: Certificates, conn) -> None:
    import logging

    logging.getLogger("mail.log").setLevel(logging.ERROR)  # aiosmtpd's per-login deprecation warning
    server = SmtpServer(certs).start()
    conn.send((server.host, server.port))
    while True:
        command = conn.recv()
        if command == "count":
            conn.send(len(server.received))
        elif command == "clear":
            server.handler.clear()
            conn.send(0)
        else:
            server.stop()
            conn.send(0)
            return


def contacts(count: int) -> list[dict[str, str]]:
    return [
        {"email": f"doc{n}@hospital{n % 97}.example.org", "title": "Dr.", "first_name": f"Jane{n}",
         "last_name": f"Okafor{n}", "specialty": "Cardiology", "hospital": f"Mercy {n % 97}", "state": "OH"}
        for n in range(count)
    ]


def env_for(server: Sink, certs: Certificates, folder: Path) -> dict[str, str]:
    return {
        "OUTREACH_DB": str(folder / "bench.db"), "OUTREACH_TEMPLATES_DIR": str(folder / "templates"),
        "OUTREACH_OUTBOX_DIR": str(folder / "outbox"), "OUTREACH_FROM": f"Ada Obi <{SMTP_USER}>",
        "OUTREACH_SMTP_HOST": server.host, "OUTREACH_SMTP_PORT": str(server.port), "OUTREACH_SMTP_USERNAME": SMTP_USER,
        "OUTREACH_SMTP_PASSWORD": PASSWORD, "OUTREACH_SMTP_SECURITY": "starttls", "OUTREACH_CA_FILE": str(certs.ca_file),
        "OUTREACH_SENT_COPY": "no", "OUTREACH_GAP": "0", "OUTREACH_DAILY_CAP": "0", "OUTREACH_HOURLY_CAP": "0",
        "OUTREACH_DOMAIN_CAP": "0",
    }


class Outreach:
    """Our full path: a db of contacts, then one campaign per round (each its own template, so
    no round skips contacts as already written to by the previous one)."""

    def __init__(self, people: list[dict[str, str]], server: Sink, certs: Certificates, folder: Path) -> None:
        from outreach.config import load_settings
        from outreach.contacts.store import add_tags
        from outreach.db import open_db, utc_now

        (folder / "templates").mkdir(parents=True)
        os.environ.update(env_for(server, certs, folder))
        self.settings = load_settings(env_file=None)
        self.db = open_db(self.settings.db_path)
        self.count = len(people)
        now = utc_now()
        with self.db.atomic():
            for person in people:
                contact_id = self.db.table("contacts").insert({**person, "created_at": now, "updated_at": now}).last_pk
                add_tags(self.db, contact_id, ["bench"])

    def freeze(self, round_: int) -> tuple[dict, float, list[bytes]]:
        from outreach.sending import campaigns

        name = f"bench{round_}"
        (self.settings.templates_dir / f"{name}.txt").write_text(TEMPLATE, encoding="utf-8")
        started = time.perf_counter()
        campaign = campaigns.create_campaign(self.db, name, template=name, templates_dir=self.settings.templates_dir, tags=["bench"])
        campaign = campaigns.freeze_campaign(self.db, self.settings, campaign)
        seconds = time.perf_counter() - started
        raws = [Path(p).read_bytes() for (p,) in self.db.execute("SELECT eml_path FROM messages WHERE campaign_id = ? ORDER BY id", [campaign["id"]])]
        return campaign, seconds, raws

    def send(self, campaign: dict, *, durable: bool = True) -> tuple[float, float]:
        """(wall seconds, CPU seconds of this process) to send the campaign with throttling off;
        `durable=False` keeps synchronous=NORMAL for the run (not what ships)."""
        import contextlib

        from outreach.sending import sender
        from outreach.sending.pacing import Limits, SystemClock

        limits = Limits(gap=(0, 0), daily_cap=0, hourly_cap=0, domain_cap=0)
        shipped = sender.durable_commits
        if not durable:
            sender.durable_commits = lambda db: contextlib.nullcontext()
        try:
            started, cpu = time.perf_counter(), time.process_time()
            report = asyncio.run(sender.send_campaign(self.db, self.settings, campaign, limits=limits, clock=SystemClock()))
            seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        finally:
            sender.durable_commits = shipped
        assert report.sent == self.count and report.failed == 0, report
        states = dict(self.db.execute("SELECT state, count(*) FROM messages WHERE campaign_id = ? GROUP BY state", [campaign["id"]]).fetchall())
        assert states == {"sent": self.count}, states  # every state change is in the db
        return seconds, cpu


async def raw_loop(raws: list[bytes], people: list[dict[str, str]], server: Sink, certs: Certificates) -> float:
    import aiosmtplib

    started = time.perf_counter()
    client = aiosmtplib.SMTP(hostname=server.host, port=server.port, start_tls=True,
                             tls_context=ssl.create_default_context(cafile=str(certs.ca_file)))
    await client.connect()
    await client.login(SMTP_USER, PASSWORD)
    for raw, person in zip(raws, people):
        await client.sendmail(SMTP_USER, [person["email"]], raw)
    await client.quit()
    return time.perf_counter() - started


def mailmerge_python() -> Path | None:
    env_dir = WORK / "mailmerge-venv"
    python = env_dir / "bin" / "python"
    if not (env_dir / "bin" / "mailmerge").exists():
        print("installing mailmerge into bench/.work/mailmerge-venv ...", file=sys.stderr)
        venv.create(env_dir, with_pip=True)
        result = subprocess.run([str(python), "-m", "pip", "install", "-q", "mailmerge"], capture_output=True, text=True)
        if result.returncode:
            print(f"could not install mailmerge: {result.stderr.strip()[-500:]}", file=sys.stderr)
            return None
    return env_dir / "bin" / "mailmerge"


def run_mailmerge(people: list[dict[str, str]], server: Sink, certs: Certificates, folder: Path) -> float | None:
    binary = mailmerge_python()
    if binary is None:
        return None
    folder.mkdir(parents=True)
    (folder / "mailmerge_template.txt").write_text(MAILMERGE_TEMPLATE, encoding="utf-8")
    with open(folder / "mailmerge_database.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(people[0]))
        writer.writeheader()
        writer.writerows(people)
    (folder / "mailmerge_server.conf").write_text(
        f"[smtp_server]\nhost = {server.host}\nport = {server.port}\nsecurity = STARTTLS\nusername = {SMTP_USER}\nratelimit = 0\n"
    )
    env = {**os.environ, "SSL_CERT_FILE": str(certs.ca_file)}
    started = time.perf_counter()
    # mailmerge asks for the password with getpass; without a terminal it reads stdin.
    result = subprocess.run([str(binary), "--no-dry-run", "--no-limit"], cwd=folder, env=env, input=PASSWORD + "\n",
                            capture_output=True, text=True, start_new_session=True)
    seconds = time.perf_counter() - started
    if result.returncode:
        print(f"mailmerge failed ({result.returncode}): {result.stderr.strip()[-800:]}", file=sys.stderr)
        return None
    return seconds


def timed_raw(raws: list[bytes], people: list[dict[str, str]], server: Sink, certs: Certificates) -> tuple[float, float]:
    cpu = time.process_time()
    seconds = asyncio.run(raw_loop(raws, people, server, certs))
    return seconds, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3, help="alternate outreach and raw this many times; medians shown")
    parser.add_argument("--no-mailmerge", action="store_true", help="skip the mailmerge comparison")
    args = parser.parse_args()
    people = contacts(args.count)
    WORK.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="send-bench-", dir=WORK))
    certs = Certificates.create(scratch / "certs")
    server = Sink(certs)
    ours, raw, normal, freezes = [], [], [], []
    merge = None
    try:
        # Warm the sink up first (its first connections are slower), so neither side pays for it.
        asyncio.run(raw_loop([b"Subject: warm-up\r\n\r\nhello\r\n"] * 200, people[:200], server, certs))
        server.clear()
        outreach = Outreach(people, server, certs, scratch / "outreach")
        for round_ in range(args.rounds):
            campaign, frozen, raws = outreach.freeze(round_)
            freezes.append(frozen)
            ours.append(outreach.send(campaign))
            assert server.received() == args.count
            server.clear()
            raw.append(timed_raw(raws, people, server, certs))
            assert server.received() == args.count
            server.clear()
            campaign, _, _ = outreach.freeze(args.rounds + round_)
            normal.append(outreach.send(campaign, durable=False))
            assert server.received() == args.count
            server.clear()
        if not args.no_mailmerge:
            merge = run_mailmerge(people, server, certs, scratch / "mailmerge")
            if merge is not None:
                assert server.received() == args.count, server.received()
    finally:
        server.stop()
        shutil.rmtree(scratch, ignore_errors=True)
    n = args.count
    ours_s, ours_cpu = statistics.median(t for t, _ in ours), statistics.median(c for _, c in ours)
    raw_s, raw_cpu = statistics.median(t for t, _ in raw), statistics.median(c for _, c in raw)
    print(f"{n} messages to a local aiosmtpd sink over STARTTLS + AUTH (sink in its own process; median of {args.rounds} rounds)")
    print(f"  render + freeze outbox (before sending, per round)  {statistics.median(freezes):7.2f} s")
    normal_s = statistics.median(t for t, _ in normal)
    print(f"  outreach send (durable outbox, every state committed) {ours_s:7.2f} s  {n / ours_s:7.0f} msg/s  (our CPU {ours_cpu:.2f} s)")
    print(f"  the same with synchronous=NORMAL (no power-cut safety) {normal_s:7.2f} s  {n / normal_s:7.0f} msg/s"
          f"  (the full syncs cost {ours_s / normal_s:.2f}x)")
    print(f"  plain aiosmtplib loop (one connection, no db)        {raw_s:7.2f} s  {n / raw_s:7.0f} msg/s  (our CPU {raw_cpu:.2f} s)")
    if merge is not None:
        print(f"  mailmerge --no-dry-run --no-limit                    {merge:7.2f} s  {n / merge:7.0f} msg/s")
    print(f"  outreach / raw time: {ours_s / raw_s:.2f}x (target <= 1.5x)"
          + (f"; mailmerge takes {merge / ours_s:.1f}x as long as outreach" if merge else ""))
    print("  each round: " + ", ".join(f"{o[0]:.2f}/{r[0]:.2f}/{m[0]:.2f}" for o, r, m in zip(ours, raw, normal)) + " s (outreach/raw/outreach NORMAL)")
    print("  in-process figures: the send loop only; bench/command_bench.py times the whole command")


if __name__ == "__main__":
    main()
