"""Import generated contacts: `outreach contacts import` against `sqlite-utils insert --csv`.

    .venv/bin/python bench/import_bench.py [ROWS] [--pairs 3]   # default 100,000 rows

Prints, for both tools, min/median/max seconds over --pairs runs alternated pair by pair (each
into a fresh database), the ratio of the medians (target: the import within 3x of the
raw-storage baseline, which only stores text and does no parsing, dedupe or suppression check),
a second import of the same file (everything unchanged) and the import's peak memory (target:
under 200 MB). Each tool runs as its own process, as a user runs it, and each memory figure is
that process's own. The CSV is written fresh in a temporary folder, with the messy-but-real
shape people export: "Dr. Jane Okafor, MD" names, "E-mail" headers, full state names.

The baseline stores the same way we do, so the ratio compares the work, not two ways of syncing:
`sqlite-utils insert` by default commits every 100 rows in rollback-journal mode, each commit a
full sync to disk; here it writes to a WAL database (`sqlite-utils create-database --enable-wal`) and commits every
1,000 rows, as `contacts import` does (WAL, a commit per 1,000 rows; sqlite-utils still syncs at
every commit, synchronous=FULL, where we sync at checkpoints). --default-baseline shows
the tool's defaults too, for reference.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SPECIALTIES = ["Internal Medicine", "Cardiology", "Pediatrics", "Neurology", "Family Medicine", "Psychiatry"]
STATES = ["NY", "OH", "TX", "California", "Illinois", "MA", "GA", "WA"]
DEFAULT_ROWS = 100_000  # the size; about 15 s here


def generate(path: Path, rows: int, *, ascii_addresses: bool = False) -> None:
    """A CSV of `rows` distinct physicians, the same every run (seeded), in the shape people export
    ("Dr. Jane Okafor, MD", "E-mail", full state names). `ascii_addresses`: no "josé.muñoz" before
    the @ (bench/scale_bench.py renders every contact, and such an address needs SMTPUTF8)."""
    rng = random.Random(1)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Full Name", "E-mail", "Specialty", "Hospital", "City", "State", "Graduation Year", "Residency Program"])
        for i in range(rows):
            first, last = rng.choice(["Jane", "Ada", "Kofi", "Mei", "José"]), rng.choice(["Okafor", "Smith", "Muñoz", "Chen"])
            local = f"{first}.{last}".lower()
            if ascii_addresses:
                local = local.replace("é", "e").replace("ñ", "n")
            writer.writerow([
                f"Dr. {first} {last}, MD", f"{local}{i}@hospital{i % 400}.example.org",
                rng.choice(SPECIALTIES), f"Hospital {i % 400}", "Springfield", rng.choice(STATES),
                rng.randint(1980, 2020), "IM Residency",
            ])


def run(command: list[str]) -> tuple[float, float]:
    """(seconds, peak resident MB) of one child process; it must succeed."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        sys.exit(f"{command[0]} failed with exit code {process.returncode}")
    return seconds, usage.ru_maxrss / 1024  # kilobytes on Linux


def spread(values: list[float]) -> str:
    return f"min {min(values):.2f} s  median {statistics.median(values):.2f} s  max {max(values):.2f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("rows", nargs="?", type=int, default=DEFAULT_ROWS, help=f"contacts to generate (default {DEFAULT_ROWS:,})")
    parser.add_argument("--pairs", type=int, default=3, help="baseline/outreach pairs, alternated (default 3)")
    parser.add_argument("--default-baseline", action="store_true", help="also time sqlite-utils with its defaults (100-row commits, full syncs)")
    args = parser.parse_args()
    rows = args.rows
    if rows < 1:
        parser.error("ROWS must be at least 1")
    bindir = Path(sys.executable).parent
    work = Path(tempfile.mkdtemp(prefix="outreach-import-bench-"))
    try:
        data = work / "contacts.csv"
        generate(data, rows)
        baseline, ours, again, peaks = [], [], [], []
        for n in range(args.pairs):
            raw_db = work / f"raw{n}.db"
            run([str(bindir / "sqlite-utils"), "create-database", str(raw_db), "--enable-wal"])
            baseline.append(run([str(bindir / "sqlite-utils"), "insert", str(raw_db), "contacts", str(data), "--csv", "--batch-size", "1000"])[0])
            importing = [str(bindir / "outreach"), "--db", str(work / f"outreach{n}.db"), "contacts", "import", str(data), "--tag", "bench", "--json"]
            seconds, mb = run(importing)
            ours.append(seconds)
            seconds, again_mb = run(importing)
            again.append(seconds)
            peaks += [mb, again_mb]
        print(f"rows: {rows:,} ({data.stat().st_size / 1e6:.1f} MB CSV); {args.pairs} pairs, alternated, each into a fresh database")
        print(f"sqlite-utils insert --csv (WAL, 1,000-row commits) : {spread(baseline)}  {rows / statistics.median(baseline):>9,.0f} rows/s")
        print(f"outreach contacts import (WAL, 1,000-row commits)  : {spread(ours)}  {rows / statistics.median(ours):>9,.0f} rows/s")
        ratios = [o / b for o, b in zip(ours, baseline)]
        print(f"  ratio of medians {statistics.median(ours) / statistics.median(baseline):.2f}x; per pair {min(ratios):.2f}-{max(ratios):.2f}x (target <= 3x)")
        print(f"re-import, all unchanged                           : {spread(again)}  {rows / statistics.median(again):>9,.0f} rows/s")
        print(f"peak memory of the import : {max(peaks):.0f} MB (target < 200 MB)")
        if args.default_baseline:
            default, _ = run([str(bindir / "sqlite-utils"), "insert", str(work / "default.db"), "contacts", str(data), "--csv"])
            print(f"for reference, sqlite-utils with its defaults (100-row commits, rollback journal, full syncs): {default:.2f} s")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
