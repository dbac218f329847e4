"""Numbered schema migrations for the SQLite backend; each runs once, in order."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import sqlite_utils


def _v1_initial(db: sqlite_utils.Database) -> None:
    db.execute(
        """
        CREATE TABLE inbox (
            id INTEGER PRIMARY KEY,
            workspace TEXT NOT NULL,
            kind TEXT NOT NULL,
            dedupe_key TEXT UNIQUE,
            body TEXT NOT NULL,
            headers TEXT NOT NULL DEFAULT '{}',
            received_at TEXT NOT NULL,
            processed INTEGER NOT NULL DEFAULT 0,
            attempts INTEGER NOT NULL DEFAULT 0,
            error TEXT
        )"""
    )
    db.execute("CREATE INDEX inbox_pending ON inbox (processed, id)")
    db.execute(
        """
        CREATE TABLE items (
            id INTEGER PRIMARY KEY,
            workspace TEXT NOT NULL,
            team TEXT NOT NULL,
            status TEXT NOT NULL,
            text TEXT NOT NULL,
            customer TEXT,
            severity TEXT NOT NULL,
            source_channel TEXT,
            source_ts TEXT,
            forwarded_by TEXT NOT NULL,
            received_at TEXT NOT NULL,
            forwarded_at TEXT NOT NULL,
            intake_kind TEXT NOT NULL,
            source_author TEXT,
            source_permalink TEXT,
            note TEXT,
            reply_channel TEXT,
            reply_thread_ts TEXT,
            assignees TEXT NOT NULL DEFAULT '[]',
            card_channel TEXT,
            card_ts TEXT,
            first_response_at TEXT,
            first_response_by TEXT,
            first_response_kind TEXT,
            resolved_at TEXT,
            resolution_note TEXT,
            reassignments INTEGER NOT NULL DEFAULT 0,
            failed TEXT,
            intake_key TEXT
        )"""
    )
    # One item per source message; NULL sources (/feedback <text>) never collide.
    db.execute(
        "CREATE UNIQUE INDEX items_source ON items (workspace, source_channel, source_ts)"
    )
    db.execute("CREATE UNIQUE INDEX items_intake_key ON items (workspace, intake_key)")
    db.execute("CREATE INDEX items_card ON items (workspace, card_channel, card_ts)")
    db.execute("CREATE INDEX items_forwarded ON items (forwarded_at)")
    db.execute(
        """
        CREATE TABLE events (
            id INTEGER PRIMARY KEY,
            workspace TEXT NOT NULL,
            item_id INTEGER NOT NULL REFERENCES items (id),
            kind TEXT NOT NULL,
            actor TEXT,
            at TEXT NOT NULL,
            data TEXT NOT NULL DEFAULT '{}'
        )"""
    )
    db.execute("CREATE INDEX events_item ON events (workspace, item_id)")
    db.execute(
        """
        CREATE TABLE outbox (
            id INTEGER PRIMARY KEY,
            workspace TEXT NOT NULL,
            item_id INTEGER,
            kind TEXT NOT NULL,
            payload TEXT NOT NULL DEFAULT '{}',
            status TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT NOT NULL,
            unknown_fate INTEGER NOT NULL DEFAULT 0,
            last_error TEXT,
            result TEXT,
            created_at TEXT NOT NULL,
            sent_at TEXT
        )"""
    )
    db.execute("CREATE INDEX outbox_due ON outbox (status, next_attempt_at)")
    db.execute(
        "CREATE TABLE rotations (workspace TEXT NOT NULL, team TEXT NOT NULL,"
        " counter INTEGER NOT NULL, PRIMARY KEY (workspace, team))"
    )
    db.execute(
        "CREATE TABLE drafts (id INTEGER PRIMARY KEY, workspace TEXT NOT NULL,"
        " data TEXT NOT NULL, created_at TEXT NOT NULL)"
    )
    db.execute(
        "CREATE TABLE channels (workspace TEXT NOT NULL, channel TEXT NOT NULL,"
        " shared INTEGER NOT NULL, checked_at TEXT NOT NULL, PRIMARY KEY (workspace, channel))"
    )
    db.execute(
        "CREATE TABLE workspaces (workspace TEXT PRIMARY KEY, revoked_at TEXT)"
    )


def _v2_responses(db: sqlite_utils.Database) -> None:
    db.execute("ALTER TABLE items ADD COLUMN resolved_by TEXT")
    db.execute(
        "CREATE TABLE followers (workspace TEXT NOT NULL, item_id INTEGER NOT NULL,"
        " user TEXT NOT NULL, since TEXT NOT NULL, PRIMARY KEY (workspace, item_id, user))"
    )
    db.execute("CREATE INDEX outbox_item ON outbox (item_id, kind)")


def _v3_digests_and_reminders(db: sqlite_utils.Database) -> None:
    # A lease lets several processes share one outbox without sending an entry twice.
    db.execute("ALTER TABLE outbox ADD COLUMN lease_owner TEXT")
    db.execute("ALTER TABLE outbox ADD COLUMN lease_until TEXT")
    db.execute("ALTER TABLE items ADD COLUMN escalated_at TEXT")
    db.execute(
        "CREATE TABLE item_flags (workspace TEXT NOT NULL, item_id INTEGER NOT NULL,"
        " flag TEXT NOT NULL, at TEXT NOT NULL, PRIMARY KEY (workspace, item_id, flag))"
    )
    db.execute(
        "CREATE TABLE digest_claims (workspace TEXT NOT NULL, subscription TEXT NOT NULL,"
        " period TEXT NOT NULL, claimed_at TEXT NOT NULL, late INTEGER NOT NULL DEFAULT 0,"
        " PRIMARY KEY (workspace, subscription, period))"
    )


MIGRATIONS: list[tuple[int, Callable[[sqlite_utils.Database], None]]] = [
    (1, _v1_initial),
    (2, _v2_responses),
    (3, _v3_digests_and_reminders),
]


def apply_migrations(db: sqlite_utils.Database) -> list[int]:
    """Apply every migration not yet recorded; return the versions applied.

    Each migration runs in its own immediate transaction, so two processes starting
    at once apply it once.
    """
    conn = db.conn
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY,"
        " applied_at TEXT NOT NULL)"
    )
    applied = []
    for version, migrate in MIGRATIONS:
        conn.execute("BEGIN IMMEDIATE")
        try:
            done = conn.execute(
                "SELECT 1 FROM schema_migrations WHERE version = ?", (version,)
            ).fetchone()
            if not done:
                migrate(db)
                conn.execute(
                    "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
                    (version, datetime.now(UTC).isoformat()),
                )
                applied.append(version)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    return applied
