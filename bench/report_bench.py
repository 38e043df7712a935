"""How fast is `outreach report --by X` on a big history, next to one plain SQL query?

Builds a fresh database (the real schema and indexes, through open_db) with 100,000 contacts,
300,000 messages (6 campaigns, first emails and follow-ups, 3% bounced) and 30,000 replies
(human, auto-replies, opt-outs; some outcomes set), then for each --by prints, from the same run:
  - plain: the same per-group aggregate (contacted, bounced, replied per group) written as one
    SQL query and run with the sqlite3 module;
  - report: `build_report(db, by=X)`, everything `outreach report --by X --json` computes
    (Wilson bounds, percentiles, warm/cold, funnel, comparisons, replies per day).
Each pair runs alternately, several rounds; min/median/max. Target: report <= 1 s and <= 2x plain.

    python bench/report_bench.py [--contacts 100000] [--messages 300000] [--replies 30000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from outreach.db import open_db, utc_now  # noqa: E402
from outreach.reports.queries import MESSAGE_KEYS, TAG_JOIN, THREAD_KEYS, WENT_OUT  # noqa: E402
from outreach.reports.report import BY_CHOICES, build_report  # noqa: E402

START = datetime(2026, 1, 5, 14, 0, tzinfo=timezone.utc)
SPECIALTIES = ["Cardiology", "Internal Medicine", "Neurology", "Pediatrics", "Surgery", "Psychiatry"]
STATES = ["OH", "NY", "PA", "MI", "IL", "TX", "CA", "FL", "NJ", "MA", "GA", "NC"]


def build(path: Path, contacts: int, messages: int, replies: int) -> None:
    """Fill the database with plain executemany inserts (the generator is not what we measure)."""
    rng = random.Random(12)
    db = open_db(path)
    conn = db.conn
    now = utc_now()
    conn.execute("INSERT INTO tags (name) VALUES ('physicians'), ('alumni'), ('academic')")
    conn.executemany(
        "INSERT INTO contacts (id, email, first_name, last_name, specialty, state, source, referred_by, created_at, updated_at) "
        "VALUES (?, ?, 'Jane', 'Okafor', ?, ?, ?, ?, ?, ?)",
        [(i, f"doc{i}@hospital{i % 400}.example.org", SPECIALTIES[i % 6], STATES[i % 12], f"list{i % 3}.csv",
          (i - 1) if i % 10 == 0 else None, now, now) for i in range(1, contacts + 1)],
    )
    conn.executemany("INSERT OR IGNORE INTO contact_tags (contact_id, tag_id) VALUES (?, ?)",
                     [(i, 1 + (i % 3)) for i in range(1, contacts + 1)] + [(i, 3) for i in range(1, contacts + 1, 7)])
    campaigns = 6
    conn.executemany("INSERT INTO campaigns (id, name, template, status, created_at, started_at) VALUES (?, ?, ?, 'active', ?, ?)",
                     [(c, f"c{c}", f"template{c % 3}", now, now) for c in range(1, campaigns + 1)])
    rows, n = [], 0
    per_contact = messages // contacts  # steps per thread
    for contact in range(1, contacts + 1):
        campaign = 1 + contact % campaigns
        for step in range(per_contact):
            n += 1
            sent = START + timedelta(days=7 * step + contact % 60, minutes=contact % 600)
            state = "bounced" if step == 0 and contact % 33 == 0 else "sent"
            rows.append((n, campaign, contact, step, f"template{(campaign + step) % 3}", f"doc{contact}@hospital{contact % 400}.example.org",
                         f"hospital{contact % 400}.example.org", f"<m{n}@example.com>", state, utc_now(sent), utc_now(sent), utc_now(sent)))
    conn.executemany(
        "INSERT INTO messages (id, campaign_id, contact_id, step, template, to_address, to_domain, message_id, state, queued_at, sent_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    reply_rows = []
    for i in range(replies):
        message = rng.randrange(1, n + 1)
        _, campaign, contact, step, *_, sent_at, _ = rows[message - 1]
        kind = "human_reply" if i % 10 < 7 else "auto_reply" if i % 10 < 9 else "unsubscribe"
        delay = rng.randrange(600, 7 * 86400)
        received = datetime.fromisoformat(sent_at) + timedelta(seconds=delay)
        reply_rows.append((message, contact, campaign, "INBOX", 1, i + 1, f"<r{i}@x.org>", kind, utc_now(received),
                           delay if kind != "auto_reply" else None, now))
    conn.executemany(
        "INSERT INTO replies (message_id, contact_id, campaign_id, folder, uidvalidity, uid, rfc_message_id, kind, received_at, seconds_to_reply, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", reply_rows)
    outcomes = ["positive", "call", "declined", "offer", "completed", "lor_received"]
    conn.executemany("INSERT INTO contact_outcomes (contact_id, outcome, at) VALUES (?, ?, ?)",
                     [(c, outcomes[c % 6], now) for c in range(1, contacts + 1, 40)])
    conn.commit()
    conn.execute("ANALYZE")
    conn.close()


def plain_query(by: str) -> str:
    """The per-group aggregate a person would write by hand (contacted, bounced, replied), with
    the report's units: messages for template/step/week, threads (campaign, contact) otherwise."""
    if by in MESSAGE_KEYS:
        key = "date(m.sent_at, '-6 days', 'weekday 1')" if by == "week" else MESSAGE_KEYS[by]
        return f"""
            SELECT {key} AS g, count(DISTINCT m.id), count(DISTINCT CASE WHEN m.state = 'bounced' THEN m.id END),
                   count(DISTINCT CASE WHEN r.kind = 'human_reply' THEN m.id END)
            FROM messages m LEFT JOIN replies r ON r.message_id = m.id
            WHERE {WENT_OUT} GROUP BY g"""
    key = THREAD_KEYS[by].replace("th.cid", "m.campaign_id")
    joins = TAG_JOIN.replace("{alias}.pid", "m.contact_id") if by == "tag" else ""
    return f"""
        SELECT g, count(*), sum(bounced), sum(human) FROM (
            SELECT {key} AS g, m.campaign_id, m.contact_id, max(m.state = 'bounced') AS bounced,
                   max(r.kind = 'human_reply') AS human
            FROM messages m JOIN contacts c ON c.id = m.contact_id {joins} LEFT JOIN replies r ON r.message_id = m.id
            WHERE {WENT_OUT}
            GROUP BY g, m.campaign_id, m.contact_id
        ) GROUP BY g"""


