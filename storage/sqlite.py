"""The embedded SQLite backend, built on sqlite-utils, in WAL mode."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlite_utils

from bot.models import Event, Item, iso, parse_iso
from storage.base import DuplicateSource, InboxRow, NewOutbox, OutboxEntry, Store
from storage.migrations import apply_migrations
from storage.rows import ITEM_COLUMNS, event_from_row, item_from_row, item_to_row


class SqliteStore(Store):
    """Store backed by one SQLite file (or ":memory:").

    Several processes may share the file: writes take SQLite's write lock up front
    (BEGIN IMMEDIATE) and wait up to 30 s for it.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._conn = sqlite3.connect(
            self.path, timeout=30, isolation_level=None, check_same_thread=False
        )
        self._conn.row_factory = sqlite3.Row
        self.db = sqlite_utils.Database(self._conn)
        if self.path != ":memory:":
            self.db.enable_wal()
        self._conn.execute("PRAGMA busy_timeout = 30000")
        self._conn.execute("PRAGMA foreign_keys = ON")
        self._lock = threading.RLock()
        apply_migrations(self.db)

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """Run a block as one immediate transaction; roll back on any error."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _one(self, sql: str, params: tuple[Any, ...] | dict[str, Any]) -> sqlite3.Row | None:
        with self._lock:
            row: sqlite3.Row | None = self._conn.execute(sql, params).fetchone()
            return row

    def _all(self, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return list(self._conn.execute(sql, params).fetchall())

    # --- inbox -----------------------------------------------------------------
    def inbox_add(
        self,
        *,
        workspace: str,
        kind: str,
        dedupe_key: str | None,
        body: str,
        headers: dict[str, str],
        received_at: datetime,
    ) -> int | None:
        with self._write() as conn:
            cursor = conn.execute(
                "INSERT OR IGNORE INTO inbox (workspace, kind, dedupe_key, body, headers,"
                " received_at, attempts) VALUES (?, ?, ?, ?, ?, ?, 0)",
                (workspace, kind, dedupe_key, body, json.dumps(headers), iso(received_at)),
            )
            if cursor.rowcount == 0:
                return None
            return cursor.lastrowid

    def inbox_set_workspace(self, inbox_id: int, workspace: str) -> None:
        with self._write() as conn:
            conn.execute("UPDATE inbox SET workspace = ? WHERE id = ?", (workspace, inbox_id))

    def inbox_done(self, inbox_id: int, *, error: str | None = None) -> None:
        with self._write() as conn:
            conn.execute(
                "UPDATE inbox SET processed = 1, error = ? WHERE id = ?", (error, inbox_id)
            )

    def inbox_failed_attempt(self, inbox_id: int, *, error: str) -> None:
        with self._write() as conn:
            conn.execute(
                "UPDATE inbox SET attempts = attempts + 1, error = ? WHERE id = ?",
                (error, inbox_id),
            )

    def inbox_pending(self, *, max_attempts: int = 5) -> list[InboxRow]:
        rows = self._all(
            "SELECT * FROM inbox WHERE processed = 0 AND attempts < ? ORDER BY id",
            (max_attempts,),
        )
        return [
            InboxRow(
                id=row["id"],
                workspace=row["workspace"],
                kind=row["kind"],
                dedupe_key=row["dedupe_key"],
                body=row["body"],
                headers=json.loads(row["headers"] or "{}"),
                received_at=parse_iso(row["received_at"]) or datetime.min,
                attempts=row["attempts"],
            )
            for row in rows
        ]

    def inbox_prune(self, *, before: datetime) -> int:
        with self._write() as conn:
            cursor = conn.execute(
                "DELETE FROM inbox WHERE processed = 1 AND received_at < ?", (iso(before),)
            )
            return cursor.rowcount

    # --- items -----------------------------------------------------------------
    def create_item(self, *, item: Item, event: Event, outbox: list[NewOutbox]) -> Item:
        row = item_to_row(item)
        row.pop("id", None)
        columns = ", ".join(row)
        marks = ", ".join(f":{name}" for name in row)
        with self._write() as conn:
            try:
                cursor = conn.execute(f"INSERT INTO items ({columns}) VALUES ({marks})", row)
            except sqlite3.IntegrityError:
                existing = None
                if item.source_channel and item.source_ts:
                    existing = self._find_by_source(item.workspace, item.source_channel,
                                                    item.source_ts)
                if existing is None and item.intake_key:
                    existing = self.find_item_by_intake_key(workspace=item.workspace,
                                                            key=item.intake_key)
                if existing is None:
                    raise
                raise DuplicateSource(existing) from None
            item_id = int(cursor.lastrowid or 0)
            self._append_event(conn, item.workspace, item_id, event)
            self._enqueue(conn, item.workspace, item_id, outbox, event.at)
        created = self.get_item(workspace=item.workspace, item_id=item_id)
        assert created is not None
        return created

    def update_item(
        self,
        *,
        workspace: str,
        item_id: int,
        changes: dict[str, Any],
        event: Event | None = None,
        outbox: list[NewOutbox] | None = None,
        only_if: dict[str, Any] | None = None,
        now: datetime | None = None,
    ) -> Item | None:
        unknown = set(changes) | set(only_if or {})
        unknown -= set(ITEM_COLUMNS)
        if unknown:
            raise ValueError(f"unknown item columns: {sorted(unknown)}")
        values = item_to_row_partial(changes)
        with self._write() as conn:
            where = ["workspace = :_workspace", "id = :_id"]
            params: dict[str, Any] = {"_workspace": workspace, "_id": item_id}
            for index, (column, expected) in enumerate((only_if or {}).items()):
                if expected is None:
                    where.append(f"{column} IS NULL")
                else:
                    where.append(f"{column} = :_if{index}")
                    params[f"_if{index}"] = item_to_row_partial({column: expected})[column]
            if values:
                assignments = ", ".join(f"{column} = :{column}" for column in values)
                params.update(values)
                cursor = conn.execute(
                    f"UPDATE items SET {assignments} WHERE {' AND '.join(where)}", params
                )
                if cursor.rowcount == 0:
                    return None
            elif conn.execute(
                f"SELECT 1 FROM items WHERE {' AND '.join(where)}", params
            ).fetchone() is None:
                return None
            if event is not None:
                self._append_event(conn, workspace, item_id, event)
            if outbox:
                self._enqueue(conn, workspace, item_id, outbox,
                              event.at if event else (now or datetime.now(UTC)))
        return self.get_item(workspace=workspace, item_id=item_id)

    def get_item(self, *, workspace: str, item_id: int) -> Item | None:
        row = self._one("SELECT * FROM items WHERE workspace = ? AND id = ?", (workspace, item_id))
        return item_from_row(dict(row)) if row else None

    def _find_by_source(self, workspace: str, channel: str, ts: str) -> Item | None:
        row = self._one(
            "SELECT * FROM items WHERE workspace = ? AND source_channel = ? AND source_ts = ?",
            (workspace, channel, ts),
        )
        return item_from_row(dict(row)) if row else None

    def find_item_by_source(self, *, workspace: str, channel: str, ts: str) -> Item | None:
        return self._find_by_source(workspace, channel, ts)

    def find_item_by_intake_key(self, *, workspace: str, key: str) -> Item | None:
        row = self._one(
            "SELECT * FROM items WHERE workspace = ? AND intake_key = ?", (workspace, key)
        )
        return item_from_row(dict(row)) if row else None

    def find_item_by_card(self, *, workspace: str, channel: str, ts: str) -> Item | None:
        row = self._one(
            "SELECT * FROM items WHERE workspace = ? AND card_channel = ? AND card_ts = ?",
            (workspace, channel, ts),
        )
        return item_from_row(dict(row)) if row else None

    def find_item_by_past_card(self, *, workspace: str, channel: str, ts: str) -> Item | None:
        # Every card ever posted is recorded by its "routed" event.
        row = self._one(
            "SELECT item_id FROM events WHERE workspace = ? AND kind = 'routed'"
            " AND json_extract(data, '$.channel') = ? AND json_extract(data, '$.ts') = ?"
            " ORDER BY id DESC LIMIT 1",
            (workspace, channel, ts),
        )
        return self.get_item(workspace=workspace, item_id=int(row["item_id"])) if row else None

    def list_items(
        self, *, workspace: str | None = None, forwarded_since: datetime | None = None
    ) -> list[Item]:
        where: list[str] = []
        params: list[str] = []
        if workspace is not None:
            where.append("workspace = ?")
            params.append(workspace)
        if forwarded_since is not None:
            where.append("forwarded_at >= ?")
            params.append(iso(forwarded_since) or "")
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        rows = self._all(f"SELECT * FROM items {clause} ORDER BY forwarded_at, id", tuple(params))
        return [item_from_row(dict(row)) for row in rows]

    def events_for(self, *, workspace: str, item_id: int) -> list[Event]:
        rows = self._all(
            "SELECT * FROM events WHERE workspace = ? AND item_id = ? ORDER BY id",
            (workspace, item_id),
        )
        return [event_from_row(dict(row)) for row in rows]

    def prune_items(self, *, forwarded_before: datetime) -> int:
        with self._write() as conn:
            doomed = "SELECT id FROM items WHERE forwarded_at < ?"
            cutoff = (iso(forwarded_before),)
            for table in ("events", "followers", "item_flags", "outbox"):
                conn.execute(f"DELETE FROM {table} WHERE item_id IN ({doomed})", cutoff)
            cursor = conn.execute("DELETE FROM items WHERE forwarded_at < ?", cutoff)
            return cursor.rowcount

    def events_of_kind(self, *, workspace: str, kind: str) -> list[Event]:
        rows = self._all(
            "SELECT * FROM events WHERE workspace = ? AND kind = ? ORDER BY id",
            (workspace, kind),
        )
        return [event_from_row(dict(row)) for row in rows]

    def _append_event(
        self, conn: sqlite3.Connection, workspace: str, item_id: int, event: Event
    ) -> None:
        conn.execute(
            "INSERT INTO events (workspace, item_id, kind, actor, at, data)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (workspace, item_id, event.kind, event.actor, iso(event.at),
             json.dumps(event.data, ensure_ascii=False)),
        )

    def _enqueue(
        self,
        conn: sqlite3.Connection,
        workspace: str,
        item_id: int | None,
        entries: list[NewOutbox],
        now: datetime,
    ) -> list[int]:
        ids = []
        for entry in entries:
            cursor = conn.execute(
                "INSERT INTO outbox (workspace, item_id, kind, payload, status, attempts,"
                " next_attempt_at, unknown_fate, created_at)"
                " VALUES (?, ?, ?, ?, 'pending', 0, ?, 0, ?)",
                (workspace, item_id, entry.kind, json.dumps(entry.payload, ensure_ascii=False),
                 iso(now), iso(now)),
            )
            ids.append(int(cursor.lastrowid or 0))
        return ids

    # --- outbox ----------------------------------------------------------------
    def outbox_due(self, *, now: datetime, limit: int = 50) -> list[OutboxEntry]:
        rows = self._all(
            "SELECT * FROM outbox WHERE status = 'pending' AND next_attempt_at <= ?"
            " ORDER BY id LIMIT ?",
            (iso(now), limit),
        )
        return [_outbox_from_row(row) for row in rows]

    def outbox_pending_count(self) -> int:
        row = self._one("SELECT COUNT(*) AS n FROM outbox WHERE status = 'pending'", ())
        return int(row["n"]) if row else 0

    def outbox_get(self, entry_id: int) -> OutboxEntry | None:
        row = self._one("SELECT * FROM outbox WHERE id = ?", (entry_id,))
        return _outbox_from_row(row) if row else None

    def outbox_lease(self, entry_id: int, *, owner: str, now: datetime, until: datetime,
                     maybe_posts: bool) -> bool:
        with self._write() as conn:
            cursor = conn.execute(
                "UPDATE outbox SET lease_owner = ?, lease_until = ?,"
                " unknown_fate = MAX(unknown_fate, ?)"
                " WHERE id = ? AND status = 'pending'"
                " AND (lease_until IS NULL OR lease_until < ? OR lease_owner = ?)",
                (owner, iso(until), int(maybe_posts), entry_id, iso(now), owner),
            )
            return cursor.rowcount == 1

    def outbox_leases(self) -> list[tuple[int, str]]:
        rows = self._all(
            "SELECT id, lease_owner FROM outbox WHERE status = 'pending'"
            " AND lease_until IS NOT NULL"
        )
        return [(int(row["id"]), str(row["lease_owner"])) for row in rows]

    def outbox_release(self, entry_id: int, *, owner: str) -> None:
        with self._write() as conn:
            conn.execute(
                "UPDATE outbox SET lease_until = NULL WHERE id = ? AND lease_owner = ?",
                (entry_id, owner),
            )

    def outbox_retry_now(self, *, now: datetime) -> int:
        with self._write() as conn:
            cursor = conn.execute(
                "UPDATE outbox SET next_attempt_at = ? WHERE status = 'pending'"
                " AND next_attempt_at > ? AND COALESCE(last_error, '') != 'ratelimited'",
                (iso(now), iso(now)),
            )
            return cursor.rowcount

    def outbox_sent(self, entry_id: int, *, result: dict[str, Any], now: datetime) -> None:
        with self._write() as conn:
            conn.execute(
                "UPDATE outbox SET status = 'sent', result = ?, sent_at = ?,"
                " attempts = attempts + 1, lease_until = NULL WHERE id = ?",
                (json.dumps(result), iso(now), entry_id),
            )

    def outbox_retry(
        self, entry_id: int, *, error: str, next_attempt_at: datetime, unknown_fate: bool
    ) -> None:
        with self._write() as conn:
            conn.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_attempt_at = ?,"
                " unknown_fate = MAX(unknown_fate, ?), lease_until = NULL WHERE id = ?",
                (error, iso(next_attempt_at), int(unknown_fate), entry_id),
            )

    def outbox_give_up(self, entry_id: int, *, error: str, now: datetime) -> None:
        with self._write() as conn:
            conn.execute(
                "UPDATE outbox SET status = 'failed', attempts = attempts + 1, last_error = ?,"
                " sent_at = ? WHERE id = ?",
                (error, iso(now), entry_id),
            )

    def outbox_for_item(self, *, workspace: str, item_id: int) -> list[OutboxEntry]:
        rows = self._all(
            "SELECT * FROM outbox WHERE workspace = ? AND item_id = ? ORDER BY id",
            (workspace, item_id),
        )
        return [_outbox_from_row(row) for row in rows]

    def outbox_cancel(self, entry_id: int, *, reason: str, now: datetime) -> bool:
        with self._write() as conn:
            cursor = conn.execute(
                "UPDATE outbox SET status = 'cancelled', last_error = ?, sent_at = ?"
                " WHERE id = ? AND status = 'pending'",
                (reason, iso(now), entry_id),
            )
            return cursor.rowcount == 1

    def add_follower(self, *, workspace: str, item_id: int, user: str, now: datetime) -> bool:
        with self._write() as conn:
            cursor = conn.execute(
                "INSERT OR IGNORE INTO followers (workspace, item_id, user, since)"
                " VALUES (?, ?, ?, ?)",
                (workspace, item_id, user, iso(now)),
            )
            return cursor.rowcount == 1

    def followers(self, *, workspace: str, item_id: int) -> list[str]:
        rows = self._all(
            "SELECT user FROM followers WHERE workspace = ? AND item_id = ? ORDER BY since, user",
            (workspace, item_id),
        )
        return [row["user"] for row in rows]

    def outbox_enqueue(self, *, workspace: str, item_id: int | None, entry: NewOutbox,
                       now: datetime | None = None) -> int:
        with self._write() as conn:
            return self._enqueue(conn, workspace, item_id, [entry], now or datetime.now(UTC))[0]

    # --- once-only markers and digest periods ------------------------------------
    def set_flag_once(self, *, workspace: str, item_id: int, flag: str, now: datetime,
                      changes: dict[str, Any] | None = None, event: Event | None = None,
                      outbox: list[NewOutbox] | None = None) -> bool:
        with self._write() as conn:
            cursor = conn.execute(
                "INSERT OR IGNORE INTO item_flags (workspace, item_id, flag, at)"
                " VALUES (?, ?, ?, ?)",
                (workspace, item_id, flag, iso(now)),
            )
            if cursor.rowcount == 0:
                return False
            values = item_to_row_partial(changes or {})
            if values:
                assignments = ", ".join(f"{column} = :{column}" for column in values)
                conn.execute(
                    f"UPDATE items SET {assignments} WHERE workspace = :_w AND id = :_id",
                    {**values, "_w": workspace, "_id": item_id},
                )
            if event is not None:
                self._append_event(conn, workspace, item_id, event)
            if outbox:
                self._enqueue(conn, workspace, item_id, outbox, now)
            return True

    def claim_digest(self, *, workspace: str, subscription: str, period: str, now: datetime,
                     late: bool, outbox: list[NewOutbox]) -> int | None:
        with self._write() as conn:
            cursor = conn.execute(
                "INSERT OR IGNORE INTO digest_claims (workspace, subscription, period,"
                " claimed_at, late) VALUES (?, ?, ?, ?, ?)",
                (workspace, subscription, period, iso(now), int(late)),
            )
            if cursor.rowcount == 0:
                return None
            ids = self._enqueue(conn, workspace, None, outbox, now)
            return ids[0] if ids else 0

    def digest_claims(self, *, workspace: str, subscription: str) -> list[str]:
        rows = self._all(
            "SELECT period FROM digest_claims WHERE workspace = ? AND subscription = ?"
            " ORDER BY period DESC",
            (workspace, subscription),
        )
        return [row["period"] for row in rows]

    # --- small state -----------------------------------------------------------
    def next_rotation(self, *, workspace: str, team: str) -> int:
        with self._write() as conn:
            row = conn.execute(
                "SELECT counter FROM rotations WHERE workspace = ? AND team = ?",
                (workspace, team),
            ).fetchone()
            counter = int(row["counter"]) if row else 0
            conn.execute(
                "INSERT INTO rotations (workspace, team, counter) VALUES (?, ?, ?)"
                " ON CONFLICT (workspace, team) DO UPDATE SET counter = excluded.counter",
                (workspace, team, counter + 1),
            )
            return counter

    def save_draft(self, *, workspace: str, data: dict[str, Any], now: datetime) -> int:
        with self._write() as conn:
            cursor = conn.execute(
                "INSERT INTO drafts (workspace, data, created_at) VALUES (?, ?, ?)",
                (workspace, json.dumps(data, ensure_ascii=False), iso(now)),
            )
            return int(cursor.lastrowid or 0)

    def get_draft(self, *, workspace: str, draft_id: int) -> dict[str, Any] | None:
        row = self._one(
            "SELECT data FROM drafts WHERE workspace = ? AND id = ?", (workspace, draft_id)
        )
        return json.loads(row["data"]) if row else None

    def get_channel_shared(self, *, workspace: str, channel: str) -> bool | None:
        row = self._one(
            "SELECT shared FROM channels WHERE workspace = ? AND channel = ?",
            (workspace, channel),
        )
        return bool(row["shared"]) if row else None

    def set_channel_shared(
        self, *, workspace: str, channel: str, shared: bool, now: datetime
    ) -> None:
        with self._write() as conn:
            conn.execute(
                "INSERT INTO channels (workspace, channel, shared, checked_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (workspace, channel) DO UPDATE SET shared = excluded.shared,"
                " checked_at = excluded.checked_at",
                (workspace, channel, int(shared), iso(now)),
            )

    def set_workspace_revoked(self, *, workspace: str, revoked_at: datetime | None) -> None:
        with self._write() as conn:
            conn.execute(
                "INSERT INTO workspaces (workspace, revoked_at) VALUES (?, ?)"
                " ON CONFLICT (workspace) DO UPDATE SET revoked_at = excluded.revoked_at",
                (workspace, iso(revoked_at)),
            )

    def is_workspace_revoked(self, *, workspace: str) -> bool:
        row = self._one("SELECT revoked_at FROM workspaces WHERE workspace = ?", (workspace,))
        return bool(row and row["revoked_at"])

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def item_to_row_partial(changes: dict[str, Any]) -> dict[str, Any]:
    """Convert a subset of item fields into column values."""
    converted = {}
    for column, value in changes.items():
        if isinstance(value, datetime):
            converted[column] = iso(value)
        elif isinstance(value, list):
            converted[column] = json.dumps(value)
        else:
            converted[column] = value
    return converted


def _outbox_from_row(row: sqlite3.Row) -> OutboxEntry:
    created = parse_iso(row["created_at"])
    due = parse_iso(row["next_attempt_at"])
    assert created is not None and due is not None
    return OutboxEntry(
        id=row["id"],
        workspace=row["workspace"],
        item_id=row["item_id"],
        kind=row["kind"],
        payload=json.loads(row["payload"] or "{}"),
        status=row["status"],
        attempts=row["attempts"],
        next_attempt_at=due,
        unknown_fate=bool(row["unknown_fate"]),
        last_error=row["last_error"],
        created_at=created,
        result=json.loads(row["result"]) if row["result"] else None,
    )
