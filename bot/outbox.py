"""Deliver what the store says must be sent, surviving outages, rate limits and restarts.

Entries of one item go out in order, one at a time (a card before the confirmation
that links to it, relays and their edits in order); different items, conversations and
workspaces are sent concurrently, up to a bound. Several worker processes share the
outbox through leases.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from bot.answers_first import AnswersFirst
from bot.config import Config
from bot.digest_service import DigestService
from bot.lease_owners import is_dead_holder, process_owner
from bot.models import Event, Item, utcnow
from bot.outbox_delivery import Delivery
from bot.outbox_entries import (
    card_platform_of,
    forwarder_notice,
    notice_entry,
    notice_of,
    plain_reason,
    platform_of,
)
from bot.outbox_holds import MAX_BACKOFF, Holds, backoff
from bot.outbox_kinds import CARD, DIGEST, NOTICE
from bot.outbox_marks import SentMarks
from bot.ports import WORKSPACE, ChatError, ChatPort, Notice, Ports
from bot.revocation import TokenChecks
from bot.store import OutboxEntry, Store

__all__ = ["LEASE", "MAX_BACKOFF", "OutboxWorker", "card_platform_of", "forwarder_notice",
           "notice_entry", "notice_of", "plain_reason", "platform_of"]

POSTS = (CARD, NOTICE, DIGEST)  # kinds that create a message, so a retry may duplicate it

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
T = TypeVar("T")

LEASE = timedelta(minutes=2)  # longer than any one attempt; a crashed holder's lease lapses
# While a workspace refuses the bot's token its entries wait this long between looks;
# a token that works again (see bot.revocation) makes them due at once.
REVOKED_DEFER = timedelta(hours=1)
# Items sent at once by default. Each waits on Web API round trips and on the store's
# commits in turn; 64 keeps a few hundred cards a second going at 20 ms per call
# (bench/outbox_throughput.py), while each item still sends one message at a time.
DEFAULT_CONCURRENCY = 64
CONCURRENCY_VARIABLE = "FEEDBACKBOT_OUTBOX_CONCURRENCY"
DRAIN_BATCH = 500  # entries leased by one drain_once pass


async def off_loop(call: Callable[[], T]) -> T:
    """Run a store call in a thread: the loop keeps serving while a commit syncs to disk."""
    return await asyncio.to_thread(call)


def _configured_concurrency() -> int:
    text = os.environ.get(CONCURRENCY_VARIABLE, "").strip()
    if not text:
        return DEFAULT_CONCURRENCY
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"{CONCURRENCY_VARIABLE} must be a whole number of at least 1,"
                         f" not {text!r}")
    return int(text)


class OutboxWorker:
    """Sends due outbox entries through each platform's ChatPort.

    An item's entries go one at a time, in order; up to `concurrency` items are sent
    at once (default: $FEEDBACKBOT_OUTBOX_CONCURRENCY, else 64). A rate limit holds
    only what the platform limited (see bot.outbox_holds); 5xx and timeouts back the
    entry and its workspace off exponentially and are retried forever; permanent errors
    flag the item and tell the forwarder. A call refused for the token stops a
    workspace only when its token itself is refused (`tokens`); its entries then wait,
    kept, until the token works again.
    """

    def __init__(self, *, store: Store, port: ChatPort | Ports, config: Config,
                 clock: Clock = utcnow, digests: DigestService | None = None,
                 concurrency: int | None = None,
                 answers_first: AnswersFirst | None = None) -> None:
        self.store = store
        self.answers_first = answers_first
        self.ports = Ports.of(port)
        self.config = config
        self.clock = clock
        self.digests = digests
        self.concurrency = concurrency or _configured_concurrency()
        self.holds = Holds(clock=clock)
        self.marks = SentMarks(store)
        # Set when another runtime of this process sends this store's outbox (`serve`).
        self.wake_elsewhere: Callable[[], None] | None = None
        self.delivery = Delivery(store=store, ports=self.ports, config=config, clock=clock,
                                 digests=digests)
        self._wake = asyncio.Event()
        self._stopping = False
        self.owner = process_owner(self)
        self.sent = 0
        self._tokens: dict[str, TokenChecks] = {}

    def _platform_of(self, entry: OutboxEntry, item: Item | None) -> str:
        """The platform an entry goes out on; a digest's is its subscription's."""
        if entry.kind == DIGEST:
            index = int(entry.payload.get("index", -1))
            digests = self.config.for_workspace(entry.workspace).digests
            if 0 <= index < len(digests):
                return digests[index].platform
        return platform_of(entry, item)

    def tokens_on(self, platform: str) -> TokenChecks:
        """The token checks of `platform`'s workspaces."""
        if platform not in self._tokens:
            self._tokens[platform] = TokenChecks(store=self.store, ports=self.ports,
                                                 platform=platform, clock=self.clock)
        return self._tokens[platform]

    @property
    def tokens(self) -> TokenChecks:
        """The token checks of Slack workspaces."""
        return self.tokens_on("slack")

    def release_own_leases(self) -> int:
        """Free the entries this worker holds (on shutdown, an attempt may be cut short).

        Their fate is then looked up before they are sent again, as after a crash, but
        the next process need not wait for the lease to lapse.
        """
        held = [entry_id for entry_id, owner in self.store.outbox_leases()
                if owner == self.owner]
        for entry_id in held:
            self.store.outbox_release(entry_id, owner=self.owner)
        return len(held)

    def release_dead_leases(self) -> int:
        """Free entries leased by processes on this host that no longer exist (kill -9)."""
        released = 0
        for entry_id, owner in self.store.outbox_leases():
            if is_dead_holder(owner, me=self.owner):
                self.store.outbox_release(entry_id, owner=owner)
                released += 1
        return released

    def wake(self) -> None:
        """Ask the worker to look at the outbox now rather than at its next due time."""
        self._wake.set()
        if self.wake_elsewhere is not None:
            self.wake_elsewhere()

    # --- scheduling -------------------------------------------------------------------
    async def _lease(self, limit: int, *, up_to: int | None = None) -> list[OutboxEntry]:
        """Lease up to `limit` due entries that nothing holds back (one transaction)."""
        if limit <= 0:
            return []
        now = self.clock()
        skip_workspaces, skip_kinds = self.holds.held_workspaces(), self.holds.held_kinds()
        return await off_loop(lambda: self.store.outbox_lease_due(
            owner=self.owner, now=now, until=now + LEASE, limit=limit, posting_kinds=POSTS,
            skip_workspaces=skip_workspaces, skip_kinds=skip_kinds, up_to=up_to))

    async def _recheck_tokens(self) -> None:
        for checks in list(self._tokens.values()):
            await checks.recheck_due()

    async def run(self, stop: asyncio.Event, *, idle: float = 1.0) -> None:
        """Send due entries until `stop` is set, up to `concurrency` items at once.

        As each item's entry is sent, its next one follows at once; new entries are
        leased as soon as a slot is free, woken by `wake()` or every `idle` seconds.
        """
        self._stopping = False
        lanes: set[asyncio.Task[int]] = set()
        stopper = asyncio.ensure_future(stop.wait())
        try:
            while not stop.is_set():
                self._wake.clear()  # before leasing: a wake from now on is not lost
                leased: list[OutboxEntry] = []
                try:
                    await self._recheck_tokens()
                    leased = await self._lease(self.concurrency - len(lanes))
                except Exception:  # the worker must outlive any one bad pass
                    log.exception("outbox pass failed; retrying")
                for entry in leased:
                    lanes.add(asyncio.create_task(self._lane(entry, follow=True)))
                if leased and len(lanes) < self.concurrency:
                    continue  # there may be more due right now
                waiter = asyncio.ensure_future(self._wake.wait())
                try:
                    done, _ = await asyncio.wait({waiter, stopper, *lanes}, timeout=idle,
                                                 return_when=asyncio.FIRST_COMPLETED)
                finally:
                    waiter.cancel()
                    await asyncio.gather(waiter, return_exceptions=True)
                for lane in done & lanes:
                    lanes.discard(lane)
                    if lane.exception() is None:
                        self.sent += lane.result()
                    else:
                        log.error("an outbox lane failed", exc_info=lane.exception())
        finally:
            # An attempt under way finishes (cut short, its fate would be unknown);
            # its item's next entries wait for the next start.
            self._stopping = True
            stopper.cancel()
            results = await asyncio.gather(stopper, *lanes, return_exceptions=True)
            self.sent += sum(result for result in results[1:] if isinstance(result, int))

    async def drain_once(self, *, delivered_ids: set[int] | None = None) -> int:
        """Attempt every due entry once; return how many were delivered.

        `delivered_ids`, when given, collects the ids of the entries this pass delivered.
        Entries queued by this pass (a card's confirmation) wait for the next one.

        Refused tokens whose re-check is due are tried first, so a workspace whose token
        works again gets its waiting entries sent in this same pass.
        """
        await self._recheck_tokens()
        newest = self.store.outbox_newest_id()
        leased = await self._lease(DRAIN_BATCH, up_to=newest)
        slots = asyncio.Semaphore(self.concurrency)

        async def attempt(entry: OutboxEntry) -> int:
            async with slots:
                return await self._lane(entry, follow=True, up_to=newest,
                                        delivered_ids=delivered_ids)

        delivered = sum(await asyncio.gather(*(attempt(entry) for entry in leased)))
        self.sent += delivered
        return delivered

    async def _lane(self, entry: OutboxEntry | None, *, follow: bool, up_to: int | None = None,
                    delivered_ids: set[int] | None = None) -> int:
        """Attempt a leased entry, then (with `follow`) its item's next ones, in order.

        `up_to` leaves the entries with a higher id for later.
        """
        delivered = 0
        while entry is not None:
            if self.answers_first is not None:
                await self.answers_first.turn()  # requests being answered go first
            result = await self._attempt(entry)
            if result is None:
                break
            delivered += 1
            if delivered_ids is not None:
                delivered_ids.add(entry.id)
            follow_on = follow and not self._stopping and entry.item_id is not None
            try:
                following = await self._sent(entry, result, follow=follow_on, up_to=up_to)
            except Exception:
                # Its lease lapses and the post is looked up (found) before any resend.
                log.exception("could not record outbox entry %s as sent", entry.id)
                break
            entry = following
        return delivered

    async def _sent(self, entry: OutboxEntry, result: dict[str, Any], *, follow: bool,
                    up_to: int | None) -> OutboxEntry | None:
        """Record `entry` sent; with `follow`, lease its item's next due entry in the same
        transaction and return it."""
        now = self.clock()
        if not follow or entry.item_id is None:
            await off_loop(lambda: self.store.outbox_sent(entry.id, result=result, now=now))
            return None
        item = (entry.workspace, entry.item_id)
        skip_workspaces, skip_kinds = self.holds.held_workspaces(), self.holds.held_kinds()
        # Written with the other lanes' marks of the moment: one commit for them all.
        return await self.marks.sent_and_lease_next(
            entry_id=entry.id, result=result, now=now, owner=self.owner, until=now + LEASE,
            posting_kinds=POSTS, item=item, skip_workspaces=skip_workspaces,
            skip_kinds=skip_kinds, up_to=up_to)

    # --- one attempt ------------------------------------------------------------------
    async def _attempt(self, entry: OutboxEntry) -> dict[str, Any] | None:
        """Attempt one leased entry; return what to keep when it was delivered.

        A failure is recorded here (the entry rescheduled, or given up); None is returned.
        """
        try:
            item_id = entry.item_id
            item = (await off_loop(lambda: self.store.get_item(workspace=entry.workspace,
                                                               item_id=item_id))
                    if item_id is not None else None)
            platform = self._platform_of(entry, item)
            if await self.tokens_on(platform).held_back(entry.workspace):
                self.store.outbox_reschedule(
                    entry.id, error="the workspace refuses the app's token",
                    next_attempt_at=self.clock() + REVOKED_DEFER,
                    unknown_fate=entry.unknown_fate)
                return None
            try:
                result = await self.delivery.deliver(entry, item, platform)
            except ChatError as error:
                if error.workspace_gone:
                    await self._token_failed(entry, platform, error)
                else:
                    await self._failed(entry, error)
                return None
            self.holds.succeeded(entry.workspace)
            return result
        except Exception:  # one bad entry must not stop the others
            log.exception("outbox entry %s (%s) failed unexpectedly", entry.id, entry.kind)
            # Kept of unknown fate if it may post (the lease marked it): looked up first.
            self.store.outbox_retry(entry.id, error="unexpected error",
                                    next_attempt_at=self.clock() + backoff(entry.attempts + 1),
                                    unknown_fate=False)
            return None

    async def _token_failed(self, entry: OutboxEntry, platform: str,
                            error: ChatError) -> None:
        """A call was refused for the token: wait for the workspace only if the token is refused."""
        try:
            refusal = await self.tokens_on(platform).confirm(entry.workspace)
        except ChatError as check:
            # The platform can't say now: retry the entry as after any passing failure.
            await self._failed(entry, ChatError(f"{error.reason} (token check: {check.reason})",
                                          retry_after=check.retry_after))
            return
        if refusal is None:
            # The token works, so that refusal was a glitch and not a revocation.
            await self._failed(entry, ChatError(f"{error.reason} although the token works"))
            return
        self.store.outbox_reschedule(entry.id, error=error.reason,
                                     next_attempt_at=self.clock() + REVOKED_DEFER,
                                     unknown_fate=entry.unknown_fate)

    async def _failed(self, entry: OutboxEntry, error: ChatError) -> None:
        now = self.clock()
        if error.permanent:
            self._give_up(entry, error, now)
            return
        deferred: tuple[list[str] | None, datetime] | None = None
        if error.retry_after is not None:
            delay = timedelta(seconds=max(error.retry_after, 0.0))
            if error.limited == WORKSPACE:
                # The rest of this workspace's entries of this kind wait too, unleased.
                self.holds.rate_limited(entry.workspace, entry.kind, now + delay)
                deferred = ([entry.kind], now + delay)
        else:
            delay = backoff(entry.attempts + 1)
            if error.server_trouble:
                held = self.holds.held_workspaces()
                until = self.holds.server_failed(entry.workspace)
                delay = max(delay, until - now)  # not before its workspace is tried again
                if entry.workspace not in held:
                    deferred = (None, until)
        log.warning("outbox entry %s (%s) failed: %s; retrying in %.1fs", entry.id,
                    entry.kind, error.reason, delay.total_seconds())
        # A refused or failed call leaves the fate as known as before this attempt.
        await off_loop(lambda: self.store.outbox_reschedule(
            entry.id, error=error.reason, next_attempt_at=now + delay,
            unknown_fate=entry.unknown_fate or error.unknown_fate))
        if deferred is not None:
            # Out of the due entries, so that leasing doesn't pass over them meanwhile.
            kinds, until = deferred
            await off_loop(lambda: self.store.outbox_defer(
                workspace=entry.workspace, kinds=kinds, until=until, now=now))

    def _give_up(self, entry: OutboxEntry, error: ChatError, now: datetime) -> None:
        self.store.outbox_give_up(entry.id, error=error.reason, now=now)
        if entry.item_id is None:
            log.error("outbox entry %s failed for good: %s", entry.id, error.reason)
            return
        item = self.store.get_item(workspace=entry.workspace, item_id=entry.item_id)
        if item is None:
            return
        if entry.kind not in (CARD, NOTICE):
            # A lost edit or ephemeral hint is logged; it doesn't make the item fail.
            log.error("item %s: could not deliver its %s: %s", item.id, entry.kind,
                      error.reason)
            return
        teams = self.config.for_workspace(item.workspace).teams
        channel = (teams[item.team].channel_on(card_platform_of(item))
                   if entry.kind == CARD and item.team in teams
                   else entry.payload.get("channel"))
        reason = plain_reason(error.reason, channel=channel)
        log.error("item %s: could not deliver its %s: %s", item.id, entry.kind, reason)
        # The error and the channel let each platform word the notice its own way.
        failure = {"reason": reason, "error": error.reason, "channel": channel,
                   "what": entry.kind}
        outbox = []
        # A failed notice about a failure must not beget another one.
        if entry.kind == NOTICE:
            if entry.payload.get("kind") != "failed":
                # The thread itself may be what failed, so this one goes by DM.
                outbox.append(notice_entry(Notice(kind="failed", user=item.forwarded_by,
                                                  data=failure, platform=item.platform)))
        else:
            outbox.append(notice_entry(forwarder_notice(item, "failed", **failure)))
        self.store.update_item(
            workspace=item.workspace, item_id=item.id, changes={"failed": reason},
            event=Event(item_id=item.id, kind="failed", actor=None, at=now,
                        data={"what": entry.kind, "error": error.reason, "reason": reason}),
            outbox=outbox,
        )
