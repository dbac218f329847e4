"""The full-text index of item text, on both backends: built by migration 14, kept in step."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot.similar import SimilarItems
from bot.similar_text import query_terms
from bot.store import Store
from storage import open_store
from storage.store import SqlStore
from tests.fakes import DEFAULT_START
from tests.store_backends import BACKENDS, PostgresDatabases, create, execute

NOW = DEFAULT_START
REFUND = "Customer says the refund for their cancelled order never reached their card"
SAME = "refund still hasn't arrived, cancelled the order 2 weeks ago"


def found(store: Store, text: str, *, workspace: str = "T0WORK") -> list[int]:
    """Ids of the candidates the store gives for `text`, best first."""
    return [candidate.item_id for candidate in store.similar_candidates(
        workspace=workspace, terms=query_terms(text), resolved_since=NOW - timedelta(days=90))]


def test_an_item_is_found_by_other_words_for_the_same_problem(fresh_store: Store) -> None:
    wanted = create(fresh_store, text=REFUND)
    create(fresh_store, text="The iOS app crashes when uploading a photo")

    assert found(fresh_store, SAME) == [wanted.id]
    assert found(fresh_store, "dark mode makes labels unreadable") == []


def test_a_changed_text_is_searched_as_it_is_now(fresh_store: Store) -> None:
    # Erasure and retention blank or replace item text: the old words must not be found.
    item = create(fresh_store, text=REFUND)
    fresh_store.update_item(workspace="T0WORK", item_id=item.id, changes={"text": "[erased]"})
    assert found(fresh_store, SAME) == []

    fresh_store.update_item(workspace="T0WORK", item_id=item.id,
                            changes={"text": "photo upload crashes the app"})
    assert found(fresh_store, "app crash during photo upload") == [item.id]


def test_a_status_change_keeps_the_item_findable(fresh_store: Store) -> None:
    item = create(fresh_store, text=REFUND)
    fresh_store.update_item(workspace="T0WORK", item_id=item.id, changes={"status": "responded"})
    assert found(fresh_store, SAME) == [item.id]


def test_pruned_items_leave_the_index(fresh_store: Store) -> None:
    create(fresh_store, text=REFUND, forwarded_at=NOW - timedelta(days=400))
    kept = create(fresh_store, text=REFUND)

    assert fresh_store.prune_items(forwarded_before=NOW - timedelta(days=365)) == 1

    assert found(fresh_store, SAME) == [kept.id]
    _check_index(fresh_store)


def test_only_the_workspaces_own_items_are_candidates(fresh_store: Store) -> None:
    create(fresh_store, workspace="T0OTHER", text=REFUND)
    create(fresh_store, workspace="T0OTHER", text=SAME)
    ours = create(fresh_store, text=REFUND + " at all")

    assert found(fresh_store, SAME) == [ours.id]
    assert found(fresh_store, SAME, workspace="T0NONE") == []


def test_open_items_of_any_age_and_items_resolved_in_the_last_90_days(fresh_store: Store) -> None:
    old_open = create(fresh_store, text=REFUND, forwarded_at=NOW - timedelta(days=300))
    recently_resolved = create(fresh_store, text=REFUND, status="resolved",
                               forwarded_at=NOW - timedelta(days=200),
                               resolved_at=NOW - timedelta(days=89))
    create(fresh_store, text=REFUND, status="resolved", forwarded_at=NOW - timedelta(days=100),
           resolved_at=NOW - timedelta(days=91))

    assert sorted(found(fresh_store, SAME)) == [old_open.id, recently_resolved.id]


def test_candidates_are_bounded(fresh_store: Store) -> None:
    for _ in range(30):
        create(fresh_store, text=REFUND)
    terms = query_terms(SAME)
    assert len(fresh_store.similar_candidates(workspace="T0WORK", terms=terms,
                                              resolved_since=NOW, limit=7)) == 7
    matcher = SimilarItems(fresh_store, clock=lambda: NOW)
    assert len(matcher.candidates(workspace="T0WORK", text=SAME, team="payments")) == 5


# (text, whether it still names the refund item's words); none may raise or inject.
HOSTILE = [
    ('"refund" NEAR(order card) OR text:card AND NOT "', True),
    ("refund' order; DROP TABLE items; --", True),
    ("refund* order^ card- (cancelled", True),
    ("refund NEAR/3 order {text} : card", True),
    ("text: refund\x00 order card", True),
    # Zero-width space, accents, a combining accent, right-to-left override.
    ("re\u200bfund ord\u00e9r c\u0301ard \u202eorder\u202c", True),
    ("refund \ud800 order card", True),
    ("\U0001f4b3 refund \U0001f4b8 order card \u00a0\u3000", True),
    ("REFUND ORDER CARD AND OR NOT NEAR", True),
    ("refund & order | card ! (:*) <-> 'x'", True),
    ("\\ refund \\' order \\\" card", True),
    ("NEAR AND OR NOT text", False),
    ("", False),
    ("   \n\t ", False),
    ("the and of to a", False),
    ("?!?!*** '' \"\" ::", False),
    ("\x00\x01\x02 \ufeff \ud800\udfff", False),
]


@pytest.mark.parametrize(("text", "names_it"), HOSTILE)
def test_search_syntax_in_customer_text_is_plain_words(fresh_store: Store, text: str,
                                                       names_it: bool) -> None:
    item = create(fresh_store, text=REFUND)
    matcher = SimilarItems(fresh_store, clock=lambda: NOW)

    matches = matcher.candidates(workspace="T0WORK", text=text, team="payments")

    assert [match.item_id for match in matches][:1] == ([item.id] if names_it else [])


def test_huge_text_is_matched_on_its_first_words(fresh_store: Store) -> None:
    item = create(fresh_store, text=REFUND)
    matcher = SimilarItems(fresh_store, clock=lambda: NOW)
    pasted = SAME + " " + " ".join(f"line{n} of a pasted log says NEAR(x) \"y\"" for n in range(
        50_000))

    matches = matcher.candidates(workspace="T0WORK", text=pasted, team="payments")

    assert [match.item_id for match in matches] == [item.id]


@pytest.mark.parametrize("backend", BACKENDS)
def test_migration_indexes_the_items_already_there(
        backend: str, tmp_path: Path, postgres_databases: PostgresDatabases) -> None:
    url = (f"sqlite:///{tmp_path / 'old.db'}" if backend == "sqlite"
           else postgres_databases.take())
    store = open_store(url)
    _undo_migration_14(store)
    wanted = create(store, text=REFUND)
    create(store, text="The iOS app crashes when uploading a photo")
    store.close()

    store = open_store(url)  # applies migration 14 again
    try:
        assert found(store, SAME) == [wanted.id]
        _check_index(store)
    finally:
        store.close()


def _undo_migration_14(store: Store) -> None:
    assert isinstance(store, SqlStore)
    if store.database.dialect.name == "sqlite":
        for trigger in ("insert", "delete", "update"):
            execute(store, f"DROP TRIGGER items_fts_{trigger}")
        execute(store, "DROP TABLE items_fts")
    else:
        execute(store, "ALTER TABLE items DROP COLUMN search_vector")
    execute(store, "DELETE FROM schema_migrations WHERE version = 14")


def _check_index(store: Store) -> None:
    """On SQLite, FTS5's own check of the index, and one indexed row per item."""
    assert isinstance(store, SqlStore)
    if store.database.dialect.name == "sqlite":
        execute(store, "INSERT INTO items_fts (items_fts, rank) VALUES ('integrity-check', 1)")
        with store.database.read() as tx:
            indexed = tx.all("SELECT rowid FROM items_fts WHERE items_fts MATCH 'text : refund'"
                             " ORDER BY rowid")
            items = tx.all("SELECT id FROM items WHERE text LIKE '%refund%' ORDER BY id")
        assert [row["rowid"] for row in indexed] == [row["id"] for row in items]


