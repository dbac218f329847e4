"""Everything that differs between SQLite and PostgreSQL, in one place.

The queries in storage/ are written once, in the SQL both engines share (SQLite 3.35+
has `INSERT … ON CONFLICT` and `RETURNING`), with `?` placeholders and datetimes as
parameters. This module holds the rest:

- `Dialect`: the few fragments of SQL text that differ (column types in the schema,
  reading a JSON field, byte-order sorting, row locks, catalog lookups);
- `SqliteDatabase` / `PostgresDatabase`: one connection (a pool on PostgreSQL), wrapped
  so that a store opens a transaction the same way on both. SQLite takes its write lock up front
  (BEGIN IMMEDIATE) where PostgreSQL relies on row locks and unique indexes; SQLite
  keeps times as ISO 8601 UTC text ending in `Z` (so they compare as text), PostgreSQL
  as `timestamptz`. Each adapter converts datetime parameters on the way in; rows come
  back as dicts, and storage/rows.py reads either form of time.
"""

from __future__ import annotations

import abc
import re
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from string import Template
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import sqlite_utils

from bot.micros import TIME_ORIGIN_UNIX
from bot.models import iso
from bot.store import StoreBusy
from storage.locks import NOWAIT_LOCK_MS, AckGate, locked, process_write_lock

Row = dict[str, Any]
Params = Sequence[Any]

# RETURNING arrived in SQLite 3.35.0.
OLDEST_SQLITE = (3, 35, 0)
# How long a SQLite writer waits for another process's write lock, and how often it looks.
BUSY_TIMEOUT_SECONDS = 30
BUSY_FIRST_PAUSE = 0.0002
BUSY_LONGEST_PAUSE = 0.002
# PostgreSQL connections per process: the event loop's helpers, the outbox and the inbox
# workers each take one while they talk to the database, and no longer.
POOL_SIZE = 8


@dataclass(frozen=True)
class Dialect:
    """The SQL text that differs between the engines; everything else is shared."""

    name: str
    # Column types the schema names as $id, $time and $flag.
    id_column: str
    time_column: str
    flag_column: str
    # `{column}` and `{key}` are filled in by json_text.
    json_text_template: str
    # Appended to an ORDER BY term so that text sorts by code point on every database.
    byte_order: str
    # Appended to a SELECT that must lock the rows it reads until the transaction ends.
    for_update: str
    # One `?` parameter: the table name; returns a row when the table exists.
    table_exists: str
    # Run first in each migration's transaction so that concurrent starts take turns.
    migration_lock: str | None
    # Appended after for_update where rows another transaction holds are to be passed over.
    skip_locked: str = ""

    def ddl(self, statement: str) -> str:
        """A schema statement with its $id, $time and $flag column types filled in."""
        return Template(statement).substitute(
            id=self.id_column, time=self.time_column, flag=self.flag_column
        )

    def json_text(self, column: str, key: str) -> str:
        """An expression for one top-level field of a JSON text column, as text."""
        return self.json_text_template.format(column=column, key=key)

    def micros(self, column: str) -> str:
        """An expression for a time column as an integer of microseconds since 2000-01-01
        UTC; a row holding it is read with `tuples(..., micros=True)`."""
        # PostgreSQL's binary timestamptz already is that number (see tuples).
        return _sqlite_micros().format(column=column) if self.name == "sqlite" else column


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


SQLITE = Dialect(
    name="sqlite",
    id_column="INTEGER PRIMARY KEY",
    time_column="TEXT",
    flag_column="INTEGER",
    json_text_template="json_extract({column}, '$.{key}')",
    byte_order="",  # BINARY, SQLite's default collation
    for_update="",  # BEGIN IMMEDIATE already holds the database's write lock
    table_exists="SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
    migration_lock=None,
)

POSTGRES = Dialect(
    name="postgresql",
    id_column="BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
    time_column="TIMESTAMPTZ",
    flag_column="BOOLEAN",
    json_text_template="({column}::json ->> '{key}')",
    byte_order=' COLLATE "C"',
    for_update=" FOR UPDATE",
    table_exists="SELECT 1 WHERE to_regclass(?) IS NOT NULL",
    # Any fixed number works; every feedbackbot process on one database uses the same one.
    migration_lock="SELECT pg_advisory_xact_lock(28818678458706279)",  # 0x66626f746d6967, "fbotmig"
    skip_locked=" SKIP LOCKED",
)


