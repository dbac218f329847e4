"""Socket Mode: the same inbox-first handling as HTTP, over Slack's WebSocket."""

from __future__ import annotations

import asyncio
import json
import logging
import time

from slack_bolt.adapter.socket_mode.async_internals import send_async_response
from slack_bolt.adapter.socket_mode.internals import build_headers
from slack_bolt.response import BoltResponse
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from bot.shutdown import BUSY_POLL_SECONDS
from bot.store import StoreBusy
from handlers.slack.app import SOCKET_MODE_HEADER, FeedbackApp
from handlers.slack.context import dedupe_key, shape_problem, workspace_from_body

log = logging.getLogger(__name__)


async def handle_socket_request(
    bot: FeedbackApp, client: AsyncBaseSocketModeClient, request: SocketModeRequest
) -> None:
    """Store one Socket Mode envelope, then dispatch it and send Bolt's acknowledgement.

    A redelivery (`retry_attempt` > 0) of an event already stored is acknowledged
    and changes nothing.
    """
    started = time.time()
    payload = request.payload if isinstance(request.payload, dict) else {}
    problem = shape_problem(payload) if payload else "the envelope has no payload"
    if problem:
        # Nothing could handle it, and Slack would redeliver an unanswered envelope.
        log.warning("dropped a malformed Socket Mode %s envelope: %s", request.type, problem)
        await client.send_socket_mode_response(SocketModeResponse(envelope_id=request.envelope_id))
        return
    if bot.is_own_echo(payload):
        # The bot's own posts echoed back: nothing acts on them, so nothing is stored.
        await client.send_socket_mode_response(SocketModeResponse(envelope_id=request.envelope_id))
        return
    kind = str(payload.get("type") or payload.get("command") or request.type)
    try:
        inbox_id = await bot.runtime.persist(
            platform=bot.name, workspace=workspace_from_body(payload), kind=kind,
            dedupe_key=dedupe_key(payload), body=json.dumps(payload),
            headers={SOCKET_MODE_HEADER: "socket_mode"})
    except StoreBusy as busy:
        # Unacknowledged, the envelope is delivered again (retry_attempt + 1).
        log.warning("left Socket Mode envelope %s unacknowledged: %s", request.envelope_id,
                    busy)
        return
    if inbox_id is None:
        await client.send_socket_mode_response(SocketModeResponse(envelope_id=request.envelope_id))
        return
    try:
        response = await bot.dispatch(
            inbox_id=inbox_id,
            body=payload,
            headers=build_headers(request) or {},
            mode="socket_mode",
        )
    except Exception:
        # The envelope is stored and will be replayed; redelivery would change nothing.
        log.exception("dispatching Socket Mode envelope %s failed", request.envelope_id)
        response = BoltResponse(status=500)
    if response.status != 200:
        # Bolt's helper acknowledges only a 200; the inbox row already holds the work.
        await client.send_socket_mode_response(SocketModeResponse(envelope_id=request.envelope_id))
        return
    await send_async_response(client, request, response, started)


class FeedbackSocketClient(SocketModeClient):
    """slack_sdk's Socket Mode client, counting the envelopes being stored and acknowledged."""

    under_way: int = 0


async def connect_socket_mode(bot: FeedbackApp, *, app_token: str,
                              scheduler: bool = True) -> FeedbackSocketClient:
    """Open the Socket Mode connection and start the bot's workers."""
    client = FeedbackSocketClient(app_token=app_token, web_client=bot.client)

    async def listener(
        socket_client: AsyncBaseSocketModeClient, request: SocketModeRequest
    ) -> None:
        if bot.runtime.stopping:
            # Left unacknowledged, Slack delivers it again: over another connection, or
            # over this one's successor after the restart.
            log.info("stopping: left Socket Mode envelope %s for Slack to deliver again",
                     request.envelope_id)
            return
        client.under_way += 1
        try:
            await handle_socket_request(bot, socket_client, request)
        finally:
            client.under_way -= 1

    client.socket_mode_request_listeners.append(listener)
    await bot.start(scheduler=scheduler)
    await client.connect()
    return client


async def stop_socket_mode(bot: FeedbackApp, client: FeedbackSocketClient, *,
                           grace: float) -> None:
    """Stop taking envelopes, acknowledge those under way, then finish their work.

    All within `grace` seconds; what is still running then is cut short and finished at
    the next start (its inbox row is stored before the acknowledgement).
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + grace
    log.info("asked to stop: finishing the work under way (up to %.0fs)", grace)
    bot.runtime.begin_stopping()
    while client.under_way and loop.time() < deadline:
        await asyncio.sleep(BUSY_POLL_SECONDS)
    await client.close()
    await bot.runtime.stop(grace=max(0.0, deadline - loop.time()))
