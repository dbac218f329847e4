"""HTTP mode: /slack/events (events, commands, interactivity) and /healthz on aiohttp.

Order matters: the signature is checked on the raw body (401), then the body is
parsed (400), then the request is stored in the inbox, and only then is it handed
to Bolt, which acknowledges it. With a `feedbackbot worker` (`serve --no-worker`),
Bolt here only works out the answer and the worker does the rest
(handlers/slack/phases.py says what still runs here).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

from aiohttp import web

from bot.store import StoreBusy
from bot.telemetry import ACK_SECONDS
from handlers.slack.app import FeedbackApp
from handlers.slack.body import (
    MAX_BODY_BYTES,
    MAX_SIGNATURE_AGE_SECONDS,
    BodyReader,
    BodyRefused,
)
from handlers.slack.context import dedupe_key, shape_problem, workspace_from_body
from handlers.slack.phases import finished_where_answered

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5
ACK_KIND = web.RequestKey("ack_kind", str)  # kept on the request for the ack histogram


class BadRequest(ValueError):
    """The body could not be understood."""


def parse_slack_body(text: str, content_type: str) -> dict[str, Any]:
    """Parse an events, command or interactivity body; raise BadRequest if malformed."""
    try:
        if content_type.lower().startswith("application/json"):
            body = json.loads(text)
        else:
            form = {
                key: values[-1]
                for key, values in parse_qs(
                    text, keep_blank_values=True, strict_parsing=bool(text)
                ).items()
            }
            body = json.loads(form["payload"]) if "payload" in form else form
    except (ValueError, UnicodeError, RecursionError) as error:
        raise BadRequest(f"malformed body: {error}"[:200]) from None
    if not isinstance(body, dict) or not body:
        raise BadRequest("the body is not a Slack payload")
    return body


def ack_kind(body: dict[str, Any]) -> str:
    """The ack histogram's kind of a Slack request: command, interaction or event."""
    if "command" in body:
        return "command"
    if body.get("type") in ("event_callback", "url_verification", "app_rate_limited"):
        return "event"
    return "interaction"


def signature_is_valid(
    secret: str, raw: bytes, *, timestamp: str, signature: str, now: float
) -> bool:
    """Check Slack's v0 signature over the raw bytes; a missing or stale one is invalid."""
    if not (timestamp.isascii() and timestamp.isdigit()):
        return False
    if abs(now - int(timestamp)) > MAX_SIGNATURE_AGE_SECONDS:
        return False
    base = b"v0:" + timestamp.encode("ascii") + b":" + raw
    expected = "v0=" + hmac.new(secret.encode("utf-8"), base, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode("ascii"), signature.encode("utf-8", "replace"))


def build_web_app(
    bot: FeedbackApp, *, signing_secret: str, wall_clock: Callable[[], float] = time.time,
    bodies: BodyReader | None = None,
) -> web.Application:
    """Return an aiohttp application serving Slack's requests for `bot`, /healthz and /metrics."""
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    add_slack_routes(app, bot, signing_secret=signing_secret, wall_clock=wall_clock,
                     bodies=bodies)
    app.router.add_get("/healthz", bot.runtime.healthz)
    app.router.add_get("/metrics", bot.runtime.metrics)
    return app


