"""PostgreSQL under the store: a pool of psycopg connections, one transaction at a time.

See storage/dialect.py for what differs between the engines; this is the PostgreSQL side.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from bot.store import StoreBusy
from storage.dialect import (
    BUSY_TIMEOUT_SECONDS,
    POOL_SIZE,
    POSTGRES,
    Database,
    Params,
    Row,
    Transaction,
    redact,
    storable_text,
)
from storage.locks import NOWAIT_LOCK_MS

_QUESTION_MARK = re.compile(r"\?")


@lru_cache(maxsize=512)
def _pyformat(sql: str) -> str:
    """`?` placeholders as psycopg's `%s` (a literal `%` doubled); no `?` in literals."""
    return _QUESTION_MARK.sub("%s", sql.replace("%", "%%"))


def _postgres_value(value: Any) -> Any:
    if isinstance(value, str):
        # PostgreSQL text can't hold NUL either.
        return storable_text(value).replace("\x00", "")
    # A naive datetime is taken as local time, as `iso` does for SQLite.
    return value.astimezone(UTC) if isinstance(value, datetime) else value


def _postgres_params(params: Params) -> tuple[Any, ...]:
    return tuple(_postgres_value(value) for value in params)


class _PostgresTransaction(Transaction):
    def __init__(self, conn: Any) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Params = ()) -> int:
        return int(self._conn.execute(_pyformat(sql), _postgres_params(params)).rowcount)

    def all(self, sql: str, params: Params = ()) -> list[Row]:
        cursor = self._conn.execute(_pyformat(sql), _postgres_params(params))
        return list(cursor.fetchall()) if cursor.description else []

    def tuples(self, sql: str, params: Params = (), *,
               micros: bool = False) -> list[tuple[Any, ...]]:
        from psycopg.rows import tuple_row

        # Binary results: timestamps load about a third faster than from text.
        cursor = self._conn.cursor(row_factory=tuple_row, binary=True)
        if micros:
            from psycopg.types.numeric import Int8BinaryLoader

            # A binary timestamptz is its microseconds since 2000-01-01 UTC: read as the
            # integer it is, no datetime is made for it.
            cursor.adapters.register_loader("timestamptz", Int8BinaryLoader)
        cursor.execute(_pyformat(sql), _postgres_params(params))
        return list(cursor.fetchall()) if cursor.description else []


class PostgresDatabase(Database):
    """A PostgreSQL database named by a `postgresql://` URL (psycopg 3, psycopg_pool).

    A pool of up to `pool_size` connections, so that threads don't queue behind one;
    autocommit off, every transaction at READ COMMITTED. A thread that opens a
    transaction inside its own open one reuses its connection (a savepoint), as one
    connection did. A connection the server dropped while idle is replaced before the
    next transaction. Raises psycopg.OperationalError when the server cannot be reached.
    """

    dialect = POSTGRES

    def __init__(self, url: str, *, connect_timeout: int = 10,
                 pool_size: int = POOL_SIZE) -> None:
        import psycopg
        from psycopg.rows import dict_row
        from psycopg_pool import ConnectionPool, PoolTimeout

        self._psycopg = psycopg
        self.url = url
        self._connect_timeout = connect_timeout
        self._closed = False
        self._held = threading.local()  # this thread's connection while it holds one
        self._pool = ConnectionPool(
            self._conninfo(), min_size=1, max_size=pool_size, open=False,
            kwargs={"autocommit": False, "row_factory": dict_row},
            timeout=BUSY_TIMEOUT_SECONDS, name="feedbackbot")
        try:
            self._pool.open(wait=True, timeout=connect_timeout)
        except PoolTimeout:
            self._pool.close()
            # The pool says only that it timed out; a direct attempt says why.
            self._psycopg.connect(self._conninfo()).close()
            raise self._psycopg.OperationalError(
                f"could not connect to {redact(url)} within {connect_timeout}s") from None

    def _conninfo(self) -> str:
        from psycopg.conninfo import conninfo_to_dict, make_conninfo

        options = conninfo_to_dict(self.url)
        extra: dict[str, Any] = {}
        if "connect_timeout" not in options:
            extra["connect_timeout"] = self._connect_timeout
        if "application_name" not in options:
            extra["application_name"] = "feedbackbot"
        # Times come back in UTC whatever the server's or the URL's zone (the last -c
        # wins): psycopg then gives them Python's own UTC, so figures neither convert
        # thousands of them nor subtract two local times across a DST change.
        given = str(options.get("options") or "")
        extra["options"] = f"{given} -c TimeZone=UTC".strip()
        return make_conninfo(self.url, **extra)

    @contextmanager
    def _connection(self, nowait: bool) -> Iterator[Any]:
        held = getattr(self._held, "conn", None)
        if held is not None:
            yield held
            return
        if self._closed:
            raise self._psycopg.InterfaceError("this store has been closed")
        from psycopg_pool import PoolTimeout

        try:
            conn = self._pool.getconn(timeout=NOWAIT_LOCK_MS / 1000 if nowait else None)
        except PoolTimeout as error:
            raise StoreBusy("every database connection of this process is busy") from error
        self._held.conn = conn
        try:
            yield conn
        finally:
            self._held.conn = None
            self._pool.putconn(conn)

    @contextmanager
    def write(self, *, nowait: bool = False, urgent: bool = False,
              synced: bool = True) -> Iterator[Transaction]:
        # Row locks, not one write lock: an urgent write needs no precedence here.
        with self._connection(nowait) as conn:
            stack = ExitStack()
            try:
                stack.enter_context(conn.transaction())
            except self._psycopg.OperationalError:
                if not conn.closed:
                    raise
                # The server closed the connection while it was idle (restart, idle
                # timeout, pg_terminate_backend). Nothing ran yet: retry on a fresh one.
                with self._replacement(conn) as fresh, \
                        self._run(fresh, nowait, synced or not self.unsynced_allowed) as tx:
                    yield tx
                return
            with stack, self._locks_refused():
                self._set_local(conn, nowait, synced or not self.unsynced_allowed)
                yield _PostgresTransaction(conn)

    @contextmanager
    def _run(self, conn: Any, nowait: bool, synced: bool) -> Iterator[Transaction]:
        with conn.transaction(), self._locks_refused():
            self._set_local(conn, nowait, synced)
            yield _PostgresTransaction(conn)

    @staticmethod
    def _set_local(conn: Any, nowait: bool, synced: bool) -> None:
        if nowait:
            conn.execute(f"SET LOCAL lock_timeout = '{NOWAIT_LOCK_MS}ms'")
        if not synced:
            # The commit returns before its WAL record is flushed; a later synchronous
            # commit flushes the log up to itself, this one included.
            conn.execute("SET LOCAL synchronous_commit = off")

    @contextmanager
    def _replacement(self, dead: Any) -> Iterator[Any]:
        """A new connection in place of `dead` for this thread (the pool drops the dead one)."""
        self._pool.check()  # also replaces the pool's other dropped connections
        conn = self._pool.getconn()
        self._held.conn = conn
        try:
            yield conn
        finally:
            self._held.conn = dead
            self._pool.putconn(conn)

    @contextmanager
    def _locks_refused(self) -> Iterator[None]:
        try:
            yield
        except self._psycopg.errors.LockNotAvailable as error:
            raise StoreBusy("a table the write needs is locked") from error

    def read(self) -> AbstractContextManager[Transaction]:
        return self.write()

    def close(self) -> None:
        self._closed = True
        self._pool.close()
