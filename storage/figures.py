"""The reads behind digests, stats, `mine`, suggest-rules and export: one window at a time.

Figures never read the whole history, nor hold an object per item of their window: the
counts of items forwarded and resolved in each window are summed in the database, and
only the items first answered in the stretch (whose durations make the medians) and
those still waiting come back as rows, through the covering indexes of migration 6.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from bot.collector import collector_paused
from bot.figure_rows import FigureRows, TeamCounts, Window
from bot.micros import TIME_ORIGIN_UNIX
from bot.models import Event, Item
from storage.dialect import Database, Dialect
from storage.rows import ITEM_COLUMNS, event_from_row, item_from_row

# What figures read of a waiting item; nothing else is fetched.
FIGURE_COLUMNS = ("id", "workspace", "team", "status", "severity", "received_at",
                  "forwarded_at", "first_response_at", "resolved_at", "reassignments")
# Waiting: nobody answered and nobody resolved it (bot.metrics counts these as waiting).
# A "+1" (linked_to) waits on the item it joined, never on its own (bot/links.py).
WAITING = "first_response_at IS NULL AND status <> 'resolved' AND linked_to IS NULL"
# Without statistics (a store nobody ran ANALYZE on) SQLite may rather read every item
# of the workspace through a covering index than the few waiting ones through the
# partial index; SQLite (only) is told which index to use.
_SQLITE_WAITING_INDEX = " INDEXED BY items_waiting"


def _waiting_from(dialect: str) -> str:
    return "items" + (_SQLITE_WAITING_INDEX if dialect == "sqlite" else "")


def _teams_clause(teams: Sequence[str] | None) -> tuple[str, list[Any]]:
    if teams is None:
        return "", []
    return f" AND team IN ({', '.join('?' for _ in teams)})", list(teams)


def counts_sql(column: str, windows: int, teams: Sequence[str] | None) -> str:
    """Per team, for each of `windows` windows: how many rows have `column` inside it.

    For forwarded_at also how many of those were reassigned. One range of one covering
    index is read (the windows' span), and only the per-team sums leave the database.
    """
    inside = f"{column} >= ? AND {column} < ?"
    sums = []
    for _ in range(windows):
        sums.append(f"SUM(CASE WHEN {inside} THEN 1 ELSE 0 END)")
        if column == "forwarded_at":
            sums.append(f"SUM(CASE WHEN {inside} AND reassignments > 0 THEN 1 ELSE 0 END)")
    return (f"SELECT team, {', '.join(sums)} FROM items WHERE workspace = ? AND {inside}"
            f"{_teams_clause(teams)[0]} GROUP BY team")


def micros_sql(dialect: Dialect, column: str) -> str:
    """An expression for a time column as an integer of microseconds since 2000-01-01 UTC
    (bot/micros.py); a row holding it is read with `tuples(..., micros=True)`."""
    # PostgreSQL's binary timestamptz already is that number (see Transaction.tuples).
    return _sqlite_micros().format(column=column) if dialect.name == "sqlite" else column


@lru_cache(maxsize=1)
def _sqlite_micros() -> str:
    """SQL for an `iso` time (`YYYY-MM-DDTHH:MM:SS.ffffffZ`) as microseconds since 2000.

    Its whole seconds, and the six digits of its fraction. SQLite's own reading keeps
    milliseconds only: some versions round them (from .9995 on, the next second), later
    ones cut them. Which one this SQLite does is asked once, at every second of a minute;
    a rounding SQLite has its carry taken back, and any other gets the slower exact form.
    """
    cut = "substr({column}, 1, 19)"
    if sqlite3.sqlite_version_info < (3, 38, 0):  # no unixepoch yet
        seconds = f"CAST(strftime('%s', {cut}) AS INTEGER)"
    else:
        seconds = f"unixepoch({cut})"
        probe = sqlite3.connect(":memory:")
        try:
            read = [probe.execute("SELECT unixepoch(?) - unixepoch(?), unixepoch(?) - unixepoch(?)",
                                  (f"2000-01-01T00:00:{second:02d}.999500Z", "2000-01-01",
                                   f"2000-01-01T00:00:{second:02d}.999499Z", "2000-01-01")
                                  ).fetchone() for second in range(60)]
        finally:
            probe.close()
        if all(read[second] == (second, second) for second in range(60)):
            seconds = "unixepoch({column})"
        elif all(read[second] == (second + 1, second) for second in range(60)):
            seconds = "(unixepoch({column}) - (substr({column}, 21, 6) >= '999500'))"
    return f"(({seconds} - {TIME_ORIGIN_UNIX}) * 1000000 + substr({{column}}, 21, 6))"


def answered_sql(dialect: Dialect, teams: Sequence[str] | None = None) -> str:
    """The items first answered in [?, ?) of a workspace (`teams` only, when given).

    Their times come as microseconds (micros_sql; read with `tuples(micros=True)`), in
    answer order as the index holds them: figures find a window's answers by bisection.
    Parameters: workspace, since, until (, teams).
    """
    # SQLite's statistics may prefer the smaller items_window_heard_back, which lacks
    # severity and forwarded_at: every row would then be looked up in the table too.
    source = "items INDEXED BY items_window_responded" if dialect.name == "sqlite" else "items"
    times = ", ".join(micros_sql(dialect, column)
                      for column in ("received_at", "forwarded_at", "first_response_at"))
    return (f"SELECT team, severity, {times} FROM {source} WHERE workspace = ?"
            " AND first_response_at >= ? AND first_response_at < ?"
            f"{_teams_clause(teams)[0]} ORDER BY first_response_at")


def events_with_items_sql(*, since: bool) -> str:
    """Events of one kind (at or after a moment, with `since`) with their light items' rows.

    Through events_kind_at, then each item by its key: only the columns figures use.
    Parameters: workspace, kind (, since).
    """
    light = ", ".join(f"i.{column}" for column in FIGURE_COLUMNS)
    return (f"SELECT e.item_id, e.kind, e.actor, e.at, e.data, i.text, {light}"
            " FROM events AS e JOIN items AS i ON i.workspace = e.workspace"
            " AND i.id = e.item_id WHERE e.workspace = ? AND e.kind = ?"
            f"{' AND e.at >= ?' if since else ''} ORDER BY e.at, e.id")


def item_columns_sql() -> str:
    """Every item column by name. Not `*`: PostgreSQL's rows also hold the search vector,
    which no figure reads."""
    return ", ".join(f'"{column}"' for column in ITEM_COLUMNS)


EXPORT_BATCH = 1000


def _utc(value: str | datetime) -> datetime:
    # SQLite's `…Z` text parses straight to UTC (Python 3.11+); PostgreSQL gives datetimes.
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment if moment.tzinfo is UTC else moment.astimezone(UTC)


def _time(value: str | datetime | None) -> datetime | None:
    return None if value is None else _utc(value)


def figure_item_from_values(values: tuple[Any, ...], text: str = "") -> Item:
    """A light item from a row of FIGURE_COLUMNS (a tuple) and its `text`: the rest left empty."""
    (item_id, workspace, team, status, severity, received_at, forwarded_at,
     first_response_at, resolved_at, reassignments) = values
    received, forwarded = _time(received_at), _time(forwarded_at)
    if received is None or forwarded is None:
        raise ValueError(f"stored item {item_id} has no received_at or forwarded_at")
    return Item(
        workspace=workspace, id=item_id, team=team, status=status,
        text=text, customer=None, severity=severity, source_channel=None,
        source_ts=None, forwarded_by="", received_at=received, forwarded_at=forwarded,
        first_response_at=_time(first_response_at), resolved_at=_time(resolved_at),
        reassignments=reassignments,
    )


class FigureQueries:
    """The window reads of the Store."""

    database: Database

    def figure_rows(self, *, workspace: str, windows: Sequence[Window],
                    answered_since: datetime, until: datetime,
                    teams: Sequence[str] | None = None) -> FigureRows:
        if teams is not None and not teams:
            return FigureRows(windows=tuple(windows), counts=tuple({} for _ in windows),
                              answered_since=answered_since, until=until, answered=[],
                              waiting=[])
        with collector_paused():
            return self._figure_rows(workspace=workspace, windows=windows,
                                     answered_since=answered_since, until=until, teams=teams)

    def _figure_rows(self, *, workspace: str, windows: Sequence[Window],
                     answered_since: datetime, until: datetime,
                     teams: Sequence[str] | None) -> FigureRows:
        span = (min(start for start, _ in windows), max(end for _, end in windows))
        in_windows = [moment for window in windows for moment in window]
        only, team_params = _teams_clause(teams)
        dialect = self.database.dialect.name
        with self.database.read() as tx:
            forwarded = tx.tuples(counts_sql("forwarded_at", len(windows), teams), [
                *(moment for window in windows for moment in (*window, *window)),
                workspace, *span, *team_params])
            resolved = tx.tuples(counts_sql("resolved_at", len(windows), teams),
                                 [*in_windows, workspace, *span, *team_params])
            answered = tx.tuples(answered_sql(self.database.dialect, teams),
                                 [workspace, answered_since, until, *team_params], micros=True)
            waiting = tx.tuples(f"SELECT {', '.join(FIGURE_COLUMNS)}"
                                f" FROM {_waiting_from(dialect)} WHERE workspace = ?"
                                f" AND {WAITING}{only}", [workspace, *team_params])
        counts: list[dict[str, list[int]]] = [{} for _ in windows]
        for team, *sums in forwarded:
            for number, teams_counts in enumerate(counts):
                new, moved = sums[2 * number], sums[2 * number + 1]
                if new:
                    teams_counts[team] = [new, moved, 0]
        for team, *sums in resolved:
            for number, teams_counts in enumerate(counts):
                if sums[number]:
                    teams_counts.setdefault(team, [0, 0, 0])[2] = sums[number]
        return FigureRows(
            windows=tuple(windows),
            counts=tuple({team: TeamCounts(*tally) for team, tally in teams_counts.items()}
                         for teams_counts in counts),
            answered_since=answered_since, until=until, answered=answered,
            waiting=[figure_item_from_values(values) for values in waiting])

    def waiting_items(self, *, workspace: str) -> list[Item]:
        with self.database.read() as tx:
            rows = tx.all(
                f"SELECT {item_columns_sql()} FROM {_waiting_from(self.database.dialect.name)}"
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
                rows = tx.all(f"SELECT {item_columns_sql()} FROM items"
                              f" WHERE workspace = ? AND id IN ({marks})"
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

    def events_with_items(self, *, workspace: str, kind: str,
                          since: datetime | None = None) -> list[tuple[Event, Item]]:
        params: list[Any] = [workspace, kind, *([since] if since is not None else [])]
        with self.database.read() as tx:
            rows = tx.tuples(events_with_items_sql(since=since is not None), params)
        found = []
        for item_id, event_kind, actor, at, data, text, *values in rows:
            event = event_from_row({"item_id": item_id, "kind": event_kind, "actor": actor,
                                    "at": at, "data": data})
            found.append((event, figure_item_from_values(tuple(values), text)))
        return found

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
