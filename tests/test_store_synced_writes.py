"""Which commits wait for the disk: a stored request and an outbox lease do; the work
between them (items, sent marks, finished requests) rides on the next synced commit."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.config import Config
from bot.models import Event
from bot.outbox_kinds import CARD
from bot.runtime import Runtime
from bot.store import NewOutbox, Store
from storage import open_store
from storage.dialect import SqliteDatabase
from storage.store import SqlStore
from tests.fakes import FrozenClock, make_item
from tests.store_backends import PostgresDatabases


@pytest.fixture
def sqlite_file_store(tmp_path: Path) -> Iterator[SqlStore]:
    store = open_store(f"sqlite:///{tmp_path / 'bot.db'}")
    assert isinstance(store, SqlStore)
    yield store
    store.close()


def _unsynced_statements(store: SqlStore) -> list[str]:
    """Record the statements SQLite runs between `synchronous = NORMAL` and its reset."""
    database = store.database
    assert isinstance(database, SqliteDatabase)
    seen: list[str] = []
    state = {"unsynced": False}

    def trace(statement: str) -> None:
        if statement.startswith("PRAGMA synchronous = NORMAL"):
            state["unsynced"] = True
        elif statement.startswith("PRAGMA synchronous ="):
            state["unsynced"] = False
        elif state["unsynced"] and not statement.startswith("PRAGMA"):
            seen.append(statement.split()[0] + " " + " ".join(statement.split()[1:3]))

    database._conn.set_trace_callback(trace)
    return seen


def _forward(store: Store, clock: FrozenClock) -> int:
    item = store.create_item(
        item=make_item(forwarded_at=clock()),
        event=Event(item_id=0, kind="received", actor="U0SUPPORT", at=clock()),
        outbox=[NewOutbox(kind=CARD)])
    return item.id


def test_a_stored_request_and_an_outbox_lease_are_synced_the_work_between_is_not(
        sqlite_file_store: SqlStore, clock: FrozenClock):
    store = sqlite_file_store
    store.allow_unsynced_writes()  # as `serve` alone does
    unsynced = _unsynced_statements(store)

    inbox_id = store.inbox_add(workspace="T0WORK", kind="event_callback", dedupe_key="e1",
                               body="{}", headers={}, received_at=clock())
    assert inbox_id is not None
    assert unsynced == []  # the request is on disk before it is answered

    _forward(store, clock)
    assert any(statement.startswith("INSERT INTO items") for statement in unsynced)

    unsynced.clear()
    leased = store.outbox_lease_due(owner="me", now=clock(), until=clock() + timedelta(minutes=2),
                                    limit=10, posting_kinds=(CARD,))
    assert len(leased) == 1
    assert unsynced == []  # a post follows a lease: it must survive a machine crash

    store.outbox_sent(leased[0].id, result={"ts": "1.0"}, now=clock())
    store.inbox_done(inbox_id)
    assert [statement.split()[0] for statement in unsynced] == ["BEGIN", "UPDATE", "COMMIT",
                                                                "BEGIN", "UPDATE", "COMMIT"]
    # Back to synced commits for everything else.
    database = store.database
    assert isinstance(database, SqliteDatabase)
    with database.read() as tx:
        assert tx.one("PRAGMA synchronous")["synchronous"] == 2  # FULL


def test_an_unsynced_write_is_kept_like_any_other(tmp_path: Path, clock: FrozenClock):
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    store = open_store(url)
    item_id = _forward(store, clock)
    store.close()
    reopened = open_store(url)
    try:
        assert reopened.get_item(workspace="T0WORK", item_id=item_id) is not None
    finally:
        reopened.close()


def test_every_commit_is_synced_until_unsynced_writes_are_allowed(
        sqlite_file_store: SqlStore, clock: FrozenClock):
    unsynced = _unsynced_statements(sqlite_file_store)
    _forward(sqlite_file_store, clock)
    with sqlite_file_store.database.write(synced=False) as tx:
        tx.execute("UPDATE items SET note = 'x'")
    assert unsynced == []


@pytest.mark.parametrize("worker, allowed", [(False, True), (True, False)])
async def test_only_a_process_that_answers_and_finishes_lets_writes_ride(
        tmp_path: Path, example_config: Config, worker: bool, allowed: bool):
    store = open_store(f"sqlite:///{tmp_path / 'bot.db'}")
    assert isinstance(store, SqlStore)
    runtime = Runtime(config=example_config, store=store)
    await runtime.start(scheduler=False, worker=worker)
    try:
        assert store.database.unsynced_allowed is allowed
    finally:
        await runtime.stop()  # closes the store


@pytest.mark.parametrize("synced, expected", [(True, "on"), (False, "off")])
def test_postgres_commits_without_waiting_for_the_flush_only_when_asked(
        postgres_databases: PostgresDatabases, synced: bool, expected: str):
    store = open_store(postgres_databases.take())
    try:
        assert isinstance(store, SqlStore)
        store.allow_unsynced_writes()
        with store.database.write(synced=synced) as tx:
            row = tx.one("SHOW synchronous_commit")
        assert row is not None and row["synchronous_commit"] == expected
        with store.database.write() as tx:
            row = tx.one("SHOW synchronous_commit")
        assert row is not None and row["synchronous_commit"] == "on"  # for that one only
    finally:
        store.close()
