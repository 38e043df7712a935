"""Email addresses: syntax validation, normalisation and identity (shared by the contact store
and the suppression list, which both import it)."""

from __future__ import annotations

from outreach.mail.addr_spec import PLAIN_LOCAL_PART  # plain ASCII local parts need no normalisation beyond it


class InvalidEmail(ValueError):
    """An address that fails syntax validation; the message is the human-readable reason."""


_VALID_DOMAINS: dict[str, str] = {}  # domain as typed -> normalised, filled by email-validator


def normalise_email(text: str | None) -> str:
    """Trim, validate the syntax (no DNS lookups) and lower-case the domain.

    email-validator checks every address; once it has accepted a domain, further plain ASCII
    addresses at that domain skip its slow IDNA checks (a 100,000-row list has a few hundred
    domains), with the same result.
    """
    candidate = (text or "").strip().strip("<>").strip()
    if not candidate:
        raise InvalidEmail("email is blank")
    if any(ch in candidate for ch in "\r\n\0"):
        raise InvalidEmail("email contains a line break")
    local, _, domain = candidate.rpartition("@")
    known = _VALID_DOMAINS.get(domain)
    if known and len(local) <= 64 and len(local) + len(known) < 254 and PLAIN_LOCAL_PART.match(local):
        return f"{local}@{known}"
    from email_validator import EmailNotValidError, validate_email  # lazy: start-up time (its regexes)

    try:
        result = validate_email(candidate, check_deliverability=False)
    except EmailNotValidError as error:
        raise InvalidEmail(f"invalid email {candidate!r}: {error}") from None
    normalised = result.ascii_domain.lower()
    if len(_VALID_DOMAINS) < 100_000:
        _VALID_DOMAINS[domain] = normalised
    return f"{result.local_part}@{normalised}"


def email_domain(email: str) -> str:
    return email.rsplit("@", 1)[-1].lower()


def dedupe_key(email: str) -> str:
    """The identity of an address: the whole address lower-cased.

    RFC 5321 lets a server treat `Jane.Okafor@` and `jane.okafor@` as different mailboxes, but no
    real provider does, and a list with both spellings means one person. So contacts and
    suppressions match case-insensitively; the first spelling seen is the one kept.
    """
    return email.lower()
