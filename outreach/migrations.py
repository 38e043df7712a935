"""The schema, as numbered migrations. Never edit a released migration: add a new one.

The whole product's tables exist from m001 so that later features add to them rather than rework
them. All timestamps are ISO-8601 UTC text (see `db.utc_now`).

States
- contacts.status: active | away | bounced | opted_out (may we write to them?)
- contacts.stage:  new | contacted | replied (where are they in the outreach?)
- messages.state:  queued -> sending -> sent | failed | deferred | uncertain;
                   sent -> bounced; drafted (follow-up waiting for review); cancelled
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlite_utils import Database  # what a migration is given: sqlite-utils' runner applies them

Migration = Callable[["Database"], None]


class MigrationSet:
    """The numbered migrations in file order, applied by sqlite-utils' Migrations runner (its
    `_sqlite_migrations` bookkeeping). Checking that none is pending is one plain query, so a
    command on a current database never loads sqlite-utils for it."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.functions: list[Migration] = []

    def __call__(self) -> Callable[[Migration], Migration]:
        def register(function: Migration) -> Migration:
            self.functions.append(function)
            return function

        return register

    def pending(self, conn: sqlite3.Connection) -> list[str]:
        """Names not yet applied to this database, read without loading sqlite-utils."""
        if not conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_sqlite_migrations'").fetchone():
            return [f.__name__ for f in self.functions]
        applied = {row[0] for row in conn.execute("SELECT name FROM _sqlite_migrations WHERE migration_set = ?", [self.name])}
        return [f.__name__ for f in self.functions if f.__name__ not in applied]

    def apply(self, db: Any) -> None:
        """Apply what is pending (`db`: outreach.db.Database)."""
        if not self.pending(db.conn):
            return
        from sqlite_utils import Migrations  # lazy: only when the schema must change

        runner = Migrations(self.name)
        for function in self.functions:
            runner(name=function.__name__)(function)
        runner.apply(db.utils)


migrations = MigrationSet("outreach")


