"""The baseline processes of bench/command_bench.py: the plainest script doing the same work.

    python bench/raw_clients.py send FOLDER HOST PORT CA_FILE USER PASSWORD
    python bench/raw_clients.py poll HOST PORT CA_FILE USER PASSWORD

`send`: start Python, import aiosmtplib, read every FOLDER/NNNN-ADDRESS.eml (the files `outreach
campaign send` writes), one STARTTLS connection, log in, `sendmail` each message to the address
in its file name, quit. No database, no pacing, no state.

`poll`: start Python, import imapclient, connect over TLS, log in, find the Junk folder (LIST),
EXAMINE INBOX and Junk (what `replies poll` does when nothing is new), log out.

Both trust what outreach trusts: the system's certificate store plus the test CA file
(outreach.mail.tls.ssl_context); loading the system store is a real cost of any client that
verifies a real server, so the baseline pays it too.

Deliberately its own file: each mode imports only what it uses, as a hand-written script would.
"""

from __future__ import annotations

import sys
from pathlib import Path


def _context(ca_file: str):
    import ssl

    context = ssl.create_default_context()
    context.load_verify_locations(cafile=ca_file)
    return context


def send(folder: str, host: str, port: str, ca_file: str, user: str, password: str) -> None:
    import asyncio

    import aiosmtplib

    async def run() -> None:
        messages = [(path.stem.split("-", 1)[1], path.read_bytes()) for path in sorted(Path(folder).glob("*.eml"))]
        client = aiosmtplib.SMTP(hostname=host, port=int(port), start_tls=True, tls_context=_context(ca_file))
        await client.connect()
        await client.login(user, password)
        for address, raw in messages:
            await client.sendmail(user, [address], raw)
        await client.quit()

    asyncio.run(run())


def poll(host: str, port: str, ca_file: str, user: str, password: str) -> None:
    from imapclient import IMAPClient

    with IMAPClient(host, int(port), ssl=True, ssl_context=_context(ca_file)) as client:
        client.login(user, password)
        junk = next((name for flags, _, name in client.list_folders() if b"\\Junk" in flags), None)
        for folder in ["INBOX"] + ([junk] if junk else []):
            client.select_folder(folder, readonly=True)


if __name__ == "__main__":
    {"send": send, "poll": poll}[sys.argv[1]](*sys.argv[2:])
