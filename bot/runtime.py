"""The bot without a chat platform: the core services, built once, and the platforms on them.

Config, store, intake, lifecycle, outbox, digests, reminders, scheduler and the inbox
are put together here, with no chat SDK. Each platform adapter (handlers/slack,
handlers/msteams) plugs in its ChatPort, its HTTP routes and the way it finishes a
stored request; `web_app` mounts them all on one aiohttp application, one port.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from aiohttp import web

from bot.answers_first import AnswersFirst
from bot.closed_loop import ClosedLoop
from bot.config import Config
from bot.digest_service import DigestService
from bot.inbox import record_failed_attempt
from bot.inbox_claims import INBOX_CONCURRENCY, INBOX_POLL_SECONDS, InboxClaims
from bot.intake import IntakeService
from bot.lease_owners import process_owner
from bot.lifecycle import Lifecycle
from bot.links import Links
from bot.log_context import bind_request, request_id_for, request_scope
from bot.metrics import Figures
from bot.models import utcnow
from bot.outbox import OutboxWorker
from bot.ports import ChatPort, Ports
from bot.reminders import Reminders
from bot.replies import Replies
from bot.runtime_status import StatusRoutes
from bot.scheduler import Scheduler
from bot.shutdown import Drained, drain, send_what_is_due
from bot.store import InboxRow, Store
from bot.store_wait import OffLoopStore
from bot.views import Views

log = logging.getLogger(__name__)

# Slack shows a command's answer only if it comes within 3 s.
FIGURES_WAIT = 2.5
INBOX_RETRY_AFTER = timedelta(seconds=30)
INBOX_RETRY_EVERY = 15.0
INBOX_KEEP = timedelta(days=2)  # event ids must be remembered for at least an hour


class PlatformAdapter(Protocol):
    """One chat platform plugged into the runtime."""

    name: str  # "slack", "msteams"

    @property
    def port(self) -> ChatPort:
        """What the core sends through on this platform."""
        ...

    def add_routes(self, app: web.Application) -> None:
        """Add the platform's HTTP endpoints (its requests are stored before answering)."""
        ...

    async def connect(self) -> None:
        """Start connecting; call `runtime.platform_ready(name)` once requests can be finished."""
        ...

    async def connect_once(self) -> None:
        """Connect now for a one-off command; raise ConnectionError saying what is wrong."""
        ...

    async def disconnect(self) -> None:
        """Stop the platform's own background work and close its connections."""
        ...

    def health(self) -> dict[str, Any]:
        """The platform's part of /healthz; `ok` false makes the whole answer 503."""
        ...

    async def finish(self, row: InboxRow, *, fresh: bool = False) -> None:
        """Finish one stored request: a replay after a restart or a failure, or (`fresh`)
        one a `feedbackbot worker` took over just after another process answered it."""
        ...


