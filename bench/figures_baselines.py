"""The baselines the digest's figures are measured against: what SQL alone does."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime, time, timedelta
from typing import Any

# Every row a digest's figures touch: forwarded, first answered or resolved in the
# stretch it reads, or waiting now; each once, one UNION ALL branch per covering index.
_OUTSIDE = "({column} IS NULL OR {column} < ? OR {column} >= ?)"


def window_rows_sql(postgres: bool) -> str:
    """The rows of the baseline aggregate, read through the same indexes as the figures."""
    from storage.figures import FIGURE_COLUMNS, WAITING

    select = "SELECT " + ", ".join(FIGURE_COLUMNS) + " FROM {table} WHERE workspace = ?"
    plain = select.format(table="items")
    waiting_from = "items" if postgres else "items INDEXED BY items_waiting"
    return " UNION ALL ".join([
        f"{plain} AND forwarded_at >= ? AND forwarded_at < ?",
        f"{plain} AND first_response_at >= ? AND first_response_at < ?"
        " AND (forwarded_at < ? OR forwarded_at >= ?)",
        f"{plain} AND resolved_at >= ? AND resolved_at < ?"
        " AND (forwarded_at < ? OR forwarded_at >= ?)"
        f" AND {_OUTSIDE.format(column='first_response_at')}",
        f"{select.format(table=waiting_from)} AND {WAITING}"
        " AND (forwarded_at < ? OR forwarded_at >= ?)"
        f" AND {_OUTSIDE.format(column='resolved_at')}",
    ])


def window_rows_params(workspace: str, since: datetime, until: datetime) -> list[Any]:
    window = (since, until)
    return [workspace, *window, workspace, *window, *window,
            workspace, *window, *window, *window, workspace, *window, *window]


def raw_aggregate(store: Any, workspace: str, start: datetime, end: datetime) -> Any:
    """One GROUP BY over every row the digest's figures touch (same stretch, same indexes)."""
    from bot.digest import answers_since

    postgres = store.database.dialect.name == "postgresql"
    with store.database.read() as tx:
        return tx.all("SELECT team, COUNT(*) AS n, MIN(received_at) AS first,"
                      " MAX(first_response_at) AS last, SUM(reassignments) AS moved"
                      f" FROM ({window_rows_sql(postgres)}) AS window_rows GROUP BY team",
                      window_rows_params(workspace, answers_since(start, end), end))


def rows_alone(store: Any, workspace: str, start: datetime, end: datetime) -> Any:
    """Only the digest's read: counts, answered items' times and waiting items."""
    from bot.digest import answers_since, digest_windows

    return store.figure_rows(workspace=workspace, windows=digest_windows(start, end),
                             answered_since=answers_since(start, end), until=end)


def _day_starts(end: datetime, tz: str, days: int) -> list[datetime]:
    zone = zoneinfo.ZoneInfo(tz)
    last = end.astimezone(zone).date()
    return [datetime.combine(last - timedelta(days=back), time(0), tzinfo=zone).astimezone(UTC)
            for back in range(days - 1, -1, -1)]


def raw_medians(store: Any, workspace: str, start: datetime, end: datetime,
                tz: str) -> list[Any]:
    """By SQL alone: per team, new, resolved and answered items, and the median and p90 time
    to response in the window and the 7 days before; and the median of each of 14 days.

    PostgreSQL has percentile_cont/percentile_disc; SQLite ranks with ROW_NUMBER.
    """
    from bot.models import iso

    days = _day_starts(end, tz, 14)
    previous = start - timedelta(days=7)
    postgres = store.database.dialect.name == "postgresql"
    mark = "?"

    def value(moment: datetime) -> str:
        return f"'{moment.isoformat()}'::timestamptz" if postgres else f"'{iso(moment)}'"

    part = (f"CASE WHEN first_response_at >= {value(start)} THEN 0"
            f" WHEN first_response_at >= {value(previous)} THEN 1 ELSE 2 END")
    day = "CASE " + " ".join(f"WHEN first_response_at < {value(moment)} THEN {number - 1}"
                             for number, moment in enumerate(days)) + " ELSE 13 END"
    if postgres:
        duration = "EXTRACT(EPOCH FROM first_response_at - received_at)"
    else:
        duration = "(julianday(first_response_at) - julianday(received_at)) * 86400"
    answered = (f"SELECT team, {part} AS part, {day} AS day, {duration} AS d FROM items"
                f" WHERE workspace = {mark} AND first_response_at >= {mark}"
                f" AND first_response_at < {mark}")
    since = min(previous, days[0])
    counts = (f"SELECT team, SUM(CASE WHEN forwarded_at >= {value(start)} THEN 1 ELSE 0 END),"
              f" COUNT(*) FROM items WHERE workspace = {mark} AND forwarded_at >= {mark}"
              f" AND forwarded_at < {mark} GROUP BY team")
    resolved = counts.replace("forwarded_at", "resolved_at")
    if postgres:
        by_part = (f"SELECT team, part, COUNT(*), percentile_cont(0.5) WITHIN GROUP (ORDER BY d),"
                   f" percentile_disc(0.9) WITHIN GROUP (ORDER BY d) FROM ({answered}) AS a"
                   " WHERE part < 2 GROUP BY team, part")
        by_day = (f"SELECT team, day, percentile_cont(0.5) WITHIN GROUP (ORDER BY d)"
                  f" FROM ({answered}) AS a WHERE day >= 0 GROUP BY team, day")
    else:
        ranked = ("SELECT team, {key}, d, ROW_NUMBER() OVER (PARTITION BY team, {key}"
                  " ORDER BY d) AS r, COUNT(*) OVER (PARTITION BY team, {key}) AS n"
                  f" FROM ({answered}) WHERE {{key}} {{keep}}")
        by_part = ("SELECT team, part, MAX(n), AVG(CASE WHEN r IN ((n + 1) / 2, (n + 2) / 2)"
                   " THEN d END), MAX(CASE WHEN r = (9 * n + 9) / 10 THEN d END)"
                   f" FROM ({ranked.format(key='part', keep='< 2')}) GROUP BY team, part")
        by_day = ("SELECT team, day, AVG(d) FROM"
                  f" ({ranked.format(key='day', keep='>= 0')})"
                  " WHERE r IN ((n + 1) / 2, (n + 2) / 2) GROUP BY team, day")
    window = [workspace, since, end]
    with store.database.read() as tx:
        return [tx.tuples(counts, [workspace, previous, end]),
                tx.tuples(resolved, [workspace, previous, end]),
                tx.tuples(by_part, window), tx.tuples(by_day, window)]
