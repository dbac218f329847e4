"""The "+1" links between items (migration 11), on both databases."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bot.models import Event, Item
from bot.outbox_kinds import CARD
from bot.store import NewOutbox
from storage.dialect import Database, Transaction
from storage.items import append_event, assignments
from storage.outbox import enqueue
from storage.rows import item_columns, item_from_row, read_time


def _write_all(tx: Transaction, workspace: str, item_id: int, parent: int, now: datetime,
               events: Sequence[Event], outbox: Sequence[NewOutbox],
               parent_outbox: Sequence[NewOutbox]) -> None:
    for event in events:
        append_event(tx, workspace, event.item_id, event)
    if outbox:
        enqueue(tx, workspace, item_id, list(outbox), now)
    if parent_outbox:
        enqueue(tx, workspace, parent, list(parent_outbox), now)


class LinkQueries:
    """The links part of the Store."""

    database: Database

    def linked_items(self, *, workspace: str, item_id: int) -> list[Item]:
        with self.database.read() as tx:
            rows = tx.all("SELECT * FROM items WHERE workspace = ? AND linked_to = ?"
                          " ORDER BY linked_at, id", (workspace, item_id))
        return [item_from_row(row) for row in rows]

    def link_counts(self, *, workspace: str, item_ids: Sequence[int]) -> dict[int, int]:
        counts: dict[int, int] = {}
        wanted = sorted(set(item_ids))
        with self.database.read() as tx:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start:start + 500]
                marks = ", ".join("?" for _ in chunk)
                for row in tx.all(
                        "SELECT linked_to, COUNT(*) AS n FROM items WHERE workspace = ?"
                        f" AND linked_to IN ({marks}) GROUP BY linked_to", (workspace, *chunk)):
                    counts[int(row["linked_to"])] = int(row["n"])
        return counts

    def most_linked(self, *, workspace: str, since: datetime, until: datetime,
                    teams: Sequence[str] | None, limit: int) -> list[tuple[int, int]]:
        if teams is not None and not teams:
            return []
        only = ""
        params: tuple[str, ...] = ()
        if teams is not None:
            only = f" AND p.team IN ({', '.join('?' for _ in teams)})"
            params = tuple(teams)
        with self.database.read() as tx:
            rows = tx.tuples(
                "SELECT p.id, COUNT(*) FROM items l JOIN items p ON p.workspace = l.workspace"
                " AND p.id = l.linked_to WHERE l.workspace = ? AND l.linked_to IS NOT NULL"
                f" AND l.linked_at >= ? AND l.linked_at < ?{only}"
                " GROUP BY p.id ORDER BY COUNT(*) DESC, p.id DESC LIMIT ?",
                (workspace, since, until, *params, limit))
        return [(int(row[0]), int(row[1])) for row in rows]

    def link_item(self, *, workspace: str, item_id: int, to: int, by: str, now: datetime,
                  changes: dict[str, Any], events: Sequence[Event],
                  outbox: Sequence[NewOutbox], parent_outbox: Sequence[NewOutbox],
                  ) -> Item | None:
        if item_id == to:
            return None
        values = item_columns({**changes, "linked_to": to, "linked_at": now, "linked_by": by})
        with self.database.write() as tx:
            cards = tx.all("SELECT id, lease_until FROM outbox WHERE workspace = ?"
                           " AND item_id = ? AND kind = ? AND status = 'pending'",
                           (workspace, item_id, CARD))
            if any(row["lease_until"] is not None and _after(row["lease_until"], now)
                   for row in cards):
                return None  # being posted right now: it is its own item
            row = tx.one(
                f"UPDATE items SET {assignments(values)} WHERE workspace = ? AND id = ?"
                " AND linked_to IS NULL AND card_ts IS NULL RETURNING *",
                (*values.values(), workspace, item_id))
            if row is None:
                return None
            for card in cards:
                tx.execute("UPDATE outbox SET status = 'cancelled', last_error = ?,"
                           " sent_at = ? WHERE id = ? AND status = 'pending'",
                           ("linked", now, card["id"]))
            # A +1 of this item is a +1 of the item it joins: links stay one level deep.
            tx.execute("UPDATE items SET linked_to = ? WHERE workspace = ? AND linked_to = ?",
                       (to, workspace, item_id))
            _write_all(tx, workspace, item_id, to, now, events, outbox, parent_outbox)
        return item_from_row(row)

    def unlink_item(self, *, workspace: str, item_id: int, parent: int,
                    changes: dict[str, Any], events: Sequence[Event],
                    outbox: Sequence[NewOutbox], parent_outbox: Sequence[NewOutbox],
                    ) -> Item | None:
        values = item_columns({**changes, "linked_to": None, "linked_at": None,
                               "linked_by": None})
        now = max((event.at for event in events), default=None)
        with self.database.write() as tx:
            row = tx.one(
                f"UPDATE items SET {assignments(values)} WHERE workspace = ? AND id = ?"
                " AND linked_to = ? RETURNING *",
                (*values.values(), workspace, item_id, parent))
            if row is None:
                return None
            moment = now or item_from_row(row).forwarded_at
            _write_all(tx, workspace, item_id, parent, moment, events, outbox, parent_outbox)
        return item_from_row(row)

    def update_linked(self, *, workspace: str, parent: int, changes: dict[str, Any],
                      unless_set: str | None = None) -> list[Item]:
        values = item_columns(changes)
        condition = ""
        if unless_set is not None:
            item_columns({unless_set: None})  # refuses a name that is no column
            condition = f' AND "{unless_set}" IS NULL'
        with self.database.write() as tx:
            rows = tx.all(f"UPDATE items SET {assignments(values)} WHERE workspace = ?"
                          f" AND linked_to = ?{condition} RETURNING *",
                          (*values.values(), workspace, parent))
        return sorted((item_from_row(row) for row in rows), key=lambda item: item.id)

    def release_held_card(self, *, workspace: str, item_id: int, now: datetime) -> bool:
        with self.database.write() as tx:
            return tx.execute(
                "UPDATE outbox SET next_attempt_at = ? WHERE workspace = ? AND item_id = ?"
                " AND kind = ? AND status = 'pending' AND next_attempt_at > ?"
                " AND attempts = 0", (now, workspace, item_id, CARD, now)) > 0


def _after(value: Any, now: datetime) -> bool:
    moment = read_time(value)
    return moment is not None and moment > now
