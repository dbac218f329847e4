"""Real processes: `serve --no-worker` and `worker --metrics-port` each expose their own
/metrics and /healthz, and their JSON logs follow one request from the answer to the card."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
from pathlib import Path
from typing import Any

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from handlers.slack.standin.payloads import SignedSlackClient, event_callback, message_event
from tests.serving import came_up
from tests.slack_harness import EXAMPLE_CONFIG, SIGNING_SECRET, database_url_for, make_fake_slack

PAYMENTS = {"team": "payments", "platform": "slack"}
CUSTOMER_WORDS = "Acme: card 4111 1111 1111 1111 was refunded twice"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _start(args: list[str], *, api_url: str, db: Path, log: Path,
                 port: int) -> asyncio.subprocess.Process:
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("SLACK_", "MICROSOFT_", "FEEDBACKBOT_"))}
    env.update({"SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                "SLACK_API_URL": api_url, "DATABASE_URL": database_url_for(db),
                "FEEDBACKBOT_CONFIG": str(EXAMPLE_CONFIG)})
    with log.open("w") as stderr:  # a file, not a terminal: JSON lines
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", *args, env=env,
            stdout=asyncio.subprocess.DEVNULL, stderr=stderr)
    if await came_up(process, f"http://127.0.0.1:{port}"):
        return process
    process.kill()
    raise AssertionError(f"{args[0]} did not come up: {log.read_text()}")


async def _get(port: int, path: str) -> str:
    async with aiohttp.ClientSession() as session, \
            session.get(f"http://127.0.0.1:{port}{path}") as response:
        assert response.status == 200
        return await response.text()


def _sample(text: str, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return sample.value
    return 0.0


def _lines(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


async def test_serve_and_worker_expose_their_own_metrics_and_log_one_request_id(tmp_path):
    db = tmp_path / "bot.db"
    serve_port, worker_port = _free_port(), _free_port()
    serve_log, worker_log = tmp_path / "serve.log", tmp_path / "worker.log"
    async with make_fake_slack() as slack:
        serve = await _start(["serve", "--no-worker", "--no-scheduler", "--host", "127.0.0.1",
                              "--port", str(serve_port)],
                             api_url=slack.api_url, db=db, log=serve_log, port=serve_port)
        worker = await _start(["worker", "--host", "127.0.0.1",
                               "--metrics-port", str(worker_port)],
                              api_url=slack.api_url, db=db, log=worker_log, port=worker_port)
        try:
            async with SignedSlackClient(f"http://127.0.0.1:{serve_port}",
                                         SIGNING_SECRET) as client:
                answer = await client.send_event(event_callback(message_event(
                    channel="C0INTAKE", user="U0SUPPORT", text=CUSTOMER_WORDS)))
                assert answer.status == 200
            await slack.wait_for("chat.postMessage",
                                 where=lambda call: call.args.get("channel") == "C0PAYMENTS")
            for _ in range(250):  # counted once the card is recorded on the item
                worked = await _get(worker_port, "/metrics")
                if _sample(worked, "feedbackbot_items_routed_total", **PAYMENTS):
                    break
                await asyncio.sleep(0.02)
            served = await _get(serve_port, "/metrics")
            health = json.loads(await _get(worker_port, "/healthz"))
        finally:
            for process in (serve, worker):
                process.terminate()
            for process in (serve, worker):
                await asyncio.wait_for(process.wait(), 30)

    # serve answered the event; the worker made the item and posted its card.
    assert _sample(served, "feedbackbot_ack_seconds_count", platform="slack", kind="event") == 1
    assert _sample(worked, "feedbackbot_ack_seconds_count", platform="slack", kind="event") == 0
    assert _sample(worked, "feedbackbot_items_received_total", **PAYMENTS) == 1
    assert _sample(worked, "feedbackbot_items_routed_total", **PAYMENTS) == 1
    assert _sample(served, "feedbackbot_items_routed_total", **PAYMENTS) == 0
    assert _sample(worked, "feedbackbot_api_calls_total", platform="slack",
                   method="chat.postMessage") >= 1
    assert health["status"] in ("ok", "degraded") and health["store"] == "ok"

    stored = [line for line in _lines(serve_log) if line["event"].startswith("stored a request")]
    assert len(stored) == 1
    request_id = stored[0]["request_id"]
    followed = [line["event"] for line in _lines(worker_log)
                if line.get("request_id") == request_id]
    assert any("routed to payments" in event for event in followed), followed
    assert any("card posted" in event for event in followed), followed
    for log in (serve_log, worker_log):
        text = log.read_text()
        assert "4111" not in text and "Acme" not in text and "xoxb-test" not in text
