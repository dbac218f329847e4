"""Stores of every backend for the tests, and a way to look at their tables.

SQLite stores are files (or memory) of their own. PostgreSQL stores share a few
databases created once per test run: a test that takes one empties it first (TRUNCATE,
identities restarted), which is much cheaper than creating a database per test.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from bot.models import Event, Item
from bot.store import NewOutbox, Store
from storage import open_store
from storage.store import SqlStore
from tests.fakes import DEFAULT_START, make_item
from tests.postgres_server import PREFIX, database_url, server_url

BACKENDS = ("sqlite", "postgres")


class PostgresDatabases:
    """Databases made once per run, handed out emptied; dropped at the end of the run."""

    def __init__(self) -> None:
        self._made: list[str] = []
        self._taken = 0

    def take(self) -> str:
        """The URL of an empty, migrated database no one else in this test uses."""
        server, reason = server_url()
        if server is None:
            pytest.skip(reason)
        if self._taken == len(self._made):
            self._made.append(self._create(server))
        url = self._made[self._taken]
        self._taken += 1
        _empty(url)
        return url

    def give_back_all(self) -> None:
        """Every database may be taken again (by the next test)."""
        self._taken = 0

    def drop_all(self) -> None:
        """Drop every database made."""
        server, _ = server_url()
        if server is None:
            return
        import psycopg
        from psycopg import sql

        with psycopg.connect(server, autocommit=True, connect_timeout=5) as admin:
            for url in self._made:
                name = url.rsplit("/", 1)[1]
                admin.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )
        self._made.clear()

    @staticmethod
    def _create(server: str) -> str:
        import psycopg
        from psycopg import sql

        name = f"{PREFIX}{uuid.uuid4().hex}"
        with psycopg.connect(server, autocommit=True, connect_timeout=5) as admin:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        url = database_url(server, name)
        open_store(url).close()  # applies the migrations once
        return url


def _empty(url: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
        # A store some test left open would block TRUNCATE: fail instead of hanging.
        conn.execute("SET lock_timeout = '10s'")
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
                " AND tablename <> 'schema_migrations'"
            )
        ]
        conn.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")


class BackendChooser:
    """Maps the database names one test uses to databases of its backend."""

    def __init__(self, backend: str, postgres: PostgresDatabases) -> None:
        self.backend = backend
        self._postgres = postgres
        self._urls: dict[str, str] = {}

    def url_for(self, path: Path | str) -> str:
        """A DATABASE_URL for `path`: that SQLite file, or a PostgreSQL database of its own."""
        if self.backend == "sqlite":
            return f"sqlite:///{path}"
        key = str(path)
        if key not in self._urls:
            self._urls[key] = self._postgres.take()
        return self._urls[key]

    def open(self, path: Path | str) -> Store:
        """Open the store `url_for(path)` names."""
        return open_store(self.url_for(path))


def table_rows(store: Store, table: str) -> list[dict[str, Any]]:
    """Every row of one table, in insertion order, read through the store's own connection."""
    if not isinstance(store, SqlStore):
        raise TypeError(f"{type(store).__name__} has no tables to read")
    if not table.isidentifier():
        raise ValueError(f"not a table name: {table!r}")
    with store.database.read() as tx:
        return tx.all(f"SELECT * FROM {table} ORDER BY 1")


def execute(store: Store, sql: str) -> None:
    """Run one statement in a transaction of the store's own connection (to set up a test)."""
    if not isinstance(store, SqlStore):
        raise TypeError(f"{type(store).__name__} has no tables")
    with store.database.write() as tx:
        tx.execute(sql)


def count_rows(store: Store, table: str) -> int:
    """How many rows one table holds."""
    return len(table_rows(store, table))


def received(item_id: int = 0, at: datetime = DEFAULT_START) -> Event:
    """The "received" event an item is created with."""
    return Event(item_id=item_id, kind="received", actor="U0SUPPORT", at=at, data={"n": 1})


def create(store: Store, outbox: list[NewOutbox] | None = None, **fields: object) -> Item:
    """Create an item (with its received event) and return it as stored."""
    item = make_item(**fields)
    return store.create_item(item=item, event=received(at=item.forwarded_at), outbox=outbox or [])
