"""Suggested contacts: people a human reply introduces (a colleague copied in, an address named
in the reply's own words), offered in `replies list` and added with the referral recorded."""

from __future__ import annotations

import re
from collections.abc import Iterable
from email.utils import getaddresses
from typing import Any

from outreach.contacts.store import InvalidEmail, add_tags, get_contact, normalise_email
from outreach.db import Database, record_event, utc_now
from outreach.errors import NotFoundError

_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_NO_REPLY_LOCALS = {"noreply", "no-reply", "donotreply", "do-not-reply"}
_NAME_BEFORE = re.compile(r"((?:(?:Dr|Mr|Mrs|Ms|Prof)\.?\s+)?[A-Z][\w'-]+(?:\s+[A-Z][\w'-]+){0,2})\s*[(<\[:,-]?\s*$")


def suggest_contacts(
    db: Database, *, recipients: list[str], text: str, excluded: set[str], referrer_id: int, reply_id: int, at: str
) -> list[str]:
    """Record the new people in a reply's To/Cc header values and its own words (`text`),
    skipping `excluded` addresses (us, the writer) and anyone already a contact. Call inside the
    reply's transaction. Returns the addresses suggested."""
    if "@" not in text and len(recipients) <= 1 and "," not in "".join(recipients):
        return []  # to us alone, naming nobody: the common case, kept cheap
    # lazy: start-up time (a poll with nothing new suggests nothing)
    from outreach.classify.bounces import is_daemon_address
    from outreach.classify.reply_text import readable

    found: dict[str, str | None] = {}
    for display, address in getaddresses([str(v) for v in recipients]):
        found.setdefault(address, readable(display) or None)
    for match in _EMAIL.finditer(text):
        found.setdefault(match.group(0).rstrip("."), _name_before(text, match.start()))
    added = []
    for raw, name in found.items():
        try:
            email = normalise_email(raw)
        except InvalidEmail:
            continue
        if email.lower() in excluded or email.split("@")[0].lower() in _NO_REPLY_LOCALS or is_daemon_address(email):
            continue
        if db.execute("SELECT 1 FROM contacts WHERE lower(email) = lower(?)", [email]).fetchone():
            continue
        cursor = db.execute(
            """INSERT OR IGNORE INTO suggested_contacts (email, name, referred_by, reply_id, status, created_at)
               VALUES (?, ?, ?, ?, 'suggested', ?)""",
            [email, name, referrer_id, reply_id, at],
        )
        if cursor.rowcount:
            record_event(db, "contact_suggested", contact_id=referrer_id, at=at, email=email, reply_id=reply_id)
            added.append(email)
    return added


def _name_before(text: str, position: int) -> str | None:
    """"Maria Lopez (maria@x.org)" or "Dr. Maria Lopez <maria@x.org>" -> the name; else None."""
    line = text[:position].rsplit("\n", 1)[-1][-60:]
    match = _NAME_BEFORE.search(line)
    if not match:
        return None
    words = [w for w in match.group(1).split() if w.lower() not in {"contact", "email", "write", "reach", "to", "at"}]
    return " ".join(words) if len(words) >= 2 else None


def list_suggestions(db: Database, *, status: str | None = "suggested") -> list[dict[str, Any]]:
    """Suggested new contacts with who referred them (one row per referral)."""
    sql = """SELECT s.email, s.name, s.status, s.created_at, s.reply_id, c.email AS referred_by,
                    c.hospital AS referrer_hospital
             FROM suggested_contacts s LEFT JOIN contacts c ON c.id = s.referred_by"""
    params: list[Any] = []
    if status:
        sql += " WHERE s.status = ?"
        params.append(status)
    return list(db.query(sql + " ORDER BY s.created_at, s.id", params))


def add_suggested(db: Database, email: str, *, tags: Iterable[str] = ()) -> dict[str, Any]:
    """Turn a suggestion into a contact, recording who referred them. Returns the contact row."""
    email = normalise_email(email)
    rows = list(
        db.query(
            """SELECT s.*, c.hospital, c.city, c.state, c.specialty, c.email AS referrer_email
               FROM suggested_contacts s LEFT JOIN contacts c ON c.id = s.referred_by
               WHERE lower(s.email) = lower(?) ORDER BY s.status = 'suggested' DESC, s.id DESC""",
            [email],
        )
    )
    if not rows:
        raise NotFoundError(f"{email} is not among the suggested contacts: see `outreach replies list`")
    suggestion = rows[0]
    now = utc_now()
    with db.atomic():
        existing = get_contact(db, email)
        if existing:
            contact_id = existing["id"]
            if not existing.get("referred_by"):
                db.table("contacts").update(contact_id, {"referred_by": suggestion["referred_by"], "updated_at": now})
        else:
            title, first, last = _split_name(suggestion["name"])
            row: dict[str, Any] = {
                "email": email, "title": title, "first_name": first, "last_name": last,
                "referred_by": suggestion["referred_by"], "source": f"suggested by {suggestion['referrer_email']}",
                "status": "active", "stage": "new", "created_at": now, "updated_at": now,
            }
            if suggestion["referrer_email"] and email.split("@")[1] == suggestion["referrer_email"].split("@")[1]:
                row.update({k: suggestion[k] for k in ("hospital", "city", "state")})  # same institution
            contact_id = db.table("contacts").insert(row).last_pk
        add_tags(db, contact_id, tags)
        db.execute("UPDATE suggested_contacts SET status = 'added' WHERE lower(email) = lower(?)", [email])
        record_event(db, "added_from_suggestion", contact_id=contact_id, referred_by=suggestion["referred_by"],
                     reply_id=suggestion["reply_id"])
    return get_contact(db, email) or {}


def dismiss_suggested(db: Database, email: str) -> int:
    """Hide a suggestion from `replies list`. Returns how many referrals were dismissed."""
    with db.atomic():
        cursor = db.execute(
            "UPDATE suggested_contacts SET status = 'dismissed' WHERE lower(email) = lower(?) AND status = 'suggested'",
            [email.strip()],
        )
    if cursor.rowcount == 0:
        raise NotFoundError(f"{email} is not among the open suggestions: see `outreach replies list`")
    return cursor.rowcount


def _split_name(name: str | None) -> tuple[str | None, str | None, str | None]:
    """"Dr. Maria Lopez" -> ("Dr.", "Maria", "Lopez")."""
    words = (name or "").replace(",", " ").split()
    title = None
    if words and words[0].rstrip(".").lower() in ("dr", "prof", "mr", "mrs", "ms"):
        title = words.pop(0)
        title = title if title.endswith(".") else title + "."
    if not words:
        return title, None, None
    if len(words) == 1:
        return title, words[0], None
    return title, " ".join(words[:-1]), words[-1]
