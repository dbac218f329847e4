"""Several stores on one database, as separate processes would hold, on both backends.

Each store holds its own connection, so these races are decided by the database (SQLite's
write lock, PostgreSQL's row locks and unique indexes), not by a store's in-process lock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import pytest

from bot.config import Config
from bot.intake import IntakeService
from bot.models import Event
from bot.outbox import LEASE, OutboxWorker
from bot.store import DuplicateSource, NewOutbox, Store
from storage import open_store
from storage.migrations import MIGRATIONS, applied_versions, apply_migrations
from storage.postgres import PostgresDatabase
from storage.store import SqlStore
from tests.fakes import DEFAULT_START, FrozenClock, RecordingChatPort, intake_request
from tests.postgres_server import throwaway_database
from tests.store_backends import BACKENDS, PostgresDatabases, create

T0 = DEFAULT_START
FAR_FUTURE = datetime(2100, 1, 1, tzinfo=UTC)
T = TypeVar("T")


@pytest.fixture(params=BACKENDS)
def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, postgres_databases: PostgresDatabases
) -> str:
    """The URL of one empty database of each backend (a SQLite file, or PostgreSQL)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'shared.db'}"
    return postgres_databases.take()


@pytest.fixture
def stores(database_url: str) -> Iterator[Callable[[], Store]]:
    """Open stores on one database, each with its own connection; all closed after the test."""
    opened: list[Store] = []

    def open_one() -> Store:
        store = open_store(database_url)
        opened.append(store)
        return store

    yield open_one
    for store in opened:
        store.close()


def race(calls: list[Callable[[], T]]) -> list[T]:
    """Run the calls at once, one thread each, released together; return their results."""
    barrier = threading.Barrier(len(calls))
    results: list[T | None] = [None] * len(calls)
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=10)
            results[index] = calls[index]()
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return [result for result in results if result is not None]


# --- races between stores ----------------------------------------------------------------


def test_claim_digest_race_has_one_winner(stores: Callable[[], Store]) -> None:
    first, second = stores(), stores()
    periods = [f"2024-05-{day:02d}" for day in range(1, 11)]
    for period in periods:

        def claim(store: Store, period: str = period) -> bool:
            return None is not store.claim_digest(
                workspace="T0WORK",
                subscription="daily",
                period=period,
                now=T0,
                late=False,
                outbox=[NewOutbox(kind="digest", payload={"period": period})],
            )

        assert sorted(race([lambda: claim(first), lambda: claim(second)])) == [False, True]
    assert first.digest_claims(workspace="T0WORK", subscription="daily") == periods[::-1]
    # The loser wrote nothing: one posting per period.
    entries = second.outbox_due(now=FAR_FUTURE)
    assert sorted(entry.payload["period"] for entry in entries) == periods


def test_outbox_lease_race_has_one_winner(stores: Callable[[], Store]) -> None:
    first, second = stores(), stores()
    ids = [
        first.outbox_enqueue(workspace="T0WORK", item_id=None, entry=NewOutbox("notice"), now=T0)
        for _ in range(10)
    ]
    until = T0 + timedelta(minutes=5)
    for entry_id in ids:

        def lease(store: Store, owner: str, entry_id: int = entry_id) -> str | None:
            won = store.outbox_lease(entry_id, owner=owner, now=T0, until=until, maybe_posts=True)
            return owner if won else ""

        winners = [
            owner
            for owner in race([lambda: lease(first, "host:1:a"), lambda: lease(second, "host:2:b")])
            if owner
        ]
        assert len(winners) == 1
        entry = second.outbox_get(entry_id)
        assert entry is not None and entry.unknown_fate is True
    assert len(first.outbox_leases()) == 10


def test_next_rotation_across_stores_hands_out_each_turn_once(
    stores: Callable[[], Store],
) -> None:
    opened = [stores() for _ in range(8)]

    def take_turns(store: Store) -> list[int]:
        return [store.next_rotation(workspace="T0WORK", team="mobile") for _ in range(25)]

    turns = race([lambda store=store: take_turns(store) for store in opened])
    assert sorted(turn for batch in turns for turn in batch) == list(range(200))


def test_two_stores_share_one_rotation(stores: Callable[[], Store]) -> None:
    # Two processes on one database: the counter must not hand out the same turn twice.
    first, second = stores(), stores()
    turns = []
    for _ in range(5):
        turns.append(first.next_rotation(workspace="T0WORK", team="mobile"))
        turns.append(second.next_rotation(workspace="T0WORK", team="mobile"))
    assert sorted(turns) == list(range(10))


def test_only_if_race_records_one_first_response(stores: Callable[[], Store]) -> None:
    first, second = stores(), stores()
    item = create(first)

    def respond(store: Store, by: str) -> str:
        updated = store.update_item(
            workspace="T0WORK",
            item_id=item.id,
            changes={"first_response_at": T0, "first_response_by": by, "status": "responded"},
            event=Event(item_id=item.id, kind="responded", actor=by, at=T0),
            outbox=[NewOutbox(kind="card_update")],
            only_if={"first_response_at": None},
        )
        return by if updated is not None else ""

    winners = [
        by for by in race([lambda: respond(first, "U0A"), lambda: respond(second, "U0B")]) if by
    ]
    assert len(winners) == 1
    stored = second.get_item(workspace="T0WORK", item_id=item.id)
    assert stored is not None and stored.first_response_by == winners[0]
    assert [e.kind for e in first.events_for(workspace="T0WORK", item_id=item.id)] == [
        "received",
        "responded",
    ]
    assert first.outbox_pending_count() == 1


