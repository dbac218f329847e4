"""Stopping on SIGTERM without losing work: refuse new requests, let running ones finish.

`serve`, `worker` and `clock` stop in the same order: the HTTP site stops accepting
(requests that still reach a handler get 503 + Retry-After, so the sender retries),
the answered requests and the outbox sends under way finish within a grace period, and
what is still running after it is cut short. Cut work is never lost: its inbox row and
outbox entry stay in the store, released for the next start.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass

from aiohttp import web

log = logging.getLogger(__name__)

GRACE_VARIABLE = "FEEDBACKBOT_SHUTDOWN_GRACE"
# Platforms kill a stopping process after 30 s (Heroku) or later (systemd's 90 s);
# 20 s leaves room for closing the store and the connections after the wait.
DEFAULT_GRACE_SECONDS = 20.0
MAX_GRACE_SECONDS = 600.0
RETRY_AFTER_SECONDS = 5
BUSY_POLL_SECONDS = 0.05
# While stopping, the outbox sends what is due until it makes no progress for this long.
OUTBOX_STUCK_SECONDS = 2.0

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def shutdown_grace(env: Mapping[str, str] | None = None) -> float:
    """The seconds a stopping process waits for work under way (FEEDBACKBOT_SHUTDOWN_GRACE).

    Raises ValueError naming the variable when it is not a number from 0 to 600.
    """
    env = os.environ if env is None else env
    text = env.get(GRACE_VARIABLE, "").strip()
    if not text:
        return DEFAULT_GRACE_SECONDS
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not 0 <= seconds <= MAX_GRACE_SECONDS:  # NaN fails too
        raise ValueError(f"{GRACE_VARIABLE} must be a number of seconds from 0 to"
                         f" {MAX_GRACE_SECONDS:.0f}, not {text!r}")
    return seconds


def refuse_while_stopping(stopping: Callable[[], bool]) -> Callable[..., Awaitable[
        web.StreamResponse]]:
    """An aiohttp middleware answering 503 + Retry-After once `stopping()` holds.

    Slack and Teams deliver such a request again (to this process after its restart, or
    to another one); /healthz says 503 too, so a load balancer stops sending here.
    """

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if stopping():
            return web.json_response(
                {"ok": False, "error": "stopping; please retry"}, status=503,
                headers={"Retry-After": str(RETRY_AFTER_SECONDS), "Connection": "close"})
        return await handler(request)

    return middleware


@dataclass(frozen=True)
class Drained:
    """What a stop waited for: tasks that finished in time and tasks cut short."""

    finished: int
    cut: int
    busy_left: int  # platform listeners still running when the grace ran out
    released: int = 0  # leases given back, for what was cut short to be finished later

    def log(self, *, grace: float) -> None:
        """Say in the log how the stop went."""
        if grace <= 0:
            log.debug("stopped without waiting for work under way")
        elif self.cut or self.busy_left:
            log.warning("stopped after the %.0fs grace with work cut short (%d task(s), %d"
                        " listener(s) still running); what it held is stored (%d lease(s)"
                        " released) and is finished at the next start",
                        grace, self.cut, self.busy_left, self.released)
        else:
            log.info("stopped cleanly: %d task(s) under way finished, nothing cut short",
                     self.finished)

    def plus(self, other: Drained) -> Drained:
        """Both stops' counts added up."""
        return Drained(finished=self.finished + other.finished, cut=self.cut + other.cut,
                       busy_left=self.busy_left + other.busy_left,
                       released=self.released + other.released)


async def drain(tasks: Collection[asyncio.Task[None]], *, busy: Callable[[], int],
                grace: float) -> Drained:
    """Wait up to `grace` seconds for `tasks` and for `busy()` to reach 0; cancel the rest.

    Side effect: cancels (and awaits) the tasks still running when the grace runs out.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + grace
    running = {task for task in tasks if not task.done()}
    pending = running
    if running and grace > 0:
        _, pending = await asyncio.wait(running, timeout=grace)
    while busy() > 0 and loop.time() < deadline:
        await asyncio.sleep(BUSY_POLL_SECONDS)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    return Drained(finished=len(running) - len(pending), cut=len(pending), busy_left=busy())


async def send_what_is_due(due: Callable[[], set[int]], *, wake: Callable[[], None],
                           deadline: float) -> None:
    """Let the outbox send what is `due()` (cards of requests just finished) until the
    loop time `deadline`, or until it stops making progress (a platform failing, a rate
    limit). What is left is sent at the next start."""
    loop = asyncio.get_running_loop()
    seen: set[int] = set()
    unchanged_since = loop.time()
    while loop.time() < deadline:
        try:
            waiting = due()
        except Exception:  # the store failing: what is due is sent at the next start
            log.exception("could not look at the outbox while stopping")
            return
        if not waiting:
            return
        if waiting != seen:
            seen, unchanged_since = waiting, loop.time()
        elif loop.time() - unchanged_since > OUTBOX_STUCK_SECONDS:
            return
        wake()
        await asyncio.sleep(BUSY_POLL_SECONDS)
