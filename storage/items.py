"""Items and their append-only events."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from bot.models import Event, Item
from bot.store import DuplicateSource, NewOutbox
from storage.dialect import Database, Transaction
from storage.outbox import enqueue
from storage.rows import ITEM_COLUMNS, event_from_row, item_columns, item_from_row


def append_event(tx: Transaction, workspace: str, item_id: int, event: Event) -> None:
    """Write one event inside an open transaction."""
    tx.execute(
        "INSERT INTO events (workspace, item_id, kind, actor, at, data)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (workspace, item_id, event.kind, event.actor, event.at,
         json.dumps(event.data, ensure_ascii=False)),
    )


def assignments(values: dict[str, Any]) -> str:
    """`"a" = ?, "b" = ?` for checked item columns, in the order of `values`."""
    return ", ".join(f'"{column}" = ?' for column in values)


def _find(tx: Transaction, condition: str, params: tuple[Any, ...]) -> Item | None:
    """One item of a workspace matching `condition` (a constant SQL fragment)."""
    row = tx.one(
        f"SELECT * FROM items WHERE workspace = ? AND {condition} ORDER BY id LIMIT 1", params
    )
    return item_from_row(row) if row else None


class ItemQueries:
    """The items-and-events part of the Store."""

    database: Database

    def create_item(self, *, item: Item, event: Event, outbox: list[NewOutbox]) -> Item:
        values = item_columns({column: getattr(item, column) for column in ITEM_COLUMNS
                               if column != "id"})
        columns = ", ".join(f'"{column}"' for column in values)
        marks = ", ".join("?" for _ in values)
        # Not synced (see Database.write): the request it comes from was, and its card
        # leaves only after a synced outbox lease.
        with self.database.write(synced=False) as tx:
            inserted = tx.one(
                f"INSERT INTO items ({columns}) VALUES ({marks})"
                " ON CONFLICT DO NOTHING RETURNING *",
                tuple(values.values()),
            )
            if inserted is not None:
                created = item_from_row(inserted)
                append_event(tx, item.workspace, created.id, event)
                enqueue(tx, item.workspace, created.id, outbox, event.at)
                return created
            # A unique index said no. SQLite's write lock, or PostgreSQL at READ
            # COMMITTED (an INSERT waits for a conflicting insert to finish), lets this
            # statement see the row that won, committed.
            existing = None
            if item.source_channel and item.source_ts:
                existing = _find(tx, "source_channel = ? AND source_ts = ?",
                                 (item.workspace, item.source_channel, item.source_ts))
            if existing is None and item.intake_key:
                existing = _find(tx, "intake_key = ?", (item.workspace, item.intake_key))
        if existing is None:
            raise RuntimeError(
                f"item of workspace {item.workspace} conflicted with a row that is not there"
            )
        raise DuplicateSource(existing)

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
        values = item_columns(changes)
        expected = item_columns(only_if or {})
        where = ["workspace = ?", "id = ?"]
        params: list[Any] = [workspace, item_id]
        for column, value in expected.items():
            if value is None:
                where.append(f'"{column}" IS NULL')
            else:
                where.append(f'"{column}" = ?')
                params.append(value)
        condition = " AND ".join(where)
        with self.database.write(synced=False) as tx:
            if values:
                row = tx.one(
                    f"UPDATE items SET {assignments(values)} WHERE {condition} RETURNING *",
                    (*values.values(), *params),
                )
            else:
                # Lock the row so that the check and the event are one step, as an UPDATE is.
                row = tx.one(
                    f"SELECT * FROM items WHERE {condition}{self.database.dialect.for_update}",
                    tuple(params),
                )
            if row is None:
                return None
            if event is not None:
                append_event(tx, workspace, item_id, event)
            if outbox:
                enqueue(tx, workspace, item_id, outbox,
                        event.at if event else (now or datetime.now(UTC)))
        return item_from_row(row)

    def get_item(self, *, workspace: str, item_id: int) -> Item | None:
        with self.database.read() as tx:
            return _find(tx, "id = ?", (workspace, item_id))

    def find_item_by_source(self, *, workspace: str, channel: str, ts: str) -> Item | None:
        with self.database.read() as tx:
            return _find(tx, "source_channel = ? AND source_ts = ?", (workspace, channel, ts))

    def find_item_by_intake_key(self, *, workspace: str, key: str) -> Item | None:
        with self.database.read() as tx:
            return _find(tx, "intake_key = ?", (workspace, key))

    def find_item_by_card(self, *, workspace: str, channel: str, ts: str) -> Item | None:
        with self.database.read() as tx:
            return _find(tx, "card_channel = ? AND card_ts = ?", (workspace, channel, ts))

    def find_item_by_past_card(self, *, workspace: str, channel: str, ts: str) -> Item | None:
        # Every card ever posted is recorded by its "routed" event.
        dialect = self.database.dialect
        with self.database.read() as tx:
            row = tx.one(
                "SELECT item_id FROM events WHERE workspace = ? AND kind = 'routed'"
                f" AND {dialect.json_text('data', 'channel')} = ?"
                f" AND {dialect.json_text('data', 'ts')} = ?"
                " ORDER BY id DESC LIMIT 1",
                (workspace, channel, ts),
            )
            if row is None:
                return None
            return _find(tx, "id = ?", (workspace, int(row["item_id"])))

    def item_workspaces(self) -> list[str]:
        # A skip scan: one index seek per workspace (the items_card index leads with it),
        # instead of reading an index entry for every item.
        with self.database.read() as tx:
            rows = tx.all(
                "WITH RECURSIVE found (workspace) AS ("
                " SELECT MIN(workspace) FROM items"
                " UNION ALL SELECT (SELECT MIN(workspace) FROM items"
                " WHERE items.workspace > found.workspace) FROM found"
                " WHERE found.workspace IS NOT NULL)"
                " SELECT workspace FROM found WHERE workspace IS NOT NULL")
        # Byte order on every database (code point order is UTF-8's byte order).
        return sorted(str(row["workspace"]) for row in rows)

    def list_items(
        self, *, workspace: str | None = None, forwarded_since: datetime | None = None
    ) -> list[Item]:
        where: list[str] = []
        params: list[Any] = []
        if workspace is not None:
            where.append("workspace = ?")
            params.append(workspace)
        if forwarded_since is not None:
            where.append("forwarded_at >= ?")
            params.append(forwarded_since)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        with self.database.read() as tx:
            rows = tx.all(f"SELECT * FROM items {clause} ORDER BY forwarded_at, id", params)
        return [item_from_row(row) for row in rows]

    def prune_items(self, *, forwarded_before: datetime) -> int:
        doomed = "SELECT id FROM items WHERE forwarded_at < ?"
        with self.database.write() as tx:
            for table in ("events", "followers", "item_flags", "outbox"):
                tx.execute(f"DELETE FROM {table} WHERE item_id IN ({doomed})",
                           (forwarded_before,))
            return tx.execute("DELETE FROM items WHERE forwarded_at < ?", (forwarded_before,))

    # --- events ------------------------------------------------------------------
    def events_for(self, *, workspace: str, item_id: int) -> list[Event]:
        return self._events("item_id = ?", (workspace, item_id))

    def events_of_kind(self, *, workspace: str, kind: str) -> list[Event]:
        return self._events("kind = ?", (workspace, kind))

    def _events(self, condition: str, params: tuple[Any, ...]) -> list[Event]:
        with self.database.read() as tx:
            rows = tx.all(
                f"SELECT * FROM events WHERE workspace = ? AND {condition} ORDER BY id", params
            )
        return [event_from_row(row) for row in rows]
