"""The PostgreSQL backend, for several processes sharing one database (psycopg 3)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.rows import DictRow, dict_row

from bot.models import Event, Item, iso
from storage.base import DuplicateSource, InboxRow, NewOutbox, OutboxEntry, Store
from storage.pg_schema import apply_pg_migrations
from storage.rows import ITEM_COLUMNS, event_from_row, item_from_row

Connection = psycopg.Connection[DictRow]


class PostgresStore(Store):
    """Store backed by a PostgreSQL database named by a `postgresql://` URL.

    One connection per store, autocommit off; every method runs as one explicit
    transaction at READ COMMITTED, serialised within the process by an RLock. The
    once-only operations rely on row locks and unique constraints (UPDATE … WHERE,
    INSERT … ON CONFLICT), so they hold across processes too. A connection the server
    dropped while idle is replaced before the next transaction.
    """

    def __init__(self, url: str, *, connect_timeout: int = 10) -> None:
        self.url = url
        self._connect_timeout = connect_timeout
        self._lock = threading.RLock()
        self._closed = False
        self._conn: Connection = self._connect()
        try:
            apply_pg_migrations(self._conn)
        except BaseException:
            self._conn.close()
            raise

    # --- connection and transactions ------------------------------------------------
    def _connect(self) -> Connection:
        options = conninfo_to_dict(self.url)
        extra: dict[str, Any] = {}
        if "connect_timeout" not in options:
            extra["connect_timeout"] = self._connect_timeout
        if "application_name" not in options:
            extra["application_name"] = "feedbackbot"
        return psycopg.connect(
            make_conninfo(self.url, **extra), autocommit=False, row_factory=dict_row
        )

    def _live(self) -> Connection:
        if self._closed:
            raise psycopg.InterfaceError("this PostgresStore has been closed")
        if self._conn.closed:
            self._conn = self._connect()
        return self._conn

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        """Run a block as one transaction; roll back on any error."""
        with self._lock:
            stack = ExitStack()
            conn = self._live()
            try:
                stack.enter_context(conn.transaction())
            except psycopg.OperationalError:
                if not conn.closed:
                    raise
                # The server closed the connection while it was idle (restart, idle
                # timeout, pg_terminate_backend). Nothing ran yet: retry once, anew.
                conn = self._live()
                stack.enter_context(conn.transaction())
            with stack:
                yield conn

    def _one(self, query: Any, params: Any = ()) -> DictRow | None:
        with self._tx() as conn:
            return conn.execute(query, params).fetchone()

    def _all(self, query: Any, params: Any = ()) -> list[DictRow]:
        with self._tx() as conn:
            return conn.execute(query, params).fetchall()

    # --- inbox -----------------------------------------------------------------
    def inbox_add(
        self,
        *,
        workspace: str,
        kind: str,
        dedupe_key: str | None,
        body: str,
        headers: dict[str, str],
        received_at: datetime,
    ) -> int | None:
        row = self._one(
            "INSERT INTO inbox (workspace, kind, dedupe_key, body, headers, received_at,"
            " attempts) VALUES (%s, %s, %s, %s, %s, %s, 0)"
            " ON CONFLICT (dedupe_key) DO NOTHING RETURNING id",
            (workspace, kind, dedupe_key, body, json.dumps(headers), _utc(received_at)),
        )
        return int(row["id"]) if row else None

    def inbox_set_workspace(self, inbox_id: int, workspace: str) -> None:
        with self._tx() as conn:
            conn.execute("UPDATE inbox SET workspace = %s WHERE id = %s", (workspace, inbox_id))

    def inbox_done(self, inbox_id: int, *, error: str | None = None) -> None:
        with self._tx() as conn:
            conn.execute(
                "UPDATE inbox SET processed = TRUE, error = %s WHERE id = %s", (error, inbox_id)
            )

    def inbox_failed_attempt(self, inbox_id: int, *, error: str) -> None:
        with self._tx() as conn:
            conn.execute(
                "UPDATE inbox SET attempts = attempts + 1, error = %s WHERE id = %s",
                (error, inbox_id),
            )

    def inbox_pending(self, *, max_attempts: int = 5) -> list[InboxRow]:
        rows = self._all(
            "SELECT * FROM inbox WHERE NOT processed AND attempts < %s ORDER BY id",
            (max_attempts,),
        )
        return [
            InboxRow(
                id=row["id"],
                workspace=row["workspace"],
                kind=row["kind"],
                dedupe_key=row["dedupe_key"],
                body=row["body"],
                headers=json.loads(row["headers"] or "{}"),
                received_at=row["received_at"].astimezone(UTC),
                attempts=row["attempts"],
            )
            for row in rows
        ]

    def inbox_prune(self, *, before: datetime) -> int:
        with self._tx() as conn:
            cursor = conn.execute(
                "DELETE FROM inbox WHERE processed AND received_at < %s", (_utc(before),)
            )
            return cursor.rowcount

    # --- items -----------------------------------------------------------------
    def create_item(self, *, item: Item, event: Event, outbox: list[NewOutbox]) -> Item:
        row = _columns({column: getattr(item, column) for column in ITEM_COLUMNS if column != "id"})
        query = sql.SQL(
            "INSERT INTO items ({columns}) VALUES ({values}) ON CONFLICT DO NOTHING RETURNING *"
        ).format(
            columns=sql.SQL(", ").join(sql.Identifier(column) for column in row),
            values=sql.SQL(", ").join(sql.Placeholder(column) for column in row),
        )
        with self._tx() as conn:
            inserted = conn.execute(query, row).fetchone()
            if inserted is not None:
                created = _item(inserted)
                self._append_event(conn, item.workspace, created.id, event)
                self._enqueue(conn, item.workspace, created.id, outbox, event.at)
                return created
            # A unique index said no. At READ COMMITTED this statement sees the row that
            # won, committed (an INSERT waits for a conflicting insert to finish).
            existing = None
            if item.source_channel and item.source_ts:
                existing = self._find(
                    conn,
                    "source_channel = %s AND source_ts = %s",
                    (item.workspace, item.source_channel, item.source_ts),
                )
            if existing is None and item.intake_key:
                existing = self._find(conn, "intake_key = %s", (item.workspace, item.intake_key))
        if existing is None:
            raise RuntimeError(
                f"item of workspace {item.workspace} conflicted with a row that is not there"
            )
        raise DuplicateSource(existing)

    def update_item(
        self,
        *,
        workspace: str,
        item_id: int,
        changes: dict[str, Any],
        event: Event | None = None,
        outbox: list[NewOutbox] | None = None,
        only_if: dict[str, Any] | None = None,
        now: datetime | None = None,
    ) -> Item | None:
        unknown = set(changes) | set(only_if or {})
        unknown -= set(ITEM_COLUMNS)
        if unknown:
            raise ValueError(f"unknown item columns: {sorted(unknown)}")
        values = _columns(changes)
        where: list[sql.Composable] = [
            sql.SQL("workspace = %(_workspace)s"),
            sql.SQL("id = %(_id)s"),
        ]
        params: dict[str, Any] = {"_workspace": workspace, "_id": item_id}
        for index, (column, expected) in enumerate((only_if or {}).items()):
            if expected is None:
                where.append(sql.SQL("{} IS NULL").format(sql.Identifier(column)))
            else:
                name = f"_if{index}"
                where.append(
                    sql.SQL("{} = {}").format(sql.Identifier(column), sql.Placeholder(name))
                )
                params[name] = _columns({column: expected})[column]
        condition = sql.SQL(" AND ").join(where)
        if values:
            params.update(values)
            query = sql.SQL("UPDATE items SET {assignments} WHERE {condition} RETURNING *").format(
                assignments=sql.SQL(", ").join(
                    sql.SQL("{} = {}").format(sql.Identifier(column), sql.Placeholder(column))
                    for column in values
                ),
                condition=condition,
            )
        else:
            # Lock the row so that the check and the event are one step, as an UPDATE is.
            query = sql.SQL("SELECT * FROM items WHERE {condition} FOR UPDATE").format(
                condition=condition
            )
        with self._tx() as conn:
            row = conn.execute(query, params).fetchone()
            if row is None:
                return None
            if event is not None:
                self._append_event(conn, workspace, item_id, event)
            if outbox:
                self._enqueue(
                    conn,
                    workspace,
                    item_id,
                    outbox,
                    event.at if event else (now or datetime.now(UTC)),
                )
            return _item(row)

    def get_item(self, *, workspace: str, item_id: int) -> Item | None:
        with self._tx() as conn:
            return self._find(conn, "id = %s", (workspace, item_id))

    def find_item_by_source(self, *, workspace: str, channel: str, ts: str) -> Item | None:
        with self._tx() as conn:
            return self._find(
                conn, "source_channel = %s AND source_ts = %s", (workspace, channel, ts)
            )

    def find_item_by_intake_key(self, *, workspace: str, key: str) -> Item | None:
        with self._tx() as conn:
            return self._find(conn, "intake_key = %s", (workspace, key))

    def find_item_by_card(self, *, workspace: str, channel: str, ts: str) -> Item | None:
        with self._tx() as conn:
            return self._find(conn, "card_channel = %s AND card_ts = %s", (workspace, channel, ts))

    def find_item_by_past_card(self, *, workspace: str, channel: str, ts: str) -> Item | None:
        # Every card ever posted is recorded by its "routed" event.
        with self._tx() as conn:
            row = conn.execute(
                "SELECT item_id FROM events WHERE workspace = %s AND kind = 'routed'"
                " AND (data::json ->> 'channel') = %s AND (data::json ->> 'ts') = %s"
                " ORDER BY id DESC LIMIT 1",
                (workspace, channel, ts),
            ).fetchone()
        if row is None:
            return None
        item_id = row["item_id"] if isinstance(row, dict) else row[0]
        return self.get_item(workspace=workspace, item_id=int(item_id))

    @staticmethod
    def _find(conn: Connection, condition: str, params: tuple[Any, ...]) -> Item | None:
        """One item of a workspace matching `condition` (a constant SQL fragment)."""
        query = sql.SQL("SELECT * FROM items WHERE workspace = %s AND {} ORDER BY id LIMIT 1")
        row = conn.execute(query.format(sql.SQL(condition)), params).fetchone()
        return _item(row) if row else None

    def list_items(
        self, *, workspace: str | None = None, forwarded_since: datetime | None = None
    ) -> list[Item]:
        where: list[sql.Composable] = []
        params: list[Any] = []
        if workspace is not None:
            where.append(sql.SQL("workspace = %s"))
            params.append(workspace)
        if forwarded_since is not None:
            where.append(sql.SQL("forwarded_at >= %s"))
            params.append(_utc(forwarded_since))
        clause = sql.SQL("WHERE ") + sql.SQL(" AND ").join(where) if where else sql.SQL("")
        query = sql.SQL("SELECT * FROM items {} ORDER BY forwarded_at, id").format(clause)
        return [_item(row) for row in self._all(query, params)]

    def events_for(self, *, workspace: str, item_id: int) -> list[Event]:
        rows = self._all(
            "SELECT * FROM events WHERE workspace = %s AND item_id = %s ORDER BY id",
            (workspace, item_id),
        )
        return [event_from_row(_texts(row)) for row in rows]

    def prune_items(self, *, forwarded_before: datetime) -> int:
        with self._tx() as conn:
            cutoff = (_utc(forwarded_before),)
            for table in ("events", "followers", "item_flags", "outbox"):
                conn.execute(
                    sql.SQL("DELETE FROM {} WHERE item_id IN"
                            " (SELECT id FROM items WHERE forwarded_at < %s)").format(
                        sql.Identifier(table)),
                    cutoff,
                )
            cursor = conn.execute("DELETE FROM items WHERE forwarded_at < %s", cutoff)
            return cursor.rowcount

    def events_of_kind(self, *, workspace: str, kind: str) -> list[Event]:
        rows = self._all(
            "SELECT * FROM events WHERE workspace = %s AND kind = %s ORDER BY id",
            (workspace, kind),
        )
        return [event_from_row(_texts(row)) for row in rows]

    @staticmethod
    def _append_event(conn: Connection, workspace: str, item_id: int, event: Event) -> None:
        conn.execute(
            "INSERT INTO events (workspace, item_id, kind, actor, at, data)"
            " VALUES (%s, %s, %s, %s, %s, %s)",
            (
                workspace,
                item_id,
                event.kind,
                event.actor,
                _utc(event.at),
                json.dumps(event.data, ensure_ascii=False),
            ),
        )

    @staticmethod
    def _enqueue(
        conn: Connection,
        workspace: str,
        item_id: int | None,
        entries: list[NewOutbox],
        now: datetime,
    ) -> list[int]:
        ids = []
        for entry in entries:
            row = conn.execute(
                "INSERT INTO outbox (workspace, item_id, kind, payload, status, attempts,"
                " next_attempt_at, unknown_fate, created_at)"
                " VALUES (%s, %s, %s, %s, 'pending', 0, %s, FALSE, %s) RETURNING id",
                (
                    workspace,
                    item_id,
                    entry.kind,
                    json.dumps(entry.payload, ensure_ascii=False),
                    _utc(now),
                    _utc(now),
                ),
            ).fetchone()
            assert row is not None
            ids.append(int(row["id"]))
        return ids

    # --- outbox ----------------------------------------------------------------
    def outbox_due(self, *, now: datetime, limit: int = 50) -> list[OutboxEntry]:
        rows = self._all(
            "SELECT * FROM outbox WHERE status = 'pending' AND next_attempt_at <= %s"
            " ORDER BY id LIMIT %s",
            (_utc(now), limit),
        )
        return [_outbox_from_row(row) for row in rows]

    def outbox_pending_count(self) -> int:
        row = self._one("SELECT COUNT(*) AS n FROM outbox WHERE status = 'pending'")
        return int(row["n"]) if row else 0

    def outbox_get(self, entry_id: int) -> OutboxEntry | None:
        row = self._one("SELECT * FROM outbox WHERE id = %s", (entry_id,))
        return _outbox_from_row(row) if row else None

    def outbox_lease(
        self, entry_id: int, *, owner: str, now: datetime, until: datetime, maybe_posts: bool
    ) -> bool:
        # A racing UPDATE waits for the winner to commit, then re-checks the WHERE
        # against the row the winner wrote, so exactly one of them gets rowcount 1.
        with self._tx() as conn:
            cursor = conn.execute(
                "UPDATE outbox SET lease_owner = %s, lease_until = %s,"
                " unknown_fate = unknown_fate OR %s"
                " WHERE id = %s AND status = 'pending'"
                " AND (lease_until IS NULL OR lease_until < %s OR lease_owner = %s)",
                (owner, _utc(until), maybe_posts, entry_id, _utc(now), owner),
            )
            return cursor.rowcount == 1

    def outbox_leases(self) -> list[tuple[int, str]]:
        rows = self._all(
            "SELECT id, lease_owner FROM outbox WHERE status = 'pending'"
            " AND lease_until IS NOT NULL ORDER BY id"
        )
        return [(int(row["id"]), str(row["lease_owner"])) for row in rows]

    def outbox_release(self, entry_id: int, *, owner: str) -> None:
        with self._tx() as conn:
            conn.execute(
                "UPDATE outbox SET lease_until = NULL WHERE id = %s AND lease_owner = %s",
                (entry_id, owner),
            )

    def outbox_retry_now(self, *, now: datetime) -> int:
        with self._tx() as conn:
            cursor = conn.execute(
                "UPDATE outbox SET next_attempt_at = %s WHERE status = 'pending'"
                " AND next_attempt_at > %s AND COALESCE(last_error, '') <> 'ratelimited'",
                (_utc(now), _utc(now)),
            )
            return cursor.rowcount

    def outbox_sent(self, entry_id: int, *, result: dict[str, Any], now: datetime) -> None:
        with self._tx() as conn:
            conn.execute(
                "UPDATE outbox SET status = 'sent', result = %s, sent_at = %s,"
                " attempts = attempts + 1, lease_until = NULL WHERE id = %s",
                (json.dumps(result), _utc(now), entry_id),
            )

    def outbox_retry(
        self, entry_id: int, *, error: str, next_attempt_at: datetime, unknown_fate: bool
    ) -> None:
        with self._tx() as conn:
            conn.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = %s,"
                " next_attempt_at = %s, unknown_fate = unknown_fate OR %s, lease_until = NULL"
                " WHERE id = %s",
                (error, _utc(next_attempt_at), unknown_fate, entry_id),
            )

    def outbox_give_up(self, entry_id: int, *, error: str, now: datetime) -> None:
        with self._tx() as conn:
            conn.execute(
                "UPDATE outbox SET status = 'failed', attempts = attempts + 1,"
                " last_error = %s, sent_at = %s WHERE id = %s",
                (error, _utc(now), entry_id),
            )

    def outbox_for_item(self, *, workspace: str, item_id: int) -> list[OutboxEntry]:
        rows = self._all(
            "SELECT * FROM outbox WHERE workspace = %s AND item_id = %s ORDER BY id",
            (workspace, item_id),
        )
        return [_outbox_from_row(row) for row in rows]

    def outbox_cancel(self, entry_id: int, *, reason: str, now: datetime) -> bool:
        with self._tx() as conn:
            cursor = conn.execute(
                "UPDATE outbox SET status = 'cancelled', last_error = %s, sent_at = %s"
                " WHERE id = %s AND status = 'pending'",
                (reason, _utc(now), entry_id),
            )
            return cursor.rowcount == 1

    def outbox_enqueue(
        self, *, workspace: str, item_id: int | None, entry: NewOutbox, now: datetime | None = None
    ) -> int:
        with self._tx() as conn:
            return self._enqueue(conn, workspace, item_id, [entry], now or datetime.now(UTC))[0]

    # --- followers ---------------------------------------------------------------
    def add_follower(self, *, workspace: str, item_id: int, user: str, now: datetime) -> bool:
        row = self._one(
            'INSERT INTO followers (workspace, item_id, "user", since) VALUES (%s, %s, %s, %s)'
            " ON CONFLICT DO NOTHING RETURNING 1 AS added",
            (workspace, item_id, user, _utc(now)),
        )
        return row is not None

    def followers(self, *, workspace: str, item_id: int) -> list[str]:
        rows = self._all(
            'SELECT "user" FROM followers WHERE workspace = %s AND item_id = %s'
            ' ORDER BY since, "user" COLLATE "C"',
            (workspace, item_id),
        )
        return [row["user"] for row in rows]

    # --- once-only markers and digest periods ------------------------------------
    def set_flag_once(
        self,
        *,
        workspace: str,
        item_id: int,
        flag: str,
        now: datetime,
        changes: dict[str, Any] | None = None,
        event: Event | None = None,
        outbox: list[NewOutbox] | None = None,
    ) -> bool:
        unknown = set(changes or {}) - set(ITEM_COLUMNS)
        if unknown:
            raise ValueError(f"unknown item columns: {sorted(unknown)}")
        values = _columns(changes or {})
        with self._tx() as conn:
            claimed = conn.execute(
                "INSERT INTO item_flags (workspace, item_id, flag, at) VALUES (%s, %s, %s, %s)"
                " ON CONFLICT DO NOTHING RETURNING 1 AS claimed",
                (workspace, item_id, flag, _utc(now)),
            ).fetchone()
            if claimed is None:
                return False
            if values:
                query = sql.SQL("UPDATE items SET {} WHERE workspace = %(_w)s AND id = %(_id)s")
                assignments = sql.SQL(", ").join(
                    sql.SQL("{} = {}").format(sql.Identifier(column), sql.Placeholder(column))
                    for column in values
                )
                conn.execute(query.format(assignments), {**values, "_w": workspace, "_id": item_id})
            if event is not None:
                self._append_event(conn, workspace, item_id, event)
            if outbox:
                self._enqueue(conn, workspace, item_id, outbox, now)
            return True

    def claim_digest(
        self,
        *,
        workspace: str,
        subscription: str,
        period: str,
        now: datetime,
        late: bool,
        outbox: list[NewOutbox],
    ) -> int | None:
        # A racing INSERT waits for the first to commit, then does nothing.
        with self._tx() as conn:
            claimed = conn.execute(
                "INSERT INTO digest_claims (workspace, subscription, period, claimed_at, late)"
                " VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING 1 AS claimed",
                (workspace, subscription, period, _utc(now), late),
            ).fetchone()
            if claimed is None:
                return None
            ids = self._enqueue(conn, workspace, None, outbox, now)
            return ids[0] if ids else 0

    def digest_claims(self, *, workspace: str, subscription: str) -> list[str]:
        # COLLATE "C" sorts by code point, as SQLite does, whatever the database's locale.
        rows = self._all(
            "SELECT period FROM digest_claims WHERE workspace = %s AND subscription = %s"
            ' ORDER BY period COLLATE "C" DESC',
            (workspace, subscription),
        )
        return [row["period"] for row in rows]

    # --- small state -----------------------------------------------------------
    def next_rotation(self, *, workspace: str, team: str) -> int:
        row = self._one(
            "INSERT INTO rotations AS r (workspace, team, counter) VALUES (%s, %s, 1)"
            " ON CONFLICT (workspace, team) DO UPDATE SET counter = r.counter + 1"
            " RETURNING r.counter - 1 AS turn",
            (workspace, team),
        )
        assert row is not None
        return int(row["turn"])

    def save_draft(self, *, workspace: str, data: dict[str, Any], now: datetime) -> int:
        row = self._one(
            "INSERT INTO drafts (workspace, data, created_at) VALUES (%s, %s, %s) RETURNING id",
            (workspace, json.dumps(data, ensure_ascii=False), _utc(now)),
        )
        assert row is not None
        return int(row["id"])

    def get_draft(self, *, workspace: str, draft_id: int) -> dict[str, Any] | None:
        row = self._one(
            "SELECT data FROM drafts WHERE workspace = %s AND id = %s", (workspace, draft_id)
        )
        return json.loads(row["data"]) if row else None

    def get_channel_shared(self, *, workspace: str, channel: str) -> bool | None:
        row = self._one(
            "SELECT shared FROM channels WHERE workspace = %s AND channel = %s",
            (workspace, channel),
        )
        return bool(row["shared"]) if row else None

    def set_channel_shared(
        self, *, workspace: str, channel: str, shared: bool, now: datetime
    ) -> None:
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO channels (workspace, channel, shared, checked_at)"
                " VALUES (%s, %s, %s, %s)"
                " ON CONFLICT (workspace, channel) DO UPDATE SET shared = EXCLUDED.shared,"
                " checked_at = EXCLUDED.checked_at",
                (workspace, channel, shared, _utc(now)),
            )

    def set_workspace_revoked(self, *, workspace: str, revoked_at: datetime | None) -> None:
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO workspaces (workspace, revoked_at) VALUES (%s, %s)"
                " ON CONFLICT (workspace) DO UPDATE SET revoked_at = EXCLUDED.revoked_at",
                (workspace, _utc(revoked_at)),
            )

    def is_workspace_revoked(self, *, workspace: str) -> bool:
        row = self._one("SELECT revoked_at FROM workspaces WHERE workspace = %s", (workspace,))
        return bool(row and row["revoked_at"])

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._conn.close()


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


def _utc(moment: datetime | None) -> datetime | None:
    """An aware UTC time to bind; a naive one is taken as local time, as `iso` does."""
    return moment.astimezone(UTC) if moment is not None else None


def _columns(changes: dict[str, Any]) -> dict[str, Any]:
    """Item fields as column values: times stay datetimes, lists become JSON text."""
    converted: dict[str, Any] = {}
    for column, value in changes.items():
        if isinstance(value, datetime):
            converted[column] = _utc(value)
        elif isinstance(value, list):
            converted[column] = json.dumps(value)
        else:
            converted[column] = value
    return converted


def _texts(row: DictRow) -> dict[str, Any]:
    """A row with its timestamptz values as ISO text, the form storage/rows.py reads."""
    return {key: iso(value) if isinstance(value, datetime) else value for key, value in row.items()}


def _item(row: DictRow) -> Item:
    return item_from_row(_texts(row))


def _outbox_from_row(row: DictRow) -> OutboxEntry:
    return OutboxEntry(
        id=row["id"],
        workspace=row["workspace"],
        item_id=row["item_id"],
        kind=row["kind"],
        payload=json.loads(row["payload"] or "{}"),
        status=row["status"],
        attempts=row["attempts"],
        next_attempt_at=row["next_attempt_at"].astimezone(UTC),
        unknown_fate=bool(row["unknown_fate"]),
        last_error=row["last_error"],
        created_at=row["created_at"].astimezone(UTC),
        result=json.loads(row["result"]) if row["result"] else None,
    )
