"""docs/deploy.md's backup and restore commands work on a store the bot is serving from.

Each backup is taken while the bot runs, restored into a fresh store, and read back by
`feedbackbot export`, which must list the same items, with the same timings, as the
live store.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from handlers.slack.standin.payloads import block_actions
from tests.postgres_server import throwaway_database
from tests.slack_harness import (
    database_url_for,
    forward_via_intake_channel,
    make_fake_slack,
    running_bot,
)

DEPLOY = (Path(__file__).resolve().parent.parent / "docs" / "deploy.md").read_text()


def exported(database_url: str) -> list[dict[str, object]]:
    """Every item as `feedbackbot export --format json` reads it from `database_url`."""
    env = {**os.environ, "DATABASE_URL": database_url}
    done = subprocess.run([sys.executable, "-m", "bot.cli", "export", "--format", "json"],
                          env=env, capture_output=True, text=True, timeout=60, check=True)
    return list(json.loads(done.stdout))


def run(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


async def _serve_with_items(slack, running) -> None:
    """Three forwarded items, one of them acknowledged (so it has a response time)."""
    for text in ("refund never arrived", "app crashes on login", "invoice has wrong VAT"):
        await forward_via_intake_channel(slack, running, text)
    [first, *_] = running.store.list_items()
    await running.slack.send_interaction(block_actions(
        user_id="U0ALICE", action_id="fb_ack", value=str(first.id),
        channel_id=first.card_channel, message_ts=first.card_ts))
    await running.settle()


async def test_a_live_store_backed_up_and_restored_reads_the_same(tmp_path, store_backend):
    db = tmp_path / "bot.db"
    async with make_fake_slack() as slack, running_bot(slack, db) as running:
        await _serve_with_items(slack, running)
        live_url = database_url_for(db)
        if store_backend.backend == "sqlite":
            restored = _back_up_sqlite(db, tmp_path)
            live = exported(live_url)
            copies = [exported(f"sqlite:///{path}") for path in restored]
        else:
            if shutil.which("pg_dump") is None or shutil.which("pg_restore") is None:
                pytest.skip("pg_dump and pg_restore are not installed (postgresql-client)")
            dump = tmp_path / "feedbackbot.dump"
            assert "pg_dump --format=custom" in DEPLOY and "pg_restore --no-owner" in DEPLOY
            run(["pg_dump", "--format=custom", f"--file={dump}", live_url])
            live = exported(live_url)
            with throwaway_database() as fresh:
                run(["pg_restore", "--no-owner", f"--dbname={fresh}", str(dump)])
                copies = [exported(fresh)]
    assert len(live) == 3 and any(item["first_response_at"] for item in live), live
    for copy in copies:
        assert copy == live


def _back_up_sqlite(db: Path, folder: Path) -> list[Path]:
    """Back the file up both ways docs/deploy.md gives, while the bot has it open."""
    made = []
    if shutil.which("sqlite3") is not None:
        assert 'sqlite3 /srv/feedbackbot/feedback.db ".backup' in DEPLOY
        by_command = folder / "by-command.db"
        run(["sqlite3", str(db), f".backup {by_command}"])
        made.append(by_command)
    assert "src.backup(dst)" in DEPLOY
    by_python = folder / "by-python.db"
    source, target = sqlite3.connect(db), sqlite3.connect(by_python)
    try:
        source.backup(target)
    finally:
        target.close()
        source.close()
    made.append(by_python)
    return made