class Transaction(abc.ABC):
    """One open transaction: run statements written with `?` placeholders."""

    @abc.abstractmethod
    def execute(self, sql: str, params: Params = ()) -> int:
        """Run a statement; return how many rows it changed."""

    @abc.abstractmethod
    def all(self, sql: str, params: Params = ()) -> list[Row]:
        """Run a statement; return every row it yields, as dicts."""

    @abc.abstractmethod
    def tuples(self, sql: str, params: Params = (), *,
               micros: bool = False) -> list[tuple[Any, ...]]:
        """Run a statement; return every row as a tuple in column order (cheaper than dicts).

        With `micros`, times come back as Dialect.micros gives them (on PostgreSQL every
        `timestamptz` of the rows).
        """

    def one(self, sql: str, params: Params = ()) -> Row | None:
        """Run a statement; return its first row, or None."""
        rows = self.all(sql, params)
        return rows[0] if rows else None


class Database(abc.ABC):
    """One connection to a database, shared by the threads of one process."""

    dialect: Dialect
    # Until set, every commit is synced, `synced=False` or not (see write).
    unsynced_allowed = False

    @abc.abstractmethod
    def write(self, *, nowait: bool = False, urgent: bool = False,
              synced: bool = True) -> AbstractContextManager[Transaction]:
        """One transaction that may write; rolled back on any error, else committed.

        With `nowait`, raises StoreBusy at once rather than wait for a lock held elsewhere.
        An `urgent` write (a request being stored before it is answered) goes before
        other writers waiting on the same database, where the database has one write lock.
        A write that is not `synced` commits without waiting for the disk: it becomes
        durable with the next synced commit of any writer (both databases keep one
        write-ahead log in commit order), so a machine crash can lose it only together
        with every commit after it. For work whose loss then is as if the process had
        stopped just before it; whatever leaves the process (an answer, a post) follows
        a synced commit (a stored request, an outbox lease). Only where
        `unsynced_allowed` is set: the process that answers requests also does this work
        (`serve` alone), so its commits on the event loop must not wait for the disk.
        Elsewhere (`feedbackbot worker`) each commit syncs its own writes, rather than
        leave them to the next stored request's commit, which an answer waits for.
        """

    @abc.abstractmethod
    def read(self) -> AbstractContextManager[Transaction]:
        """A transaction (or, on SQLite, the locked connection) to read in."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the connection."""


# --- SQLite ----------------------------------------------------------------------------


def _sqlite_row(cursor: sqlite3.Cursor, values: tuple[Any, ...]) -> Row:
    return {column[0]: value for column, value in zip(cursor.description, values, strict=True)}


# JSON may carry a lone UTF-16 surrogate ("\\ud800"); no database can store one as text.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def storable_text(value: str) -> str:
    """`value` with each lone surrogate replaced by U+FFFD, so that it can be stored."""
    if value.isascii():  # the common case, and O(1): no surrogate can be there
        return value
    return _LONE_SURROGATE.sub("\ufffd", value)


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, str):
        return storable_text(value)
    return iso(value) if isinstance(value, datetime) else value


def _sqlite_params(params: Params) -> tuple[Any, ...]:
    return tuple(_sqlite_value(value) for value in params)


class _SqliteTransaction(Transaction):
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Params = ()) -> int:
        return self._conn.execute(sql, _sqlite_params(params)).rowcount

    def all(self, sql: str, params: Params = ()) -> list[Row]:
        cursor = self._conn.cursor()
        cursor.row_factory = _sqlite_row  # the connection's own rows stay sqlite-utils' tuples
        return cursor.execute(sql, _sqlite_params(params)).fetchall()

    def tuples(self, sql: str, params: Params = (), *,
               micros: bool = False) -> list[tuple[Any, ...]]:
        # Times are text here: the SQL itself turns them into numbers (Dialect.micros).
        cursor = self._conn.cursor()
        cursor.row_factory = None
        return cursor.execute(sql, _sqlite_params(params)).fetchall()


