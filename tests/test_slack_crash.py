"""kill -9 of the serving process in the middle of a burst loses nothing, doubles nothing."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

import aiohttp

from handlers.slack.standin.payloads import SignedSlackClient, event_callback, message_event
from storage import open_store
from tests.serving import came_up
from tests.slack_harness import (
    EXAMPLE_CONFIG,
    SIGNING_SECRET,
    database_url_for,
    make_fake_slack,
    without_offers,
)
from tests.test_slack_resilience import cards_per_item

BURST = 30


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _start_server(api_url: str, db: Path, port: int) -> asyncio.subprocess.Process:
    env = {
        **os.environ,
        "SLACK_BOT_TOKEN": "xoxb-test",
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": api_url,
        "DATABASE_URL": database_url_for(db),
        "FEEDBACKBOT_CONFIG": str(without_offers(EXAMPLE_CONFIG)),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    if await came_up(process, f"http://127.0.0.1:{port}"):
        return process
    process.kill()
    raise AssertionError("the server did not come up")


async def test_kill_9_mid_burst_then_restart_gives_each_item_exactly_one_card(tmp_path):
    db = tmp_path / "bot.db"
    port = _free_port()
    async with make_fake_slack() as slack:
        process = await _start_server(slack.api_url, db, port)
        client = SignedSlackClient(f"http://127.0.0.1:{port}", SIGNING_SECRET)
        payloads = [
            event_callback(
                message_event(
                    channel="C0INTAKE", user="U0SUPPORT", text=f"refund problem number {index}"
                )
            )
            for index in range(BURST)
        ]
        acknowledged: set[int] = set()

        async def deliver(index: int) -> None:
            try:
                response = await client.send_event(payloads[index])
            except aiohttp.ClientError:
                return  # no 200: Slack will deliver it again
            if response.status == 200:
                acknowledged.add(index)

        async def kill_when_some_are_in() -> None:
            while len(acknowledged) < BURST // 3:
                await asyncio.sleep(0.001)
            process.send_signal(signal.SIGKILL)

        await asyncio.gather(kill_when_some_are_in(), *(deliver(i) for i in range(BURST)))
        await process.wait()
        await client.close()
        print(f"acknowledged before the kill: {len(acknowledged)} of {BURST}")
        assert len(acknowledged) >= BURST // 3

        process = await _start_server(slack.api_url, db, port)
        client = SignedSlackClient(f"http://127.0.0.1:{port}", SIGNING_SECRET)
        try:
            # Slack re-delivers only what got no 200, marked as a retry.
            for index in sorted(set(range(BURST)) - acknowledged):
                response = await client.send_event(
                    payloads[index], retry_num=1, retry_reason="http_error"
                )
                assert response.status == 200
            for _ in range(400):
                if len(cards_per_item(slack)) == BURST:
                    break
                await asyncio.sleep(0.05)
        finally:
            await client.close()
            process.send_signal(signal.SIGTERM)
            await process.wait()
        store = open_store(database_url_for(db))
        items = store.list_items()
        store.close()
        assert sorted(item.text for item in items) == sorted(
            f"refund problem number {index}" for index in range(BURST)
        )
        assert cards_per_item(slack) == {item.id: 1 for item in items}
