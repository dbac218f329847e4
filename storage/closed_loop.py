"""The closed-loop read of the Store: answered items and when their customer heard back."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from bot.store_closed_loop import HeardBackRow
from storage.dialect import Database

# Through items_window_heard_back (migration 10), which holds every column read: only the
# window's answered items are visited. SQLite, without statistics, might prefer the
# answered-items index of the figures, which lacks customer_answered_at; it is told.
_SQL = ("SELECT team, received_at, first_response_at, customer_answered_at"
        " FROM items{indexed} WHERE workspace = ? AND first_response_at >= ?"
        " AND first_response_at < ?{teams}")


def _moment(value: str | datetime) -> datetime:
    # SQLite's `…Z` text parses straight to UTC; PostgreSQL gives datetimes (in UTC).
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment if moment.tzinfo is UTC else moment.astimezone(UTC)


class ClosedLoopQueries:
    """The closed-loop read of the Store."""

    database: Database

    def heard_back_rows(self, *, workspace: str, since: datetime, until: datetime,
                        teams: Sequence[str] | None = None) -> list[HeardBackRow]:
        if teams is not None and not teams:
            return []
        only = "" if teams is None else f" AND team IN ({', '.join('?' for _ in teams)})"
        indexed = (" INDEXED BY items_window_heard_back"
                   if self.database.dialect.name == "sqlite" else "")
        with self.database.read() as tx:
            rows = tx.tuples(_SQL.format(indexed=indexed, teams=only),
                             [workspace, since, until, *(teams or ())])
        return [(team, _moment(received), _moment(answered),
                 None if told is None else _moment(told))
                for team, received, answered, told in rows]