def add_slack_routes(
    app: web.Application, bot: FeedbackApp, *, signing_secret: str,
    wall_clock: Callable[[], float] = time.time, bodies: BodyReader | None = None,
) -> None:
    """Serve Slack's events, commands and interactions for `bot` at POST /slack/events."""
    if not signing_secret.strip():
        raise ValueError("the signing secret must not be empty")
    bodies = bodies or BodyReader()

    async def slack_events(request: web.Request) -> web.Response:
        started = time.perf_counter()
        # The work of earlier requests waits meanwhile (bot/answers_first.py).
        with bot.runtime.answers_first.answering_one():
            response = await answer(request)
        kind = request.get(ACK_KIND)
        if kind is not None:  # a Slack request, not one refused before it could be read
            ACK_SECONDS.labels(platform="slack", kind=kind).observe(
                time.perf_counter() - started)
        return response

    async def answer(request: web.Request) -> web.Response:
        try:
            raw = await bodies.read(request, now=wall_clock())
        except BodyRefused as refused:
            return refused.response
        timestamp = request.headers.get("X-Slack-Request-Timestamp", "")
        signature = request.headers.get("X-Slack-Signature", "")
        if not signature_is_valid(
            signing_secret, raw, timestamp=timestamp, signature=signature, now=wall_clock()
        ):
            return web.json_response({"error": "invalid signature"}, status=401)
        try:
            text = raw.decode("utf-8")
            body = parse_slack_body(text, request.headers.get("Content-Type", ""))
            problem = (
                None
                if body.get("type") == "url_verification" or body.get("ssl_check")
                else shape_problem(body)
            )
            if problem:
                raise BadRequest(problem)
        except (BadRequest, UnicodeDecodeError) as error:
            return web.json_response({"error": str(error)}, status=400)
        request[ACK_KIND] = ack_kind(body)
        if body.get("type") == "url_verification":
            return web.json_response({"challenge": body.get("challenge")})
        if body.get("ssl_check"):
            return web.Response(status=200)
        if body.get("type") == "app_rate_limited":
            # Slack tells us it dropped events; nothing to store or replay, and no listener
            # would claim it (Bolt would answer 404).
            log.warning(
                "Slack rate-limited events for %s in minute %s",
                workspace_from_body(body),
                body.get("minute_rate_limited"),
            )
            return web.Response(status=200)
        if bot.is_own_echo(body):
            # Slack echoes every post of the bot back as an event; no listener acts on
            # them, so they are answered at once, never stored.
            return web.Response(status=200)
        headers = {key.lower(): value for key, value in request.headers.items()}
        workspace = workspace_from_body(body)
        kind = str(body.get("type") or body.get("command") or "unknown")
        # Only what must happen while Slack waits is done before the answer. The rest is
        # a worker's: another process's (`serve --no-worker`), or this one's, after it.
        while_waiting = finished_where_answered(body)
        finish_here = bot.runtime.finishes_requests or while_waiting
        stored_headers = {"content-type": headers.get("content-type", "")}
        try:
            inbox_id = await bot.runtime.persist(
                platform=bot.name, workspace=workspace, kind=kind, dedupe_key=dedupe_key(body),
                body=text, headers=stored_headers, finish_here=finish_here)
        except StoreBusy as busy:
            # Nothing is acknowledged, so Slack delivers it again; if the insert lands
            # after all, it is handled then, and the redelivery finds it stored.
            log.warning("asked Slack to retry a %s request: %s", kind, busy)
            return web.json_response({"error": "busy; please retry"}, status=503,
                                     headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
        if inbox_id is None:
            # A redelivery of something already stored: nothing changes.
            return web.Response(status=200)
        response = await bot.dispatch(
            inbox_id=inbox_id, body=text, headers=headers, query=request.query_string,
            phase="all" if while_waiting else "ack")
        if finish_here and not while_waiting:
            bot.finish_after_answer(inbox_id, workspace=workspace, kind=kind, body=text,
                                    headers=stored_headers, dedupe_key=dedupe_key(body))
        return web.Response(
            status=response.status,
            body=response.body,
            headers=response.first_headers_without_set_cookie(),
        )

    app.router.add_post("/slack/events", slack_events)
    if bot.installs is not None:
        bot.installs.add_routes(app)  # OAuth mode: /slack/install and /slack/oauth_redirect


async def serve(bot: FeedbackApp, *, signing_secret: str, host: str, port: int,
                scheduler: bool = True, bodies: BodyReader | None = None,
                worker_elsewhere: bool = False) -> web.AppRunner:
    """Start the HTTP server and the bot's workers; return the runner for cleanup.

    With `scheduler` false, digests and reminders are left to `feedbackbot clock`; with
    `worker_elsewhere`, finishing requests and the outbox to `feedbackbot worker`.
    `port` 0 picks a free port; `base_url(runner)` says which.
    """
    runner = web.AppRunner(build_web_app(bot, signing_secret=signing_secret, bodies=bodies),
                           access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    if worker_elsewhere:
        bot.runtime.finishes_requests = False
        await bot.start(scheduler=scheduler, outbox=False, inbox=False)
    else:
        await bot.start(scheduler=scheduler)
    return runner


def base_url(runner: web.AppRunner) -> str:
    """The http://host:port a started runner listens on."""
    host, port = runner.addresses[0][:2]
    return f"http://{host}:{port}"
