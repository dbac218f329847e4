"""POST /api/messages: check the caller, store the activity, answer, then do the work.

Order: token (401) → body size and time (413/408) → JSON activity (400) → stored in the
inbox, deduplicated by activity id → answered. Messages and install events are answered
202 at once and handled after the answer (Teams re-sends what is slow); invokes must be
answered with their result, so they run in the request, touching only the store.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pydantic
from aiohttp import web
from microsoft_agents.activity import Activity, ActivityTypes, InvokeResponse
from microsoft_agents.hosting.aiohttp import CloudAdapter
from microsoft_agents.hosting.core import ClaimsIdentity, TurnContext

from bot.store import InboxRow, StoreBusy
from bot.telemetry import ACK_SECONDS
from handlers.msteams.auth import CONFIG_KEY, auth_configuration, claims_of, guarded
from handlers.msteams.auth import connection_manager as make_connection_manager
from handlers.msteams.inbound_body import BodyReader, Refused, parse_activity
from handlers.msteams.people import LookupUnavailable, People
from handlers.msteams.services import TeamsServices
from handlers.msteams.turns import Turns

log = logging.getLogger(__name__)

PLATFORM = "msteams"
ROUTE = "/api/messages"
RETRY_AFTER_SECONDS = 5
BUSY = "The bot is busy just now. Please try again in a moment."
CLAIMS_HEADER = "x-feedbackbot-claims"
ACK_KIND = web.RequestKey("ack_kind", str)  # kept on the request for the ack histogram

Persist = Callable[..., Awaitable[int | None]]


@dataclass
class InboxHooks:
    """How stored requests are written and closed (the runtime's, or the store's)."""

    persist: Persist  # persist(*, platform, workspace, kind, dedupe_key, body, headers)
    done: Callable[[int, str | None], None]  # (inbox id, why nothing was done, if so)
    failed: Callable[[int, str, str], None]  # (inbox id, kind, error): tried again later


class _TurnFailed(Exception):
    """The turn's work failed; the stored request stays to be tried again."""


