"""`feedbackbot serve` as a real process: one port for every platform it is set up for."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import aiohttp

from storage import open_store
from tests.slack_harness import EXAMPLE_CONFIG, database_url_for, make_fake_slack
from tests.test_slack_crash import _free_port

TEAMS_ACTIVITY = {"type": "message", "id": "1700000000001", "text": "app crash",
                  "channelId": "msteams", "serviceUrl": "http://127.0.0.1:9/",
                  "from": {"id": "29:1abc", "aadObjectId": "00000000-0000-0000-0000-0000000000aa"},
                  "recipient": {"id": "28:bot"},
                  "conversation": {"id": "a:1abc", "conversationType": "personal"}}


async def _serve(env_extra: dict[str, str], db: Path, api_url: str) -> tuple[
        asyncio.subprocess.Process, int]:
    port = _free_port()
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("SLACK_", "MICROSOFT_", "FEEDBACKBOT_"))}
    env.update({"SLACK_API_URL": api_url, "DATABASE_URL": database_url_for(db),
                "FEEDBACKBOT_CONFIG": str(EXAMPLE_CONFIG), **env_extra})
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
        env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    async with aiohttp.ClientSession() as session:
        for _ in range(300):
            try:
                async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
                    if response.status == 200:
                        return process, port
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    process.kill()
    raise AssertionError("the server did not come up")


async def _stop(process: asyncio.subprocess.Process) -> None:
    process.terminate()
    await asyncio.wait_for(process.wait(), 30)


async def test_slack_only_refuses_teams_activities_and_stores_nothing(tmp_path):
    db = tmp_path / "bot.db"
    async with make_fake_slack() as slack:
        process, port = await _serve({"SLACK_BOT_TOKEN": "xoxb-test",
                                      "SLACK_SIGNING_SECRET": "secret"}, db, slack.api_url)
        try:
            async with aiohttp.ClientSession() as session:
                async with session.post(f"http://127.0.0.1:{port}/api/messages",
                                        json=TEAMS_ACTIVITY) as response:
                    assert response.status == 401
                    assert "MICROSOFT_APP_ID" in (await response.json())["error"]
                async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
                    health = await response.json()
            assert "slack" in health and "msteams" not in health
        finally:
            await _stop(process)
    store = open_store(database_url_for(db))
    try:
        assert store.inbox_pending() == [] and store.list_items() == []
    finally:
        store.close()


async def test_both_platforms_share_one_port_and_one_inbox(tmp_path):
    db = tmp_path / "bot.db"
    async with make_fake_slack() as slack:
        process, port = await _serve({"SLACK_BOT_TOKEN": "xoxb-test",
                                      "SLACK_SIGNING_SECRET": "secret",
                                      "FEEDBACKBOT_TEAMS_ANONYMOUS": "1"}, db, slack.api_url)
        try:
            async with aiohttp.ClientSession() as session:
                async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
                    health = await response.json()
                assert health["msteams"]["ok"] and health["slack"]["ok"]
                async with session.post(f"http://127.0.0.1:{port}/slack/events",
                                        data=json.dumps({"type": "event_callback"}),
                                        headers={"Content-Type": "application/json"}
                                        ) as response:
                    assert response.status == 401  # unsigned: Slack's route is there
                async with session.post(f"http://127.0.0.1:{port}/api/messages",
                                        json=TEAMS_ACTIVITY) as response:
                    assert response.status < 300
        finally:
            await _stop(process)
    store = open_store(database_url_for(db))
    try:
        with store.database.read() as tx:  # type: ignore[attr-defined]
            rows = tx.all("SELECT platform, dedupe_key FROM inbox")
        assert [(row["platform"], row["dedupe_key"]) for row in rows] == [
            ("msteams", "msteams:1700000000001")]
    finally:
        store.close()
