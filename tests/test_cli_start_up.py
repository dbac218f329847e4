"""A command loads only what it runs: `digest --print` starts without the server's modules.

Every `feedbackbot` command pays for what it imports before doing anything: the HTTP
server, the scheduler, the outbox, logging's renderers and the chat SDKs once took more
than half of `digest --print` on a million items (docs/benchmarks.md, issue 10).
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from bot.models import Event, utcnow
from storage import open_store
from tests.fakes import make_item
from tests.store_backends import BACKENDS, BackendChooser

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "feedbackbot.yml"

# Serving, sending and scheduling; charts; the chat SDKs; sqlite-utils (only a new file
# needs it) and logging's renderers (loaded with the first line logged).
NOT_FOR_PRINTING = (
    "aiohttp", "asyncio", "apscheduler", "matplotlib", "numpy", "sqlite_utils", "structlog",
    "prometheus_client", "snowballstemmer", "rapidfuzz", "slack_bolt", "slack_sdk",
    "microsoft_agents", "msal", "bot.runtime", "bot.outbox", "bot.scheduler", "bot.similar",
    "bot.intake", "bot.lifecycle", "bot.telemetry", "bot.log_context",
)


def _loaded(script: str, env: dict[str, str] | None = None) -> tuple[list[str], str]:
    """Run `script` in a fresh interpreter; the NOT_FOR_PRINTING modules it loaded, its output."""
    probe = (f"{script}\n"
             "import json, sys\n"
             f"wanted = {NOT_FOR_PRINTING!r}\n"
             "print(json.dumps(sorted(m for m in sys.modules"
             " if m in wanted or m.split('.')[0] in wanted)))\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          cwd=REPO, env=env, check=False)
    assert done.returncode == 0, done.stderr
    *output, last = done.stdout.splitlines()
    return json.loads(last), "\n".join(output)


def test_importing_the_command_line_loads_nothing_only_some_commands_need():
    loaded, _ = _loaded("import bot.cli\nbot.cli.build_parser()")
    assert loaded == []


@pytest.mark.parametrize("store_backend", BACKENDS, indirect=True)
def test_digest_print_loads_nothing_only_serving_needs(tmp_path, store_backend: BackendChooser,
                                                       monkeypatch):
    url = store_backend.url_for(tmp_path / "bot.db")
    store = open_store(url)
    now = utcnow()
    item = make_item(workspace="T0DEMO", team="payments", text="refund stuck for weeks",
                     received_at=now - timedelta(hours=3), forwarded_at=now - timedelta(hours=2))
    store.create_item(item=item, event=Event(0, "received", "U0SUPPORT", item.forwarded_at),
                      outbox=[])
    store.close()
    config = tmp_path / "feedbackbot.yml"
    config.write_text(EXAMPLE.read_text().replace(
        "days: [mon, tue, wed, thu, fri]\n    # teams",
        "days: [mon, tue, wed, thu, fri, sat, sun]\n    # teams"))
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("FEEDBACKBOT_CONFIG", str(config))
    loaded, output = _loaded("from bot.cli import main\n"
                             "assert main(['digest', '--print']) == 0")
    # The digest is all there: its figures (business hours and holidays included) and items.
    assert "Feedback digest" in output and "payments" in output and "refund stuck" in output
    # psycopg, which a PostgreSQL store needs, loads asyncio itself.
    needed = {"asyncio"} if store_backend.backend == "postgres" else set()
    assert [name for name in loaded if name.split(".")[0] not in needed] == []


def test_an_existing_sqlite_file_opens_as_before_without_sqlite_utils(tmp_path):
    db = tmp_path / "bot.db"
    open_store(f"sqlite:///{db}").close()  # a new file: sqlite-utils switches it to WAL
    loaded, output = _loaded(
        "from storage import open_store\n"
        f"store = open_store({f'sqlite:///{db}'!r})\n"
        "with store.database.read() as tx:\n"
        "    print(*(tx.one(f'PRAGMA {name}') for name in"
        " ('journal_mode', 'recursive_triggers', 'foreign_keys')))\n"
        "store.close()")
    assert output == "{'journal_mode': 'wal'} {'recursive_triggers': 1} {'foreign_keys': 1}"
    assert "sqlite_utils" not in loaded
