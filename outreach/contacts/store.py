"""The contact store: fields, tags, selection and the do-not-contact rule.

Address syntax lives in `addresses.py`, the suppression list in `suppression.py` (both
re-exported here).

Reading CSV files lives in `csv_import.py` (with `csv_read.py` and `fields.py`); everything that
later stages need to ask about a contact (who is selected, may we write to them, what fields
does a template see) lives here.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime, timezone
from typing import Any

from outreach.contacts.addresses import (  # noqa: F401 (re-exported)
    InvalidEmail,
    dedupe_key,
    email_domain,
    normalise_email,
)
from outreach.contacts.suppression import (  # noqa: F401 (re-exported)
    SuppressionIndex,
    add_suppression,
    list_suppressions,
    remove_suppression,
    suppression_reason,
)
from outreach.db import Database, parse_utc, record_event, utc_now
from outreach.errors import NotFoundError, OutreachError
from outreach.timezones import recipient_timezone

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
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet runs such cells (contacts/export.py)
EXPORT_COLUMNS = ("email",) + STANDARD_FIELDS + ("tags", "status", "stage", "is_role_address", "away_until", "replied_at", "source", "created_at", "updated_at")
ROLE_LOCAL_PARTS = frozenset(
    "info office admin admissions contact hello help hr jobs mail marketing noreply no-reply "
    "postmaster recruiting sales support team webmaster gme residency fellowship education "
    "observership observerships frontdesk reception secretary inquiries enquiries".split()
)


NEEDS_SMTPUTF8 = "needs SMTPUTF8 (non-ASCII before the @), which the SMTP server must offer; checked when the campaign starts"


def needs_smtputf8(email: str) -> bool:
    """An address whose local part is not ASCII (`zoë.adeyemi@...`): only servers that offer
    SMTPUTF8 (RFC 6531) can carry it. Domains are stored in their ASCII (IDNA) form already."""
    return not email.rpartition("@")[0].isascii()


def is_role_address(email: str) -> bool:
    """info@, office@ and the like reach a desk, not a person: flagged, never rejected."""
    return email.split("@", 1)[0].lower() in ROLE_LOCAL_PARTS


def _decode(row: Mapping[str, Any], tags: list[str]) -> dict[str, Any]:
    contact = dict(row)
    contact["custom"] = json.loads(contact.get("custom") or "{}")
    contact["tags"] = tags
    return contact


def _tags_by_contact(db: Database, contact_ids: Iterable[int]) -> dict[int, list[str]]:
    """Tags (sorted by name) of these contacts only; a selection reads them a batch at a time."""
    ids = sorted(set(contact_ids))
    if not ids:
        return {}
    # One index range over contact_tags' primary key covers the batch (ids outside it are dropped).
    rows = db.execute(
        "SELECT ct.contact_id, t.name FROM contact_tags ct JOIN tags t ON t.id = ct.tag_id"
        " WHERE ct.contact_id BETWEEN ? AND ? ORDER BY t.name",
        [ids[0], ids[-1]],
    ).fetchall()
    wanted = set(ids)
    tags: dict[int, list[str]] = {}
    for contact_id, name in rows:
        if contact_id in wanted:
            tags.setdefault(contact_id, []).append(name)
    return tags


def get_contact(db: Database, email: str) -> dict[str, Any] | None:
    """The contact with this address (any spelling that normalises the same), or None."""
    try:
        email = normalise_email(email)
    except InvalidEmail:
        return None
    rows = list(db.query("SELECT * FROM contacts WHERE email = ?", [email]))
    if not rows:
        rows = list(db.query("SELECT * FROM contacts WHERE lower(email) = ? ORDER BY id LIMIT 1", [dedupe_key(email)]))
    if not rows:
        return None
    return _decode(rows[0], _tags_by_contact(db, [rows[0]["id"]]).get(rows[0]["id"], []))


def get_contact_by_id(db: Database, contact_id: int) -> dict[str, Any] | None:
    rows = list(db.query("SELECT * FROM contacts WHERE id = ?", [contact_id]))
    return _decode(rows[0], _tags_by_contact(db, [contact_id]).get(contact_id, [])) if rows else None


def selection_sql(tags: Iterable[str], where: Mapping[str, str] | None) -> tuple[list[str], list[Any]]:
    """SQL conditions on `contacts c` for a tag/field selection, and their parameters.

    Tags are EXISTS lookups on contact_tags' primary key, so reading the selection a batch at a
    time costs the same per batch however many contacts carry the tag."""
    clauses, params = [], []
    for tag in tags:
        clauses.append(
            "EXISTS (SELECT 1 FROM contact_tags ct JOIN tags t ON t.id = ct.tag_id WHERE ct.contact_id = c.id AND t.name = ?)"
        )
        params.append(tag)
    for field, value in (where or {}).items():
        if field in STANDARD_FIELDS or field in ("email", "status", "stage", "outcome"):
            clauses.append(f"lower(c.[{field}]) = lower(?)")
        else:
            clauses.append("lower(json_extract(c.custom, ?)) = lower(?)")
            params.append(f'$."{field}"')
        params.append(value)
    return clauses, params


SELECT_BATCH = 1000  # contacts per query when a selection is read in batches


def iter_contacts(
    db: Database, *, tags: Iterable[str] = (), where: Mapping[str, str] | None = None, batch: int | None = None
) -> Iterator[dict[str, Any]]:
    """The selection of select_contacts, in id order, read `batch` contacts at a time.

    Memory stays flat in the number of contacts (a 1,000,000-row list is never held at once), and
    no read cursor stays open between batches, so the caller may write to the database while it
    iterates (each batch starts after the last id seen).
    """
    batch = batch or SELECT_BATCH
    clauses, params = selection_sql(tuple(tags), where)
    sql = "SELECT c.* FROM contacts c WHERE " + " AND ".join(["c.id > ?", *clauses]) + " ORDER BY c.id LIMIT ?"
    last = 0
    while True:
        rows = list(db.query(sql, [last, *params, batch]))
        if not rows:
            return
        tags_by_id = _tags_by_contact(db, (row["id"] for row in rows))
        for row in rows:
            yield _decode(row, tags_by_id.get(row["id"], []))
        if len(rows) < batch:
            return
        last = rows[-1]["id"]


def count_contacts(db: Database, *, tags: Iterable[str] = (), where: Mapping[str, str] | None = None) -> int:
    """How many contacts select_contacts would return, without reading them."""
    clauses, params = selection_sql(tuple(tags), where)
    sql = "SELECT count(*) FROM contacts c" + (" WHERE " + " AND ".join(clauses) if clauses else "")
    return db.execute(sql, params).fetchone()[0]


def select_contacts(
    db: Database, *, tags: Iterable[str] = (), where: Mapping[str, str] | None = None
) -> list[dict[str, Any]]:
    """Contacts carrying every tag in `tags` and matching every `field=value` in `where`.

    `where` matches standard columns exactly (case-insensitive) and custom CSV fields by name.
    A list for small selections; anything that can be long should use iter_contacts.
    """
    return list(iter_contacts(db, tags=tags, where=where))


def parse_where(items: Iterable[str]) -> dict[str, str]:
    """`--where field=value` options -> the `where` of select_contacts; ValueError if malformed."""
    where = {}
    for item in items:
        field, sep, value = item.partition("=")
        if not sep or not field.strip():
            raise ValueError(f"{item!r} is not FIELD=VALUE (e.g. --where state=NY)")
        where[field.strip()] = value.strip()
    return where


def template_fields(contact: Mapping[str, Any]) -> dict[str, Any]:
    """What a template sees of a contact: standard fields, then custom CSV columns by name.

    Standard fields win over a custom column of the same name.
    """
    fields: dict[str, Any] = dict(contact.get("custom") or {})
    fields.update({name: contact.get(name) for name in STANDARD_FIELDS})
    fields["email"] = contact.get("email")
    fields["tags"] = list(contact.get("tags") or [])
    return fields


def back_at(away_until: str | None, state: str | None, *, default_timezone: str) -> datetime | None:
    """When an away contact is back, as an instant: the start of their return day in their own
    time zone (from their US state), or a stored timestamp as it is; None when unknown."""
    if not away_until:
        return None
    if len(away_until) == 10:
        day = datetime.fromisoformat(away_until)
        return day.replace(tzinfo=recipient_timezone(state, default_timezone)).astimezone(timezone.utc)
    return parse_utc(away_until)


def add_tags(db: Database, contact_id: int, tags: Iterable[str]) -> None:
    for tag in {t.strip() for t in tags if t and t.strip()}:
        db.execute("INSERT OR IGNORE INTO tags (name) VALUES (?)", [tag])
        tag_id = db.execute("SELECT id FROM tags WHERE name = ?", [tag]).fetchone()[0]
        db.execute("INSERT OR IGNORE INTO contact_tags (contact_id, tag_id) VALUES (?, ?)", [contact_id, tag_id])


def remove_tags(db: Database, contact_id: int, tags: Iterable[str]) -> int:
    """Take tags off a contact; returns how many it actually had. Unused tags stay defined."""
    removed = 0
    for tag in {t.strip() for t in tags if t and t.strip()}:
        cursor = db.execute(
            "DELETE FROM contact_tags WHERE contact_id = ? AND tag_id = (SELECT id FROM tags WHERE name = ?)",
            [contact_id, tag],
        )
        removed += cursor.rowcount
    return removed


def require_contact(db: Database, email: str) -> dict[str, Any]:
    """Like get_contact, but a missing contact is an error that says how to find the right one."""
    contact = get_contact(db, email)
    if contact is None:
        raise NotFoundError(f"no contact {email!r}; see `outreach contacts list` for the addresses you have")
    return contact


def contact_history(db: Database, contact_id: int) -> dict[str, list[dict[str, Any]]]:
    """What happened with this contact: messages sent (any state), replies received, events."""
    messages = list(
        db.query(
            """SELECT m.id, c.name AS campaign, m.kind, m.step, m.subject, m.state, m.to_address,
                      m.message_id, m.queued_at, m.sent_at, m.failed_at, m.error
               FROM messages m LEFT JOIN campaigns c ON c.id = m.campaign_id
               WHERE m.contact_id = ? ORDER BY m.queued_at, m.id""",
            [contact_id],
        )
    )
    replies = list(
        db.query(
            """SELECT r.id, c.name AS campaign, r.kind, r.bounce_type, r.subject, r.snippet,
                      r.return_date, r.received_at
               FROM replies r LEFT JOIN campaigns c ON c.id = r.campaign_id
               WHERE r.contact_id = ? ORDER BY r.received_at, r.id""",
            [contact_id],
        )
    )
    events = [
        {**row, "detail": json.loads(row["detail"] or "{}")}
        for row in db.query("SELECT at, kind, detail FROM events WHERE contact_id = ? ORDER BY at, id", [contact_id])
    ]
    return {"messages": messages, "replies": replies, "events": events}


def delete_contact(db: Database, contact_id: int) -> None:
    """Forget a contact who has no mail history; one with history must be suppressed instead.

    Messages and replies point at the contact, and deleting it would make a later import look
    like a brand-new person who was never written to.
    """
    used = db.execute(
        """SELECT (SELECT count(*) FROM messages WHERE contact_id = :id)
                + (SELECT count(*) FROM replies WHERE contact_id = :id)
                + (SELECT count(*) FROM campaign_contacts WHERE contact_id = :id)""",
        {"id": contact_id},
    ).fetchone()[0]
    if used:
        raise OutreachError(
            "this contact is part of a campaign or has mail history, so it is kept for the record; "
            "use `outreach suppress add EMAIL` to make sure nothing is sent to it again"
        )
    db.execute("UPDATE contacts SET referred_by = NULL WHERE referred_by = ?", [contact_id])
    db.execute("UPDATE suggested_contacts SET referred_by = NULL WHERE referred_by = ?", [contact_id])
    db.execute("DELETE FROM events WHERE contact_id = ?", [contact_id])
    db.execute("DELETE FROM contact_tags WHERE contact_id = ?", [contact_id])
    db.execute("DELETE FROM contacts WHERE id = ?", [contact_id])


def set_contact_state(db: Database, contact_id: int, *, event: str, at: str | None = None, **changes: Any) -> None:
    """Change status/stage/away_until etc. and log it; call inside the caller's transaction.

    `changes` keys are column names chosen by our code, never by contact data."""
    at = at or utc_now()
    assignments = ", ".join(f"[{name}] = ?" for name in changes)
    db.execute(f"UPDATE contacts SET {assignments}, updated_at = ? WHERE id = ?", [*changes.values(), at, contact_id])
    record_event(db, event, contact_id=contact_id, at=at, **changes)


def mark_contacted(db: Database, message_row_id: int, at: str) -> None:
    """A sent first email moves its contact from stage `new` to `contacted` (never backwards).
    Call inside the caller's transaction (the outbox's, recording the send)."""
    db.execute(
        "UPDATE contacts SET stage = 'contacted', updated_at = ? WHERE stage = 'new' "
        "AND id = (SELECT contact_id FROM messages WHERE id = ? AND kind != 'test')",
        [at, message_row_id],
    )


NEVER_WRITE_STATUSES = ("bounced", "opted_out")


def do_not_contact_reason(
    db: Database, email: str, status: str | None, *, outcome: str | None = None, where: Mapping[str, str] | None = None,
    suppressions: SuppressionIndex | None = None,
) -> str | None:
    """Why this contact must never be written to (suppressed, bounced or opted out), or None.

    The one rule every sending path asks: when a campaign freezes its selection, and again right
    before each message goes. A selection also passes the contact's `outcome` and its `where`:
    someone who declined is left out of new campaigns unless the user names them (email=...).
    `suppressions`: the list read once, when asking this of a whole selection."""
    if reason := (suppressions.reason(email) if suppressions is not None else suppression_reason(db, email)):
        return reason
    if status in NEVER_WRITE_STATUSES:
        return f"status {status}"
    named = dedupe_key((where or {}).get("email", "")) == dedupe_key(email)
    if outcome == "declined" and not named:
        return "declined earlier (outcome); to write anyway, name them: --where email=" + email
    return None


def spreadsheet_safe(value: Any) -> Any:
    """A cell a spreadsheet will show as text: `=HYPERLINK(...)` becomes `'=HYPERLINK(...)`.

    Excel, LibreOffice and Google Sheets run cells that start with = + - @ (or tab/CR) as formulas,
    which lets a hostile value in a contact list run code or leak data when the export is opened.
    """
    if isinstance(value, str) and value.lstrip("'").startswith(FORMULA_PREFIXES):
        return "'" + value  # also `'=x`, so that import can take exactly one ' off again
    return value


def person_name(contact: Mapping[str, Any]) -> str:
    """"Dr. Emeka Eze", else the address: how a contact is named to the user and in letters."""
    name = " ".join(p for p in (contact.get("title"), contact.get("first_name"), contact.get("last_name")) if p)
    return name or contact["email"]
