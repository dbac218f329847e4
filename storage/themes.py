"""The themes read of the Store: id, team and text of a stretch's items, page by page."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from bot.store_themes import TeamSaid
from bot.themes import Said
from storage.dialect import Database

# Through an index on forwarded_at (items_forwarded, or items_window_forwarded whose key
# starts with workspace): only the stretch's rows are visited, in the order paged by.
_PAGE = ("SELECT id, team, forwarded_at, text FROM items WHERE workspace = ?"
         " AND forwarded_at >= ? AND forwarded_at < ?{teams}{after}"
         " ORDER BY forwarded_at, id LIMIT {batch}")
# Keyset: past the last row read. `forwarded_at >= ?` lets the index seek to the page's
# start (an OR alone would have it read from the stretch's start every page).
_AFTER = " AND forwarded_at >= ? AND (forwarded_at > ? OR id > ?)"


def _moment(value: str | datetime) -> datetime:
    # SQLite's `…Z` text parses straight to UTC; PostgreSQL gives datetimes (in UTC).
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment if moment.tzinfo is UTC else moment.astimezone(UTC)


class ThemeQueries:
    """The themes read of the Store."""

    database: Database

    def said_forwarded(self, *, workspace: str, since: datetime, until: datetime,
                       teams: Sequence[str] | None = None,
                       batch: int = 2000) -> Iterator[TeamSaid]:
        if teams is not None and not teams:
            return
        only, team_params = "", list[Any]()
        if teams is not None:
            only = f" AND team IN ({', '.join('?' for _ in teams)})"
            team_params = list(teams)
        first = _PAGE.format(teams=only, after="", batch=int(batch))
        following = _PAGE.format(teams=only, after=_AFTER, batch=int(batch))
        params: list[Any] = [workspace, since, until, *team_params]
        with self.database.read() as tx:
            rows = tx.tuples(first, params)
        while rows:
            for item_id, team, forwarded_at, text in rows:
                yield TeamSaid(team=team, forwarded_at=_moment(forwarded_at),
                               said=Said(item_id=item_id, text=text or ""))
            if len(rows) < batch:
                return
            last_id, _, last_at, _ = rows[-1]
            with self.database.read() as tx:
                rows = tx.tuples(following, [*params, last_at, last_at, last_id])
