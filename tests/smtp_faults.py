"""Fault injection for the real aiosmtpd fixture: scripted SMTP replies and dropped connections.

The fixture's `RecordingHandler` asks `on_rcpt(address)` / `on_data(envelope)` for a reply before
accepting; these helpers build such hooks. `drop_during_data` goes further and closes the TCP
connection after the server has read the whole message but before it answers, which is the
moment where the client cannot know whether the mail was accepted.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable

import pytest


def replies(*script: str | None) -> Callable[..., str | None]:
    """A hook answering with each scripted reply in turn (None = accept), then accepting."""
    pending = list(script)
    lock = threading.Lock()

    def hook(_arg) -> str | None:
        with lock:
            return pending.pop(0) if pending else None

    return hook


def for_address(address: str, reply: str) -> Callable[[str], str | None]:
    """An on_rcpt hook refusing one recipient every time (e.g. "550 5.1.1 User unknown")."""
    return lambda rcpt: reply if rcpt.lower() == address.lower() else None


def for_addresses(addresses: Iterable[str], reply: str) -> Callable[[str], str | None]:
    wanted = {a.lower() for a in addresses}
    return lambda rcpt: reply if rcpt.lower() in wanted else None


def after_accepting(count: int, reply: str) -> Callable[..., str | None]:
    """An on_data hook accepting `count` messages, then answering `reply` to every later one."""
    seen = [0]

    def hook(_envelope) -> str | None:
        seen[0] += 1
        return reply if seen[0] > count else None

    return hook


class Connections:
    """Counts SMTP sessions (EHLO after connect; STARTTLS makes a client say EHLO twice)."""

    def __init__(self) -> None:
        self.ehlo = 0


def count_connections(smtp_server, monkeypatch: pytest.MonkeyPatch) -> Connections:
    counter = Connections()

    async def handle_EHLO(server, session, envelope, hostname, responses):
        if not session.ssl:  # the first EHLO of each connection, before STARTTLS
            counter.ehlo += 1
        session.host_name = hostname
        return responses

    monkeypatch.setattr(smtp_server.handler, "handle_EHLO", handle_EHLO, raising=False)
    return counter


def drop_during_data(smtp_server, monkeypatch: pytest.MonkeyPatch, *, times: int = 1) -> list[str]:
    """Close the connection after the message arrived and before the reply, `times` times.
    Returns the Message-IDs the server saw but never acknowledged."""
    handler = smtp_server.handler
    original = handler.handle_DATA
    dropped: list[str] = []

    async def handle_DATA(server, session, envelope):
        if len(dropped) < times:
            from email import message_from_bytes

            dropped.append(message_from_bytes(envelope.content)["Message-ID"])
            server.transport.close()
            return "421 4.4.2 connection dropped"  # never reaches the client
        return await original(server, session, envelope)

    monkeypatch.setattr(handler, "handle_DATA", handle_DATA)
    return dropped
