"""The outbox: every outbound chat call, stored before it is made, and its leases."""

from __future__ import annotations

import json
from collections.abc import Sequence
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
             max(due, entry.not_before) if entry.not_before else due, due),
        )
        if row is None:
            raise RuntimeError("the database returned no id for a new outbox entry")
        ids.append(int(row["id"]))
    return ids


_SENT = ("UPDATE outbox SET status = 'sent', result = ?, sent_at = ?,"
         " attempts = attempts + 1, lease_until = NULL WHERE id = ?")


def _due_select(
    *, now: datetime, limit: int, item: tuple[str, int] | None, skip_workspaces: Sequence[str],
    skip_kinds: Sequence[tuple[str, str]], up_to: int | None,
) -> tuple[str, tuple[Any, ...]]:
    """The SELECT of due, unleased entries first in their item's order, and its parameters."""
    where = [
        "o.status = 'pending'", "o.next_attempt_at <= ?",
        "(o.lease_until IS NULL OR o.lease_until < ?)",
        # An item's entries go in order: none while an earlier one is pending.
        "NOT EXISTS (SELECT 1 FROM outbox p WHERE p.workspace = o.workspace"
        " AND p.item_id = o.item_id AND p.status = 'pending' AND p.id < o.id)",
    ]
    params: list[Any] = [now, now]
    if item is not None:
        where.append("o.workspace = ? AND o.item_id = ?")
        params.extend(item)
    if up_to is not None:
        where.append("o.id <= ?")
        params.append(up_to)
    if skip_workspaces:
        where.append(f"o.workspace NOT IN ({', '.join('?' for _ in skip_workspaces)})")
        params.extend(skip_workspaces)
    for workspace, kind in skip_kinds:
        where.append("NOT (o.workspace = ? AND o.kind = ?)")
        params.extend((workspace, kind))
    # Longest due first; in index order (status, next_attempt_at, then the row id), so
    # the scan stops at `limit` instead of sorting every due entry.
    return (f"SELECT o.* FROM outbox o WHERE {' AND '.join(where)}"
            " ORDER BY o.next_attempt_at, o.id LIMIT ?", (*params, limit))


def _sent_and_lease_next(
    tx: Transaction, entry_id: int, *, result: dict[str, Any], now: datetime, owner: str,
    until: datetime, posting_kinds: Sequence[str] = (), item: tuple[str, int],
    skip_workspaces: Sequence[str] = (), skip_kinds: Sequence[tuple[str, str]] = (),
    up_to: int | None = None,
) -> OutboxEntry | None:
    """Mark `entry_id` sent and lease `item`'s next due entry, inside `tx`; return it."""
    select = _due_select(now=now, limit=1, item=item, skip_workspaces=skip_workspaces,
                         skip_kinds=skip_kinds, up_to=up_to)
    tx.execute(_SENT, (json.dumps(result), now, entry_id))
    rows = tx.all(*select)
    leased = _lease_rows(tx, rows, owner=owner, now=now, until=until,
                         posting_kinds=posting_kinds) if rows else []
    return leased[0] if leased else None


def _lease_rows(tx: Transaction, rows: list[dict[str, Any]], *, owner: str, now: datetime,
                until: datetime, posting_kinds: Sequence[str]) -> list[OutboxEntry]:
    """Lease the selected rows still free; return those leased, as they were selected."""
    ids = [row["id"] for row in rows]
    posting = (f"kind IN ({', '.join('?' for _ in posting_kinds)})"
               if posting_kinds else "FALSE")
    # The UPDATE re-checks the lease, so of workers that read the same rows, each row
    # goes to one. An entry first in its item's order stays first: entries queued later
    # have higher ids, and one no longer pending never is again.
    leased = tx.all(
        "UPDATE outbox SET lease_owner = ?, lease_until = ?,"
        f" unknown_fate = (unknown_fate OR {posting})"
        f" WHERE id IN ({', '.join('?' for _ in ids)}) AND status = 'pending'"
        " AND next_attempt_at <= ? AND (lease_until IS NULL OR lease_until < ?)"
        " RETURNING id",
        (owner, until, *posting_kinds, *ids, now, now),
    )
    got = {row["id"] for row in leased}
    # As selected: unknown_fate says whether an earlier attempt may have posted.
    return [outbox_from_row(row) for row in rows if row["id"] in got]


