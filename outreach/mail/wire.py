"""The bytes of a message as they go on the wire: the email package's writer, with two shortcuts.

Every message the product sends or saves is written here (RenderedMessage.as_bytes), with the
SMTP policy: CRLF line ends, headers as the builder stored them (mail/message.py).
"""

from __future__ import annotations

from email import policy as email_policy
from email.generator import BytesGenerator
from email.message import Message
from io import BytesIO
from typing import Any

# SMTP line endings. Headers are stored already encoded and folded by the email package's own
# encoders (formataddr, Header, encode_rfc2231), so the policy must not re-fold them.
POLICY = email_policy.SMTP.clone(refold_source="none")
# Messages to an address with non-ASCII before the @ (RFC 6531/6532, sent only with SMTPUTF8):
# their address headers are UTF-8, so they are written with utf8=True.
POLICY_UTF8 = POLICY.clone(utf8=True)


def wire_bytes(message: Message, *, utf8: bool) -> bytes:
    """What `message.as_bytes(policy=POLICY or POLICY_UTF8)` writes, byte for byte, faster."""
    buffer = BytesIO()
    _Generator(buffer, mangle_from_=False, policy=POLICY_UTF8 if utf8 else POLICY).flatten(message)
    return buffer.getvalue()


class _Generator(BytesGenerator):
    """The email package's writer, except that an attachment's body, the same in every message,
    is written as one block of bytes encoded once (written line by line, a CV's base64 took
    more than half of writing each message), and an ASCII text body is written directly."""

    def _handle_text(self, msg: Any) -> None:
        encoded = getattr(msg, "encoded_body", None)
        if encoded is not None and self._NL == "\r\n":  # type: ignore[attr-defined]
            self._fp.write(encoded)  # type: ignore[attr-defined]
            return
        payload = msg._payload
        if isinstance(payload, str) and payload.isascii() and not self._mangle_from_:  # type: ignore[attr-defined]
            # What the email package writes for such a body, without its get_payload(), which
            # parses Content-Transfer-Encoding into a header object first: a third of the time
            # writing a text message took. Any other body takes the package's own path.
            self._write_lines(payload)  # type: ignore[attr-defined]
            return
        super()._handle_text(msg)  # type: ignore[misc]

    _writeBody = _handle_text  # what the generator calls for a non-text part (an attachment)
