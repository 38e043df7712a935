"""The suppression list: addresses and whole domains that must never be written to."""

from __future__ import annotations

from typing import Any

from outreach.contacts.addresses import InvalidEmail, dedupe_key, email_domain, normalise_email
from outreach.db import Database, utc_now
from outreach.mail.addr_spec import PLAIN_ADDRESS


def _suppression_key(value: str) -> tuple[str, str]:
    """An address normalises like a contact's (and matches any letter case); anything without @
    is a domain, which also covers its subdomains."""
    value = value.strip()
    if "@" in value.lstrip("@"):
        return dedupe_key(normalise_email(value)), "address"
    domain = value.lstrip("@").strip().lower().rstrip(".")
    if not domain or "." not in domain or any(ch.isspace() for ch in domain):
        raise InvalidEmail(f"{value!r} is neither an email address nor a domain")
    return domain, "domain"


def add_suppression(db: Database, value: str, *, reason: str | None = None, source: str = "manual") -> bool:
    """Suppress an address or a whole domain. True if it was new."""
    key, kind = _suppression_key(value)
    cursor = db.execute(
        "INSERT OR IGNORE INTO suppressions (value, kind, reason, source, created_at) VALUES (?, ?, ?, ?, ?)",
        [key, kind, reason, source, utc_now()],
    )
    return cursor.rowcount == 1


def _suppression_candidates(email: str) -> list[str]:
    """The keys that would cover this address: itself, then each parent domain
    (a@dept.mercy.example.org is covered by dept.mercy.example.org, mercy.example.org, example.org)."""
    key = dedupe_key(email)
    parts = email_domain(key).split(".")
    return [key] + [".".join(parts[i:]) for i in range(len(parts) - 1)]


def _candidates_for(email: str) -> list[str] | None:
    """_suppression_candidates of the normalised address; None when it is not an address. A plain
    ASCII one skips the validator: the send run asks this before every message, and validating
    each new domain cost 50 us."""
    if not PLAIN_ADDRESS.match(email):  # normalising a plain one changes nothing the lower-cased keys depend on
        try:
            email = normalise_email(email)
        except InvalidEmail:
            return None
    return _suppression_candidates(email)


def _describe_suppression(value: str, kind: str, why: str) -> str:
    what = "address" if kind == "address" else f"domain {value}"
    return f"suppressed {what} ({why})"


def suppression_reason(db: Database, email: str) -> str | None:
    """Why this address must never be written to, or None. Checks the address and its domain(s)."""
    candidates = _candidates_for(email)
    if candidates is None:
        return None
    marks = ",".join("?" * len(candidates))
    row = db.execute(f"SELECT value, kind, reason, source FROM suppressions WHERE value IN ({marks}) LIMIT 1", candidates).fetchone()
    if not row:
        return None
    value, kind, reason, source = row
    return _describe_suppression(value, kind, reason or source)


def list_suppressions(db: Database) -> list[dict[str, Any]]:
    return list(db.query("SELECT value, kind, reason, source, created_at FROM suppressions ORDER BY value"))


def remove_suppression(db: Database, value: str) -> bool:
    """Lift a suppression (the exact address or domain that was added). True if it existed."""
    key, _ = _suppression_key(value)
    return db.execute("DELETE FROM suppressions WHERE value = ?", [key]).rowcount == 1


class SuppressionIndex:
    """Every suppression in memory, for checking thousands of addresses without a query each."""

    def __init__(self, db: Database) -> None:
        self._entries = {row[0]: (row[1], row[2] or row[3]) for row in db.execute("SELECT value, kind, reason, source FROM suppressions")}

    def reason(self, email: str) -> str | None:
        """suppression_reason without the query: the same answer for the same address."""
        if not self._entries:  # the usual case: nothing suppressed, nothing to normalise
            return None
        for candidate in _candidates_for(email) or ():
            if candidate in self._entries:
                kind, why = self._entries[candidate]
                return _describe_suppression(candidate, kind, why)
        return None
