"""Replies and copies: the `Re:` subject mail programs thread by, and the Cc/Bcc of a Reply-All.

Shared by the follow-up stage (a follow-up is a reply in the first email's thread) and the
introductions stage (the answer to an introduction), which may not import each other.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from email.headerregistry import Address

from outreach.mail.headers import _address_header
from outreach.mail.message import RenderedMessage

_REPLY_PREFIX = re.compile(r"^\s*((re|aw|sv|antw|fwd?|wg)\s*(\[\d+\])?\s*:\s*)+", re.I)


def thread_subject(subject: str | None) -> str:
    """The subject without reply prefixes: "Re: RE: Observership" -> "Observership"."""
    return _REPLY_PREFIX.sub("", subject or "").strip()


def reply_subject(original: str | None) -> str:
    """A reply's subject, as mail programs thread it: `Re: <subject>`, never "Re: Re:"."""
    return f"Re: {thread_subject(original)}"


def set_copies(rendered: RenderedMessage, *, cc: Sequence[Address] = (), bcc: Sequence[Address] = ()) -> None:
    """Replace a built message's Cc and Bcc (a Reply-All answer keeps the others in Cc and moves
    the introducer to Bcc). Bcc is for drafts the user sends from their mail program, which
    strips it; the SMTP sender never hands a message with Bcc to the server."""
    for name, addresses in (("Cc", cc), ("Bcc", bcc)):
        del rendered.message[name]
        if addresses:
            rendered.message.set_raw(name, _address_header(addresses))
