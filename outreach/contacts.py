"""The contact store: normalised addresses, fields, tags, selection and the suppression list.

Reading CSV files lives in `csv_import.py`; everything that later stages need to ask about a
contact (who is selected, may we write to them, what fields does a template see) lives here.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from email_validator import EmailNotValidError, validate_email
from sqlite_utils import Database

from .db import record_event, utc_now

STANDARD_FIELDS = (
    "title",
    "first_name",
    "middle_name",
    "last_name",
    "suffix",
    "specialty",
    "hospital",
    "city",
    "state",
    "medical_school",
    "graduation_year",
    "npi",
    "notes",
)
ROLE_LOCAL_PARTS = frozenset(
    "info office admin admissions contact hello help hr jobs mail marketing noreply no-reply "
    "postmaster recruiting sales support team webmaster gme residency fellowship education "
    "observership observerships frontdesk reception secretary inquiries enquiries".split()
)


class InvalidEmail(ValueError):
    """An address that fails syntax validation; the message is the human-readable reason."""


def normalise_email(text: str | None) -> str:
    """Trim, validate the syntax (no DNS lookups) and lower-case the domain."""
    candidate = (text or "").strip().strip("<>").strip()
    if not candidate:
        raise InvalidEmail("email is blank")
    if any(ch in candidate for ch in "\r\n\0"):
        raise InvalidEmail("email contains a line break")
    try:
        result = validate_email(candidate, check_deliverability=False)
    except EmailNotValidError as error:
        raise InvalidEmail(f"invalid email {candidate!r}: {error}") from None
    return f"{result.local_part}@{result.ascii_domain.lower()}"


def email_domain(email: str) -> str:
    return email.rsplit("@", 1)[-1].lower()


def is_role_address(email: str) -> bool:
    """info@, office@ and the like reach a desk, not a person: flagged, never rejected."""
    return email.split("@", 1)[0].lower() in ROLE_LOCAL_PARTS


def _decode(row: Mapping[str, Any], tags: list[str]) -> dict[str, Any]:
    contact = dict(row)
    contact["custom"] = json.loads(contact.get("custom") or "{}")
    contact["tags"] = tags
    return contact


def _tags_by_contact(db: Database, contact_ids: Iterable[int] | None = None) -> dict[int, list[str]]:
    sql = "SELECT ct.contact_id, t.name FROM contact_tags ct JOIN tags t ON t.id = ct.tag_id"
    tags: dict[int, list[str]] = {}
    for contact_id, name in db.execute(sql + " ORDER BY t.name").fetchall():
        tags.setdefault(contact_id, []).append(name)
    if contact_ids is not None:
        wanted = set(contact_ids)
        tags = {k: v for k, v in tags.items() if k in wanted}
    return tags


def get_contact(db: Database, email: str) -> dict[str, Any] | None:
    """The contact with this address (any spelling that normalises the same), or None."""
    try:
        email = normalise_email(email)
    except InvalidEmail:
        return None
    rows = list(db.query("SELECT * FROM contacts WHERE email = ?", [email]))
    if not rows:
        return None
    return _decode(rows[0], _tags_by_contact(db, [rows[0]["id"]]).get(rows[0]["id"], []))


def get_contact_by_id(db: Database, contact_id: int) -> dict[str, Any] | None:
    rows = list(db.query("SELECT * FROM contacts WHERE id = ?", [contact_id]))
    return _decode(rows[0], _tags_by_contact(db, [contact_id]).get(contact_id, [])) if rows else None


def select_contacts(
    db: Database, *, tags: Iterable[str] = (), where: Mapping[str, str] | None = None
) -> list[dict[str, Any]]:
    """Contacts carrying every tag in `tags` and matching every `field=value` in `where`.

    `where` matches standard columns exactly (case-insensitive) and custom CSV fields by name.
    """
    clauses, params = [], []
    for tag in tags:
        clauses.append(
            "id IN (SELECT ct.contact_id FROM contact_tags ct JOIN tags t ON t.id = ct.tag_id WHERE t.name = ?)"
        )
        params.append(tag)
    for field, value in (where or {}).items():
        if field in STANDARD_FIELDS or field in ("email", "status", "stage"):
            clauses.append(f"lower([{field}]) = lower(?)")
        else:
            clauses.append("lower(json_extract(custom, ?)) = lower(?)")
            params.append(f'$."{field}"')
        params.append(value)
    sql = "SELECT * FROM contacts" + (" WHERE " + " AND ".join(clauses) if clauses else "") + " ORDER BY id"
    rows = list(db.query(sql, params))
    tags_by_id = _tags_by_contact(db)
    return [_decode(row, tags_by_id.get(row["id"], [])) for row in rows]


def template_fields(contact: Mapping[str, Any]) -> dict[str, Any]:
    """What a template sees of a contact: standard fields, then custom CSV columns by name.

    Standard fields win over a custom column of the same name.
    """
    fields: dict[str, Any] = dict(contact.get("custom") or {})
    fields.update({name: contact.get(name) for name in STANDARD_FIELDS})
    fields["email"] = contact.get("email")
    fields["tags"] = list(contact.get("tags") or [])
    return fields


def add_tags(db: Database, contact_id: int, tags: Iterable[str]) -> None:
    for tag in {t.strip() for t in tags if t and t.strip()}:
        db.execute("INSERT OR IGNORE INTO tags (name) VALUES (?)", [tag])
        tag_id = db.execute("SELECT id FROM tags WHERE name = ?", [tag]).fetchone()[0]
        db.execute("INSERT OR IGNORE INTO contact_tags (contact_id, tag_id) VALUES (?, ?)", [contact_id, tag_id])


def set_contact_state(db: Database, contact_id: int, *, event: str, **changes: Any) -> None:
    """Change status/stage/away_until etc. and log it; call inside the caller's transaction."""
    changes["updated_at"] = utc_now()
    db.table("contacts").update(contact_id, changes)
    record_event(db, event, contact_id=contact_id, **{k: v for k, v in changes.items() if k != "updated_at"})


# --- Suppression ---------------------------------------------------------------------------


def _suppression_key(value: str) -> tuple[str, str]:
    """An address normalises like a contact's; anything without @ is a domain."""
    value = value.strip()
    if "@" in value.lstrip("@"):
        return normalise_email(value), "address"
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


def suppression_reason(db: Database, email: str) -> str | None:
    """Why this address must never be written to, or None. Checks the address and its domain(s)."""
    try:
        email = normalise_email(email)
    except InvalidEmail:
        return None
    domain = email_domain(email)
    parts = domain.split(".")
    candidates = [email] + [".".join(parts[i:]) for i in range(len(parts) - 1)]
    marks = ",".join("?" * len(candidates))
    row = db.execute(f"SELECT value, kind, reason, source FROM suppressions WHERE value IN ({marks}) LIMIT 1", candidates).fetchone()
    if not row:
        return None
    value, kind, reason, source = row
    what = "address" if kind == "address" else f"domain {value}"
    return f"suppressed {what} ({reason or source})"


def list_suppressions(db: Database) -> list[dict[str, Any]]:
    return list(db.query("SELECT value, kind, reason, source, created_at FROM suppressions ORDER BY value"))
