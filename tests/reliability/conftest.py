"""The reliability suite: real processes, thousands of requests; run with -m reliability.

Every module here marks its tests `reliability`, which the default run leaves out (see
pyproject.toml's addopts); `.ci/run` runs them after the README's test command.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.reliability.burst import ROWS, table
from tests.store_backends import PostgresDatabases


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path,
                 postgres_databases: PostgresDatabases) -> Iterator[str]:
    """An empty store shared by the processes of one test: a SQLite file, or PostgreSQL.

    The PostgreSQL variant skips, naming the reason, when no server lets the tests in.
    """
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'bot.db'}"
    else:
        yield postgres_databases.take()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print what each scenario sent, stored and posted."""
    if not ROWS:
        return
    terminalreporter.section("reliability")
    for line in table(ROWS):
        terminalreporter.write_line(line)
    for row in ROWS:
        for note in row.notes:
            terminalreporter.write_line(f"{row.scenario}: {note}")
