"""The demo's stand-in for the outside world, so `scripts/demo` needs no account and no network.

    python scripts/demo_mail.py sink DIR       # an SMTP sink on 127.0.0.1; each message -> DIR/NNN.eml
    python scripts/demo_mail.py replies SENT_DIR SAMPLES_DIR OUT_DIR

`sink` writes the port it listens on to DIR/port once it is ready and runs until SIGTERM/SIGINT.
It offers SMTPUTF8, as most large providers do. It needs aiosmtpd (the `demo` extra).

`replies` turns the sample replies (SAMPLES_DIR/*.eml, written for this project) into answers to
the messages the demo really sent: each sample names its contact in an `X-Demo-Contact:` line,
which is replaced by threading headers (In-Reply-To, References) pointing at the Message-ID the
sink received for that contact. `$message_id`, `$subject`, `$to`, `$sender`, `$date`, `$sent_date`
and `$return_date` (ten days from now) are filled in the same way.
"""

from __future__ import annotations

import signal
import socket
import string
import sys
import threading
from datetime import datetime, timedelta, timezone
from email import message_from_bytes, policy
from email.utils import format_datetime, parseaddr
from pathlib import Path

LOOPBACK = "127.0.0.1"


def run_sink(folder: Path) -> None:
    from aiosmtpd.controller import Controller

    folder.mkdir(parents=True, exist_ok=True)
    count = len(list(folder.glob("*.eml")))
    lock = threading.Lock()

    class Handler:
        async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 (aiosmtpd's name)
            nonlocal count
            with lock:
                count += 1
                (folder / f"{count:03d}.eml").write_bytes(envelope.original_content or envelope.content)
            return "250 2.0.0 Ok: queued by the demo sink"

    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        port = sock.getsockname()[1]
    controller = Controller(Handler(), hostname=LOOPBACK, port=port, enable_SMTPUTF8=True, ready_timeout=10)
    controller.start()
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    (folder / "port").write_text(f"{port}\n")
    try:
        stop.wait()
    finally:
        controller.stop()


def sent_by_contact(sent_dir: Path) -> dict[str, dict[str, str]]:
    """The last message the sink received for each recipient: its Message-ID, subject, date."""
    found: dict[str, dict[str, str]] = {}
    for path in sorted(sent_dir.glob("*.eml")):
        message = message_from_bytes(path.read_bytes(), policy=policy.default)
        to = parseaddr(str(message["To"]))[1].lower()
        found[to] = {"message_id": str(message["Message-ID"]), "subject": str(message["Subject"]),
                     "sender": str(message["From"]), "sent_date": str(message["Date"])}
    return found


def write_replies(sent_dir: Path, samples: Path, out: Path, *, now: datetime | None = None) -> list[Path]:
    """Fill each sample for the message sent to its contact; samples whose contact got nothing
    are left out (say why on stderr)."""
    now = now or datetime.now(timezone.utc)
    sent = sent_by_contact(sent_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    paths = sorted(samples.glob("*.eml"))
    for index, sample in enumerate(paths):
        lines = sample.read_text(encoding="utf-8").splitlines()
        contact = next((line.split(":", 1)[1].strip().lower() for line in lines if line.lower().startswith("x-demo-contact:")), "")
        original = sent.get(contact)
        if original is None:
            print(f"{sample.name}: nothing was sent to {contact or '(no X-Demo-Contact line)'}; left out", file=sys.stderr)
            continue
        values = {**original, "to": contact, "date": format_datetime(now + timedelta(seconds=index)),
                  "return_date": f"{now + timedelta(days=10):%A, %B} {(now + timedelta(days=10)).day}, {now + timedelta(days=10):%Y}"}
        threading_headers = [f"In-Reply-To: {original['message_id']}", f"References: {original['message_id']}"]
        body = [line for line in lines if not line.lower().startswith("x-demo-contact:")]
        if "$message_id" not in "\n".join(body):
            body = threading_headers + body  # a delivery report quotes the original's Message-ID instead
        text = string.Template("\n".join(body) + "\n").safe_substitute(values)
        target = out / sample.name
        target.write_text(text, encoding="utf-8")
        written.append(target)
    return written


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "sink":
        run_sink(Path(argv[1]))
        return 0
    if len(argv) == 4 and argv[0] == "replies":
        for path in write_replies(Path(argv[1]), Path(argv[2]), Path(argv[3])):
            print(path)
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
