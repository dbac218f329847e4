"""The outbox: every outbound chat call, stored before it is made, and its leases."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from bot.store import NewOutbox, OutboxEntry
from storage.dialect import Database, Transaction
from storage.rows import outbox_from_row


def enqueue(
    tx: Transaction, workspace: str, item_id: int | None, entries: list[NewOutbox], due: datetime
) -> list[int]:
    """Write outbox entries due at `due` inside an open transaction; return their ids."""
    ids = []
    for entry in entries:
        row = tx.one(
            "INSERT INTO outbox (workspace, item_id, kind, payload, status, attempts,"
            " next_attempt_at, unknown_fate, created_at)"
            " VALUES (?, ?, ?, ?, 'pending', 0, ?, FALSE, ?) RETURNING id",
            (workspace, item_id, entry.kind, json.dumps(entry.payload, ensure_ascii=False),
             due, due),
        )
        if row is None:
            raise RuntimeError("the database returned no id for a new outbox entry")
        ids.append(int(row["id"]))
    return ids


class OutboxQueries:
    """The outbox part of the Store."""

    database: Database

    def outbox_enqueue(self, *, workspace: str, item_id: int | None, entry: NewOutbox,
                       now: datetime | None = None) -> int:
        with self.database.write() as tx:
            return enqueue(tx, workspace, item_id, [entry], now or datetime.now(UTC))[0]

    def outbox_due(self, *, now: datetime, limit: int = 50) -> list[OutboxEntry]:
        return self._entries(
            "SELECT * FROM outbox WHERE status = 'pending' AND next_attempt_at <= ?"
            " ORDER BY id LIMIT ?",
            (now, limit),
        )

    def outbox_pending_count(self) -> int:
        with self.database.read() as tx:
            row = tx.one("SELECT COUNT(*) AS n FROM outbox WHERE status = 'pending'")
        return int(row["n"]) if row else 0

    def outbox_get(self, entry_id: int) -> OutboxEntry | None:
        entries = self._entries("SELECT * FROM outbox WHERE id = ?", (entry_id,))
        return entries[0] if entries else None

    def outbox_for_item(self, *, workspace: str, item_id: int) -> list[OutboxEntry]:
        return self._entries(
            "SELECT * FROM outbox WHERE workspace = ? AND item_id = ? ORDER BY id",
            (workspace, item_id),
        )

    def outbox_for_digest(self, *, workspace: str, subscription: str,
                          period: str) -> list[OutboxEntry]:
        dialect = self.database.dialect
        return self._entries(
            "SELECT * FROM outbox WHERE workspace = ? AND kind = 'digest'"
            f" AND {dialect.json_text('payload', 'subscription')} = ?"
            f" AND {dialect.json_text('payload', 'date')} = ? ORDER BY id",
            (workspace, subscription, period),
        )

    def _entries(self, sql: str, params: tuple[Any, ...]) -> list[OutboxEntry]:
        with self.database.read() as tx:
            rows = tx.all(sql, params)
        return [outbox_from_row(row) for row in rows]

    def _change(self, sql: str, params: tuple[Any, ...]) -> int:
        with self.database.write() as tx:
            return tx.execute(sql, params)

    # --- leases: one process attempts an entry at a time ---------------------------
    def outbox_lease(self, entry_id: int, *, owner: str, now: datetime, until: datetime,
                     maybe_posts: bool) -> bool:
        # On PostgreSQL a racing UPDATE waits for the winner to commit, then re-checks
        # the WHERE against the row the winner wrote; SQLite's write lock serialises
        # them. Either way exactly one of them changes the row.
        return self._change(
            "UPDATE outbox SET lease_owner = ?, lease_until = ?,"
            " unknown_fate = (unknown_fate OR ?)"
            " WHERE id = ? AND status = 'pending'"
            " AND (lease_until IS NULL OR lease_until < ? OR lease_owner = ?)",
            (owner, until, maybe_posts, entry_id, now, owner),
        ) == 1

    def outbox_leases(self) -> list[tuple[int, str]]:
        with self.database.read() as tx:
            rows = tx.all(
                "SELECT id, lease_owner FROM outbox WHERE status = 'pending'"
                " AND lease_until IS NOT NULL ORDER BY id"
            )
        return [(int(row["id"]), str(row["lease_owner"])) for row in rows]

    def outbox_release(self, entry_id: int, *, owner: str) -> None:
        self._change(
            "UPDATE outbox SET lease_until = NULL WHERE id = ? AND lease_owner = ?",
            (entry_id, owner),
        )

    # --- outcomes of an attempt ----------------------------------------------------
    def outbox_sent(self, entry_id: int, *, result: dict[str, Any], now: datetime) -> None:
        self._change(
            "UPDATE outbox SET status = 'sent', result = ?, sent_at = ?,"
            " attempts = attempts + 1, lease_until = NULL WHERE id = ?",
            (json.dumps(result), now, entry_id),
        )

    def outbox_retry(
        self, entry_id: int, *, error: str, next_attempt_at: datetime, unknown_fate: bool
    ) -> None:
        self._change(
            "UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_attempt_at = ?,"
            " unknown_fate = (unknown_fate OR ?), lease_until = NULL WHERE id = ?",
            (error, next_attempt_at, unknown_fate, entry_id),
        )

    def outbox_retry_now(self, *, now: datetime) -> int:
        return self._change(
            "UPDATE outbox SET next_attempt_at = ? WHERE status = 'pending'"
            " AND next_attempt_at > ? AND COALESCE(last_error, '') <> 'ratelimited'",
            (now, now),
        )

    def outbox_give_up(self, entry_id: int, *, error: str, now: datetime) -> None:
        self._change(
            "UPDATE outbox SET status = 'failed', attempts = attempts + 1, last_error = ?,"
            " sent_at = ? WHERE id = ?",
            (error, now, entry_id),
        )

    def outbox_cancel(self, entry_id: int, *, reason: str, now: datetime) -> bool:
        return self._change(
            "UPDATE outbox SET status = 'cancelled', last_error = ?, sent_at = ?"
            " WHERE id = ? AND status = 'pending'",
            (reason, now, entry_id),
        ) == 1
