"""Storage backends behind one Store interface."""

from __future__ import annotations

from storage.base import Store


def open_store(database_url: str) -> Store:
    """Open the store named by a DATABASE_URL.

    `sqlite:///relative.db`, `sqlite:////absolute.db` and `sqlite:///:memory:` are
    supported. Raises ValueError for anything else, naming what is accepted.
    """
    if database_url.startswith("sqlite:///"):
        from storage.sqlite import SqliteStore

        return SqliteStore(database_url.removeprefix("sqlite:///") or ":memory:")
    if database_url.startswith(("postgres://", "postgresql://")):
        raise ValueError(
            "PostgreSQL is not supported yet in this version; use DATABASE_URL=sqlite:///path.db"
        )
    raise ValueError(
        f"DATABASE_URL {database_url!r} is not understood; use sqlite:///path.db"
    )