class OutboxQueries:
    """The outbox part of the Store."""

    database: Database

    def outbox_enqueue(self, *, workspace: str, item_id: int | None, entry: NewOutbox,
                       now: datetime | None = None) -> int:
        # Sent only after a synced lease, which makes this durable too (Database.write).
        with self.database.write(synced=False) as tx:
            return enqueue(tx, workspace, item_id, [entry], now or datetime.now(UTC))[0]

    def outbox_lease_due(
        self, *, owner: str, now: datetime, until: datetime, limit: int,
        posting_kinds: Sequence[str] = (), item: tuple[str, int] | None = None,
        skip_workspaces: Sequence[str] = (), skip_kinds: Sequence[tuple[str, str]] = (),
        up_to: int | None = None,
    ) -> list[OutboxEntry]:
        select = _due_select(now=now, limit=limit, item=item, skip_workspaces=skip_workspaces,
                             skip_kinds=skip_kinds, up_to=up_to)
        # Read first: an idle pass takes no write lock (another process may hold it).
        with self.database.read() as tx:
            rows = tx.all(*select)
        if not rows:
            return []
        with self.database.write() as tx:
            return _lease_rows(tx, rows, owner=owner, now=now, until=until,
                               posting_kinds=posting_kinds)

    def outbox_sent_and_lease_next(
        self, entry_id: int, *, result: dict[str, Any], now: datetime, owner: str,
        until: datetime, posting_kinds: Sequence[str] = (), item: tuple[str, int],
        skip_workspaces: Sequence[str] = (), skip_kinds: Sequence[tuple[str, str]] = (),
        up_to: int | None = None,
    ) -> OutboxEntry | None:
        with self.database.write() as tx:
            return _sent_and_lease_next(
                tx, entry_id, result=result, now=now, owner=owner, until=until,
                posting_kinds=posting_kinds, item=item, skip_workspaces=skip_workspaces,
                skip_kinds=skip_kinds, up_to=up_to)

    def outbox_sent_and_lease_next_many(
            self, marks: Sequence[dict[str, Any]]) -> list[OutboxEntry | None]:
        # One transaction, so one synced commit, for every entry sent meanwhile.
        with self.database.write() as tx:
            return [_sent_and_lease_next(tx, **mark) for mark in marks]

    def outbox_defer(self, *, workspace: str, kinds: Sequence[str] | None, until: datetime,
                     now: datetime) -> int:
        kind_filter = ""
        if kinds is not None:
            kind_filter = f" AND kind IN ({', '.join('?' for _ in kinds)})"
        return self._change(
            "UPDATE outbox SET next_attempt_at = ? WHERE status = 'pending' AND workspace = ?"
            f"{kind_filter} AND next_attempt_at < ? AND (lease_until IS NULL OR lease_until < ?)",
            (until, workspace, *(kinds or ()), until, now),
        )

    def outbox_newest_id(self) -> int:
        with self.database.read() as tx:
            row = tx.one("SELECT MAX(id) AS newest FROM outbox")
        return int(row["newest"]) if row and row["newest"] is not None else 0

    def outbox_reschedule(
        self, entry_id: int, *, error: str, next_attempt_at: datetime, unknown_fate: bool,
        attempted: bool = True,
    ) -> None:
        self._change(
            "UPDATE outbox SET attempts = attempts + ?, last_error = ?, next_attempt_at = ?,"
            " unknown_fate = ?, lease_until = NULL WHERE id = ? AND status = 'pending'",
            (1 if attempted else 0, error, next_attempt_at, unknown_fate, entry_id),
        )

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

    def _change(self, sql: str, params: tuple[Any, ...], *, synced: bool = True) -> int:
        with self.database.write(synced=synced) as tx:
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
        # Lost with a machine crash, the entry stays leased and of unknown fate, so its
        # post is looked up before any resend: as after a crash just before this.
        self._change(_SENT, (json.dumps(result), now, entry_id), synced=False)

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