class SqliteDatabase(Database):
    """One SQLite file (or ":memory:") in WAL mode, set up by sqlite-utils.

    Several processes may share the file: writes take SQLite's write lock up front
    (BEGIN IMMEDIATE) and wait up to 30 s for it. Raises RuntimeError when the SQLite
    library is older than 3.35.
    """

    dialect = SQLITE

    def __init__(self, path: str | Path) -> None:
        if sqlite3.sqlite_version_info < OLDEST_SQLITE:
            raise RuntimeError(
                f"SQLite {sqlite3.sqlite_version} is too old; feedbackbot needs 3.35 or later"
            )
        self.path = str(path)
        self._conn = sqlite3.connect(
            self.path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None,
            check_same_thread=False,
        )
        self.db = sqlite_utils.Database(self._conn)
        if self.path != ":memory:":
            self._enable_wal()
        self._conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_SECONDS * 1000}")
        self._conn.execute("PRAGMA foreign_keys = ON")
        # Restored after each write that need not be synced (see Database.write).
        self._synchronous = int(self._conn.execute("PRAGMA synchronous").fetchone()[0])
        self._lock = threading.RLock()
        self._gate = AckGate(self.path) if self.path != ":memory:" else None

    def _enable_wal(self) -> None:
        # Switching a new file to WAL does not wait on the busy timeout: when several
        # processes open it at once, the others are told "locked" at once. Wait as long.
        deadline = time.monotonic() + BUSY_TIMEOUT_SECONDS
        while True:
            try:
                self.db.enable_wal()
                return
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) or time.monotonic() > deadline:
                    raise
            time.sleep(0.01)

    @contextmanager
    def write(self, *, nowait: bool = False, urgent: bool = False,
              synced: bool = True) -> Iterator[Transaction]:
        with ExitStack() as gate:
            if self._gate is not None:
                if urgent:
                    gate.enter_context(self._gate.urgent())
                else:
                    self._gate.give_way()
            with self._write(nowait, synced or not self.unsynced_allowed) as tx:
                yield tx

    @contextmanager
    def _write(self, nowait: bool, synced: bool = True) -> Iterator[Transaction]:
        # Writers in this process take turns here, so that they never meet in SQLite's
        # busy handler, which polls with sleeps of up to 100 ms; only other processes do.
        with locked(self._lock, nowait), locked(process_write_lock(self.path), nowait):
            if not synced:
                # In WAL mode, NORMAL appends the commit to the log without an fsync; the
                # next FULL commit's fsync of the same log makes it durable too.
                self._conn.execute("PRAGMA synchronous = NORMAL")
            try:
                self._begin_immediate(nowait)
                try:
                    yield _SqliteTransaction(self._conn)
                except BaseException:
                    self._conn.execute("ROLLBACK")
                    raise
                self._conn.execute("COMMIT")
            finally:
                if not synced:
                    self._conn.execute(f"PRAGMA synchronous = {self._synchronous}")

    def _begin_immediate(self, nowait: bool) -> None:
        # SQLite's own busy handler sleeps 1, 2, 5 … up to 100 ms between looks while
        # another process writes (a worker beside `serve`): far longer than a commit takes.
        # Looking again every fraction of a millisecond gets the lock soon after it is free.
        self._conn.execute("PRAGMA busy_timeout = 0")
        try:
            pause = BUSY_FIRST_PAUSE
            deadline = time.monotonic() + BUSY_TIMEOUT_SECONDS
            while True:
                try:
                    self._conn.execute("BEGIN IMMEDIATE")
                    return
                except sqlite3.OperationalError as error:
                    if "locked" not in str(error) and "busy" not in str(error):
                        raise
                    if nowait:
                        raise StoreBusy(f"the database {self.path} is locked") from error
                    if time.monotonic() > deadline:
                        raise
                time.sleep(pause)
                pause = min(pause * 2, BUSY_LONGEST_PAUSE)
        finally:
            self._conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_SECONDS * 1000}")

    @contextmanager
    def read(self) -> Iterator[Transaction]:
        with self._lock:
            yield _SqliteTransaction(self._conn)

    def close(self) -> None:
        with self._lock:
            self._conn.close()
            if self._gate is not None:
                self._gate.close()


# --- PostgreSQL --------------------------------------------------------------------------

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


def redact(url: str) -> str:
    """The URL with its password replaced, for messages and logs."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "postgresql://…"
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    user = netloc[0].split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc[1]}"))