def test_duplicate_source_race_creates_one_item(stores: Callable[[], Store]) -> None:
    first, second = stores(), stores()
    for index in range(10):
        ts = f"1.{index:06d}"

        def forward(store: Store, ts: str = ts) -> int:
            try:
                return create(
                    store, source_channel="C0SUP", source_ts=ts, outbox=[NewOutbox("card")]
                ).id
            except DuplicateSource as duplicate:
                return -duplicate.item.id

        outcomes = race([lambda: forward(first), lambda: forward(second)])
        assert len({abs(outcome) for outcome in outcomes}) == 1
        assert sorted(outcome > 0 for outcome in outcomes) == [False, True]
    assert len(first.list_items()) == 10
    assert first.outbox_pending_count() == 10


async def test_two_outbox_workers_post_each_card_once(
    stores: Callable[[], Store], example_config: Config
) -> None:
    clock = FrozenClock()
    store_a, store_b = stores(), stores()
    intake = IntakeService(store=store_a, config=example_config, clock=clock,
                           port=RecordingChatPort(internal_users={"U0SUPPORT"}))
    for _ in range(3):
        await intake.forward(intake_request(at=clock(), as_new=True))
    chat = RecordingChatPort(clock=clock)
    worker_a = OutboxWorker(store=store_a, port=chat, config=example_config, clock=clock)
    worker_b = OutboxWorker(store=store_b, port=chat, config=example_config, clock=clock)
    # Both see the same due entries; the lease lets only one attempt each.
    due_for_b = store_b.outbox_due(now=clock())
    assert due_for_b
    await worker_a.drain_once()
    for entry in due_for_b:
        assert not store_b.outbox_lease(
            entry.id, owner=worker_b.owner, now=clock(), until=clock() + LEASE, maybe_posts=True
        )
    await worker_b.drain_once()
    assert len(chat.cards) == 3
    assert store_b.outbox_pending_count() == 0


# --- opening and reopening -------------------------------------------------------------


def test_store_survives_a_restart(stores: Callable[[], Store]) -> None:
    before = stores()
    item = create(before, outbox=[NewOutbox("card")])
    before.next_rotation(workspace="T0WORK", team="mobile")
    before.close()

    after = stores()
    assert after.get_item(workspace="T0WORK", item_id=item.id) == item
    assert after.outbox_pending_count() == 1
    assert after.next_rotation(workspace="T0WORK", team="mobile") == 1
    assert isinstance(after, SqlStore)
    assert applied_versions(after.database) == [version for version, _ in MIGRATIONS]
    assert apply_migrations(after.database) == []


@pytest.fixture(params=BACKENDS)
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a database without any table yet, of each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'new.db'}"
        return
    with throwaway_database() as url:
        yield url


def test_migrations_apply_once_when_processes_start_together(empty_database_url: str) -> None:
    opened = race([lambda: open_store(empty_database_url) for _ in range(4)])
    try:
        assert len(opened) == 4
        for store in opened:
            assert isinstance(store, SqlStore)
            assert applied_versions(store.database) == [version for version, _ in MIGRATIONS]
    finally:
        for store in opened:
            store.close()


def test_a_new_sqlite_file_opened_by_several_processes_at_once(tmp_path: Path) -> None:
    # Switching a new file to WAL mode does not wait for a busy file by itself; about one
    # start in twenty used to fail with "database is locked".
    for attempt in range(40):
        url = f"sqlite:///{tmp_path / f'new-{attempt}.db'}"
        opened = race([lambda url=url: open_store(url) for _ in range(4)])
        for store in opened:
            store.close()
        assert len(opened) == 4


def test_file_store_is_in_wal_mode(tmp_path: Path) -> None:
    opened = open_store(f"sqlite:///{tmp_path / 'feedback.db'}")
    try:
        assert isinstance(opened, SqlStore)
        with opened.database.read() as tx:
            row = tx.one("PRAGMA journal_mode")
        assert row is not None and row["journal_mode"].lower() == "wal"
    finally:
        opened.close()


# --- PostgreSQL only ----------------------------------------------------------------------


@pytest.fixture
def postgres_url(postgres_databases: PostgresDatabases) -> str:
    """The URL of an emptied PostgreSQL database; skips when there is no server."""
    return postgres_databases.take()


def test_postgres_url_opens_a_postgres_store(postgres_url: str) -> None:
    from storage import open_existing_store

    for url in (postgres_url, postgres_url.replace("postgresql://", "postgres://", 1)):
        for opener in (open_store, open_existing_store):
            opened = opener(url)
            try:
                assert isinstance(opened, SqlStore)
                assert isinstance(opened.database, PostgresDatabase)
            finally:
                opened.close()


def test_postgres_unreachable_server_is_a_value_error_without_the_password() -> None:
    pytest.importorskip("psycopg")
    with pytest.raises(ValueError, match="cannot open PostgreSQL") as raised:
        open_store("postgresql://feedbackbot:s3cret@127.0.0.1:1/feedbackbot?connect_timeout=2")
    assert "s3cret" not in str(raised.value)


def test_postgres_store_reconnects_when_the_server_drops_it(postgres_url: str) -> None:
    import psycopg

    store = open_store(postgres_url)
    try:
        item = create(store)
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            dropped = admin.execute(
                # Only the store's own connections: an autovacuum worker may be at work on
                # the same database, and only a superuser may end it.
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                " AND backend_type = 'client backend'"
            ).fetchall()
        assert dropped and all(ended for (ended,) in dropped)
        # The next call finds the connection gone before it starts, and opens a new one.
        assert store.get_item(workspace="T0WORK", item_id=item.id) == item
        assert store.next_rotation(workspace="T0WORK", team="mobile") == 0
    finally:
        store.close()
