"""Digest charts too big to inline in a card, served by the bot at unguessable, expiring URLs.

Teams fetches a card's image each time the card is shown, so the URL must stay valid for
a while; it is kept in memory only (a restart forgets it, and the card then shows no
chart), which keeps chart bytes out of the store.
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

ROUTE = "/msteams/charts/{token}.png"
DEFAULT_TTL_SECONDS = 7 * 24 * 3600.0  # a digest is read the week it is posted
DEFAULT_CAPACITY = 256  # charts kept at most; the oldest goes first


@dataclass(frozen=True)
class _Chart:
    png: bytes
    expires: float


class ChartShelf:
    """PNGs by random token, each until it expires; `add` returns its public URL."""

    def __init__(self, *, base_url: str, ttl_seconds: float = DEFAULT_TTL_SECONDS,
                 capacity: int = DEFAULT_CAPACITY,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.base_url = base_url.rstrip("/")
        self.ttl_seconds = ttl_seconds
        self.capacity = capacity
        self.clock = clock
        self._charts: OrderedDict[str, _Chart] = OrderedDict()

    def add(self, png: bytes) -> str:
        """Keep `png` for `ttl_seconds` and return the URL it is served at."""
        self._drop_expired()
        token = secrets.token_urlsafe(32)
        self._charts[token] = _Chart(png, self.clock() + self.ttl_seconds)
        while len(self._charts) > self.capacity:
            self._charts.popitem(last=False)
        return self.base_url + ROUTE.format(token=token)

    def get(self, token: str) -> bytes | None:
        """The PNG kept under `token`, or None when unknown or expired."""
        chart = self._charts.get(token)
        if chart is None or self.clock() >= chart.expires:
            return None
        return chart.png

    def _drop_expired(self) -> None:
        now = self.clock()
        for token in [t for t, chart in self._charts.items() if now >= chart.expires]:
            del self._charts[token]

    async def handle(self, request: web.Request) -> web.Response:
        """GET /msteams/charts/{token}.png: the chart, or 404 after expiry or when unknown."""
        png = self.get(request.match_info["token"])
        if png is None:
            raise web.HTTPNotFound(text="no such chart (it may have expired)")
        return web.Response(body=png, content_type="image/png",
                            headers={"Cache-Control": "private, max-age=3600",
                                     "X-Content-Type-Options": "nosniff"})

    def add_routes(self, app: web.Application) -> None:
        """Serve the charts on `app`."""
        app.router.add_get(ROUTE, self.handle)