def timed(action) -> tuple[float, float]:
    """(wall, CPU) seconds. On a shared machine the CPU time is what idle wall time would be:
    the work is one thread over a database already in the page cache."""
    wall, cpu = time.perf_counter(), time.process_time()
    action()
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=300_000)
    parser.add_argument("--replies", type=int, default=30_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.db"
        started = time.perf_counter()
        build(path, args.contacts, args.messages, args.replies)
        print(f"built {args.contacts:,} contacts, {args.messages:,} messages, {args.replies:,} replies in {time.perf_counter() - started:.1f}s")
        db = open_db(path)
        plain = sqlite3.connect(path)
        print(f"{'--by':<10} {'plain wall min/med/max':>23} {'report wall min/med/max':>24} {'ratio':>6}   "
              f"{'plain cpu':>9} {'report cpu':>10} {'ratio':>6}  (seconds, medians)")
        worst = 0.0
        for by in BY_CHOICES:
            sql = plain_query(by)
            plain.execute(sql).fetchall()  # warm the page cache for both
            build_report(db, by=by)
            plain_times, report_times = [], []
            for _ in range(args.rounds):
                plain_times.append(timed(lambda: plain.execute(sql).fetchall()))
                report_times.append(timed(lambda: build_report(db, by=by)))
            wall = [statistics.median(t[0] for t in times) for times in (plain_times, report_times)]
            cpu = [statistics.median(t[1] for t in times) for times in (plain_times, report_times)]
            worst = max(worst, cpu[1] / cpu[0])
            print(f"{by:<10} {_span([t[0] for t in plain_times]):>23} {_span([t[0] for t in report_times]):>24} {wall[1] / wall[0]:>5.2f}x   "
                  f"{cpu[0]:>9.3f} {cpu[1]:>10.3f} {cpu[1] / cpu[0]:>5.2f}x")
        print(f"worst CPU ratio {worst:.2f}x (target: report <= 1 s and <= 2x the plain query)")


def _span(times: list[float]) -> str:
    return f"{min(times):.3f}/{statistics.median(times):.3f}/{max(times):.3f}"


if __name__ == "__main__":
    main()