# long: the first schema as one script; migrations are never edited once released
@migrations()
def m001_create_schema(db: Database) -> None:
    db.executescript(
        """
        CREATE TABLE contacts (
            id INTEGER PRIMARY KEY,
            email TEXT NOT NULL UNIQUE,          -- normalised: trimmed, domain lower-cased
            title TEXT,                          -- Dr., Prof.
            first_name TEXT,
            middle_name TEXT,
            last_name TEXT,
            suffix TEXT,                         -- MD, PhD, FACP
            specialty TEXT,
            hospital TEXT,                       -- hospital / institution / organisation
            city TEXT,
            state TEXT,                          -- two-letter US code when recognised
            medical_school TEXT,
            graduation_year INTEGER,
            npi TEXT,
            notes TEXT,
            custom TEXT NOT NULL DEFAULT '{}',   -- JSON object of unknown CSV columns
            is_role_address INTEGER NOT NULL DEFAULT 0,
            status TEXT NOT NULL DEFAULT 'active',
            stage TEXT NOT NULL DEFAULT 'new',
            away_until TEXT,
            replied_at TEXT,
            referred_by INTEGER REFERENCES contacts(id),
            source TEXT,                         -- file it was first imported from
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );

        CREATE TABLE tags (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE
        );

        CREATE TABLE contact_tags (
            contact_id INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
            tag_id INTEGER NOT NULL REFERENCES tags(id) ON DELETE CASCADE,
            PRIMARY KEY (contact_id, tag_id)
        );

        CREATE TABLE suppressions (
            id INTEGER PRIMARY KEY,
            value TEXT NOT NULL UNIQUE,          -- a normalised address or a bare domain
            kind TEXT NOT NULL,                  -- address | domain
            reason TEXT,
            source TEXT NOT NULL DEFAULT 'manual',  -- manual | import | bounce | unsubscribe
            created_at TEXT NOT NULL
        );

        CREATE TABLE imports (
            id INTEGER PRIMARY KEY,
            file TEXT NOT NULL,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            inserted INTEGER, updated INTEGER, unchanged INTEGER, skipped INTEGER,
            errors TEXT                           -- JSON list of {line, reason}
        );

        CREATE TABLE campaigns (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            template TEXT NOT NULL,
            selection TEXT NOT NULL DEFAULT '{}',  -- JSON {"tags": [...], "where": {...}}
            status TEXT NOT NULL DEFAULT 'draft',  -- draft | active | paused | done
            status_reason TEXT,
            account TEXT,                          -- sending address
            timezone TEXT,
            send_window TEXT,
            options TEXT NOT NULL DEFAULT '{}',    -- JSON: gap, caps chosen for this campaign
            created_at TEXT NOT NULL,
            started_at TEXT,                       -- selection frozen at this time
            finished_at TEXT
        );

        CREATE TABLE campaign_steps (
            campaign_id INTEGER NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
            step INTEGER NOT NULL,                 -- 0 first email, 1.. follow-ups
            template TEXT NOT NULL,
            delay_days INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (campaign_id, step)
        );

        CREATE TABLE campaign_contacts (
            campaign_id INTEGER NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
            contact_id INTEGER NOT NULL REFERENCES contacts(id),
            included INTEGER NOT NULL DEFAULT 1,
            skip_reason TEXT,
            added_at TEXT NOT NULL,
            PRIMARY KEY (campaign_id, contact_id)
        );

        CREATE TABLE messages (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL DEFAULT 'campaign',   -- campaign | followup | test
            campaign_id INTEGER REFERENCES campaigns(id),
            contact_id INTEGER REFERENCES contacts(id),
            step INTEGER NOT NULL DEFAULT 0,
            template TEXT,
            account TEXT,                            -- sending address (for per-account caps)
            from_address TEXT,
            to_address TEXT NOT NULL,
            to_domain TEXT,
            subject TEXT,
            message_id TEXT NOT NULL UNIQUE,         -- RFC 5322 Message-ID, with <>
            in_reply_to TEXT,
            "references" TEXT,
            state TEXT NOT NULL DEFAULT 'queued',
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT,
            attachments TEXT NOT NULL DEFAULT '[]',  -- JSON [{name, size, sha256}]
            smtp_code INTEGER,
            smtp_response TEXT,
            error TEXT,
            eml_path TEXT,
            sent_copy_saved INTEGER NOT NULL DEFAULT 0,
            queued_at TEXT NOT NULL,
            sending_at TEXT,
            sent_at TEXT,
            failed_at TEXT,
            updated_at TEXT NOT NULL
        );
        CREATE UNIQUE INDEX messages_one_per_step
            ON messages(campaign_id, contact_id, step) WHERE kind != 'test';
        CREATE INDEX messages_state ON messages(state, next_attempt_at);
        CREATE INDEX messages_sent_at ON messages(account, sent_at);

        CREATE TABLE replies (
            id INTEGER PRIMARY KEY,
            message_id INTEGER REFERENCES messages(id),   -- what it answers, if matched
            contact_id INTEGER REFERENCES contacts(id),
            campaign_id INTEGER REFERENCES campaigns(id),
            account TEXT,
            folder TEXT NOT NULL,
            uidvalidity INTEGER NOT NULL,
            uid INTEGER NOT NULL,
            rfc_message_id TEXT,                 -- the reply's own Message-ID
            from_address TEXT,
            subject TEXT,
            received_at TEXT,
            kind TEXT NOT NULL,                  -- human_reply | auto_reply | bounce | unsubscribe | other
            bounce_type TEXT,
            bounced_addresses TEXT NOT NULL DEFAULT '[]',
            return_date TEXT,
            body_text TEXT,                      -- the reply's own text, quotes/signature stripped
            snippet TEXT,
            seconds_to_reply INTEGER,
            created_at TEXT NOT NULL
        );
        CREATE UNIQUE INDEX replies_by_rfc_id ON replies(rfc_message_id) WHERE rfc_message_id IS NOT NULL;
        CREATE INDEX replies_contact ON replies(contact_id);

        CREATE TABLE mailbox_state (
            account TEXT NOT NULL,
            folder TEXT NOT NULL,
            uidvalidity INTEGER NOT NULL,
            last_uid INTEGER NOT NULL DEFAULT 0,
            polled_at TEXT,
            PRIMARY KEY (account, folder)
        );

        CREATE TABLE suggested_contacts (
            id INTEGER PRIMARY KEY,
            email TEXT NOT NULL,
            name TEXT,
            referred_by INTEGER REFERENCES contacts(id),
            reply_id INTEGER REFERENCES replies(id),
            status TEXT NOT NULL DEFAULT 'suggested',  -- suggested | added | dismissed
            created_at TEXT NOT NULL,
            UNIQUE (email, referred_by)
        );

        CREATE TABLE events (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            kind TEXT NOT NULL,                  -- imported, queued, sent, failed, replied, bounced, ...
            contact_id INTEGER REFERENCES contacts(id),
            campaign_id INTEGER REFERENCES campaigns(id),
            message_id INTEGER REFERENCES messages(id),
            detail TEXT NOT NULL DEFAULT '{}'
        );
        CREATE INDEX events_contact ON events(contact_id, at);
        """
    )


@migrations()
def m010_replies_unmatched(db: Database) -> None:
    """Mail that names one of our messages but may not speak for its contact (a stranger in the
    thread, a bounce about someone else) is kept, unmatched: `claimed_message_id` is the message
    its headers name, `unmatched_reason` why it changed nobody's state."""
    db.executescript(
        """
        ALTER TABLE replies ADD COLUMN claimed_message_id INTEGER REFERENCES messages(id);
        ALTER TABLE replies ADD COLUMN unmatched_reason TEXT;
        """
    )


@migrations()
def m011_campaign_dry_run_files(db: Database) -> None:
    """The .eml files the last dry run wrote (a JSON list of paths): the next dry run deletes
    exactly these, never whatever happens to lie in the folder."""
    db.execute("ALTER TABLE campaigns ADD COLUMN dry_run_files TEXT NOT NULL DEFAULT '[]'")


