"""SIGTERM stops `serve`, `worker` and `clock` cleanly: nothing lost, nothing cut, exit 0.

Real processes (`python -m bot.cli …`), signed requests over loopback, and the fake
Slack recording every Web API call, as Slack and a platform's process manager do it.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import Sequence
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
    wait_until,
    without_offers,
)
from tests.store_backends import table_rows
from tests.test_slack_resilience import cards_per_item

BURST = 40
# What the platforms allow a stopping process (Heroku kills it after 30 s).
STOP_DEADLINE = 25.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _env(api_url: str, db: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "SLACK_BOT_TOKEN": "xoxb-test",
            "SLACK_SIGNING_SECRET": SIGNING_SECRET, "SLACK_API_URL": api_url,
            "DATABASE_URL": database_url_for(db),
            "FEEDBACKBOT_CONFIG": str(without_offers(EXAMPLE_CONFIG)),
            **extra}


async def _start(command: Sequence[str], env: dict[str, str],
                 log: Path) -> asyncio.subprocess.Process:
    with log.open("ab") as sink:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", *command, env=env,
            stdout=asyncio.subprocess.DEVNULL, stderr=sink)


async def _start_serve(api_url: str, db: Path, port: int, log: Path, *extra: str,
                       env: dict[str, str] | None = None) -> asyncio.subprocess.Process:
    process = await _start(["serve", "--host", "127.0.0.1", "--port", str(port), *extra],
                           {**_env(api_url, db), **(env or {})}, log)
    if await came_up(process, f"http://127.0.0.1:{port}"):
        return process
    process.kill()
    raise AssertionError(f"serve did not come up: {log.read_text()}")


async def _terminate(process: asyncio.subprocess.Process) -> int:
    """SIGTERM, then the exit code; fails if the process outlives STOP_DEADLINE."""
    process.send_signal(signal.SIGTERM)
    try:
        return await asyncio.wait_for(process.wait(), STOP_DEADLINE)
    except TimeoutError:
        process.kill()
        raise AssertionError(f"still running {STOP_DEADLINE}s after SIGTERM") from None


def _rows(db: Path, table: str) -> list[dict]:
    store = open_store(database_url_for(db))
    try:
        return table_rows(store, table)
    finally:
        store.close()


def _texts(db: Path) -> list[str]:
    return sorted(str(row["text"]) for row in _rows(db, "items"))


async def test_sigterm_mid_burst_finishes_what_was_answered_and_exits_0(tmp_path):
    db, log = tmp_path / "bot.db", tmp_path / "serve.log"
    port = _free_port()
    async with make_fake_slack() as slack:
        process = await _start_serve(slack.api_url, db, port, log)
        client = SignedSlackClient(f"http://127.0.0.1:{port}", SIGNING_SECRET)
        # Slack is slow to say who the forwarder is: the answered requests are still
        # being worked on when the signal comes.
        slack.delay_next("users.info", seconds=2)
        payloads = [event_callback(message_event(
            channel="C0INTAKE", user="U0SUPPORT", text=f"refund problem number {index}"))
            for index in range(BURST)]
        answers: dict[int, int] = {}

        async def deliver(index: int) -> None:
            await asyncio.sleep(index * 0.01)  # a burst, not one instant
            try:
                response = await client.send_event(payloads[index])
            except aiohttp.ClientError:
                return  # refused at the socket: Slack delivers it again
            answers[index] = response.status

        async def terminate_when_some_are_in() -> int:
            await wait_until(lambda: len(answers) >= BURST // 3, timeout=20,
                             what="a third of the burst answered")
            return await _terminate(process)

        code, *_ = await asyncio.gather(terminate_when_some_are_in(),
                                        *(deliver(i) for i in range(BURST)))
        await client.close()
        acknowledged = {index for index, status in answers.items() if status == 200}
        print(f"answered before the stop: {sorted(answers.values())}")
        assert code == 0
        assert set(answers.values()) <= {200, 503}
        assert len(acknowledged) >= BURST // 3
        assert "stopped cleanly" in log.read_text()
        # Everything answered 200 was finished before the exit: an item with its card.
        assert _texts(db) == sorted(f"refund problem number {i}" for i in acknowledged)
        assert all(row["card_ts"] for row in _rows(db, "items"))
        assert [row for row in _rows(db, "inbox") if not row["processed"]] == []
        # Nothing is left held by the stopped process.
        assert [row for row in _rows(db, "outbox")
                if row["status"] == "pending" and row["lease_owner"]] == []

        process = await _start_serve(slack.api_url, db, port, log)
        client = SignedSlackClient(f"http://127.0.0.1:{port}", SIGNING_SECRET)
        try:
            # Slack re-delivers what got no 200, marked as a retry.
            for index in sorted(set(range(BURST)) - acknowledged):
                response = await client.send_event(payloads[index], retry_num=1,
                                                   retry_reason="http_error")
                assert response.status == 200
            await wait_until(lambda: len(cards_per_item(slack)) == BURST, timeout=20,
                             what="a card for every item")
        finally:
            await client.close()
            assert await _terminate(process) == 0
        assert _texts(db) == sorted(f"refund problem number {i}" for i in range(BURST))
        assert cards_per_item(slack) == {row["id"]: 1 for row in _rows(db, "items")}
        assert log.read_text().count("stopped cleanly") == 2


async def test_a_slow_request_under_way_is_awaited_not_cut(tmp_path):
    db, log = tmp_path / "bot.db", tmp_path / "serve.log"
    port = _free_port()
    async with make_fake_slack() as slack:
        process = await _start_serve(slack.api_url, db, port, log)
        client = SignedSlackClient(f"http://127.0.0.1:{port}", SIGNING_SECRET)
        # Slack takes 3 s to say who the forwarder is: the request is answered, its
        # work (checking the forwarder, storing the item) is still under way.
        slack.delay_next("users.info", seconds=3)
        response = await client.send_event(event_callback(message_event(
            channel="C0INTAKE", user="U0SUPPORT", text="refund not received for order 12")))
        await client.close()
        assert response.status == 200
        await slack.wait_for("users.info", timeout=10)
        assert await _terminate(process) == 0
        cards = [call for call in slack.calls_to("chat.postMessage")
                 if call.args.get("channel") == "C0PAYMENTS"]
    [item] = _rows(db, "items")
    assert [card.response["ts"] for card in cards] == [item["card_ts"]]
    assert item["text"] == "refund not received for order 12" and item["card_ts"]
    assert [row["processed"] for row in _rows(db, "inbox")] == [1]
    assert "stopped cleanly" in log.read_text()


async def test_work_outlasting_the_grace_is_cut_and_finished_once_after_a_restart(tmp_path):
    db, log = tmp_path / "bot.db", tmp_path / "serve.log"
    port = _free_port()
    async with make_fake_slack() as slack:
        process = await _start_serve(slack.api_url, db, port, log,
                                     env={"FEEDBACKBOT_SHUTDOWN_GRACE": "1"})
        client = SignedSlackClient(f"http://127.0.0.1:{port}", SIGNING_SECRET)
        slack.delay_next("users.info", seconds=8)
        response = await client.send_event(event_callback(message_event(
            channel="C0INTAKE", user="U0SUPPORT", text="refund not received for order 12")))
        await client.close()
        assert response.status == 200
        await slack.wait_for("users.info", timeout=10)
        started = asyncio.get_running_loop().time()
        assert await _terminate(process) == 0
        assert asyncio.get_running_loop().time() - started < 5  # the grace, not the 8 s
        assert "grace with work cut short" in log.read_text()
        assert _rows(db, "items") == []
        # Cut short, the request stayed stored and free for the next start.
        [row] = _rows(db, "inbox")
        assert not row["processed"] and row["lease_owner"] is None

        process = await _start_serve(slack.api_url, db, port, log)
        try:
            await wait_until(lambda: len(cards_per_item(slack)) == 1, timeout=15,
                             what="the card after the restart")
        finally:
            assert await _terminate(process) == 0
        [item] = _rows(db, "items")
        assert cards_per_item(slack) == {item["id"]: 1}


async def test_a_worker_finishes_the_request_it_is_working_on(tmp_path):
    db, log = tmp_path / "bot.db", tmp_path / "processes.log"
    port = _free_port()
    async with make_fake_slack() as slack:
        serve = await _start_serve(slack.api_url, db, port, log, "--no-worker")
        worker = await _start(["worker"], _env(slack.api_url, db), log)
        await wait_until(lambda: len(slack.calls_to("auth.test")) >= 2, timeout=15,
                         what="both processes to connect")
        client = SignedSlackClient(f"http://127.0.0.1:{port}", SIGNING_SECRET)
        slack.delay_next("users.info", seconds=3)
        response = await client.send_event(event_callback(message_event(
            channel="C0INTAKE", user="U0SUPPORT", text="refund not received for order 12")))
        await client.close()
        assert response.status == 200
        await slack.wait_for("users.info", timeout=10)
        assert await _terminate(worker) == 0
        assert await _terminate(serve) == 0
    [item] = _rows(db, "items")
    assert item["card_ts"] and cards_per_item(slack) == {item["id"]: 1}
    assert [row["processed"] for row in _rows(db, "inbox")] == [1]


async def test_worker_and_clock_stop_on_sigterm_with_exit_0(tmp_path):
    db, log = tmp_path / "bot.db", tmp_path / "processes.log"
    async with make_fake_slack() as slack:
        env = _env(slack.api_url, db)
        worker = await _start(["worker"], env, log)
        clock = await _start(["clock"], env, log)
        await wait_until(lambda: len(slack.calls_to("auth.test")) >= 2, timeout=15,
                         what="both processes to connect")
        assert await _terminate(worker) == 0
        assert await _terminate(clock) == 0
    assert log.read_text().count("stopped cleanly") == 2


async def test_a_stopping_process_answers_503_with_retry_after(tmp_path):
    from aiohttp.test_utils import TestClient, TestServer

    from bot.runtime import Runtime
    from tests.slack_harness import example_config

    runtime = Runtime(config=example_config(), store=open_store("sqlite:///:memory:"))
    async with TestClient(TestServer(runtime.web_app())) as client:
        assert (await client.get("/healthz")).status == 200
        runtime.begin_stopping()
        refused = await client.get("/healthz")
        assert refused.status == 503 and refused.headers["Retry-After"] == "5"
    await runtime.stop()


def test_a_wrong_grace_is_refused_before_starting(monkeypatch, capsys, tmp_path):
    from bot.cli import main

    monkeypatch.setenv("FEEDBACKBOT_SHUTDOWN_GRACE", "twenty")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SIGNING_SECRET)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'bot.db'}")
    assert main(["--config", str(EXAMPLE_CONFIG), "serve", "--port", "0"]) == 2
    assert "FEEDBACKBOT_SHUTDOWN_GRACE must be a number of seconds from 0 to 600, not" \
        " 'twenty'" in capsys.readouterr().err
