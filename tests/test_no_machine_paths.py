"""No file in the repository may name a path that exists only on one developer's machine.

A test that starts `/somewhere/v/bin/outreach` passes on the machine it was written on and fails on
every fresh clone; paths a test needs come from `tmp_path` or `sys.executable`.
"""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHECKED_FOLDERS = ("outreach", "tests", "bench", "scripts")
# Built from pieces so that this file does not match itself.
MACHINE_PATH = re.compile(r"(?<![\w.])/(?:" + "|".join(["tm" + "p", "ho" + "me", "ro" + "ot", "wo" + "rk", "Us" + "ers"]) + r")/[\w.-]")
TEXT_SUFFIXES = {".py", ".sh", ".txt", ".md", ".toml", ".cfg", ".ini", ""}


def files_to_check() -> list[Path]:
    found = []
    for folder in CHECKED_FOLDERS:
        for path in (ROOT / folder).rglob("*"):
            # bench/.work is the benchmarks' git-ignored scratch (a mailmerge venv names its own paths)
            if path.is_file() and path.suffix in TEXT_SUFFIXES and not {"__pycache__", ".work"} & set(path.parts):
                found.append(path)
    return found


def test_the_checked_folders_exist_and_hold_files():
    assert len(files_to_check()) > 20


def test_no_file_names_an_absolute_path_of_a_particular_machine():
    offenders = []
    for path in files_to_check():
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            if MACHINE_PATH.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == [], "machine-specific paths:\n" + "\n".join(offenders)


def test_the_pattern_catches_what_it_is_for():
    assert MACHINE_PATH.search('Popen(["/' + 'tmp/v/bin/outreach"])')
    assert MACHINE_PATH.search("cd /" + "home/ada/outreach")
    assert not MACHINE_PATH.search("open('/dev/zero')")
    assert not MACHINE_PATH.search("https://example.org/tmp/x")
