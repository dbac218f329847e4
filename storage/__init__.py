"""Storage backends behind one Store interface."""

from __future__ import annotations

from storage.base import Store


def open_existing_store(database_url: str) -> Store:
    """Open a store that must already exist (for read-only commands).

    Raises ValueError naming the file when a SQLite database does not exist yet, so a
    read-only command never creates an empty one.
    """
    import os

    if database_url.startswith("sqlite:///"):
        path = database_url.removeprefix("sqlite:///")
        if path and path != ":memory:" and not os.path.exists(path):
            raise ValueError(f"there is no database at {path} yet (DATABASE_URL={database_url})")
    return open_store(database_url)


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
