"""Socket Mode end to end: slack_sdk's aiohttp client against FakeSlack over a real WebSocket."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from slack_sdk.socket_mode.aiohttp import SocketModeClient

from bot.settings import Settings
from bot.store import Store
from handlers.slack.app import FeedbackApp, create_app
from handlers.slack.intake_command import help_text
from handlers.slack.socket import connect_socket_mode
from handlers.slack.standin.payloads import (
    event_callback,
    message_event,
    message_shortcut,
    slash_command,
)
from handlers.slack.standin.slack_calls import RecordedCall
from handlers.slack.standin.slack_server import FakeSlack
from handlers.slack.standin.workspace import seed_workspace
from tests.slack_harness import database_url_for, example_config, past_ts
from tests.store_backends import count_rows

APP_TOKEN = "xapp-test"


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    slack = FakeSlack(team_id="T0DEMO")
    seed_workspace(slack)
    await slack.start()
    yield slack
    await slack.stop()


@dataclass
class Connected:
    """The bot, connected to the fake over Socket Mode."""

    bot: FeedbackApp
    client: SocketModeClient

    @property
    def store(self) -> Store:
        return self.bot.store

    def inbox_rows(self) -> int:
        return count_rows(self.store, "inbox")


@pytest.fixture
async def connected(fake: FakeSlack, tmp_path: Path) -> AsyncIterator[Connected]:
    settings = Settings(
        bot_token="xoxb-test",
        app_token=APP_TOKEN,
        signing_secret="x",
        api_url=fake.api_url,
        database_url=database_url_for(tmp_path / "b.db"),
    )
    bot = create_app(settings, config=example_config())
    client = await connect_socket_mode(bot, app_token=APP_TOKEN)
    try:
        await fake.wait_for_socket()
        await bot.wait_ready(timeout=5)
        yield Connected(bot=bot, client=client)
    finally:
        await client.close()
        await bot.stop()


def into(channel: str) -> Callable[[RecordedCall], bool]:
    """A `where=` filter for fake.wait_for: calls into `channel`."""

    def matches(call: RecordedCall) -> bool:
        return call.args.get("channel") == channel

    return matches


def intake_event(text: str) -> dict[str, Any]:
    return event_callback(message_event(channel="C0INTAKE", user="U0SUPPORT", text=text))


# ---- the protocol, seen from a bare WebSocket client ---------------------------------------


async def test_hello_envelopes_acks_and_refresh_follow_slacks_protocol(fake: FakeSlack) -> None:
    async with aiohttp.ClientSession() as session:
        opened = await session.post(
            fake.api_url + "apps.connections.open", headers={"Authorization": f"Bearer {APP_TOKEN}"}
        )
        url = (await opened.json())["url"]
        assert url.startswith(fake.base_url.replace("http://", "ws://") + "/socket/")
        [call] = fake.calls_to("apps.connections.open")
        assert call.token == APP_TOKEN

        async with session.ws_connect(url) as ws:
            hello = await ws.receive_json(timeout=2)
            assert hello["type"] == "hello" and hello["num_connections"] == 1
            assert hello["connection_info"] == {"app_id": "A0DEMO"}
            assert hello["debug_info"]["approximate_connection_time"] > 0
            await fake.wait_for_socket()
            assert fake.socket_connected.is_set()

            payload = intake_event("hello there")
            envelope_id = await fake.send_envelope("events_api", payload)
            envelope = await ws.receive_json(timeout=2)
            assert envelope == {
                "envelope_id": envelope_id,
                "payload": payload,
                "type": "events_api",
                "accepts_response_payload": False,
                "retry_attempt": 0,
                "retry_reason": "",
            }
            command = slash_command(text="help", user_id="U0SUPPORT", channel_id="C0GENERAL")
            command_id = await fake.send_envelope("slash_commands", command)
            sent = await ws.receive_json(timeout=2)
            assert sent["accepts_response_payload"] is True and "retry_attempt" not in sent

            await ws.send_str(json.dumps({"envelope_id": command_id, "payload": {"text": "hi"}}))
            await ws.send_str(json.dumps({"envelope_id": envelope_id}))
            assert await fake.wait_for_ack(command_id) == {
                "envelope_id": command_id,
                "payload": {"text": "hi"},
            }
            assert await fake.wait_for_ack(envelope_id) == {"envelope_id": envelope_id}

            closing = asyncio.create_task(fake.disconnect_sockets(grace=0.5))
            disconnect = await ws.receive_json(timeout=2)
            assert disconnect["type"] == "disconnect"
            assert disconnect["reason"] == "refresh_requested"
            assert await closing == 1
            assert (await ws.receive(timeout=2)).type == aiohttp.WSMsgType.CLOSE
        await fake.wait_for_sockets_closed()
        assert not fake.socket_connected.is_set()

        # Each URL is good for one connection.
        with pytest.raises(aiohttp.WSServerHandshakeError):
            await session.ws_connect(url)


async def test_unacknowledged_envelope_times_out_naming_what_was_acked(fake: FakeSlack) -> None:
    with pytest.raises(TimeoutError, match=r"waited 0\.1s for an acknowledgement"):
        await fake.wait_for_ack("no-such-envelope", timeout=0.1)
    with pytest.raises(ValueError, match="envelope kind"):
        await fake.send_envelope("block_actions", {})


@pytest.mark.parametrize(
    ("token", "error"),
    [
        (None, "not_authed"),
        ("xoxb-test", "not_allowed_token_type"),
        ("xapp", "invalid_auth"),
    ],
)
async def test_connections_open_needs_an_app_level_token(
    fake: FakeSlack, token: str | None, error: str
) -> None:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        aiohttp.ClientSession() as session,
        session.post(fake.api_url + "apps.connections.open", headers=headers) as resp,
    ):
        assert await resp.json() == {"ok": False, "error": error}


async def test_web_api_methods_refuse_the_app_level_token(fake: FakeSlack) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.post(fake.api_url + "auth.test", headers={"Authorization": "Bearer xapp-1"}) as r,
    ):
        assert await r.json() == {"ok": False, "error": "not_allowed_token_type"}


# ---- the bot over Socket Mode ---------------------------------------------------------------


async def test_event_posts_one_card_even_when_redelivered(
    fake: FakeSlack, connected: Connected
) -> None:
    [opened] = fake.calls_to("apps.connections.open")
    assert opened.token == APP_TOKEN

    payload = intake_event("Acme's refund never arrived")
    first = await fake.send_envelope("events_api", payload)
    assert (await fake.wait_for_ack(first, timeout=3))["envelope_id"] == first
    [card] = await fake.wait_for("chat.postMessage", where=into("C0PAYMENTS"))
    await fake.wait_for("chat.postMessage", where=into("C0INTAKE"))  # the confirmation
    [item] = connected.store.list_items()
    assert item.team == "payments" and item.card_ts == card.response["ts"]  # type: ignore[index]

    again = await fake.send_envelope("events_api", payload, retry_attempt=1, retry_reason="timeout")
    assert (await fake.wait_for_ack(again, timeout=3))["envelope_id"] == again
    # The redelivery was deduplicated before its ack, so nothing further is stored.
    assert connected.inbox_rows() == 1
    assert len(connected.store.list_items()) == 1
    assert len([c for c in fake.calls_to("chat.postMessage") if into("C0PAYMENTS")(c)]) == 1


async def test_slash_command_help_comes_back_in_the_ack(
    fake: FakeSlack, connected: Connected
) -> None:
    form = slash_command(text="help", user_id="U0SUPPORT", channel_id="C0GENERAL")
    envelope_id = await fake.send_envelope("slash_commands", form)
    ack = await fake.wait_for_ack(envelope_id, timeout=3)
    assert ack["payload"]["text"] == help_text(connected.bot.config)
    assert connected.store.list_items() == []


async def test_message_shortcut_is_acked_and_opens_the_modal(
    fake: FakeSlack, connected: Connected
) -> None:
    message = fake.add_message(
        "C0ACMESHARED", user="U0CUSTOMER", ts=past_ts(60), text="Export is broken"
    )
    payload = message_shortcut(
        callback_id="forward_feedback",
        user_id="U0SUPPORT",
        channel_id="C0ACMESHARED",
        message=message,
    )
    envelope_id = await fake.send_envelope("interactive", payload)
    await fake.wait_for_ack(envelope_id, timeout=3)
    [opened] = await fake.wait_for("views.open", timeout=3)
    assert opened.args["trigger_id"] == payload["trigger_id"]
    view = opened.response["view"]  # type: ignore[index]
    text_block = next(b for b in view["blocks"] if b.get("block_id") == "text")
    assert text_block["element"]["initial_value"] == "Export is broken"


@pytest.mark.parametrize("reason", ["refresh_requested", None])
async def test_client_reconnects_after_slack_closes_the_socket(
    fake: FakeSlack, connected: Connected, reason: str | None
) -> None:
    assert await fake.disconnect_sockets(reason=reason) == 1
    await fake.wait_for("apps.connections.open", count=2, timeout=3)
    await fake.wait_for_socket(opened=2, timeout=3)

    envelope_id = await fake.send_envelope("events_api", intake_event("iOS login fails"))
    await fake.wait_for_ack(envelope_id, timeout=3)
    await fake.wait_for("chat.postMessage", where=into("C0MOBILE"), timeout=3)
    [item] = connected.store.list_items()
    assert item.team == "mobile"


async def test_clean_shutdown_closes_the_socket_for_good(
    fake: FakeSlack, connected: Connected
) -> None:
    await connected.client.close()
    await fake.wait_for_sockets_closed(timeout=3)
    await connected.bot.stop()
    assert not fake.socket_connected.is_set()
    assert len(fake.calls_to("apps.connections.open")) == 1
    with pytest.raises(TimeoutError):
        await fake.send_envelope("events_api", intake_event("anyone there?"), timeout=0.2)
