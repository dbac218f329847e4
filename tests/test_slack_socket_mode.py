"""Socket Mode: envelopes are stored, acknowledged, and redeliveries change nothing."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from handlers.slack.socket import handle_socket_request
from handlers.slack.standin.payloads import (
    event_callback,
    message_event,
    message_shortcut,
    reaction_added_event,
    slash_command,
)
from tests.slack_harness import (
    inbox_count,
    make_fake_slack,
    opened_view,
    past_ts,
    posts,
    running_bot,
)


class RecordingSocketClient:
    """Stands in for the Socket Mode client: records every acknowledgement sent back."""

    def __init__(self) -> None:
        self.logger = logging.getLogger("tests.socket_mode")
        self.responses: list[SocketModeResponse] = []

    async def send_socket_mode_response(self, response: SocketModeResponse) -> None:
        self.responses.append(response)

    def acked(self) -> list[str]:
        return [response.envelope_id for response in self.responses]

    def payload_for(self, envelope_id: str) -> dict[str, Any] | None:
        for response in self.responses:
            if response.envelope_id == envelope_id:
                return response.payload
        raise AssertionError(f"envelope {envelope_id} was not acknowledged")


def envelope(
    kind: str,
    payload: dict[str, Any],
    *,
    retry_attempt: int | None = None,
    accepts_response_payload: bool = False,
) -> SocketModeRequest:
    return SocketModeRequest(
        type=kind,
        envelope_id=str(uuid.uuid4()),
        payload=payload,
        accepts_response_payload=accepts_response_payload,
        retry_attempt=retry_attempt,
        retry_reason="timeout" if retry_attempt else None,
    )


async def test_event_delivered_twice_gives_one_item_and_both_are_acknowledged(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        client = RecordingSocketClient()
        payload = event_callback(
            message_event(channel="C0INTAKE", user="U0SUPPORT", text="Acme's refund never arrived")
        )
        first = envelope("events_api", payload)
        second = envelope("events_api", payload, retry_attempt=1)
        await handle_socket_request(running.bot, client, first)
        await handle_socket_request(running.bot, client, second)
        assert client.acked() == [first.envelope_id, second.envelope_id]
        await running.settle()
        [item] = running.store.list_items()
        assert item.team == "payments" and item.customer == "acme"
        assert inbox_count(running) == 1
        assert len(posts(slack, "C0PAYMENTS")) == 1
        assert len(posts(slack, "C0INTAKE")) == 1


async def test_redelivery_after_processing_changes_nothing(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        client = RecordingSocketClient()
        said = past_ts(600)
        slack.add_message("C0GENERAL", user="U0SUPPORT2", ts=said, text="refund missing")
        payload = event_callback(
            reaction_added_event(
                user="U0SUPPORT", reaction="inbox_tray", channel="C0GENERAL", ts=said
            )
        )
        await handle_socket_request(running.bot, client, envelope("events_api", payload))
        await running.settle()
        for attempt in (1, 2, 3):
            await handle_socket_request(
                running.bot, client, envelope("events_api", payload, retry_attempt=attempt)
            )
        await running.settle()
        assert len(client.acked()) == 4
        assert len(running.store.list_items()) == 1
        assert len(posts(slack, "C0PAYMENTS")) == 1
        assert len(posts(slack, "U0SUPPORT")) == 1


async def test_socket_mode_matches_http_for_the_same_event(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        client = RecordingSocketClient()
        payload = event_callback(
            message_event(channel="C0INTAKE", user="U0SUPPORT", text="iOS login fails")
        )
        await handle_socket_request(running.bot, client, envelope("events_api", payload))
        http = await running.slack.send_event(payload, retry_num=1)
        assert http.status == 200
        await running.settle()
        assert len(running.store.list_items()) == 1
        assert len(posts(slack, "C0MOBILE")) == 1


async def test_slash_command_over_socket_mode_answers_in_the_acknowledgement(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        client = RecordingSocketClient()
        form = slash_command(
            text="the app crashes on login", user_id="U0SUPPORT", channel_id="C0GENERAL"
        )
        request = envelope("slash_commands", form, accepts_response_payload=True)
        await handle_socket_request(running.bot, client, request)
        answer = client.payload_for(request.envelope_id)
        assert answer is not None and "mobile" in answer["text"]
        await running.settle()
        [item] = running.store.list_items()
        assert item.team == "mobile"
        again = envelope("slash_commands", form, accepts_response_payload=True)
        await handle_socket_request(running.bot, client, again)
        assert again.envelope_id in client.acked()
        await running.settle()
        assert len(running.store.list_items()) == 1


async def test_shortcut_over_socket_mode_opens_the_modal(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        client = RecordingSocketClient()
        message = slack.add_message(
            "C0ACMESHARED", user="U0CUSTOMER", ts=past_ts(60), text="Export is broken"
        )
        payload = message_shortcut(
            callback_id="forward_feedback",
            user_id="U0SUPPORT",
            channel_id="C0ACMESHARED",
            message=message,
        )
        request = envelope("interactive", payload)
        await handle_socket_request(running.bot, client, request)
        assert request.envelope_id in client.acked()
        [opened] = await slack.wait_for("views.open")
        view = opened_view(opened)
        text_block = next(b for b in view["blocks"] if b.get("block_id") == "text")
        assert text_block["element"]["initial_value"] == "Export is broken"


async def test_malformed_envelopes_are_acknowledged_and_never_stored(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        client = RecordingSocketClient()
        broken = [
            envelope(
                "events_api",
                {"type": "event_callback", "event": "message", "event_id": "Ev0BROKEN"},
            ),
            envelope("events_api", {"type": "event_callback", "event_id": "Ev0NOEVENT"}),
            envelope("interactive", {"type": "view_submission"}),
            envelope("slash_commands", {"command": "/feedback", "text": "refund"}),
            envelope("events_api", {}),
        ]
        for request in broken:
            await handle_socket_request(running.bot, client, request)
        assert client.acked() == [request.envelope_id for request in broken]
        await running.settle()
        assert inbox_count(running) == 0
        assert running.store.list_items() == []
        assert slack.calls_to("chat.postMessage") == []


async def test_the_bots_own_echoed_posts_are_acknowledged_and_never_stored(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        client = RecordingSocketClient()
        own = message_event(channel="C0INTAKE", user=running.bot.deps.bot_user_id,
                            text="Feedback #1 went to payments")
        own["bot_id"] = running.bot.deps.bot_id
        echo = envelope("events_api", event_callback(own))
        await handle_socket_request(running.bot, client, echo)
        assert client.acked() == [echo.envelope_id]
        assert inbox_count(running) == 0