class Runtime(StatusRoutes):
    """The core services of one deployment, and the platforms plugged into them.

    Items of one deployment live under one workspace key whichever platform they came
    from (`claim_workspace`), so item numbers are shared and digests count both.
    """

    def __init__(self, *, config: Config, store: Store,
                 clock: Callable[[], datetime] = utcnow,
                 open_side_store: Callable[[], Store] | None = None) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        # Acknowledgements and /healthz reach the store through here, never blocking.
        self.off_loop = OffLoopStore(store, open_side=open_side_store)
        # Answers go before the work this process does after them (`serve` alone).
        self.answers_first = AnswersFirst()
        self.ports = Ports()
        self.adapters: dict[str, PlatformAdapter] = {}
        self.intake = IntakeService(store=store, config=config, clock=clock, port=self.ports)
        self.lifecycle = Lifecycle(store=store, config=config, port=self.ports, clock=clock)
        self.closed_loop = ClosedLoop(store=store, ports=self.ports, clock=clock)
        self.links = Links(store=store, config=config, clock=clock,
                           may_manage=self.lifecycle.may_manage)
        self.digests = DigestService(store=store, config=config, clock=clock)
        self.reminders = Reminders(store=store, config=config, clock=clock)
        self.outbox = OutboxWorker(store=store, port=self.ports, config=config, clock=clock,
                                   digests=self.digests, answers_first=self.answers_first)
        self.scheduler = Scheduler(digests=self.digests, reminders=self.reminders,
                                   workspaces=self.workspaces,
                                   platforms_of=self.platforms_of,
                                   after_tick=self.outbox.wake)
        self.views = Views(store=store, config=config, lifecycle=self.lifecycle,
                           ports=self.ports, clock=clock, read_figures=self._read_figures)
        self.replies = Replies(store=store, clock=clock, wake=self.outbox.wake)
        self.claims = InboxClaims(store=store, owner=process_owner(self), clock=clock)
        # False in `serve --no-worker`: requests are answered here and finished by a
        # `feedbackbot worker`, except what must happen here (see each platform).
        self.finishes_requests = True
        # Set when a worker of this process finishes them (`serve` alone): wakes it.
        self.wake_worker: Callable[[], None] | None = None
        # How often a worker looks for requests no one woke it for (other processes').
        self.inbox_poll_seconds = INBOX_POLL_SECONDS
        self.workspace: str | None = None
        # Set by a platform that serves many workspaces (Slack OAuth mode): then each
        # workspace (and Teams tenant) is its own key, unless the config joins them.
        self.many_workspaces = False
        self.workspace_sources: list[Callable[[], list[str]]] = []
        # Platforms whose workspace keys start with a prefix of their own ("msteams:").
        self.key_prefixes: dict[str, str] = {}
        self._claimed: set[str] = set()
        self._ready: set[str] = set()
        self._ready_event = asyncio.Event()
        self._options = {"outbox": True, "scheduler": True, "inbox": True, "worker": False}
        self._wake_inbox = asyncio.Event()
        self._finished: list[tuple[int, str | None]] = []  # a worker's rows to mark done
        self._scheduler_started = False
        self._stop = asyncio.Event()
        self._stop_outbox = asyncio.Event()  # later: requests finished while stopping send
        self._tasks: list[asyncio.Task[None]] = []
        self._outbox_task: asyncio.Task[None] | None = None
        self._late_replays: set[asyncio.Task[None]] = set()
        self._closed = False
        # Set by a stopping process: new requests get 503, work under way finishes.
        self.stopping = False
        self._grace = 0.0

    async def _read_figures(self, work: Callable[[Store], Figures]) -> Figures:
        """Read a window of figures in a store thread, so acks go on meanwhile."""
        return await self.off_loop.call(work, wait=FIGURES_WAIT, what="reading figures")

    # --- platforms ----------------------------------------------------------------
    def add_platform(self, adapter: PlatformAdapter) -> None:
        """Plug in a platform: its port serves the outbox, its requests share the inbox."""
        self.adapters[adapter.name] = adapter
        self.ports.add(adapter.name, adapter.port)
        # Digests are claimed only where this process can post them.
        self.digests.platforms = frozenset(self.adapters)

    def claim_workspace(self, key: str) -> str:
        """Set the workspace key items live under, unless a platform already did; return it.

        With `many_workspaces`, every key is its own (or the one the config joins it to).
        """
        if self.many_workspaces:
            key = self.config.joined_workspace(key)
            self._claimed.add(key)
            return key
        if self.workspace is None:
            self.workspace = key
        elif key != self.workspace:
            log.debug("workspace %s is served under %s", key, self.workspace)
        return self.workspace

    def workspaces(self) -> list[str]:
        """Every workspace whose digests and reminders run here, in byte order.

        One deployment, one key; with `many_workspaces`, every workspace a platform
        serves and every one with items whose platform has not lost its token there.
        """
        keys = set(self._claimed)
        if self.workspace:
            keys.add(self.workspace)
        for source in self.workspace_sources:
            keys.update(source())
        if self.many_workspaces:
            keys.update(key for key in self.store.item_workspaces()
                        if not self.store.is_workspace_revoked(workspace=key))
        return sorted(keys)

    def platforms_of(self, workspace: str) -> frozenset[str] | None:
        """The platforms a workspace's items come from; None (any) for one deployment.

        A key with a platform's prefix is that platform's; any other key belongs to the
        platforms without a prefix, and to those of the keys the config joins to it.
        """
        if not self.many_workspaces:
            return None
        for platform, prefix in self.key_prefixes.items():
            if workspace.startswith(prefix):
                return frozenset({platform})
        platforms = set(self.adapters) - set(self.key_prefixes)
        for key, section in self.config.workspaces.items():
            if section.same_as == workspace:
                platforms.update(platform for platform, prefix in self.key_prefixes.items()
                                 if key.startswith(prefix))
        return frozenset(platforms)

    def is_ready(self, platform: str) -> bool:
        """True once `platform` can finish stored requests."""
        return platform in self._ready

    async def platform_ready(self, platform: str) -> None:
        """A platform connected: start the schedule, then finish its stored requests."""
        first = platform not in self._ready
        self._ready.add(platform)
        self._ready_event.set()
        if (self._options["scheduler"] and not self._scheduler_started
                and (self.workspace or self.many_workspaces)):
            self._scheduler_started = True
            # Due periods come from the store: look once now, then at every wake-up.
            # A failing first look must not keep the bot from starting.
            try:
                await self.scheduler.tick()
            except Exception:  # logged; the next wake-up tries again
                log.exception("the first digest and reminder check failed")
            self.scheduler.start()
        if first and self._options["inbox"]:
            await self.replay_inbox(platform=platform)
        self.outbox.wake()

    async def wait_ready(self, timeout: float = 30.0) -> None:
        """Wait until a platform can finish requests."""
        await asyncio.wait_for(self._ready_event.wait(), timeout)

    # --- inbox: stored before acknowledged, finished after ------------------------
    async def persist(self, *, platform: str, workspace: str, kind: str,
                      dedupe_key: str | None, body: str, headers: dict[str, str],
                      late: Callable[[int | None], None] | None = None,
                      finish_here: bool = True) -> int | None:
        """Store a request before it is answered; None when `dedupe_key` was seen.

        With `finish_here` (the default) the row is stored claimed by this process, which
        finishes it; otherwise it is left for a worker to claim. One insert either way.
        Raises StoreBusy when the store can't take it in time (ask for a redelivery).
        """
        inbox_id = await self.off_loop.add_to_inbox(
            workspace=workspace, kind=kind, dedupe_key=dedupe_key, body=body, headers=headers,
            received_at=self.clock(), platform=platform, late=late or self.replay_soon,
            lease_owner=self.claims.owner if finish_here else None,
            lease_until=self.claims.lease_until() if finish_here else None)
        if inbox_id is not None:
            # Each request is handled in a task of its own: the id stays with this one.
            bind_request(inbox_id)
            log.info("stored a request from %s (%s)", platform, kind)
            if not finish_here and self.wake_worker is not None:
                self.wake_worker()
        return inbox_id

    def request_done(self, inbox_id: int, *, error: str | None = None) -> None:
        """Mark a stored request finished (with why nothing was done, if so).

        A worker marks them in its next claim's transaction (one commit fewer each): until
        then the rows stay leased to it, so no one else takes them.
        """
        if self._options["worker"] and not self._closed:
            self._finished.append((inbox_id, error))
            self._wake_inbox.set()
            return
        self.store.inbox_done(inbox_id, error=error)

    def _flush_finished(self) -> None:
        """Mark what this worker finished done, in one commit."""
        finished, self._finished = self._finished, []
        if finished:
            self.claims.claim(platforms=[], finished=finished)

    def request_failed(self, inbox_id: int, *, kind: str, error: str) -> None:
        """Count a failed attempt; the request is retried, and given up after a few."""
        record_failed_attempt(self.store, inbox_id, kind=kind, error=error)

    def finish_in_background(self, row: InboxRow) -> None:
        """Finish a request this process stored for itself and has answered, after the answer.

        Its answer left without waiting for the work (no ack polling), and the work runs
        here like a worker's; until it is done the row stays leased to this process.
        """
        task = asyncio.create_task(self._finish(row, fresh=True))
        self._late_replays.add(task)
        task.add_done_callback(self._late_replays.discard)

    def replay_soon(self, inbox_id: int | None) -> None:
        """Finish a request whose insert landed after its sender was asked to retry it."""
        if inbox_id is None or not self.finishes_requests:
            return  # a redelivery stored it first, or a worker will take it

        async def replay() -> None:
            # Taken by its id, though this process holds it already (it stored it).
            for row in self.claims.claim(platforms=sorted(self._ready), inbox_id=inbox_id,
                                         include_own=True):
                log.info("a %s request was stored late; handling it now", row.kind)
                await self._finish(row)

        task = asyncio.create_task(replay())
        self._late_replays.add(task)
        task.add_done_callback(self._late_replays.discard)

    async def replay_inbox(self, *, platform: str | None = None,
                           older_than: timedelta = timedelta(0)) -> int:
        """Finish stored requests that were answered but not processed; return how many.

        Only requests of platforms that are ready (of `platform`, when given) are tried.
        """
        platforms = sorted(self._ready if platform is None else self._ready & {platform})
        replayed = 0
        # Its own requests too: this process stored them for itself and retries them here.
        for row in self.claims.claim(platforms=platforms, include_own=True,
                                     received_before=self.clock() - older_than):
            # A worker starting up finishes what was just answered as it would have.
            await self._finish(row, fresh=self._options["worker"] and self._is_fresh(row))
            replayed += 1
        if replayed:
            log.info("finished %d request(s) left over from before", replayed)
        return replayed

    def _is_fresh(self, row: InboxRow) -> bool:
        """True for a request answered moments ago and not tried yet.

        Answers to it are still welcome; after a long wait (a failure, a dead holder)
        the platform's replay rules apply.
        """
        return row.attempts == 0 and row.received_at >= self.clock() - INBOX_RETRY_AFTER

    async def _finish(self, row: InboxRow, *, fresh: bool = False) -> None:
        adapter = self.adapters.get(row.platform)
        if adapter is None:
            return
        await self.answers_first.turn()
        try:
            with request_scope(request_id_for(row.id)):
                await adapter.finish(row, fresh=fresh)
        except Exception as error:  # one broken row must not block the rest
            log.exception("could not replay inbox row %s", row.id)
            self.request_failed(row.id, kind=row.kind, error=repr(error))

    # --- lifecycle ----------------------------------------------------------------
    async def start(self, *, outbox: bool = True, scheduler: bool = True,
                    inbox: bool = True, worker: bool = False) -> None:
        """Connect every platform, finish leftover work, and start the background workers.

        `scheduler` runs digests and reminders here; `outbox` sends what is queued;
        `inbox` finishes requests left over from before; `worker` also finishes, as soon
        as they are stored, the requests other processes answered and left to a worker.
        """
        self._options = {"outbox": outbox, "scheduler": scheduler, "inbox": inbox,
                         "worker": worker}
        self._stop.clear()
        self._stop_outbox.clear()
        if self.finishes_requests and outbox and not worker:
            # Answers and their work share this event loop: the work's commits on it
            # must not wait for the disk (the answers' stored requests still do).
            self.store.allow_unsynced_writes()
        if inbox or worker:
            # A new process owes no backoff to failures seen by the one before it, and
            # entries and requests held by a process that was killed are free again.
            self.store.outbox_retry_now(now=self.clock())
            self.outbox.release_dead_leases()
            self.claims.release_dead()
            self._tasks.append(asyncio.create_task(self._retry_inbox()))
        if worker:
            self._tasks.append(asyncio.create_task(self._work_inbox()))
        if outbox:
            self._outbox_task = asyncio.create_task(self._run_outbox())
        for adapter in self.adapters.values():
            await adapter.connect()

    async def _retry_inbox(self) -> None:
        while not self._stop.is_set():
            try:
                await asyncio.wait_for(self._stop.wait(), timeout=INBOX_RETRY_EVERY)
            except TimeoutError:
                try:
                    await self.replay_inbox(older_than=INBOX_RETRY_AFTER)
                    self.store.inbox_prune(before=self.clock() - INBOX_KEEP)
                except Exception:  # the loop must outlive one failing pass
                    log.exception("retrying stored requests failed; trying again later")

    def wake_inbox(self) -> None:
        """Look for new requests now rather than at the next poll."""
        self._wake_inbox.set()

    async def _work_inbox(self) -> None:
        """Finish requests as soon as they are stored, up to INBOX_CONCURRENCY at once."""
        await self._ready_event.wait()
        running: set[asyncio.Task[None]] = set()
        slot_free = asyncio.Event()

        def done(task: asyncio.Task[None]) -> None:
            running.discard(task)
            slot_free.set()

        try:
            await self._claim_and_finish(running, done, slot_free)
        finally:
            # Rows under way finish within the grace; those cut short stay leased to this
            # process, which frees them on stopping.
            if running and self._grace > 0:
                await asyncio.wait(set(running), timeout=self._grace)
            for task in running:
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)
            try:
                self._flush_finished()
            except Exception:  # they are finished again after their lease: no loss
                log.exception("could not mark %d finished request(s) done",
                              len(self._finished))

    async def _claim_and_finish(self, running: set[asyncio.Task[None]],
                                done: Callable[[asyncio.Task[None]], None],
                                slot_free: asyncio.Event) -> None:
        while not self._stop.is_set():
            rows: list[InboxRow] = []
            free = INBOX_CONCURRENCY - len(running)
            try:
                platforms = sorted(self._ready)
                if free > 0 and self.claims.any_free(platforms=platforms):
                    finished, self._finished = self._finished, []
                    rows = self.claims.claim(platforms=platforms, limit=free,
                                             finished=finished)
                else:
                    self._flush_finished()
            except Exception:  # the loop must outlive a failing store; try again soon
                log.exception("looking for stored requests failed; trying again shortly")
            for row in rows:
                task = asyncio.create_task(self._finish(row, fresh=self._is_fresh(row)))
                running.add(task)
                task.add_done_callback(done)
            if rows and len(running) < INBOX_CONCURRENCY:
                continue  # more may be waiting
            self._wake_inbox.clear()
            slot_free.clear()
            wake = asyncio.ensure_future(self._wake_inbox.wait())
            waits = [wake, asyncio.ensure_future(self._stop.wait())]
            if len(running) >= INBOX_CONCURRENCY:
                waits.append(asyncio.ensure_future(slot_free.wait()))
            await asyncio.wait(waits, timeout=self.inbox_poll_seconds,
                               return_when=asyncio.FIRST_COMPLETED)
            for waiter in waits:
                waiter.cancel()

    async def _run_outbox(self) -> None:
        # Nothing can be sent before a platform is connected.
        await self._ready_event.wait()
        await self.outbox.run(self._stop_outbox)

    def begin_stopping(self) -> None:
        """Answer new requests with 503 + Retry-After from now on (the process is stopping)."""
        if not self.stopping:
            self.stopping = True
            log.info("stopping: new requests are refused, work under way is finished")

    def _busy_listeners(self) -> int:
        """Platform listeners still running (those a platform's own library started)."""
        return sum(int(getattr(adapter, "busy_listeners", lambda: 0)())
                   for adapter in self.adapters.values())

    async def stop(self, *, grace: float = 0.0, say: bool = True) -> Drained:
        """Stop the workers and platforms, close the store, and (`say`) log how it went.

        Work under way (requests answered but not finished, outbox sends) gets up to
        `grace` seconds to finish; what is still running then is cut short, and its
        inbox rows and outbox entries are released, to be finished at the next start.
        """
        if self._closed:
            return Drained(finished=0, cut=0, busy_left=0)
        self._closed = True
        self.begin_stopping()
        self._grace = grace
        self.scheduler.shutdown()
        deadline = asyncio.get_running_loop().time() + grace
        # Requests first, while the outbox still sends what they queue; then the outbox.
        self._stop.set()
        drained = await drain([*self._tasks, *self._late_replays],
                              busy=self._busy_listeners, grace=grace)
        self._tasks.clear()
        if self._outbox_task is not None:
            await send_what_is_due(lambda: {entry.id for entry in self.store.outbox_due(
                now=self.clock())}, wake=self.outbox.wake, deadline=deadline)
        self._stop_outbox.set()
        if self._outbox_task is not None:
            left = max(0.0, deadline - asyncio.get_running_loop().time())
            sending = await drain([self._outbox_task], busy=lambda: 0, grace=left)
            drained = drained.plus(sending)
            self._outbox_task = None
        try:
            released = self.outbox.release_own_leases() + self.claims.release_own()
        except Exception:  # the store may be what failed; the leases lapse anyway
            released = 0
            log.exception("could not release this process's outbox and inbox leases")
        for adapter in self.adapters.values():
            await adapter.disconnect()
        self.off_loop.close()
        self.store.close()
        drained = replace(drained, released=released)
        if say:
            drained.log(grace=grace)
        return drained
