"""Digests and figure reads run with the cyclic garbage collector paused, and resume it."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest

from bot.collector import collector_paused, freeze_start_up_objects
from bot.digest_service import DigestService
from bot.store import Store
from tests.fakes import FrozenClock
from tests.test_figures_window import END, NOW, START, WORKSPACE, config, seed_varied


@pytest.fixture
def collections() -> Iterator[list[dict[str, Any]]]:
    """Every collection the garbage collector starts meanwhile."""
    gc.collect()
    started: list[dict[str, Any]] = []

    def note(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            started.append(info)

    gc.callbacks.append(note)
    try:
        yield started
    finally:
        gc.callbacks.remove(note)


def test_a_digest_and_its_rows_are_made_without_a_collection(
        fresh_store: Store, collections: list[dict[str, Any]]) -> None:
    seed_varied(fresh_store)
    service = DigestService(store=fresh_store, config=config(), clock=FrozenClock(NOW))
    assert gc.isenabled()
    collections.clear()
    data = service.build(workspace=WORKSPACE, index=0, local_date=date(2026, 5, 15),
                         late=False, window_start=START - timedelta(days=3), window_end=END)
    rows = fresh_store.figure_rows(workspace=WORKSPACE, windows=[(START, END)],
                                   answered_since=START - timedelta(days=30), until=END)
    # Made without the collector, they are collected at most once each after it resumes,
    # where tens of collections ran while they were made.
    assert len(collections) <= 2, len(collections)
    assert data.figures.overall.responded and rows.answered
    assert gc.isenabled()


def test_the_collector_resumes_after_an_error_and_stays_as_a_caller_left_it() -> None:
    with pytest.raises(RuntimeError), collector_paused():
        assert not gc.isenabled()
        raise RuntimeError("figures failed")
    assert gc.isenabled()
    gc.disable()
    try:
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_objects_alive_at_start_up_are_left_out_of_every_later_collection():
    made_at_start_up = [{"config": "lives as long as the process"}]
    try:
        frozen = freeze_start_up_objects()
        made_later = [{"request": "garbage soon"}]
        tracked = gc.get_objects()
        assert frozen >= 2
        assert not any(each is made_at_start_up for each in tracked)
        assert any(each is made_later for each in tracked)
    finally:
        gc.unfreeze()  # the rest of the test run collects as usual
