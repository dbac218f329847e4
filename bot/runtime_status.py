"""The runtime's HTTP face: one application with every platform's routes, /healthz and
/metrics; and the status-only application a `feedbackbot worker` serves."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bot.shutdown import refuse_while_stopping
from bot.store_telemetry import OutboxBacklog
from bot.store_wait import OffLoopStore
from bot.telemetry import STORE_UP, exposition, set_outbox_backlog

if TYPE_CHECKING:
    from bot.runtime import PlatformAdapter

MAX_BODY_BYTES = 16 * 1024 * 1024  # what aiohttp may buffer; adapters check their own limits


class StatusRoutes:
    """The HTTP part of Runtime (a mixin): routes, /healthz and /metrics."""

    adapters: Mapping[str, PlatformAdapter]
    off_loop: OffLoopStore
    clock: Callable[[], datetime]
    stopping: bool

    def web_app(self) -> web.Application:
        """One aiohttp application: /healthz and every platform's routes."""
        app = web.Application(client_max_size=MAX_BODY_BYTES,
                              middlewares=[refuse_while_stopping(lambda: self.stopping)])
        for adapter in self.adapters.values():
            adapter.add_routes(app)
        self._add_status_routes(app)
        return app

    def status_app(self) -> web.Application:
        """An application with /healthz and /metrics only (for `feedbackbot worker`)."""
        app = web.Application()
        self._add_status_routes(app)
        return app

    def _add_status_routes(self, app: web.Application) -> None:
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/metrics", self.metrics)

    def health(self) -> tuple[int, dict[str, Any]]:
        """The platforms' part of /healthz: 503 when any platform reports not ok."""
        body: dict[str, Any] = {"ok": True}
        for name, adapter in self.adapters.items():
            part = adapter.health()
            body[name] = part
            body["ok"] = body["ok"] and bool(part.get("ok", True))
        slack = body.get("slack")
        if isinstance(slack, dict):
            # Kept at the top level too, where /healthz had them before Teams.
            body["connected"] = slack.get("connected")
            body["error"] = slack.get("error")
        return (200 if body["ok"] else 503), body

    async def healthz(self, request: web.Request) -> web.Response:
        """GET /healthz: each platform's state and the store's (never waits on its locks).

        `status` is "ok"; "degraded" (still 200) while a platform is unreachable or the
        store is busy, as requests are stored and finished later; "down" (503) when the
        store does not answer or a platform refuses the bot.
        """
        status, body = self.health()
        backlog, store = await self.off_loop.backlog()
        body.update(self._backlog_fields(backlog), store=store)
        if store == "down":
            status, body["ok"] = 503, False
        unreachable = any(isinstance(part, dict) and (part.get("reachable") is False
                                                      or part.get("connected") is False)
                          for part in body.values())
        body["status"] = ("down" if status != 200 else
                          "degraded" if unreachable or store != "ok" else "ok")
        return web.json_response(body, status=status)

    def _backlog_fields(self, backlog: OutboxBacklog | None) -> dict[str, Any]:
        if backlog is None:
            return {"outbox_pending": None, "outbox_oldest_seconds": None}
        oldest = backlog.oldest
        age = max(0.0, (self.clock() - oldest).total_seconds()) if oldest else 0.0
        return {"outbox_pending": backlog.pending, "outbox_oldest_seconds": round(age, 3)}

    async def metrics(self, request: web.Request) -> web.Response:
        """GET /metrics: this process's counters, and the outbox backlog read just now."""
        backlog, store = await self.off_loop.backlog()
        STORE_UP.set(0 if store == "down" else 1)
        if backlog is not None:
            set_outbox_backlog(backlog.pending, backlog.oldest, now=self.clock())
        text, content_type = exposition()
        # aiohttp wants the charset apart from the content type.
        return web.Response(body=text, headers={"Content-Type": content_type})
