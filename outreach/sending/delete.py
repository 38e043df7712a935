"""Deleting a campaign that never sent anything: a typo in its name, the wrong tag, a test.

A campaign that has sent (or may have sent: a message in `sending` or `uncertain`) is history
the pacing caps and the "already sent this template" rule rely on, so it is never deleted;
pause it instead. Its queued messages, selection and events go with it; the event log keeps one
`campaign_deleted` line saying what was removed.
"""

from __future__ import annotations

import sqlite3
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from outreach.config import Settings
from outreach.db import Database, record_event, utc_now
from outreach.errors import OutreachError
from outreach.sending.campaigns import get_campaign
from outreach.sending.eml import eml_folder, remove_dry_run

HAS_SENT_STATES = ("sending", "uncertain", "sent", "bounced", "failed")


@dataclass(frozen=True)
class DeletePlan:
    """What deleting this campaign would remove."""

    name: str
    campaign_id: int
    queued: int
    eml_files: tuple[Path, ...]
    dry_run_files: str | None = None  # campaigns.dry_run_files: what its last dry run wrote
    folder: Path | None = None  # where it wrote them: the campaign's folder in the outbox


def plan_delete(db: Database, settings: Settings, name: str) -> DeletePlan:
    """What `delete_campaign` would remove, or an error saying why this campaign cannot go."""
    campaign = get_campaign(db, name)
    marks = ",".join("?" * len(HAS_SENT_STATES))
    sent, first = db.execute(
        f"""SELECT count(*), min(coalesce(sent_at, updated_at)) FROM messages
            WHERE campaign_id = ? AND kind != 'test' AND (sent_at IS NOT NULL OR state IN ({marks}))""",
        [campaign["id"], *HAS_SENT_STATES],
    ).fetchone()
    if sent:
        raise OutreachError(
            f"campaign {name!r} has already sent {sent} message(s) (the first at {first}); its history is kept so the "
            f"caps and the 'never the same template twice' rule stay right. Stop it with `outreach campaign pause {name}` instead"
        )
    queued = db.execute("SELECT count(*) FROM messages WHERE campaign_id = ?", [campaign["id"]]).fetchone()[0]
    paths = [Path(row[0]) for row in db.execute("SELECT eml_path FROM messages WHERE campaign_id = ? AND eml_path IS NOT NULL", [campaign["id"]])]
    try:
        folder: Path | None = eml_folder(settings, campaign)
    except OutreachError:  # a name from before names were checked: it has no folder of its own
        folder = None
    return DeletePlan(name, campaign["id"], queued, tuple(paths), campaign.get("dry_run_files"), folder)


def delete_campaign(db: Database, plan: DeletePlan) -> None:
    """Remove the campaign, its queued messages, selection and events; then its frozen .eml files."""
    try:
        with db.atomic():
            # No message state changes here (outbox's job): rows that never left are removed whole.
            ids = "SELECT id FROM messages WHERE campaign_id = ?"
            db.execute(f"DELETE FROM events WHERE campaign_id = ? OR message_id IN ({ids})", [plan.campaign_id, plan.campaign_id])
            db.execute("DELETE FROM messages WHERE campaign_id = ?", [plan.campaign_id])
            db.execute("DELETE FROM campaigns WHERE id = ?", [plan.campaign_id])  # steps and selection cascade
            record_event(db, "campaign_deleted", at=utc_now(), name=plan.name, queued=plan.queued)
    except sqlite3.IntegrityError as error:
        raise OutreachError(f"campaign {plan.name!r} is still referenced elsewhere ({error}); pause it instead") from None
    for path in plan.eml_files:
        path.unlink(missing_ok=True)
    if plan.folder is not None:
        remove_dry_run(plan.dry_run_files, plan.folder)
        with suppress(OSError):  # the folder goes too when nothing of the user's is left in it
            plan.folder.rmdir()
