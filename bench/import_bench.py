"""Import generated contacts: `outreach contacts import` against `sqlite-utils insert --csv`.

    .venv/bin/python bench/import_bench.py [ROWS]      # default 100,000 rows, about 15 s

Prints rows/second for both tools, the ratio (target: the import within 3x of the raw-storage
baseline, which only stores text and does no parsing, dedupe or suppression check), a second
import of the same file (everything unchanged) and the import's peak memory (target: under
200 MB). Each tool runs as its own process, as a user runs it, and each memory figure is that
process's own. The CSV is written fresh in a temporary folder, with the messy-but-real shape
people export: "Dr. Jane Okafor, MD" names, "E-mail" headers, full state names.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SPECIALTIES = ["Internal Medicine", "Cardiology", "Pediatrics", "Neurology", "Family Medicine", "Psychiatry"]
STATES = ["NY", "OH", "TX", "California", "Illinois", "MA", "GA", "WA"]
DEFAULT_ROWS = 100_000  # the size; about 15 s here


def generate(path: Path, rows: int) -> None:
    """A CSV of `rows` distinct physicians, the same every run (seeded)."""
    rng = random.Random(1)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Full Name", "E-mail", "Specialty", "Hospital", "City", "State", "Graduation Year", "Residency Program"])
        for i in range(rows):
            first, last = rng.choice(["Jane", "Ada", "Kofi", "Mei", "José"]), rng.choice(["Okafor", "Smith", "Muñoz", "Chen"])
            writer.writerow([
                f"Dr. {first} {last}, MD", f"{first.lower()}.{last.lower()}{i}@hospital{i % 400}.example.org",
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("rows", nargs="?", type=int, default=DEFAULT_ROWS, help=f"contacts to generate (default {DEFAULT_ROWS:,})")
    rows = parser.parse_args().rows
    if rows < 1:
        parser.error("ROWS must be at least 1")
    bindir = Path(sys.executable).parent
    work = Path(tempfile.mkdtemp(prefix="outreach-import-bench-"))
    try:
        data = work / "contacts.csv"
        generate(data, rows)
        baseline, baseline_mb = run([str(bindir / "sqlite-utils"), "insert", str(work / "raw.db"), "contacts", str(data), "--csv"])
        importing = [str(bindir / "outreach"), "--db", str(work / "outreach.db"), "contacts", "import", str(data), "--tag", "bench", "--json"]
        ours, ours_mb = run(importing)
        again, again_mb = run(importing)
        print(f"rows: {rows:,} ({data.stat().st_size / 1e6:.1f} MB CSV)")
        print(f"sqlite-utils insert --csv : {rows / baseline:>9,.0f} rows/s ({baseline:.2f} s, {baseline_mb:.0f} MB peak)")
        print(f"outreach contacts import  : {rows / ours:>9,.0f} rows/s ({ours:.2f} s, {ours_mb:.0f} MB peak)  {ours / baseline:.2f}x the baseline (target <= 3x)")
        print(f"re-import, all unchanged  : {rows / again:>9,.0f} rows/s ({again:.2f} s, {again_mb:.0f} MB peak)")
        print(f"peak memory of the import : {max(ours_mb, again_mb):.0f} MB (target < 200 MB)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