class TeamsInbound:
    """The /api/messages endpoint and the turns it runs through the Agents SDK adapter."""

    def __init__(self, *, services: TeamsServices, settings: Any, hooks: InboxHooks,
                 bodies: BodyReader | None = None, people: People | None = None) -> None:
        self.services = services
        self.hooks = hooks
        self.bodies = bodies or BodyReader()
        self.auth = auth_configuration(settings)
        self.adapter = CloudAdapter(connection_manager=make_connection_manager(self.auth))
        # The SDK's default posts "Exception caught : …" into the chat: log only.
        self.adapter.on_turn_error = self._on_turn_error
        self.turns = Turns(services=services, people=people or People())
        self._background: set[asyncio.Task[None]] = set()

    def add_routes(self, app: web.Application) -> None:
        """Mount POST /api/messages; the token check applies to that route alone."""
        sub = web.Application(client_max_size=self.bodies.max_bytes)
        with warnings.catch_warnings():
            # The SDK's token check looks its configuration up by this plain string key.
            warnings.simplefilter("ignore", web.NotAppKeyWarning)
            sub[CONFIG_KEY] = self.auth
        sub.router.add_post(ROUTE.removeprefix("/api"), guarded(self.handle, self.auth))
        app.add_subapp("/api", sub)

    async def _on_turn_error(self, context: TurnContext, error: Exception) -> None:
        log.error("Teams turn failed (%s): %s", context.activity.type,
                  type(error).__name__, exc_info=(type(error), error, error.__traceback__))

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """One request from Teams (the caller is already checked), timed for /metrics."""
        started = time.perf_counter()
        response = await self._answer(request)
        kind = request.get(ACK_KIND)
        if kind is not None:
            ACK_SECONDS.labels(platform=PLATFORM, kind=kind).observe(
                time.perf_counter() - started)
        return response

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        try:
            raw = await self.bodies.read(request)
            body = parse_activity(raw)
            activity = Activity.model_validate(body)
        except Refused as refused:
            return refused.response
        except pydantic.ValidationError as error:
            fields = ", ".join(str(part["loc"][0]) for part in error.errors()[:5] if part["loc"])
            return web.json_response({"error": f"not a valid activity ({fields})"}, status=400)
        claims = claims_of(request)
        kind = self._kind(body)
        # Invokes are clicks and forms; everything else arrives like a Slack event.
        request[ACK_KIND] = "interaction" if activity.type == ActivityTypes.invoke else "event"
        try:
            inbox_id = await self.hooks.persist(
                platform=PLATFORM, workspace=self.services.workspace_for(body), kind=kind,
                dedupe_key=f"{PLATFORM}:{body['id']}", body=raw.decode("utf-8"),
                headers={CLAIMS_HEADER: json.dumps(claims.claims, default=str)})
        except StoreBusy as busy:
            log.warning("asked Teams to retry a %s activity: %s", kind, busy)
            return web.json_response({"error": "busy; please retry"}, status=503,
                                     headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
        if activity.type != ActivityTypes.invoke:
            if inbox_id is not None:
                self._later(inbox_id, kind, activity, claims)
            return web.Response(status=202)
        # An invoke is answered with its result; a redelivered one is answered again
        # (every invoke is idempotent: the item, the click or the form is recorded once).
        try:
            answer = await self._turn(activity, claims)
        except _TurnFailed as failed:
            # The person is told to try again, and does so with a new activity: a late
            # replay of this one would apply their click at the wrong time.
            if inbox_id is not None:
                self.hooks.done(inbox_id, f"answered 'try again': {failed}"[:300])
            return web.json_response(_invoke_failure(body), status=200)
        if inbox_id is not None:
            self.hooks.done(inbox_id, None)
        if answer is None:
            return web.json_response({}, status=200)
        return web.json_response(answer.body, status=int(answer.status or 200))

    @staticmethod
    def _kind(body: dict[str, Any]) -> str:
        name = body.get("name")
        return f"invoke:{name}" if body["type"] == "invoke" and isinstance(name, str) \
            else str(body["type"])

    def _later(self, inbox_id: int, kind: str, activity: Activity,
               claims: ClaimsIdentity) -> None:
        task = asyncio.get_running_loop().create_task(
            self._finish(inbox_id, kind, activity, claims))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _finish(self, inbox_id: int, kind: str, activity: Activity,
                      claims: ClaimsIdentity) -> None:
        try:
            await self._turn(activity, claims)
        except _TurnFailed as failed:
            self.hooks.failed(inbox_id, kind, str(failed))
            return
        self.hooks.done(inbox_id, None)

    async def _turn(self, activity: Activity, claims: ClaimsIdentity) -> InvokeResponse | None:
        """Run one activity through the SDK adapter; raises _TurnFailed when its work failed."""
        captured: dict[str, Any] = {}

        async def on_turn(context: TurnContext) -> None:
            body = activity.model_dump(mode="json", by_alias=True, exclude_none=True)
            try:
                answer = await self.turns.on_turn(context, body)
            except LookupUnavailable as error:
                captured["error"] = f"Teams could not say who sent it: {error}"
                return
            except Exception as error:  # the turn's boundary: log, keep the request, retry
                log.exception("Teams %s activity failed", activity.type)
                captured["error"] = f"{type(error).__name__}: {error}"[:300]
                return
            if answer is not None:
                await context.send_activity(Activity(
                    type=ActivityTypes.invoke_response,
                    value=InvokeResponse(status=200, body=answer)))

        try:
            response = await self.adapter.process_activity(claims, activity, on_turn)
        except Exception as error:  # before the turn: the bot's own token or connector
            log.error("Teams %s activity could not start: %s: %s", activity.type,
                      type(error).__name__, str(error)[:200])
            raise _TurnFailed(f"{type(error).__name__}: {error}"[:300]) from None
        if "error" in captured:
            raise _TurnFailed(captured["error"])
        return response if isinstance(response, InvokeResponse) else None

    async def finish(self, row: InboxRow) -> None:
        """Finish a stored request left undone (a restart); raises nothing, records failures."""
        try:
            body = json.loads(row.body)
            activity = Activity.model_validate(body)
            claims = ClaimsIdentity(json.loads(row.headers.get(CLAIMS_HEADER) or "{}"))
        except (ValueError, pydantic.ValidationError) as error:
            self.hooks.failed(row.id, row.kind, f"unreadable stored activity: {error}"[:300])
            return
        await self._finish(row.id, row.kind, activity, claims)

    def cancel_background(self) -> None:
        """Stop the work started after answers; its requests stay stored for a replay."""
        for task in list(self._background):
            task.cancel()

    async def drain(self) -> None:
        """Wait for the work started after answers (used at stop and in tests)."""
        while self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)


def _invoke_failure(body: dict[str, Any]) -> dict[str, Any]:
    """A calm answer to an invoke whose work failed: never the exception itself."""
    if body.get("name") == "adaptiveCard/action":
        return {"statusCode": 200, "type": "application/vnd.microsoft.activity.message",
                "value": BUSY}
    if str(body.get("name") or "").startswith("composeExtension/"):
        return {"task": {"type": "message", "value": BUSY}}
    return {}
