"""Who may change a contact's state by answering our message to them.

Threading headers (In-Reply-To, References) are written by whoever replies, so they prove only
that the writer saw our message, not that they are the person we wrote to: a forwarded letter,
a mailing list or a forger can name contact A's Message-ID. A reply may change A's state
(replied, opted out, away, suppressed) only when it comes from A, from someone at A's
organisation (same registrable domain, per the Public Suffix List, and not a free-mail
provider where everyone shares the domain), or when its own headers name A as the author it
writes for (From, Sender or Reply-To carry A's address). Anything else is evidence about the
writer, not about A.
"""

from __future__ import annotations

from email.utils import getaddresses
from functools import lru_cache
from typing import Any, Protocol

# Providers where one domain holds millions of unrelated people: the same domain says nothing.
FREE_MAIL = frozenset(
    """gmail.com googlemail.com yahoo.com ymail.com rocketmail.com outlook.com hotmail.com live.com msn.com
    icloud.com me.com mac.com aol.com protonmail.com protonmail.ch proton.me pm.me gmx.com gmx.net gmx.de
    web.de mail.com email.com yandex.com yandex.ru mail.ru qq.com 163.com 126.com yeah.net sina.com zoho.com
    rediffmail.com fastmail.com hey.com tutanota.com tuta.io naver.com daum.net hanmail.net comcast.net
    verizon.net att.net sbcglobal.net btinternet.com orange.fr free.fr laposte.net libero.it t-online.de""".split()
)
FREE_MAIL_BRANDS = frozenset({"gmail", "googlemail", "yahoo", "hotmail", "outlook", "live", "aol", "gmx", "yandex"})


class Headers(Protocol):
    def get_all(self, name: str, default: Any = None) -> list[str] | None: ...


@lru_cache(maxsize=1)
def _suffixes() -> Any:
    from publicsuffixlist import PublicSuffixList  # parsing the list takes ~0.2 s: only when needed

    return PublicSuffixList()


@lru_cache(maxsize=4096)
def organisation(address: str) -> str | None:
    """The registrable domain of an address (`jane@mail.mercy.org.uk` -> `mercy.org.uk`), or
    None where a domain does not tell an organisation apart (free mail, a bare suffix)."""
    domain = address.rpartition("@")[2].strip().rstrip(".").lower()
    if not domain:
        return None
    registrable = _suffixes().privatesuffix(domain)
    if registrable is None or registrable in FREE_MAIL or registrable.split(".")[0] in FREE_MAIL_BRANDS:
        return None
    return registrable


def writes_for(header: Headers, sender: str, recipient: str) -> str | None:
    """None when a reply from `sender` may speak for `recipient` (the person we wrote to);
    otherwise the reason it may not, for the record."""
    sender, recipient = sender.strip().lower(), recipient.strip().lower()
    if not recipient or sender == recipient:
        return None
    named = {a.lower() for _, a in getaddresses([str(v) for n in ("From", "Sender", "Reply-To") for v in header.get_all(n) or []])}
    if recipient in named:
        return None  # written by or for them ("Sent on behalf of", an assistant's Reply-To)
    org = organisation(recipient)
    if org is not None and organisation(sender) == org:
        return None
    return f"from {sender or 'an unknown sender'}, not from {recipient} or their organisation"
