"""Once-only markers: followers, item flags, digest periods and round-robin turns.

Each one is decided by a unique key (`INSERT … ON CONFLICT`), so it holds across
processes on both backends.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.models import Event
from bot.store import NewOutbox
from storage.dialect import Database
from storage.items import append_event, assignments
from storage.outbox import enqueue
from storage.rows import item_columns


class ClaimQueries:
    """The once-only part of the Store."""

    database: Database

    def add_follower(self, *, workspace: str, item_id: int, user: str, now: datetime,
                     platform: str = "slack") -> bool:
        with self.database.write() as tx:
            added = tx.one(
                'INSERT INTO followers (workspace, item_id, "user", since, platform)'
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING 1 AS added",
                (workspace, item_id, user, now, platform),
            )
        return added is not None

    def followers(self, *, workspace: str, item_id: int,
                  platform: str | None = None) -> list[str]:
        query = 'SELECT "user" FROM followers WHERE workspace = ? AND item_id = ?'
        params: tuple[Any, ...] = (workspace, item_id)
        if platform is not None:
            query += " AND platform = ?"
            params += (platform,)
        with self.database.read() as tx:
            rows = tx.all(
                query + f' ORDER BY since, "user"{self.database.dialect.byte_order}', params)
        return [row["user"] for row in rows]

    def set_flag_once(self, *, workspace: str, item_id: int, flag: str, now: datetime,
                      changes: dict[str, Any] | None = None, event: Event | None = None,
                      outbox: list[NewOutbox] | None = None) -> bool:
        # Checked before anything is written, so a bad column never half-claims the flag.
        values = item_columns(changes or {})
        with self.database.write() as tx:
            claimed = tx.one(
                "INSERT INTO item_flags (workspace, item_id, flag, at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT DO NOTHING RETURNING 1 AS claimed",
                (workspace, item_id, flag, now),
            )
            if claimed is None:
                return False
            if values:
                tx.execute(
                    f"UPDATE items SET {assignments(values)} WHERE workspace = ? AND id = ?",
                    (*values.values(), workspace, item_id),
                )
            if event is not None:
                append_event(tx, workspace, item_id, event)
            if outbox:
                enqueue(tx, workspace, item_id, outbox, now)
            return True

    def claim_digest(self, *, workspace: str, subscription: str, period: str, now: datetime,
                     late: bool, outbox: list[NewOutbox]) -> int | None:
        # On PostgreSQL a racing INSERT waits for the first to commit, then does nothing.
        with self.database.write() as tx:
            claimed = tx.one(
                "INSERT INTO digest_claims (workspace, subscription, period, claimed_at, late)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING 1 AS claimed",
                (workspace, subscription, period, now, late),
            )
            if claimed is None:
                return None
            ids = enqueue(tx, workspace, None, outbox, now)
            return ids[0] if ids else 0

    def digest_claims(self, *, workspace: str, subscription: str) -> list[str]:
        # Sorted by code point whatever the PostgreSQL database's locale, as in SQLite.
        with self.database.read() as tx:
            rows = tx.all(
                "SELECT period FROM digest_claims WHERE workspace = ? AND subscription = ?"
                f" ORDER BY period{self.database.dialect.byte_order} DESC",
                (workspace, subscription),
            )
        return [row["period"] for row in rows]

    def next_rotation(self, *, workspace: str, team: str) -> int:
        # One statement reads and advances the counter, so no two callers get one turn.
        with self.database.write(synced=False) as tx:
            row = tx.one(
                "INSERT INTO rotations (workspace, team, counter) VALUES (?, ?, 1)"
                " ON CONFLICT (workspace, team) DO UPDATE SET counter = rotations.counter + 1"
                " RETURNING counter - 1 AS turn",
                (workspace, team),
            )
        if row is None:
            raise RuntimeError("the database returned no rotation counter")
        return int(row["turn"])
