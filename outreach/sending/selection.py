"""Who a campaign writes to: the selection rules (never-write rules, another campaign with the same
template, a conversation already going on, SMTPUTF8), one rule for the plan, the dry run and the
freeze. Split out of sending/campaigns.py, which re-exports these names.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from outreach.contacts.conversation import conversation_reason, replied_dates
from outreach.contacts.store import (
    NEEDS_SMTPUTF8,
    SuppressionIndex,
    dedupe_key,
    do_not_contact_reason,
    get_contact_by_id,
    needs_smtputf8,
    select_contacts,
)
from outreach.db import Database

if TYPE_CHECKING:
    from outreach.sending.freeze import Planned

CONTACTED_STATES = ("queued", "deferred", "sending", "uncertain", "sent", "bounced")
"""A message in one of these states means the contact has been (or is being) written to."""


@dataclass
class Selection:
    """Who a campaign would write to, and who it skips and why."""

    included: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[tuple[dict[str, Any], str]] = field(default_factory=list)


def _already_contacted(db: Database, campaign: Mapping[str, Any]) -> dict[int, str]:
    """Contacts another campaign has written to (or is writing to) with the same template."""
    marks = ",".join("?" * len(CONTACTED_STATES))
    sql = f"""SELECT m.contact_id, c.name, m.state FROM messages m JOIN campaigns c ON c.id = m.campaign_id
              WHERE m.template = ? AND m.campaign_id != ? AND m.kind != 'test' AND m.state IN ({marks})
                AND c.status != 'draft'"""
    template = campaign["template"]
    return {
        cid: f"already queued with template {template!r} in campaign {name!r}" if state in ("queued", "deferred")
        else f"already sent template {template!r} in campaign {name!r}"
        for cid, name, state in db.execute(sql, [template, campaign["id"], *CONTACTED_STATES]).fetchall()
    }


def _named(selection: Mapping[str, Any], contact: Mapping[str, Any]) -> bool:
    """The user named this very contact (`--where email=...`): they mean to write to them."""
    named = (selection.get("where") or {}).get("email", "")
    return bool(named) and dedupe_key(named) == dedupe_key(contact["email"])


def skip_reasons(
    db: Database, campaign: Mapping[str, Any], *, smtputf8: bool = False
) -> Callable[[Mapping[str, Any]], str | None]:
    """Why the campaign would not write to a selected contact (None: it would): never-write rules,
    another campaign with the same template, a conversation already going on, an address that
    needs SMTPUTF8 when the server (`smtputf8`) does not offer it. One rule for the plan, the dry
    run and the freeze."""
    selection = campaign["selection"]
    elsewhere = _already_contacted(db, campaign)
    include_replied = bool(campaign["options"].get("include_replied"))
    suppressions, replied = SuppressionIndex(db), replied_dates(db)  # read once, not a query per contact

    def reason_for(contact: Mapping[str, Any]) -> str | None:
        reason = do_not_contact_reason(db, contact["email"], contact["status"], outcome=contact.get("outcome"),
                                       where=selection.get("where"), suppressions=suppressions)
        if reason is None and contact["id"] in elsewhere:
            reason = elsewhere[contact["id"]]
        if reason is None and not include_replied and not _named(selection, contact):
            reason = conversation_reason(db, contact, replied=replied)
        if reason is None and not smtputf8 and needs_smtputf8(contact["email"]):
            reason = NEEDS_SMTPUTF8  # skipped with its reason, never a template problem for the whole campaign
        return reason

    return reason_for


def plan_selection(db: Database, campaign: Mapping[str, Any], *, smtputf8: bool = False) -> Selection:
    """Who the campaign would write to if it started now. Pure read: nothing is stored.
    `smtputf8`: the SMTP server offers SMTPUTF8, so addresses with non-ASCII before the @ can go."""
    selection = campaign["selection"]
    contacts = select_contacts(db, tags=selection.get("tags", ()), where=selection.get("where") or None)
    reason_for = skip_reasons(db, campaign, smtputf8=smtputf8)
    plan = Selection()
    for contact in contacts:
        if reason := reason_for(contact):
            plan.skipped.append((contact, reason))
        else:
            plan.included.append(contact)
    return plan


def plan_counts(db: Database, campaign: Mapping[str, Any]) -> Planned:
    """plan_selection as counts (and the skipped, with why), read in batches: for `campaign
    create` and `show` on a list of any length."""
    # lazy: start-up time (freeze.py brings the template engine)
    from outreach.sending import freeze

    return freeze.plan(db, campaign, skip_reasons(db, campaign))


def frozen_selection(db: Database, campaign: Mapping[str, Any]) -> Selection:
    """The selection stored when the campaign started."""
    plan = Selection()
    rows = db.execute(
        "SELECT contact_id, included, skip_reason FROM campaign_contacts WHERE campaign_id = ? ORDER BY contact_id",
        [campaign["id"]],
    ).fetchall()
    for contact_id, included, reason in rows:
        contact = get_contact_by_id(db, contact_id)
        if contact is None:  # never deleted while in a campaign (delete_contact refuses)
            continue
        if included:
            plan.included.append(contact)
        else:
            plan.skipped.append((contact, reason))
    return plan
