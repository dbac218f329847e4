"""The reads behind digests, stats, `mine`, suggest-rules and export: one window at a time.

Figures never read the whole history: a window's items come through the indexes of
migration 6 (forwarded, first answered or resolved in the window, or still waiting),
and only the columns the figures use.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from bot.models import Event, Item
from storage.dialect import Database
from storage.rows import event_from_row, item_from_row

# What compute_figures and daily_medians read of an item; nothing else is fetched.
FIGURE_COLUMNS = ("id", "workspace", "team", "status", "severity", "received_at",
                  "forwarded_at", "first_response_at", "resolved_at", "reassignments")
# Waiting: nobody answered and nobody resolved it (bot.metrics counts these as waiting).
WAITING = "first_response_at IS NULL AND status <> 'resolved'"
_OUTSIDE = "({column} IS NULL OR {column} < ? OR {column} >= ?)"
# Without statistics (a store nobody ran ANALYZE on) SQLite may rather read every item
# of the workspace through a covering index than the few waiting ones through the
# partial index; SQLite (only) is told which index to use.
_SQLITE_WAITING_INDEX = " INDEXED BY items_waiting"


def _waiting_from(dialect: str) -> str:
    return "items" + (_SQLITE_WAITING_INDEX if dialect == "sqlite" else "")


def window_sql(dialect: str) -> str:
    """The window's rows: one UNION ALL branch per index; `dialect` is Dialect.name."""
    select = "SELECT " + ", ".join(FIGURE_COLUMNS) + " FROM {table} WHERE workspace = ?"
    plain = select.format(table="items")
    # Each branch reads one index range and leaves out the rows an earlier branch has,
    # so no row comes twice and nothing has to be sorted to remove duplicates.
    return " UNION ALL ".join([
        f"{plain} AND forwarded_at >= ? AND forwarded_at < ?",
        f"{plain} AND first_response_at >= ? AND first_response_at < ?"
        " AND (forwarded_at < ? OR forwarded_at >= ?)",
        f"{plain} AND resolved_at >= ? AND resolved_at < ?"
        " AND (forwarded_at < ? OR forwarded_at >= ?)"
        f" AND {_OUTSIDE.format(column='first_response_at')}",
        # A reopened item keeps its resolved_at: it may be in the branch above already.
        f"{select.format(table=_waiting_from(dialect))} AND {WAITING}"
        " AND (forwarded_at < ? OR forwarded_at >= ?)"
        f" AND {_OUTSIDE.format(column='resolved_at')}",
    ])


def window_params(workspace: str, since: datetime, until: datetime) -> list[Any]:
    """The parameters of window_sql, in order."""
    window = (since, until)
    return [workspace, *window, workspace, *window, *window,
            workspace, *window, *window, *window, workspace, *window, *window]


EXPORT_BATCH = 1000


def _time(value: str | datetime | None) -> datetime | None:
    # SQLite's `…Z` text parses straight to UTC (Python 3.11+); PostgreSQL gives datetimes.
    if value is None:
        return None
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment if moment.tzinfo is UTC else moment.astimezone(UTC)


def figure_item_from_values(values: tuple[Any, ...]) -> Item:
    """A light item from a row of FIGURE_COLUMNS (a tuple): the rest, text included, left empty."""
    (item_id, workspace, team, status, severity, received_at, forwarded_at,
     first_response_at, resolved_at, reassignments) = values
    received, forwarded = _time(received_at), _time(forwarded_at)
    if received is None or forwarded is None:
        raise ValueError(f"stored item {item_id} has no received_at or forwarded_at")
    return Item(
        workspace=workspace, id=item_id, team=team, status=status,
        text="", customer=None, severity=severity, source_channel=None,
        source_ts=None, forwarded_by="", received_at=received, forwarded_at=forwarded,
        first_response_at=_time(first_response_at), resolved_at=_time(resolved_at),
        reassignments=reassignments,
    )


class FigureQueries:
    """The window reads of the Store."""

    database: Database

    def window_items(self, *, workspace: str, since: datetime, until: datetime,
                     teams: Sequence[str] | None = None) -> list[Item]:
        params = window_params(workspace, since, until)
        sql = window_sql(self.database.dialect.name)
        if teams is not None:
            if not teams:
                return []
            marks = ", ".join("?" for _ in teams)
            sql = f"SELECT * FROM ({sql}) AS window_rows WHERE team IN ({marks})"
            params.extend(teams)
        with self.database.read() as tx:
            # Tuples, not dicts: one dict per row was a large share of the read's time.
            rows = tx.tuples(sql, params)
        # Each row is let go as soon as its item is made, so they never all coexist.
        rows.reverse()
        items = []
        while rows:
            items.append(figure_item_from_values(rows.pop()))
        return items

    def waiting_items(self, *, workspace: str) -> list[Item]:
        with self.database.read() as tx:
            rows = tx.all(
                f"SELECT * FROM {_waiting_from(self.database.dialect.name)}"
                f" WHERE workspace = ? AND {WAITING}"
                " ORDER BY received_at, forwarded_at, id", (workspace,))
        return [item_from_row(row) for row in rows]

    def items_by_ids(self, *, workspace: str, ids: Sequence[int]) -> list[Item]:
        if not ids:
            return []
        wanted = sorted(set(ids))
        found: list[Item] = []
        with self.database.read() as tx:
            # In slices, so that no statement exceeds a database's parameter limit.
            for start in range(0, len(wanted), 500):
                chunk = wanted[start:start + 500]
                marks = ", ".join("?" for _ in chunk)
                rows = tx.all(f"SELECT * FROM items WHERE workspace = ? AND id IN ({marks})"
                              " ORDER BY id", (workspace, *chunk))
                found.extend(item_from_row(row) for row in rows)
        return found

    def events_of_kind_since(self, *, workspace: str, kind: str,
                             since: datetime | None = None) -> list[Event]:
        condition = "workspace = ? AND kind = ?"
        params: list[Any] = [workspace, kind]
        if since is not None:
            condition += " AND at >= ?"
            params.append(since)
        with self.database.read() as tx:
            # By time, as events_kind_at holds them: only the asked-for stretch is read.
            rows = tx.all(f"SELECT * FROM events WHERE {condition} ORDER BY at, id", params)
        return [event_from_row(row) for row in rows]

    def iter_items(self, *, forwarded_since: datetime | None = None,
                   batch: int = EXPORT_BATCH) -> Iterator[Item]:
        # Keyset pages in (forwarded_at, id) order: each page is its own short read, so
        # memory stays one page and writers are never held up for the whole export.
        where, params = "", list[Any]()
        if forwarded_since is not None:
            where, params = "WHERE forwarded_at >= ?", [forwarded_since]
        sql = f"SELECT * FROM items {where} ORDER BY forwarded_at, id LIMIT {int(batch)}"
        # `forwarded_at >= ?` lets the index seek to the page's start; the rest skips the
        # items of the same moment already written.
        after = ("WHERE" if not where else where + " AND") + " forwarded_at >= ? AND" \
            " (forwarded_at > ? OR id > ?)"
        next_sql = f"SELECT * FROM items {after} ORDER BY forwarded_at, id LIMIT {int(batch)}"
        with self.database.read() as tx:
            rows = tx.all(sql, params)
        while rows:
            for row in rows:
                yield item_from_row(row)
            if len(rows) < batch:
                return
            last = rows[-1]
            with self.database.read() as tx:
                rows = tx.all(next_sql, [*params, last["forwarded_at"], last["forwarded_at"],
                                         last["id"]])
