"""Introductions arriving: an alumnus we asked for an introduction answers by copying the target
in, forwarding our paragraph to them, or naming them (an address in the reply's own words).

Called from the reply-storing path (`replies/store.py`), inside the reply's transaction, for a
human reply from a contact with an open introduction request, so `replies poll` and `replies
import` both see it. The target becomes (or is matched to) a contact with `introduced_by` the
alumnus, and the introduction message is remembered (Message-ID, References, everyone on it) so
the answer goes out in its thread (outreach/intros/answer.py).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from email.utils import getaddresses
from typing import Any

from outreach.contacts.store import InvalidEmail, normalise_email
from outreach.db import Database, record_event
from outreach.replies.suggestions import _EMAIL, _name_before, _split_name

_FORWARD = re.compile(r"^\s*(fwd?|wg|tr)\s*:", re.I)


@dataclass(frozen=True)
class Person:
    name: str | None
    email: str
    field: str  # From, To, Cc, or text


def capture_introduction(
    db: Database, *, header: Any, text: str, alumnus: dict[str, Any], own: set[str], reply_id: int, received_at: str, at: str
) -> list[str]:
    """Record the introduction this reply makes, if it answers an open request. Returns effects."""
    requests = list(db.query("SELECT * FROM intro_requests WHERE alumnus_id = ? AND status = 'asked' ORDER BY id", [alumnus["id"]]))
    if not requests:
        return []
    # lazy: start-up time (most replies answer no introduction request)
    from outreach.classify.reply_text import readable

    people = _people(header, text, excluded=own | {alumnus["email"].lower()}, readable=readable)
    for request in requests:
        found = _target_in(db, request, people, text)
        if found is None:
            continue
        person, how = found
        if how != "named" and _FORWARD.match(str(header.get("Subject") or "")):
            how = "forward"
        contact_id = _contact(db, person, request, alumnus, at)
        everyone = [{"name": p.name, "email": p.email} for p in people if p.field != "text"]
        refs = " ".join(str(header.get("References") or "").split())
        message_id = (header.get("Message-ID") or "").strip() or None
        cursor = db.execute(
            """INSERT OR IGNORE INTO introductions (contact_id, introducer_id, request_id, reply_id, how, rfc_message_id, refs,
                   subject, recipients, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [contact_id, alumnus["id"], request["id"], reply_id, how, message_id, refs, readable(header.get("Subject")),
             json.dumps(everyone), received_at],
        )
        db.execute("UPDATE intro_requests SET status = 'introduced', target_id = ? WHERE id = ?", [contact_id, request["id"]])
        if cursor.rowcount:
            record_event(db, "introduced", contact_id=contact_id, at=at, introduced_by=alumnus["id"], reply_id=reply_id, how=how)
            return [f"introduction to {person.email} ({how})"]
    return []


def _people(header: Any, text: str, *, excluded: set[str], readable: Any) -> list[Person]:
    """Everyone on the message but us and the alumnus, then the addresses named in its words."""
    out: dict[str, Person] = {}
    for field in ("To", "Cc"):
        for name, raw in getaddresses([str(v) for v in header.get_all(field) or []]):
            _add(out, readable(name) or None, raw, field, excluded)
    for match in _EMAIL.finditer(text or ""):
        _add(out, _name_before(text, match.start()), match.group(0).rstrip("."), "text", excluded)
    return list(out.values())


def _add(out: dict[str, Person], name: str | None, raw: str, field: str, excluded: set[str]) -> None:
    try:
        email = normalise_email(raw)
    except InvalidEmail:
        return
    if email.lower() not in excluded and email.lower() not in out:
        out[email.lower()] = Person(name, email, field)


def _target_in(db: Database, request: dict[str, Any], people: list[Person], text: str) -> tuple[Person, str] | None:
    """The person on the message who is this request's target, and how they were introduced."""
    if not people:
        return None
    if request["target_id"]:
        row = db.execute("SELECT email FROM contacts WHERE id = ?", [request["target_id"]]).fetchone()
        wanted = row[0].lower() if row else ""
        match = next((p for p in people if p.email.lower() == wanted), None)
        return (match, "named" if match.field == "text" else "cc") if match else None
    surname = (_split_name(request["target_name"])[2] or _split_name(request["target_name"])[1] or "").lower()
    named = [p for p in people if surname and (surname in (p.name or "").lower() or surname in p.email.lower())]
    if len(named) == 1:
        return named[0], "named" if named[0].field == "text" else "cc"
    on_message = [p for p in people if p.field != "text"]
    if len(on_message) == 1 and (not surname or surname in (text or "").lower() or on_message[0].field == "To"):
        return on_message[0], "cc"  # the one other person the alumnus wrote to
    return None


def _contact(db: Database, person: Person, request: dict[str, Any], alumnus: dict[str, Any], at: str) -> int:
    """The target's contact id: matched by address (introduced_by set if empty), else added."""
    row = db.execute("SELECT id, introduced_by FROM contacts WHERE lower(email) = lower(?)", [person.email]).fetchone()
    if row:
        if row[1] is None:
            db.execute("UPDATE contacts SET introduced_by = ?, updated_at = ? WHERE id = ?", [alumnus["id"], at, row[0]])
        return row[0]
    title, first, last = _split_name(person.name or request["target_name"])
    contact = {
        "email": person.email, "title": title, "first_name": first, "last_name": last, "hospital": request["target_hospital"],
        "introduced_by": alumnus["id"], "source": f"introduced by {alumnus['email']}", "status": "active", "stage": "new",
        "created_at": at, "updated_at": at,
    }
    if not request["target_hospital"] and person.email.split("@")[1] == alumnus["email"].split("@")[1]:
        contact.update(hospital=alumnus.get("hospital"), city=alumnus.get("city"), state=alumnus.get("state"))
    contact_id = db.table("contacts").insert(contact).last_pk
    assert contact_id is not None  # an insert always has a key
    return contact_id