@migrations()
def m030_reports_outcomes(db: Database) -> None:
    """Outcomes beyond the reply (history + the current one on the contact), reply triage, a
    small key/value table for "when did the user last look", and the indexes the report's
    grouped queries need (measured by bench/report_bench.py)."""
    db.executescript(
        """
        CREATE TABLE contact_outcomes (
            id INTEGER PRIMARY KEY,
            contact_id INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
            outcome TEXT,                        -- positive, call, declined, ...; NULL = cleared
            note TEXT,
            reply_id INTEGER REFERENCES replies(id),
            at TEXT NOT NULL
        );
        CREATE INDEX contact_outcomes_contact ON contact_outcomes(contact_id, at);
        ALTER TABLE contacts ADD COLUMN outcome TEXT;
        ALTER TABLE contacts ADD COLUMN outcome_at TEXT;
        ALTER TABLE replies ADD COLUMN triaged_at TEXT;
        CREATE TABLE IF NOT EXISTS kv (
            key TEXT PRIMARY KEY,
            value TEXT,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX replies_message ON replies(message_id, kind);
        CREATE INDEX messages_report ON messages(campaign_id, contact_id, state, kind, step, template, sent_at);
        """
    )


@migrations()
def m040_followup_drafts(db: Database) -> None:
    """Follow-ups saved in the mailbox's Drafts folder, owned by outreach/followups/drafts.py.

    A row is written (saved_at NULL) before the IMAP APPEND and stamped after it, so a crash in
    between is finished by the next run without a duplicate draft; removed_at is set once the
    draft left Drafts (the user sent it, or we deleted it because the contact answered)."""
    db.executescript(
        """
        CREATE TABLE followup_drafts (
            message_id INTEGER PRIMARY KEY REFERENCES messages(id),
            folder TEXT,                         -- the Drafts folder it was saved in
            saved_at TEXT,                       -- APPEND done
            removed_at TEXT,                     -- sent from the mail program, or deleted by us
            removed_reason TEXT
        );
        """
    )


@migrations()
def m020_replies_explained(db: Database) -> None:
    """Why each reply got its kind (`replies list --explain`), a refusal's suggested outcome, and
    an organisation-wide opt-out's proposed domain (shown to the user, never applied on its own)."""
    for column in ("rule", "evidence", "suggested_outcome", "suppress_domain"):
        db.execute(f"ALTER TABLE replies ADD COLUMN {column} TEXT")


@migrations()
def m050_campaign_profile(db: Database) -> None:
    """The named account (profile) a campaign sends from, so `send` signs in to the right one;
    NULL means the plain OUTREACH_* account."""
    db.execute("ALTER TABLE campaigns ADD COLUMN profile TEXT")


@migrations()
def m080_intros(db: Database) -> None:
    """Warm introductions, owned by outreach/intros/ (the capture by outreach/replies/introductions.py).

    `contacts.introduced_by` is the alumnus (a contact) who introduced this one. `intro_requests`
    are the asks (alumnus, target, the campaign that carries the ask); `introductions` the
    introduction threads: the message that made it, the answer drafted into Drafts (written before
    the APPEND, stamped after it) and the thank-you owed to the alumnus once it led somewhere."""
    db.executescript(
        """
        ALTER TABLE contacts ADD COLUMN introduced_by INTEGER REFERENCES contacts(id);
        CREATE TABLE intro_requests (
            id INTEGER PRIMARY KEY,
            alumnus_id INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
            target_id INTEGER REFERENCES contacts(id),
            target_name TEXT,
            target_hospital TEXT,
            campaign_id INTEGER REFERENCES campaigns(id),
            status TEXT NOT NULL DEFAULT 'asked',      -- asked, introduced
            created_at TEXT NOT NULL
        );
        CREATE INDEX intro_requests_alumnus ON intro_requests(alumnus_id, status);
        CREATE TABLE introductions (
            id INTEGER PRIMARY KEY,
            contact_id INTEGER NOT NULL UNIQUE REFERENCES contacts(id) ON DELETE CASCADE,
            introducer_id INTEGER NOT NULL REFERENCES contacts(id),
            request_id INTEGER REFERENCES intro_requests(id),
            reply_id INTEGER REFERENCES replies(id),
            how TEXT NOT NULL,                         -- cc, forward, named
            rfc_message_id TEXT,                       -- the introduction message (answered in its thread)
            refs TEXT NOT NULL DEFAULT '',             -- its References, space-separated
            subject TEXT,
            recipients TEXT NOT NULL DEFAULT '[]',     -- JSON: everyone on it (Reply-All keeps them)
            received_at TEXT NOT NULL,
            answer_message_id TEXT,                    -- our drafted answer's Message-ID
            answer_eml TEXT,
            answer_saved_at TEXT,                      -- APPENDed to Drafts
            answered_at TEXT,                          -- found in Sent (or the target wrote back)
            thanks_message_id TEXT,                    -- the thank-you to the introducer
            thanks_eml TEXT,
            thanks_owed_at TEXT,                       -- when an outcome called for it
            thanks_outcome TEXT,                       -- offer, completed, lor_received
            thanks_saved_at TEXT
        );
        """
    )
