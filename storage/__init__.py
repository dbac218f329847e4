"""Storage backends behind one Store interface."""

from __future__ import annotations

from bot.store import Store, StoreUnavailable


def open_existing_store(database_url: str) -> Store:
    """Open a store that must already exist (for read-only commands).

    Raises ValueError naming the file when a SQLite database does not exist yet, so a
    read-only command never creates an empty one. A PostgreSQL database is simply
    opened: the server already holds it.
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
    supported, and so are `postgresql://user:password@host:port/dbname` and
    `postgres://…`. Raises ValueError for anything else, naming what is accepted, and
    StoreUnavailable (a ValueError) for a database that can't be opened: a corrupt or
    unwritable SQLite file, or a PostgreSQL server that can't be reached (the message
    hides the password).
    """
    if database_url.startswith("sqlite:///"):
        return _open_sqlite(database_url.removeprefix("sqlite:///") or ":memory:")
    if database_url.startswith(("postgres://", "postgresql://")):
        return _open_postgres(database_url)
    raise ValueError(
        f"DATABASE_URL {database_url!r} is not understood;"
        " use sqlite:///path.db or postgresql://user:password@host:5432/dbname"
    )


def _open_sqlite(path: str) -> Store:
    import sqlite3

    from storage.dialect import SqliteDatabase
    from storage.store import SqlStore

    try:
        return SqlStore(SqliteDatabase(path))
    except sqlite3.DatabaseError as error:
        # "file is not a database", "unable to open database file", "disk I/O error", …
        raise StoreUnavailable(
            f"cannot open the SQLite database {path}: {error}. Check that DATABASE_URL names"
            " a feedbackbot database in a folder that exists and is writable, or restore the"
            " file from a backup"
        ) from error


def _open_postgres(database_url: str) -> Store:
    try:
        import psycopg

        from storage.dialect import redact
        from storage.postgres import PostgresDatabase
        from storage.store import SqlStore
    except ImportError as error:
        raise ValueError(
            f"DATABASE_URL names PostgreSQL but psycopg is not installed ({error});"
            ' install it with: pip install "psycopg[binary]>=3.1"'
        ) from None
    try:
        return SqlStore(PostgresDatabase(database_url))
    except psycopg.OperationalError as error:
        raise StoreUnavailable(
            f"cannot open PostgreSQL database {redact(database_url)}: {_one_line(error)}"
        ) from error
    except psycopg.ProgrammingError as error:
        # e.g. a malformed URL, or a role that may not create the tables
        raise StoreUnavailable(
            f"cannot use PostgreSQL database {redact(database_url)}: {_one_line(error)}"
        ) from error


def _one_line(error: Exception) -> str:
    """The error's words on one line (psycopg spreads its hints over several)."""
    return " ".join(str(error).split())