def test_the_store_quotes_only_plain_words_whoever_calls_it(fresh_store: Store) -> None:
    item = create(fresh_store, text=REFUND)
    terms = [["refund"], ["order", 'order" OR "x', "card:*"], ["NEAR(", "'", "\\"], ["_"]]

    candidates = fresh_store.similar_candidates(workspace="T0WORK", terms=terms,
                                                resolved_since=NOW)

    assert [candidate.item_id for candidate in candidates] == [item.id]


def test_only_the_newest_hits_are_ranked(fresh_store: Store,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    # A bound on the work of one query, whatever the length of the history.
    monkeypatch.setattr("storage.similar.NEWEST_HITS", 2)
    create(fresh_store, text=REFUND, forwarded_at=NOW - timedelta(days=3))
    newer = [create(fresh_store, text=REFUND, forwarded_at=NOW - timedelta(days=days))
             for days in (2, 1)]

    assert sorted(found(fresh_store, SAME)) == [item.id for item in newer]


# SQLite's index finds hits of the whole history; only PostgreSQL reads the newest items.
@pytest.mark.parametrize("fresh_store", ["postgres"], indirect=True)
def test_postgresql_looks_among_the_workspaces_newest_items(
        fresh_store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    assert isinstance(fresh_store, SqlStore)
    assert fresh_store.database.dialect.name == "postgresql"
    monkeypatch.setattr("storage.similar.RECENT_ITEMS", 2)
    create(fresh_store, text=REFUND, forwarded_at=NOW - timedelta(days=3))
    newest = create(fresh_store, text=REFUND, forwarded_at=NOW - timedelta(days=1))
    create(fresh_store, text="the iOS app crashes", forwarded_at=NOW - timedelta(days=2))
    create(fresh_store, workspace="T0OTHER", text="dark mode", forwarded_at=NOW)

    assert found(fresh_store, SAME) == [newest.id]
