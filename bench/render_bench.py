"""Render 10,000 personalised messages with an attachment and compare with `mailmerge --dry-run`.

    .venv/bin/python bench/render_bench.py [--count 10000] [--skip-mailmerge]

Both tools get the same contacts (ours from the database, mailmerge's from a CSV written from
the same rows) and the same letter: the shipped `observership-request` template (plain text +
HTML alternative + the CV PDF), and the same letter as plain text + PDF. Ours is timed from
`select_contacts` to the finished RFC 5322 bytes of every message; mailmerge is timed as the
process it is, printing every message (`--output-format raw`) to /dev/null, with its start-up
time measured separately; each figure is the best of --repeat runs. mailmerge (PyPI) is installed into a throwaway venv under
bench/.work/, which git ignores.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import shutil
import subprocess
import sys
import time
from email import message_from_bytes, policy
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from outreach.contacts.store import select_contacts  # noqa: E402
from outreach.db import open_db, utc_now  # noqa: E402
from outreach.templates.render import Sender, load_template, render_message  # noqa: E402

WORK = REPO / "bench" / ".work"
VENV = WORK / "mailmerge-venv"
TEMPLATE = "observership-request"
SENDER = Sender("Ada Obi", "ada@example.com", "Ada Obi, MBBS\nLagos, Nigeria")
FIELDS = ("email", "title", "first_name", "last_name", "suffix", "specialty", "hospital", "city", "state")

FIRST = "Jane Sam Priya Kofi José Zoë Mei Omar Anna Chidi Laura Raj Fatima Lucas Ngozi Wei".split()
LAST = "Okafor Jones Rao Mensah García Ångström Chen Haddad Novak Eze Smith Patel Khan Silva Obi Li".split()
SPECIALTIES = ["Cardiology", "Internal Medicine", "Neurology", "Pediatrics", "Family Medicine", "Oncology", ""]
HOSPITALS = ["Mercy Hospital", "St. Mary's Medical Center", "University Hospital", "Children's Hospital", ""]
CITIES = [("St. Louis", "MO"), ("Cleveland", "OH"), ("Houston", "TX"), ("Boston", "MA"), ("", "")]

# mailmerge has no salutation helper: the same rule, written inline in its template.
MAILMERGE_SALUTATION = (
    "{% if title and last_name %}{{ title }} {{ last_name }}"
    "{% elif suffix in ('MD', 'DO') and last_name %}Dr. {{ last_name }}"
    "{% elif first_name %}{{ first_name }}{% else %}Doctor{% endif %}"
)


def contacts(count: int) -> list[dict[str, str]]:
    """Varied, partly blank contacts (so every message exercises the fallbacks)."""
    rng = random.Random(2026)
    rows = []
    for i in range(count):
        city, state = rng.choice(CITIES)
        first, last = rng.choice(FIRST), rng.choice(LAST)
        rows.append(
            {
                "email": f"{first.lower().encode('ascii', 'ignore').decode()}.{last.lower().encode('ascii', 'ignore').decode()}{i}@h{i % 97}.example.org",
                "title": rng.choice(["Dr.", "Dr.", ""]),
                "first_name": first,
                "last_name": last,
                "suffix": rng.choice(["MD", "DO", ""]),
                "specialty": rng.choice(SPECIALTIES),
                "hospital": rng.choice(HOSPITALS),
                "city": city,
                "state": state,
            }
        )
    return rows


def prepare(work: Path, rows: list[dict[str, str]]) -> Path:
    """The database (for us), the CSV (for mailmerge) and both template folders."""
    if work.exists():
        shutil.rmtree(work)
    (work / "ours-text").mkdir(parents=True)
    db = open_db(work / "outreach.db")
    now = utc_now()
    with db.conn:
        db["contacts"].insert_all(
            [{**{k: (v or None) for k, v in row.items()}, "created_at": now, "updated_at": now} for row in rows]
        )
    with open(work / "contacts.csv", "w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(rows)

    shipped = REPO / "templates"
    # Ours, text + PDF only: the shipped .txt without its .html.
    shutil.copy(shipped / f"{TEMPLATE}.txt", work / "ours-text" / f"{TEMPLATE}.txt")
    shutil.copytree(shipped / "attachments", work / "ours-text" / "attachments")
    # mailmerge: the same words, helpers spelled out, headers first, ATTACHMENT: for the PDF.
    shutil.copy(shipped / "attachments" / "cv.pdf", work / "cv.pdf")
    source = (shipped / f"{TEMPLATE}.txt").read_text(encoding="utf-8")
    front, body = source.split("\n---\n", 1)
    subject = next(line for line in front.splitlines() if line.startswith("subject:")).split(":", 1)[1].strip()
    text = _mailmerge_body(body, "Ada Obi, MBBS\nLagos, Nigeria")
    html = _mailmerge_body((shipped / f"{TEMPLATE}.html").read_text(encoding="utf-8"), "Ada Obi, MBBS<br>\nLagos, Nigeria")
    headers = (
        "TO: {{ first_name }} {{ last_name }} <{{ email }}>\n"
        "FROM: Ada Obi <ada@example.com>\n"
        f"SUBJECT: {subject}\n"
        "ATTACHMENT: cv.pdf\n"
    )
    (work / "mailmerge-text.txt").write_text(headers + "\n" + text, encoding="utf-8")
    (work / "mailmerge-html.txt").write_text(
        headers
        + 'MIME-Version: 1.0\nContent-Type: multipart/alternative; boundary="bench-boundary"\n\n'
        + f'--bench-boundary\nContent-Type: text/plain; charset="utf-8"\n\n{text}\n'
        + f'--bench-boundary\nContent-Type: text/html; charset="utf-8"\n\n{html}\n--bench-boundary--\n',
        encoding="utf-8",
    )
    (work / "mailmerge_server.conf").write_text("[smtp_server]\nhost = localhost\nport = 25\nsecurity = Never\n")
    return work


def _mailmerge_body(body: str, signature: str) -> str:
    body = body.replace("{{ salutation }}", MAILMERGE_SALUTATION)
    for helper in (
        "{{ sender.signature | or_default(sender.name) | linebreaks }}",
        "{{ sender.signature | or_default(sender.name) }}",
    ):
        body = body.replace(helper, signature)
    if "sender." in body or "salutation" in body or "or_default" in body:
        raise SystemExit("render_bench: the shipped template uses a helper this bench cannot translate")
    return body


def time_ours(work: Path, templates_dir: Path) -> tuple[int, float, bytes]:
    started = time.perf_counter()
    db = open_db(work / "outreach.db")
    template = load_template(templates_dir, TEMPLATE)  # compiled once for the whole run
    selected = select_contacts(db)
    last = b""
    with open(os.devnull, "wb") as sink:
        for contact in selected:
            last = render_message(template, contact, sender=SENDER).as_bytes()
            sink.write(last)
    return len(selected), time.perf_counter() - started, last


def ensure_mailmerge() -> Path:
    executable = VENV / "bin" / "mailmerge"
    if not executable.exists():
        print("installing mailmerge into bench/.work/mailmerge-venv ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(VENV / "bin" / "pip"), "install", "-q", "mailmerge"], check=True)
    return executable


def time_mailmerge(executable: Path, work: Path, template: str, *, limit: str) -> float:
    command = [
        str(executable), "--template", template, "--database", "contacts.csv", "--config", "mailmerge_server.conf",
        "--dry-run", "--output-format", "raw", *limit.split(),
    ]
    started = time.perf_counter()
    with open(os.devnull, "wb") as sink:
        subprocess.run(command, cwd=work, stdout=sink, check=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--skip-mailmerge", action="store_true")
    parser.add_argument("--repeat", type=int, default=2, help="runs per measurement; the best is reported")
    args = parser.parse_args()

    work = prepare(WORK / "render", contacts(args.count))
    pdf_size = (REPO / "templates" / "attachments" / "cv.pdf").stat().st_size
    print(f"render bench: {args.count:,} contacts, template {TEMPLATE}, {pdf_size:,}-byte PDF attached")

    results = {}
    for label, templates_dir, mm_template in (
        ("text + HTML + PDF", REPO / "templates", "mailmerge-html.txt"),
        ("text + PDF", work / "ours-text", "mailmerge-text.txt"),
    ):
        runs = [time_ours(work, templates_dir) for _ in range(args.repeat)]
        count, seconds, sample = min(runs, key=lambda run: run[1])
        message = message_from_bytes(sample, policy=policy.default)
        assert message["Message-ID"] and any(True for _ in message.iter_attachments()), "bench output is not a full message"
        rate = count / seconds
        print(f"  outreach   {label:<18} {count:,} messages in {seconds:6.2f} s = {rate:7.0f} msg/s ({1000 / rate:.3f} ms/message)")
        results[label] = rate
        if args.skip_mailmerge:
            continue
        executable = ensure_mailmerge()
        startup = time_mailmerge(executable, work, mm_template, limit="--limit 1")
        total = min(time_mailmerge(executable, work, mm_template, limit="--no-limit") for _ in range(args.repeat))
        mm_rate = args.count / total
        mm_rate_net = args.count / max(total - startup, 1e-9)
        print(
            f"  mailmerge  {label:<18} {args.count:,} messages in {total:6.2f} s = {mm_rate:7.0f} msg/s "
            f"({1000 / mm_rate:.3f} ms/message; {mm_rate_net:.0f} msg/s without its {startup:.2f} s start-up)"
        )
        print(f"  ratio      {label:<18} outreach is {rate / mm_rate_net:.2f}x mailmerge per message (start-up excluded)")


if __name__ == "__main__":
    main()
