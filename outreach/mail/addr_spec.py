"""What a plain email address looks like, as regular expressions (no email package, so the
contact store can ask without loading it).

A plain address is a dot-atom local part (RFC 5322: letters, digits and !#$%&'*+/=?^_`{|}~-,
dots only between them) at a domain of letter-digit-hyphen labels. The email package's parser
would read such an address into exactly those two parts, and normalising it changes nothing but
letter case; anything else (quotes, non-ASCII, odd dots) goes the long way, through the parser
or email-validator.
"""

from __future__ import annotations

import re

DOT_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
LDH_DOMAIN = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+"

PLAIN_LOCAL_PART = re.compile(DOT_ATOM + r"\Z")
PLAIN_ADDRESS = re.compile(DOT_ATOM + "@" + LDH_DOMAIN + r"\Z")
