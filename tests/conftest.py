"""Fixtures shared by the core tests; helpers and fakes live in tests/fakes.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.config import Config, load_config
from bot.intake import IntakeService
from bot.store import Store
from storage import open_store
from tests import slack_harness
from tests.fakes import FrozenClock, RecordingChatPort
from tests.store_backends import BACKENDS, BackendChooser, PostgresDatabases

EXAMPLE_CONFIG = Path(__file__).resolve().parent.parent / "examples" / "feedbackbot.yml"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run every test that starts the bot (tests/slack_harness.py) once per backend."""
    module = metafunc.module
    uses_harness = (
        getattr(module, "running_bot", None) is slack_harness.running_bot
        or getattr(module, "database_url_for", None) is slack_harness.database_url_for
    )
    # A test about one backend only names it: @pytest.mark.parametrize("store_backend", …).
    chosen = any("store_backend" in str(marker.args[0])
                 for marker in metafunc.definition.iter_markers("parametrize"))
    if uses_harness and "tmp_path" in metafunc.fixturenames and not chosen:
        metafunc.parametrize("store_backend", BACKENDS, indirect=True)


@pytest.fixture(scope="session")
def postgres_databases() -> Iterator[PostgresDatabases]:
    """PostgreSQL databases shared by the whole run, emptied for each test that takes one."""
    databases = PostgresDatabases()
    yield databases
    databases.drop_all()


@pytest.fixture(autouse=True)
def store_backend(
    request: pytest.FixtureRequest, postgres_databases: PostgresDatabases
) -> Iterator[BackendChooser]:
    """The backend the bots this test starts run on: SQLite unless parametrized."""
    chooser = BackendChooser(getattr(request, "param", "sqlite"), postgres_databases)
    slack_harness.BACKEND = chooser
    yield chooser
    slack_harness.BACKEND = None
    postgres_databases.give_back_all()


@pytest.fixture(params=BACKENDS)
def fresh_store(request: pytest.FixtureRequest, store_backend: BackendChooser,
                postgres_databases: PostgresDatabases) -> Iterator[Store]:
    """An empty store of each backend (SQLite in memory), closed after the test."""
    if request.param == "sqlite":
        store = open_store("sqlite:///:memory:")
    else:
        store = open_store(postgres_databases.take())
    yield store
    store.close()


@pytest.fixture(params=["sqlite-memory", "sqlite-file", "postgres"])
def store(
    request: pytest.FixtureRequest, tmp_path: Path, postgres_databases: PostgresDatabases
) -> Iterator[Store]:
    """An empty store of each backend, closed after the test (for the contract tests).

    "postgres" gets an emptied database of this run (tests/store_backends.py), and skips
    with the reason when no PostgreSQL server is available.
    """
    if request.param == "sqlite-memory":
        opened = open_store("sqlite:///:memory:")
    elif request.param == "sqlite-file":
        opened = open_store(f"sqlite:///{tmp_path / 'feedback.db'}")
    else:
        opened = open_store(postgres_databases.take())
    yield opened
    opened.close()


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


@pytest.fixture
def intake(fresh_store: Store, example_config: Config, clock: FrozenClock) -> IntakeService:
    """An intake service over an empty store, routing by the example config (U0SUPPORT is staff)."""
    return IntakeService(store=fresh_store, config=example_config, clock=clock,
                         port=RecordingChatPort(internal_users={"U0SUPPORT"}))
