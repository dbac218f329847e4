"""Store calls the event loop must never wait on for long: off the loop, with a bound.

The store is synchronous. A write waiting for a lock held elsewhere (another process's
transaction, a PostgreSQL table lock) would stop the event loop, and with it every
acknowledgement and /healthz. The calls here run in worker threads on a connection of
their own, so one stuck behind a lock never holds up the connection the loop uses, and
the caller waits a bounded time. A call that outlives its wait carries on: an inbox row
it stores late is still pending, so the inbox replay handles it.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any, TypeVar

from bot.store import Store, StoreBusy
from bot.store_telemetry import OutboxBacklog

log = logging.getLogger(__name__)

T = TypeVar("T")

ACK_WAIT = 2.0  # Slack gives up after 3 s, then retries (events) or shows an error
HEALTH_WAIT = 0.5
WORKERS = 4
MAX_WAITING = 64  # calls in flight at once, each holding a request body; more are refused


class OffLoopStore:
    """Runs store calls in worker threads on a second connection, waiting a bounded time.

    `open_side` opens that connection (on first use, in a worker thread); None means
    there can be no second one (an in-memory database), and calls share `main`.
    """

    def __init__(self, main: Store, *, open_side: Callable[[], Store] | None,
                 workers: int = WORKERS, max_waiting: int = MAX_WAITING) -> None:
        self._main = main
        self._open_side = open_side
        self._max_waiting = max_waiting
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="store-wait")
        self._open_lock = threading.Lock()
        self._side: Store | None = None
        self._closed = False
        self._in_flight = 0  # touched on the event loop only
        self._overrunning = 0
        self.last_backlog: OutboxBacklog | None = None

    @property
    def busy(self) -> bool:
        """True while a call has outlived its wait and is still waiting on the store."""
        return self._overrunning > 0

    def _store(self) -> Store:
        with self._open_lock:
            if self._closed:
                raise StoreBusy("the bot is shutting down")
            if self._open_side is None:
                return self._main
            if self._side is None:
                self._side = self._open_side()
            return self._side

    async def call(self, work: Callable[[Store], T], *, wait: float, what: str,
                   late: Callable[[T], None] | None = None) -> T:
        """Return `work(store)`, run in a worker thread, waiting at most `wait` seconds.

        Raises StoreBusy when it doesn't finish in time or too many calls are already
        waiting. A call that outlives its wait keeps running to its end, and `late` then
        gets its result on the event loop. Errors from `work` itself are raised as they are.
        """
        if self._closed:
            raise StoreBusy("the bot is shutting down")
        if self._in_flight >= self._max_waiting:
            raise StoreBusy(f"{self._in_flight} store calls are already waiting")
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._pool, lambda: work(self._store()))
        self._in_flight += 1
        future.add_done_callback(self._finished)
        try:
            return await asyncio.wait_for(asyncio.shield(future), wait)
        except TimeoutError:
            self._overrunning += 1
            future.add_done_callback(lambda done: self._finished_late(done, what, late))
            raise StoreBusy(f"{what} took longer than {wait:g}s") from None

    def _finished(self, _: asyncio.Future[Any]) -> None:
        self._in_flight -= 1

    def _finished_late(self, future: asyncio.Future[Any], what: str,
                       late: Callable[[Any], None] | None) -> None:
        self._overrunning -= 1
        if future.cancelled():
            return
        if future.exception() is not None:
            # Expected while a lock outlasts the connection's own wait; one line.
            log.warning("%s failed after its caller stopped waiting: %s", what,
                        future.exception())
        elif late is not None:
            late(future.result())

    async def add_to_inbox(self, *, workspace: str, kind: str, dedupe_key: str | None,
                           body: str, headers: dict[str, str], received_at: datetime,
                           platform: str = "slack",
                           late: Callable[[int | None], None] | None = None,
                           lease_owner: str | None = None,
                           lease_until: datetime | None = None) -> int | None:
        """Store a request before it is acknowledged; return its row id, or None if seen.

        One insert (one commit), in a worker thread. When a lock is held elsewhere it
        waits for at most ACK_WAIT seconds, then raises StoreBusy; if that insert lands
        later, `late` gets the new row's id.
        """
        def insert(store: Store) -> int | None:
            return store.inbox_add(workspace=workspace, kind=kind, dedupe_key=dedupe_key,
                                   body=body, headers=headers, received_at=received_at,
                                   platform=platform, lease_owner=lease_owner,
                                   lease_until=lease_until)

        # The insert commits (an fsync on SQLite, a round trip on PostgreSQL): in a worker
        # thread, the event loop goes on answering other requests meanwhile.
        return await self.call(insert, wait=ACK_WAIT, what=f"storing a {kind} request",
                               late=late)

    async def backlog(self) -> tuple[OutboxBacklog | None, str]:
        """The outbox backlog and whether the store answers: "ok", "busy" or "down".

        Never waits on the store's locks: while it is busy the last backlog read is
        given; "down" means the store raised (the database is unreachable), with None.
        """
        try:
            backlog = await self.call(lambda store: store.outbox_backlog(),
                                      wait=HEALTH_WAIT, what="counting the outbox")
        except StoreBusy:
            return self.last_backlog, "busy"
        except Exception as error:  # any failure to answer is the store being down
            log.warning("the store does not answer: %s", type(error).__name__)
            return None, "down"
        self.last_backlog = backlog
        return backlog, "busy" if self.busy else "ok"

    def close(self) -> None:
        """Stop the workers and close the second connection once no call still uses it."""
        with self._open_lock:
            self._closed = True
            side = self._side
        self._pool.shutdown(wait=False, cancel_futures=True)
        if side is None:
            return
        if self._in_flight == 0:
            side.close()
        else:
            # The connection's own lock makes close() wait for the call still running.
            threading.Thread(target=side.close, name="store-wait-close", daemon=True).start()
