"""Socket Mode stops as cleanly as HTTP: envelopes under way finish, new ones are left to Slack.

A real `feedbackbot socket` process against the fake Slack's Socket Mode server, and the
bot in-process for what a stopping connection does with a new envelope.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import pytest

from bot.settings import Settings
from handlers.slack.app import create_app
from handlers.slack.socket import connect_socket_mode, stop_socket_mode
from handlers.slack.standin.payloads import event_callback, message_event
from handlers.slack.standin.slack_server import FakeSlack
from handlers.slack.standin.workspace import seed_workspace
from storage import open_store
from tests.slack_harness import (
    EXAMPLE_CONFIG,
    database_url_for,
    example_config,
    wait_until,
    without_offers,
)
from tests.store_backends import count_rows, table_rows
from tests.test_slack_resilience import cards_per_item

APP_TOKEN = "xapp-test"
BURST = 12
STOP_DEADLINE = 25.0  # what platforms allow a stopping process


def _intake(text: str) -> dict:
    return event_callback(message_event(channel="C0INTAKE", user="U0SUPPORT", text=text))


@pytest.fixture
async def fake():
    slack = FakeSlack(team_id="T0DEMO")
    seed_workspace(slack)
    await slack.start()
    yield slack
    await slack.stop()


async def test_sigterm_finishes_every_acknowledged_envelope_and_exits_0(fake, tmp_path):
    db, log = tmp_path / "bot.db", tmp_path / "socket.log"
    env = {**os.environ, "SLACK_BOT_TOKEN": "xoxb-test", "SLACK_APP_TOKEN": APP_TOKEN,
           "SLACK_API_URL": fake.api_url, "DATABASE_URL": database_url_for(db),
           # Near-identical forwards, each needing its own card: no +1 offers.
           "FEEDBACKBOT_CONFIG": str(without_offers(EXAMPLE_CONFIG))}
    with log.open("ab") as sink:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "socket", env=env,
            stdout=asyncio.subprocess.DEVNULL, stderr=sink)
    try:
        await fake.wait_for_socket(timeout=30)
        # Slack is slow to say who the forwarder is: the acknowledged envelopes' work is
        # still under way when the signal comes.
        fake.delay_next("users.info", seconds=2)
        envelopes = [await fake.send_envelope("events_api", _intake(f"refund issue {n}"))
                     for n in range(BURST)]
        for envelope in envelopes:
            await fake.wait_for_ack(envelope, timeout=10)
        process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(process.wait(), STOP_DEADLINE)
    finally:
        if process.returncode is None:
            process.kill()
    assert code == 0, log.read_text()
    assert "stopped cleanly" in log.read_text()
    store = open_store(database_url_for(db))
    try:
        items = table_rows(store, "items")
        assert sorted(row["text"] for row in items) == sorted(
            f"refund issue {n}" for n in range(BURST))
        assert all(row["card_ts"] for row in items)
        assert [row for row in table_rows(store, "inbox") if not row["processed"]] == []
    finally:
        store.close()
    assert cards_per_item(fake) == {row["id"]: 1 for row in items}


async def test_an_envelope_arriving_while_stopping_is_left_for_slack(fake, tmp_path):
    settings = Settings(bot_token="xoxb-test", app_token=APP_TOKEN, signing_secret="x",
                        api_url=fake.api_url, database_url=database_url_for(tmp_path / "b.db"))
    bot = create_app(settings, config=example_config())
    client = await connect_socket_mode(bot, app_token=APP_TOKEN)
    try:
        await fake.wait_for_socket()
        await bot.wait_ready(timeout=5)
        bot.runtime.begin_stopping()
        envelope = await fake.send_envelope("events_api", _intake("late refund question"))
        # Unacknowledged, Slack delivers it again to a connection that takes it.
        with pytest.raises(TimeoutError):
            await fake.wait_for_ack(envelope, timeout=0.5)
        assert count_rows(bot.store, "inbox") == 0
    finally:
        await stop_socket_mode(bot, client, grace=1)
    await wait_until(lambda: not fake.socket_connected.is_set(), timeout=3,
                     what="the socket closed")


async def test_stopping_waits_for_an_envelope_being_stored(fake, tmp_path):
    settings = Settings(bot_token="xoxb-test", app_token=APP_TOKEN, signing_secret="x",
                        api_url=fake.api_url, database_url=database_url_for(tmp_path / "b.db"))
    bot = create_app(settings, config=example_config())
    client = await connect_socket_mode(bot, app_token=APP_TOKEN)
    await fake.wait_for_socket()
    await bot.wait_ready(timeout=5)
    fake.delay_next("users.info", seconds=1)
    envelope = await fake.send_envelope("events_api", _intake("refund twice"))
    await fake.wait_for_ack(envelope, timeout=3)
    await stop_socket_mode(bot, client, grace=10)
    # The work the acknowledgement promised was finished before the stop returned.
    assert [call.args.get("channel") for call in fake.calls_to("chat.postMessage")
            ][:1] == ["C0PAYMENTS"]
