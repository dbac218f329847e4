"""Databases written by release 0.1.0 open with today's store, upgraded in place, losing nothing.

tests/fixtures/make_feedback_db.py wrote both fixtures with that release's own stores:
feedback-v3.db (SQLite, its schema version 3) and postgres-v1.sql (a dump of a PostgreSQL
database, its separate schema version 1). Old SQLite rows hold times as `…Z` text; the
checks below also prove those still compare right as instants.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from bot.models import Event
from bot.store import DuplicateSource, Store
from storage import open_store
from storage.migrations import MIGRATIONS, applied_versions
from storage.store import SqlStore
from tests.fakes import make_item
from tests.postgres_server import throwaway_database
from tests.store_backends import table_rows

FIXTURES = Path(__file__).resolve().parent / "fixtures"
OLD = datetime(2026, 1, 10, 9, 0, 0, 100, tzinfo=UTC)
NEW = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
LATER = datetime(2026, 3, 2, 8, 15, 5, 999999, tzinfo=UTC)
TABLES = ("inbox", "items", "events", "outbox", "rotations", "drafts", "channels",
          "workspaces", "followers", "item_flags", "digest_claims")
# Columns added after release 0.1.0, with what an old row must read as.
ADDED_COLUMNS = {"items": {"platform": "slack", "card_platform": None,
                           # Migration 10: nobody has recorded that the customer heard back.
                           "customer_answered_at": None, "customer_answered_by": None,
                           "customer_answered_how": None,
                           # Migration 11: no item is a +1 of another.
                           "linked_to": None, "linked_at": None, "linked_by": None},
                 "inbox": {"platform": "slack", "lease_owner": None, "lease_until": None},
                 "followers": {"platform": "slack"}}


def _sqlite_rows(path: Path) -> dict[str, list[dict[str, Any]]]:
    """Every row of the fixture as release 0.1.0 left it (read before any upgrade)."""
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    try:
        return {table: [dict(row) for row in conn.execute(f"SELECT * FROM {table} ORDER BY 1")]
                for table in TABLES}
    finally:
        conn.close()


@pytest.fixture
def sqlite_copy(tmp_path: Path) -> Path:
    """A copy of the SQLite fixture, so that the committed file is never upgraded."""
    copy = tmp_path / "feedback.db"
    shutil.copy(FIXTURES / "feedback-v3.db", copy)
    return copy


@pytest.fixture
def postgres_v1_url() -> Iterator[str]:
    """A database of its own holding the PostgreSQL fixture; skips without a server."""
    import psycopg

    with throwaway_database() as url:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute((FIXTURES / "postgres-v1.sql").read_text(encoding="utf-8"))
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
def upgraded(request: pytest.FixtureRequest, sqlite_copy: Path) -> Iterator[Store]:
    """The release 0.1.0 database of each backend, opened (and so upgraded) by today's store."""
    if request.param == "sqlite":
        store = open_store(f"sqlite:///{sqlite_copy}")
        yield store
        store.close()
        return
    url = request.getfixturevalue("postgres_v1_url")
    store = open_store(url)
    yield store
    store.close()


def test_sqlite_database_of_release_0_1_0_is_upgraded_with_every_row_kept(
    sqlite_copy: Path,
) -> None:
    before = _sqlite_rows(sqlite_copy)
    store = open_store(f"sqlite:///{sqlite_copy}")
    try:
        assert isinstance(store, SqlStore)
        assert applied_versions(store.database) == [version for version, _ in MIGRATIONS]
        after = {table: table_rows(store, table) for table in TABLES}
    finally:
        store.close()
    for table, added in ADDED_COLUMNS.items():
        for row in after[table]:
            assert {column: row.pop(column) for column in added} == added
    assert after == before
    assert sum(len(rows) for rows in before.values()) > 25


def test_postgres_database_of_release_0_1_0_is_recognised_and_upgraded(
    postgres_v1_url: str,
) -> None:
    import psycopg

    with psycopg.connect(postgres_v1_url) as conn:
        assert [row[0] for row in conn.execute("SELECT version FROM schema_migrations")] == [1]
    store = open_store(postgres_v1_url)
    try:
        assert isinstance(store, SqlStore)
        assert applied_versions(store.database) == [version for version, _ in MIGRATIONS]
        counts = {table: len(table_rows(store, table)) for table in TABLES}
    finally:
        store.close()
    assert counts == {"inbox": 4, "items": 3, "events": 7, "outbox": 7, "rotations": 1,
                      "drafts": 1, "channels": 2, "workspaces": 2, "followers": 2,
                      "item_flags": 1, "digest_claims": 2}


