"""Socket Mode: the same inbox-first handling as HTTP, over Slack's WebSocket."""

from __future__ import annotations

import json
import time

from slack_bolt.adapter.socket_mode.async_internals import send_async_response
from slack_bolt.adapter.socket_mode.internals import build_headers
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from handlers.slack.app import SOCKET_MODE_HEADER, FeedbackApp
from handlers.slack.context import dedupe_key, workspace_from_body


async def handle_socket_request(bot: FeedbackApp, client: AsyncBaseSocketModeClient,
                                request: SocketModeRequest) -> None:
    """Store one Socket Mode envelope, then dispatch it and send Bolt's acknowledgement.

    A redelivery (`retry_attempt` > 0) of an event already stored is acknowledged
    and changes nothing.
    """
    started = time.time()
    payload = request.payload if isinstance(request.payload, dict) else {}
    inbox_id = bot.store.inbox_add(
        workspace=workspace_from_body(payload),
        kind=str(payload.get("type") or payload.get("command") or request.type),
        dedupe_key=dedupe_key(payload), body=json.dumps(payload),
        headers={SOCKET_MODE_HEADER: "socket_mode"}, received_at=bot.clock(),
    )
    if inbox_id is None:
        await client.send_socket_mode_response(
            SocketModeResponse(envelope_id=request.envelope_id))
        return
    response = await bot.dispatch(inbox_id=inbox_id, body=payload,
                                  headers=build_headers(request), mode="socket_mode")
    await send_async_response(client, request, response, started)


async def connect_socket_mode(bot: FeedbackApp, *, app_token: str) -> SocketModeClient:
    """Open the Socket Mode connection and start the bot's workers."""
    client = SocketModeClient(app_token=app_token, web_client=bot.client)

    async def listener(socket_client: AsyncBaseSocketModeClient,
                       request: SocketModeRequest) -> None:
        await handle_socket_request(bot, socket_client, request)

    client.socket_mode_request_listeners.append(listener)
    await bot.start()
    await client.connect()
    return client
