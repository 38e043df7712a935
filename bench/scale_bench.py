"""How the whole commands grow with the contact list: time and peak memory at 1k, 10k, 100k.

    .venv/bin/python bench/scale_bench.py                  # 1,000 / 10,000 / 100,000 contacts
    .venv/bin/python bench/scale_bench.py --sizes 1000,10000
    .venv/bin/python bench/scale_bench.py --million        # adds 1,000,000 (takes a long while)

Each command runs as its own process, exactly as a user types it (`python -m outreach ...`),
on a database filled by the first command of the row (`contacts import` of a generated CSV,
the same shape as bench/import_bench.py). For each it prints the wall time and the process's
peak resident memory, as `/usr/bin/time -v` reports it (getrusage of the finished child).
Output of every command goes to /dev/null (the dry run writes its .eml files into the work
folder, as it does for a user). What a reader should see: time growing linearly with the list,
memory flat (within a few tens of MB) from the smallest list to the largest.

The work folder is a temporary folder (on the same disk for every size); --keep leaves it.
To measure another checkout, point PYTHONPATH at it: the children import outreach from there.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from import_bench import generate  # the import benchmark's CSV, with ASCII addresses

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = "observership-request"  # the shipped template: text + HTML + the CV PDF
COMMANDS = (
    ("contacts import", ["contacts", "import", "contacts.csv", "--tag", "bench", "--json"]),
    ("contacts list --csv", ["contacts", "list", "--tag", "bench", "--csv"]),
    ("contacts list (table)", ["contacts", "list", "--tag", "bench"]),
    ("contacts export --csv", ["contacts", "export", "--csv", "export.csv", "--tag", "bench"]),
    ("templates check", ["templates", "check", TEMPLATE, "--tag", "bench"]),
    ("campaign send (dry run)", ["campaign", "send", "scale", "--no-limit"]),
)


def run(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """(seconds, peak resident MB) of one `python -m outreach` process; it must succeed."""
    command = [sys.executable, "-m", "outreach", *args]
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert process.stderr is not None
    error = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code:
        sys.exit(f"outreach {' '.join(args)} failed with exit code {code}:\n{error.decode(errors='replace')}")
    return seconds, usage.ru_maxrss / 1024  # kilobytes on Linux


def measure(size: int, work: Path, only: set[str]) -> dict[str, tuple[float, float]]:
    """Every command (or those named in `only`) at one list size, in a fresh folder and database.
    The import always runs: the others need its database."""
    folder = work / f"{size}"
    folder.mkdir()
    generate(folder / "contacts.csv", size, ascii_addresses=True)
    env = {
        **os.environ,
        "OUTREACH_DB": str(folder / "outreach.db"),
        "OUTREACH_TEMPLATES_DIR": str(ROOT / "templates"),
        "OUTREACH_OUTBOX_DIR": str(folder / "outbox"),
        "OUTREACH_FROM": "Ada Obi <ada@example.com>",
    }
    results = {}
    for label, args in COMMANDS:
        if only and label not in only and label != "contacts import":
            continue
        if label.startswith("campaign"):
            run(["campaign", "create", "scale", "--template", TEMPLATE, "--tag", "bench"], folder, env)
        results[label] = run(args, folder, env)
    if "--keep" not in sys.argv:
        shutil.rmtree(folder, ignore_errors=True)  # the next size needs the disk more than we need these
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000", help="comma-separated list sizes (default 1000,10000,100000)")
    parser.add_argument("--million", action="store_true", help="also 1,000,000 contacts (tens of minutes)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (its path is printed)")
    parser.add_argument("--only", default="", help="comma-separated command labels to run, e.g. 'templates check'")
    args = parser.parse_args()
    only = {label.strip() for label in args.only.split(",") if label.strip()}
    commands = [(label, a) for label, a in COMMANDS if not only or label in only or label == "contacts import"]
    sizes = [int(size) for size in args.sizes.split(",")] + ([1_000_000] if args.million else [])
    work = Path(tempfile.mkdtemp(prefix="outreach-scale-bench-"))
    print(f"scale bench: {', '.join(f'{s:,}' for s in sizes)} contacts; template {TEMPLATE}; each command a whole process")
    table: dict[int, dict[str, tuple[float, float]]] = {}
    try:
        for size in sizes:
            table[size] = measure(size, work, only)
            print(f"  {size:,} contacts done", file=sys.stderr)
    finally:
        if args.keep:
            print(f"work folder kept: {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    width = max(len(label) for label, _ in commands)
    print(f"{'command':<{width}}  " + "  ".join(f"{f'{s:,} contacts':>20}" for s in sizes) + "   memory growth")
    for label, _ in commands:
        cells = [table[s][label] for s in sizes]
        growth = cells[-1][1] - cells[0][1]
        print(f"{label:<{width}}  " + "  ".join(f"{seconds:8.2f} s {mb:6.0f} MB" for seconds, mb in cells) + f"   {growth:+.0f} MB")
    if len(sizes) > 1:
        print("time per 1,000 contacts beyond the smallest list (start-up excluded; equal figures = linear):")
        for label, _ in commands:
            base = table[sizes[0]][label][0]
            steps = [1000 * (table[s][label][0] - base) / (s - sizes[0]) for s in sizes[1:]]
            print(f"  {label:<{width}}  " + "  ".join(f"{f'{s:,}':>9}: {step:.3f} s" for s, step in zip(sizes[1:], steps)))


if __name__ == "__main__":
    main()
