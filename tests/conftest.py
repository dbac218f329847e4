"""Fixtures shared by the core tests; helpers and fakes live in tests/fakes.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.config import Config, load_config
from storage.sqlite import SqliteStore
from tests.fakes import FrozenClock, RecordingChatPort

EXAMPLE_CONFIG = Path(__file__).resolve().parent.parent / "examples" / "feedbackbot.yml"


@pytest.fixture
def fresh_store() -> Iterator[SqliteStore]:
    """An empty in-memory store, closed after the test."""
    store = SqliteStore(":memory:")
    yield store
    store.close()


@pytest.fixture
def example_config() -> Config:
    """The config from examples/feedbackbot.yml, which must load without errors."""
    loaded = load_config(EXAMPLE_CONFIG)
    assert loaded.errors == [], loaded.errors
    assert loaded.config is not None
    return loaded.config


@pytest.fixture
def clock() -> FrozenClock:
    """A clock frozen at a fixed UTC moment until the test advances it."""
    return FrozenClock()


@pytest.fixture
def chat(example_config: Config, clock: FrozenClock) -> RecordingChatPort:
    """A recording chat port on the test's clock; cards land in the example config's channels."""
    return RecordingChatPort.for_config(example_config, clock=clock)