def test_every_kind_of_old_row_reads_back(upgraded: Store) -> None:
    store = upgraded
    old, command, other = store.list_items()
    assert (old.id, old.status, old.team, old.assignees) == (1, "resolved", "web",
                                                             ["U0ALICE", "U0BOB"])
    assert (old.forwarded_at, old.first_response_at) == (OLD, OLD + timedelta(minutes=7))
    assert old.resolved_at == OLD + timedelta(hours=1) and old.resolved_by == "U0ALICE"
    assert (command.intake_key, command.customer, command.text) == (
        "cmd-T0WORK-42", "Großhandel", "Export crashes \u202e")
    assert (command.forwarded_at, command.escalated_at) == (NEW, LATER)
    assert other.workspace == "T0OTHER"

    events = store.events_for(workspace="T0WORK", item_id=old.id)
    assert [e.kind for e in events] == ["received", "routed", "routed", "resolved", "reminded"]
    assert events[3].data == {"é": "\u202e", "nul": "a\u0000b"}
    assert [e.item_id for e in store.events_of_kind(workspace="T0WORK", kind="routed")] == [1, 1]
    assert store.find_item_by_past_card(workspace="T0WORK", channel="C0PAY",
                                        ts="1768035700.000100") == old
    assert store.find_item_by_card(workspace="T0WORK", channel="C0WEB",
                                   ts="1768035800.000200") == old

    (card,) = store.outbox_for_item(workspace="T0WORK", item_id=old.id)
    assert (card.status, card.result) == ("sent", {"channel": "C0PAY", "ts": "1768035700.000100"})
    command_card, notice = store.outbox_for_item(workspace="T0WORK", item_id=command.id)
    assert store.outbox_leases() == [(command_card.id, "host:2:bbb")]
    assert command_card.unknown_fate is True
    assert (notice.last_error, notice.next_attempt_at, notice.attempts) == ("ratelimited",
                                                                            LATER, 1)
    assert store.outbox_pending_count() == 4  # the command's card and notice, two digests

    pending = store.inbox_pending()
    assert [(row.dedupe_key, row.attempts) for row in pending] == [("Ev0PEND", 2), (None, 0)]
    assert pending[0].headers == {"X-Slack-Retry-Num": "1"} and pending[0].received_at == NEW
    assert store.inbox_add(workspace="T0WORK", kind="event", dedupe_key="Ev0DONE", body="{}",
                           headers={}, received_at=LATER) is None

    assert store.digest_claims(workspace="T0WORK", subscription="payments-daily") == [
        "2026-02-28", "2026-02-27"]
    assert store.followers(workspace="T0WORK", item_id=old.id) == ["U0SUPPORT", "U0MGR"]
    assert not store.set_flag_once(workspace="T0WORK", item_id=old.id, flag="reminded", now=LATER)
    assert store.next_rotation(workspace="T0WORK", team="payments") == 3
    draft = store.get_draft(workspace="T0WORK", draft_id=1)
    assert draft is not None and draft["channel"] == "C0S"
    assert store.get_channel_shared(workspace="T0WORK", channel="C0SHARED") is True
    assert store.get_channel_shared(workspace="T0WORK", channel="C0INTERNAL") is False
    assert store.is_workspace_revoked(workspace="T0GONE") is True
    assert store.is_workspace_revoked(workspace="T0BACK") is False


def test_old_rows_still_block_duplicates_and_new_ids_follow_old_ones(upgraded: Store) -> None:
    with pytest.raises(DuplicateSource) as raised:
        upgraded.create_item(
            item=make_item(source_channel="C0SUPPORT", source_ts="1768035600.000100"),
            event=Event(0, "received", "U0SUPPORT", LATER), outbox=[])
    assert raised.value.item.id == 1
    created = upgraded.create_item(item=make_item(), event=Event(0, "received", None, LATER),
                                   outbox=[])
    # PostgreSQL may skip an id (the refused insert took one); it never reuses one.
    assert created.id > 3


def test_old_times_compare_as_instants_with_new_bounds(upgraded: Store) -> None:
    store = upgraded
    # export --since and digests: the bound is inclusive, to the microsecond, any offset.
    plus_two = timezone(timedelta(hours=2))
    for since in (NEW, datetime(2026, 3, 1, 11, 30, tzinfo=plus_two)):
        assert [item.id for item in store.list_items(forwarded_since=since)] == [2, 3]
    later_by_a_microsecond = NEW + timedelta(microseconds=1)
    assert [item.id for item in store.list_items(forwarded_since=later_by_a_microsecond)] == [3]
    # An outbox entry waiting out a rate limit is due at its moment, not before.
    due = store.outbox_due(now=LATER - timedelta(microseconds=1), limit=100)
    assert "ratelimited" not in [entry.last_error for entry in due]
    due = store.outbox_due(now=LATER, limit=100)
    assert "ratelimited" in [entry.last_error for entry in due]
    # Lease expiry compares the stored `lease_until` with a new `now`.
    (entry_id, _owner), = store.outbox_leases()
    assert not store.outbox_lease(entry_id, owner="new", now=NEW, until=LATER, maybe_posts=False)
    assert store.outbox_lease(entry_id, owner="new", now=NEW + timedelta(minutes=5, seconds=1),
                              until=LATER, maybe_posts=False)
    # Retention: inbox rows and items older than the bound go, the bound itself stays.
    assert store.inbox_prune(before=NEW) == 1
    assert store.prune_items(forwarded_before=OLD) == 0
    assert store.prune_items(forwarded_before=OLD + timedelta(microseconds=1)) == 1
    assert [item.id for item in store.list_items()] == [2, 3]
    assert store.events_for(workspace="T0WORK", item_id=1) == []
    assert store.followers(workspace="T0WORK", item_id=1) == []
