"""`feedbackbot worker` on a thread of `serve`, for the one-command case.

`serve` alone used to answer requests and do the work they leave on one event loop, so
under load an answer could wait behind the store calls and commits of that work. Here
the work runs as a worker would in its own process (`serve --no-worker` beside
`feedbackbot worker`): its own event loop, its own store connections and platform
clients, claiming the stored requests by lease. Only the interpreter is shared, and the
store calls and Web API waits of the work release it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import threading
from collections.abc import Callable

from bot.runtime import Runtime
from bot.shutdown import Drained

log = logging.getLogger(__name__)

# How long the work may hold the interpreter before an answer waiting for it gets it back
# (Python's default is 5 ms, a third of a bare Bolt answer).
SWITCH_INTERVAL_SECONDS = 0.001
# The work runs a little behind the answers when the two want the CPU at once.
WORKER_THREAD_NICENESS = 5
STARTUP_TIMEOUT_SECONDS = 60.0
# `serve` wakes its worker for every request it stores; looking now and then still finds
# those of another process on the same store (a `serve --no-worker` beside it).
WOKEN_POLL_SECONDS = 0.5


class WorkerThread:
    """A worker runtime on a thread of its own; `serve`'s runtime wakes it when work is queued."""

    def __init__(self, build: Callable[[], Runtime | str], *, name: str = "worker") -> None:
        """`build` makes the worker's runtime (on the thread) or says what is wrong."""
        self._build = build
        self._thread = threading.Thread(target=self._main, name=f"feedbackbot-{name}",
                                        daemon=True)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runtime: Runtime | None = None
        self._stop: asyncio.Event | None = None
        self._grace = 0.0
        self._started = threading.Event()
        self._stopping = threading.Event()
        self._problem: str | None = None
        self._drained = Drained(finished=0, cut=0, busy_left=0)
        self._serving_loop: asyncio.AbstractEventLoop | None = None
        self._ended: asyncio.Future[None] | None = None

    # --- from serve's event loop ----------------------------------------------------
    async def start(self) -> str | None:
        """Start the thread and its runtime; return what went wrong, or None."""
        sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)
        self._serving_loop = asyncio.get_running_loop()
        self._ended = self._serving_loop.create_future()
        self._thread.start()
        started = await asyncio.to_thread(self._started.wait, STARTUP_TIMEOUT_SECONDS)
        if not started:
            return f"the worker did not start within {STARTUP_TIMEOUT_SECONDS:g} s"
        return self._problem

    async def ended(self) -> None:
        """Return once the thread has ended (asked to stop, or not)."""
        assert self._ended is not None, "start() first"
        await asyncio.shield(self._ended)

    async def ended_before(self, stop: asyncio.Event) -> bool:
        """Wait for `stop` or the end of the thread; True when the thread ended first."""
        signalled = asyncio.ensure_future(stop.wait())
        ended = asyncio.ensure_future(self.ended())
        await asyncio.wait([signalled, ended], return_when=asyncio.FIRST_COMPLETED)
        for waiter in (signalled, ended):
            waiter.cancel()
        return not stop.is_set()

    def wake_inbox(self) -> None:
        """A request was stored for the worker: look now rather than at the next poll."""
        self._call_soon(lambda runtime: runtime.wake_inbox())

    def wake_outbox(self) -> None:
        """Something was queued to send: look now rather than at the next poll."""
        self._call_soon(lambda runtime: runtime.outbox.wake())

    async def stop(self, grace: float) -> Drained:
        """Let the work under way finish within `grace` seconds, end the thread; say how it went."""
        self._grace = grace
        self._stopping.set()
        loop, stop = self._loop, self._stop
        if loop is None or stop is None:
            # Still starting (or never started): it stops as soon as it has started.
            return self._drained
        if self._thread.is_alive():
            with contextlib.suppress(RuntimeError):  # its loop has ended already
                loop.call_soon_threadsafe(stop.set)
            await asyncio.to_thread(self._thread.join)
        return self._drained

    def _call_soon(self, act: Callable[[Runtime], None]) -> None:
        loop, runtime = self._loop, self._runtime
        if loop is None or runtime is None:
            return
        # Once its loop has ended, what was queued is found at the next start.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(act, runtime)

    # --- on the worker's thread -----------------------------------------------------
    def _main(self) -> None:
        # Linux sets niceness per thread: only the work gives way to the answers.
        with contextlib.suppress(OSError):
            os.nice(WORKER_THREAD_NICENESS)
        try:
            asyncio.run(self._run())
        except Exception as error:  # said at start, or logged once it was running
            log.exception("the worker stopped")
            if not self._started.is_set():
                self._problem = f"the worker could not start: {error}"
        finally:
            self._started.set()
            if self._serving_loop is not None and self._ended is not None:
                with contextlib.suppress(RuntimeError):  # serve's loop has ended too
                    self._serving_loop.call_soon_threadsafe(_settle, self._ended)

    async def _run(self) -> None:
        self._stop = asyncio.Event()
        built = self._build()
        if isinstance(built, str):
            self._problem = built
            return
        runtime = built
        runtime.inbox_poll_seconds = WOKEN_POLL_SECONDS
        try:
            await runtime.start(scheduler=False, worker=True)
        except BaseException:
            await runtime.stop()
            raise
        self._runtime = runtime
        self._loop = asyncio.get_running_loop()
        self._started.set()
        if not self._stopping.is_set():  # not given up on while it started
            await self._stop.wait()
        self._drained = await runtime.stop(grace=self._grace, say=False)


def _settle(ended: asyncio.Future[None]) -> None:
    if not ended.done():
        ended.set_result(None)


async def work_on_a_thread(runtime: Runtime,
                           build: Callable[[], Runtime | str]) -> WorkerThread | str:
    """Leave `runtime`'s requests and outbox to a worker on a thread; or say what is wrong.

    `runtime` then only answers (and does what must happen while the sender waits), and
    wakes the worker whenever it stores a request or queues something to send.
    """
    worker = WorkerThread(build)
    problem = await worker.start()
    if problem:
        await worker.stop(0.0)
        return problem
    runtime.finishes_requests = False
    runtime.wake_worker = worker.wake_inbox
    runtime.outbox.wake_elsewhere = worker.wake_outbox
    return worker
