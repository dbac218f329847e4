"""Nothing lost, nothing twice: real `serve` processes under load, crashes and a bad Slack.

Each scenario drives `feedbackbot serve` (a real process) over loopback with requests
signed as Slack signs them, against a fake Slack whose every answer takes 20 ms, and
counts items per source and cards per item (tests/reliability/burst.py).

Some scenarios run the bot's clock ten times faster than the wall clock
(FEEDBACKBOT_CLOCK_RATE): three minutes of Slack trouble then last 18 real seconds, and
every wait the bot takes (backoffs, Retry-After, leases) is measured on that clock.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from handlers.slack.standin.slack_server import FakeSlack
from handlers.slack.standin.workspace import seed_workspace
from tests.reliability.burst import (
    Census,
    Source,
    drain,
    outbox_rows,
    send_all,
    sources,
    take_census,
)
from tests.reliability.processes import bot_env, start_serve

pytestmark = pytest.mark.reliability

LATENCY = 0.020  # every Web API answer of the fake Slack takes this long
EVENTS = int(os.environ.get("FEEDBACKBOT_RELIABILITY_EVENTS", "10000"))
FAST = 10  # the bot's clock runs this many times faster in the scenarios that wait
TROUBLE = 180.0  # seconds of the bot's clock during which Slack answers only 429 and 500
WAVES = 6  # the requests of scenario c come in this many waves during the trouble
LATE = 300.0  # how late, on the bot's clock, Slack's last retries arrive


def fake_slack() -> FakeSlack:
    """The demo workspace, answering after LATENCY."""
    slack = FakeSlack(team_id="T0DEMO", latency=LATENCY)
    seed_workspace(slack)
    return slack


def assert_exactly_once(census: Census) -> None:
    assert census.lost == 0 and census.duplicates == 0, census
    assert census.stored == census.sent and census.cards == census.sent, census


async def redeliver_until_acknowledged(url: str, batch: list[Source], *,
                                       first_retry: int = 1, attempts: int = 3) -> None:
    """Re-deliver what got no 200, marked as Slack marks retries, at most `attempts` times."""
    for retry_num in range(first_retry, first_retry + attempts):
        waiting = [source for source in batch if not source.acknowledged]
        if not waiting:
            return
        await send_all(url, waiting, retry_num=retry_num, retry_reason="http_error")
    assert all(source.acknowledged for source in batch), "Slack would have given up"


async def test_ten_thousand_events_and_commands_each_become_one_item_with_one_card(
        tmp_path: Path, database_url: str) -> None:
    async with fake_slack() as slack:
        serve = await start_serve(bot_env(api_url=slack.api_url, database_url=database_url),
                                  tmp_path / "serve.log")
        try:
            batch = sources(slack, "a", EVENTS)
            started = time.monotonic()
            await send_all(serve.url, batch)
            await redeliver_until_acknowledged(serve.url, batch)
            sent_in = time.monotonic() - started
            seconds = await drain(slack, database_url, len(batch), timeout=600)
        finally:
            await serve.stop()
    census = take_census(f"a. {len(batch)} mixed ({_backend(database_url)})", batch, slack,
                         database_url, seconds)
    census.notes.append(f"sent in {sent_in:.1f} s")
    assert_exactly_once(census)


async def test_kill_9_mid_burst_then_restart_with_slack_redelivering(
        tmp_path: Path, database_url: str) -> None:
    count = max(EVENTS // 4, 100)
    async with fake_slack() as slack:
        env = bot_env(api_url=slack.api_url, database_url=database_url)
        serve = await start_serve(env, tmp_path / "serve.log")
        batch = sources(slack, "b", count, commands=False)  # Slack re-delivers events only

        async def kill_when_a_third_is_in() -> None:
            while sum(source.acknowledged for source in batch) < count // 3:
                await asyncio.sleep(0.005)
            serve.kill()

        await asyncio.gather(kill_when_a_third_is_in(), send_all(serve.url, batch))
        await serve.process.wait()
        answered = sum(source.acknowledged for source in batch)
        restarted = await start_serve(env, tmp_path / "serve.log", port=serve.port)
        try:
            started = time.monotonic()
            await redeliver_until_acknowledged(restarted.url, batch)
            seconds = await drain(slack, database_url, count, timeout=600)
            seconds = time.monotonic() - started if seconds != float("inf") else seconds
        finally:
            await restarted.stop()
    census = take_census(f"b. kill -9 + restart ({_backend(database_url)})", batch, slack,
                         database_url, seconds)
    census.notes.append(f"{answered} of {count} answered before kill -9")
    assert count // 3 <= answered < count, "the kill must land mid-burst"
    assert_exactly_once(census)


async def test_three_minutes_of_429_and_500_then_every_card_exactly_once(
        tmp_path: Path, database_url: str) -> None:
    count = max(EVENTS // 10, 100)
    async with fake_slack() as slack:
        serve = await start_serve(
            bot_env(api_url=slack.api_url, database_url=database_url, clock_rate=FAST),
            tmp_path / "serve.log")
        try:
            batch = sources(slack, "c", count)
            slack.set_troubled(True, retry_after=5)
            trouble_starts = time.monotonic()
            # Feedback keeps coming in waves while Slack is in trouble.
            for wave in range(WAVES):
                await asyncio.sleep(max(trouble_starts + wave * TROUBLE / FAST / WAVES
                                        - time.monotonic(), 0))
                await send_all(serve.url, batch[wave::WAVES])
            await redeliver_until_acknowledged(serve.url, batch)
            await asyncio.sleep(max(trouble_starts + TROUBLE / FAST - time.monotonic(), 0))
            refused = sum(1 for call in slack.calls if call.status in (429, 500))
            slack.set_troubled(False)
            seconds = await drain(slack, database_url, count, timeout=600)
        finally:
            await serve.stop()
    attempts = sum(row["attempts"] for row in outbox_rows(database_url))
    census = take_census(f"c. 3 min of 429/500 ({_backend(database_url)})", batch, slack,
                         database_url, seconds)
    census.notes.append(f"{refused} Web API calls answered 429 or 500 meanwhile,"
                        f" {attempts} outbox attempts for {2 * count} messages;"
                        f" drain timed from the recovery, on a {FAST}x clock")
    assert refused >= 10 and attempts > 2 * count, "Slack's trouble must have been felt"
    assert_exactly_once(census)


async def test_retries_arriving_five_minutes_late_change_nothing(
        tmp_path: Path, database_url: str) -> None:
    count = max(EVENTS // 10, 100)
    async with fake_slack() as slack:
        serve = await start_serve(
            bot_env(api_url=slack.api_url, database_url=database_url, clock_rate=FAST),
            tmp_path / "serve.log")
        try:
            batch = sources(slack, "d", count, commands=False)
            # A tenth never reached the bot: only Slack's late retry brings those.
            arrived = [source for index, source in enumerate(batch) if index % 10]
            await send_all(serve.url, arrived)
            assert all(source.acknowledged for source in arrived)
            await drain(slack, database_url, len(arrived), timeout=600)
            await asyncio.sleep(LATE / FAST)
            # Slack's third retry comes five minutes on, same event_id, signed afresh;
            # the earlier ones were answered late, or lost on the way.
            await send_all(serve.url, batch, retry_num=3, retry_reason="http_timeout")
            seconds = await drain(slack, database_url, count, timeout=600)
            await asyncio.sleep(1.0)  # a second card for any retry would show by now
        finally:
            await serve.stop()
    census = take_census(f"d. retries 5 min late ({_backend(database_url)})", batch, slack,
                         database_url, seconds)
    census.notes.append(f"{count} retries, {count - len(arrived)} of them the first delivery")
    assert all(source.acknowledged for source in batch)
    assert_exactly_once(census)


def _backend(database_url: str) -> str:
    return "SQLite" if database_url.startswith("sqlite") else "PostgreSQL"
