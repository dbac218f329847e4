"""Deliver what the store says must be sent, surviving outages, rate limits and restarts."""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from bot.chart import trend_chart_png
from bot.config import Config
from bot.digest_service import DigestService
from bot.models import Event, Item, Status, utcnow
from bot.outbox_kinds import (
    CARD,
    CARD_MOVED,
    CARD_UPDATE,
    DIGEST,
    EPHEMERAL,
    NOTICE,
    RELAY_DELETE,
    RELAY_EDIT,
)
from bot.ports import ChatError, ChatPort, Notice, Posted
from bot.revocation import TokenChecks
from bot.store import NewOutbox, OutboxEntry, Store

POSTS = (CARD, NOTICE, DIGEST)  # kinds that create a message, so a retry may duplicate it

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]

MAX_BACKOFF = timedelta(minutes=5)
LEASE = timedelta(minutes=2)  # longer than any one attempt; a crashed holder's lease lapses
# While a workspace refuses the bot's token its entries wait this long between looks;
# a token that works again (see bot.revocation) makes them due at once.
REVOKED_DEFER = timedelta(hours=1)

_PLAIN_REASONS = {
    "channel_not_found": "the channel {channel} doesn't exist or the bot can't see it",
    "not_in_channel": "the bot isn't a member of {channel}; invite it with /invite",
    "is_archived": "the channel {channel} is archived",
    "user_not_found": "the person could not be found",
    "cannot_dm_bot": "the person is a bot and can't get messages",
    "channel_is_shared": ("the channel {channel} is shared with another organisation, and"
                          " the bot never posts where customers can read"),
}


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, under another user
    return True


def plain_reason(error: str, *, channel: str | None = None) -> str:
    """Say what a permanent platform error means, in words for a person."""
    template = _PLAIN_REASONS.get(error, "the chat platform refused the message ({error})")
    return template.format(channel=f"<#{channel}>" if channel else "the channel", error=error)


def notice_entry(notice: Notice) -> NewOutbox:
    """Build the outbox entry that delivers `notice`."""
    return NewOutbox(kind=NOTICE, payload={
        "kind": notice.kind, "user": notice.user, "channel": notice.channel,
        "thread_ts": notice.thread_ts, "data": notice.data,
    })


def forwarder_notice(item: Item, notice_kind: str, /, **data: Any) -> Notice:
    """Address a notice to whoever forwarded `item`, where they forwarded it."""
    return Notice(kind=notice_kind, user=item.forwarded_by, channel=item.reply_channel,
                  thread_ts=item.reply_thread_ts, data=data)


class OutboxWorker:
    """Sends due outbox entries through a ChatPort, one at a time, in order.

    Rate limits wait for Retry-After; 5xx and timeouts back off exponentially and
    are retried forever; permanent errors flag the item and tell the forwarder. A call
    refused for the token stops a workspace only when its token itself is refused
    (`tokens`); its entries then wait, kept, until the token works again.
    """

    def __init__(self, *, store: Store, port: ChatPort, config: Config,
                 clock: Clock = utcnow, digests: DigestService | None = None) -> None:
        self.store = store
        self.port = port
        self.config = config
        self.clock = clock
        self.digests = digests
        self._wake = asyncio.Event()
        self._rate_limited = False
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self.sent = 0
        self.tokens = TokenChecks(store=store, port=port, clock=clock)

    def release_dead_leases(self) -> int:
        """Free entries leased by processes on this host that no longer exist (kill -9)."""
        host = socket.gethostname()
        released = 0
        for entry_id, owner in self.store.outbox_leases():
            owner_host, _, rest = owner.partition(":")
            pid_text = rest.partition(":")[0]
            if owner_host != host or not pid_text.isdigit() or owner == self.owner:
                continue
            if not _process_exists(int(pid_text)):
                self.store.outbox_release(entry_id, owner=owner)
                released += 1
        return released

    def wake(self) -> None:
        """Ask the worker to look at the outbox now rather than at its next due time."""
        self._wake.set()

    async def run(self, stop: asyncio.Event, *, idle: float = 1.0) -> None:
        """Drain the outbox until `stop` is set."""
        while not stop.is_set():
            try:
                # Delivering can queue more (a card queues its confirmation): go again.
                while await self.drain_once() and not stop.is_set():
                    pass
            except Exception:  # the worker must outlive any one bad entry
                log.exception("outbox pass failed; retrying")
            self._wake.clear()
            waiter = asyncio.ensure_future(self._wake.wait())
            stopper = asyncio.ensure_future(stop.wait())
            try:
                await asyncio.wait({waiter, stopper}, timeout=idle,
                                   return_when=asyncio.FIRST_COMPLETED)
            finally:
                waiter.cancel()
                stopper.cancel()
                await asyncio.gather(waiter, stopper, return_exceptions=True)

    async def drain_once(self, *, delivered_ids: set[int] | None = None) -> int:
        """Attempt every due entry once; return how many were delivered.

        `delivered_ids`, when given, collects the ids of the entries this pass delivered.

        Refused tokens whose re-check is due are tried first, so a workspace whose token
        works again gets its waiting entries sent in this same pass.
        """
        delivered = 0
        await self.tokens.recheck_due()
        for entry in self.store.outbox_due(now=self.clock()):
            if await self.tokens.held_back(entry.workspace):
                self.store.outbox_retry(entry.id, error="the workspace refuses the app's token",
                                        next_attempt_at=self.clock() + REVOKED_DEFER,
                                        unknown_fate=False)
                continue
            if await self._attempt(entry):
                delivered += 1
                if delivered_ids is not None:
                    delivered_ids.add(entry.id)
            elif self._rate_limited:
                # Slack asked us to slow down: the rest waits for the next pass.
                break
        self.sent += delivered
        return delivered

    async def _attempt(self, entry: OutboxEntry) -> bool:
        self._rate_limited = False
        now = self.clock()
        # From the lease on, a crash leaves a post's fate unknown: look before re-sending.
        if not self.store.outbox_lease(entry.id, owner=self.owner, now=now,
                                       until=now + LEASE, maybe_posts=entry.kind in POSTS):
            return False  # another process is on it, or it was just finished
        try:
            result = await self._deliver(entry)
        except ChatError as error:
            if error.workspace_gone:
                await self._token_failed(entry, error)
            else:
                self._failed(entry, error)
            return False
        self.store.outbox_sent(entry.id, result=result, now=self.clock())
        return True

    async def _deliver(self, entry: OutboxEntry) -> dict[str, Any]:
        item = (self.store.get_item(workspace=entry.workspace, item_id=entry.item_id)
                if entry.item_id is not None else None)
        if entry.kind == CARD and item is not None:
            return await self._post_card(entry, item)
        if entry.kind == CARD_UPDATE and item is not None:
            if item.card_ts:
                await self.port.update_card(item=item)
            return {"updated": bool(item.card_ts)}
        if entry.kind == NOTICE:
            return await self._send_notice(entry, item)
        if entry.kind == DIGEST:
            return await self._post_digest(entry)
        payload = entry.payload
        if entry.kind == CARD_MOVED and item is not None:
            if not item.card_ts:
                # The new card isn't posted yet; its link is needed first.
                raise ChatError("waiting for the new card", permanent=entry.attempts > 50)
            await self.port.mark_card_moved(item=item, channel=payload["channel"],
                                            ts=payload["ts"])
            return {"moved": True}
        if entry.kind == RELAY_EDIT:
            notice = payload["notice"]
            await self.port.edit_notice(
                workspace=entry.workspace, channel=payload["channel"], ts=payload["ts"],
                item=item, notice=Notice(kind=notice["kind"], user=notice["user"],
                                         data=notice.get("data") or {}))
            return {"edited": True}
        if entry.kind == RELAY_DELETE:
            await self.port.delete_message(workspace=entry.workspace,
                                           channel=payload["channel"], ts=payload["ts"])
            return {"deleted": True}
        if entry.kind == EPHEMERAL:
            await self.port.send_ephemeral(workspace=entry.workspace,
                                           channel=payload["channel"], user=payload["user"],
                                           text=payload["text"])
            return {"sent": True}
        log.warning("dropping outbox entry %s of kind %s: its item is gone", entry.id,
                    entry.kind)
        return {"dropped": True}

    async def _post_card(self, entry: OutboxEntry, item: Item) -> dict[str, Any]:
        if item.card_ts:
            return {"channel": item.card_channel, "ts": item.card_ts, "already": True}
        team = self.config.teams.get(item.team)
        if team is None:
            raise ChatError(f"team {item.team} is no longer configured", permanent=True)
        posted: Posted | None = None
        if entry.unknown_fate:
            posted = await self.port.find_post(workspace=item.workspace, channel=team.channel,
                                               user=None, outbox_key=entry.key,
                                               since=entry.created_at)
        assignees = item.assignees
        if not assignees:
            # Chosen once and kept, so a retry neither skips a round-robin turn nor
            # mentions different people than a post that did land.
            assignees = await self._assign(item)
            self.store.update_item(workspace=item.workspace, item_id=item.id,
                                   changes={"assignees": assignees}, now=self.clock())
        if posted is None:
            item.assignees = assignees
            posted = await self.port.post_card(item=item, mentions=assignees,
                                               outbox_key=entry.key)
        now = self.clock()
        updated = self.store.update_item(
            workspace=item.workspace, item_id=item.id,
            changes={"card_channel": posted.channel, "card_ts": posted.ts,
                     "assignees": assignees,
                     "status": Status.ROUTED.value if item.status == Status.RECEIVED.value
                     else item.status},
            event=Event(item_id=item.id, kind="routed", actor=None, at=now,
                        data={"team": item.team, "channel": posted.channel,
                              "ts": posted.ts, "assignees": assignees}),
            outbox=[notice_entry(forwarder_notice(item, "routed", team=item.team,
                                                  assignees=assignees))],
        )
        if updated is None:
            log.warning("item %s vanished while its card was posted", item.id)
        return {"channel": posted.channel, "ts": posted.ts}

    async def _post_digest(self, entry: OutboxEntry) -> dict[str, Any]:
        if self.digests is None:
            raise ChatError("this process does not post digests")
        payload = entry.payload
        index = int(payload["index"])
        if index >= len(self.config.digests):
            raise ChatError("the digest subscription was removed from the config",
                            permanent=True)
        channel = self.config.digests[index].target
        existing = None
        if entry.unknown_fate:
            existing = await self.port.find_post(workspace=entry.workspace, channel=channel,
                                                 user=None, outbox_key=entry.key,
                                                 since=entry.created_at)
        data = self.digests.build(
            workspace=entry.workspace, index=index,
            local_date=date.fromisoformat(str(payload["date"])),
            late=bool(payload.get("late")),
            window_end=datetime.fromisoformat(str(payload["window_end"])),
            window_start=(datetime.fromisoformat(str(payload["window_start"]))
                          if payload.get("window_start") else None))
        title = f"Median time to response, last 14 days ({data.timezone})"
        # Rendering takes a moment of CPU; keep the event loop answering Slack.
        chart = await asyncio.to_thread(trend_chart_png, data.trend, title=title)
        posted = await self.port.post_digest(workspace=entry.workspace, data=data,
                                             chart_png=chart, outbox_key=entry.key,
                                             existing=existing)
        return {"channel": posted.channel, "ts": posted.ts}

    async def _assign(self, item: Item) -> list[str]:
        team = self.config.teams[item.team]
        members = list(team.owners)
        group = team.owner_group
        if group:
            members = await self.port.group_members(workspace=item.workspace, group=group)
        if not members:
            return []
        if team.assign == "round_robin":
            turn = self.store.next_rotation(workspace=item.workspace, team=item.team)
            return [members[turn % len(members)]]
        return members

    async def _send_notice(self, entry: OutboxEntry, item: Item | None) -> dict[str, Any]:
        payload = entry.payload
        notice = Notice(kind=payload["kind"], user=payload["user"],
                        channel=payload.get("channel"), thread_ts=payload.get("thread_ts"),
                        data=payload.get("data") or {})
        if notice.channel and await self.port.is_shared_channel(
            workspace=entry.workspace, channel=notice.channel
        ):
            # Never post into a channel customers can read: the forwarder gets a DM.
            notice = Notice(kind=notice.kind, user=notice.user, data=notice.data)
        if entry.unknown_fate:
            found = await self.port.find_post(workspace=entry.workspace,
                                              channel=notice.channel, user=notice.user,
                                              outbox_key=entry.key, since=entry.created_at)
            if found is not None:
                return {"channel": found.channel, "ts": found.ts, "found": True}
        posted = await self.port.send_notice(workspace=entry.workspace, item=item,
                                             notice=notice, outbox_key=entry.key)
        return {"channel": posted.channel, "ts": posted.ts}

    async def _token_failed(self, entry: OutboxEntry, error: ChatError) -> None:
        """A call was refused for the token: wait for the workspace only if the token is refused."""
        try:
            refusal = await self.tokens.confirm(entry.workspace)
        except ChatError as check:
            # The platform can't say now: retry the entry as after any passing failure.
            self._failed(entry, ChatError(f"{error.reason} (token check: {check.reason})",
                                          retry_after=check.retry_after))
            return
        if refusal is None:
            # The token works, so that refusal was a glitch and not a revocation.
            self._failed(entry, ChatError(f"{error.reason} although the token works"))
            return
        self.store.outbox_retry(entry.id, error=error.reason,
                                next_attempt_at=self.clock() + REVOKED_DEFER, unknown_fate=False)

    def _failed(self, entry: OutboxEntry, error: ChatError) -> None:
        now = self.clock()
        if error.permanent:
            self._give_up(entry, error, now)
            return
        if error.retry_after is not None:
            self._rate_limited = True
            delay = timedelta(seconds=max(error.retry_after, 0.0))
        else:
            base = min(2 ** min(entry.attempts, 12), MAX_BACKOFF.total_seconds())
            delay = timedelta(seconds=base * random.uniform(0.5, 1.0))
        log.warning("outbox entry %s (%s) failed: %s; retrying in %.1fs", entry.id,
                    entry.kind, error.reason, delay.total_seconds())
        self.store.outbox_retry(entry.id, error=error.reason, next_attempt_at=now + delay,
                                unknown_fate=error.unknown_fate)

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
        channel = (self.config.teams[item.team].channel
                   if entry.kind == CARD and item.team in self.config.teams
                   else entry.payload.get("channel"))
        reason = plain_reason(error.reason, channel=channel)
        log.error("item %s: could not deliver its %s: %s", item.id, entry.kind, reason)
        outbox = []
        # A failed notice about a failure must not beget another one.
        if entry.kind == NOTICE:
            if entry.payload.get("kind") != "failed":
                # The thread itself may be what failed, so this one goes by DM.
                outbox.append(notice_entry(Notice(kind="failed", user=item.forwarded_by,
                                                  data={"reason": reason,
                                                        "what": entry.kind})))
        else:
            outbox.append(notice_entry(forwarder_notice(item, "failed", reason=reason,
                                                        what=entry.kind)))
        self.store.update_item(
            workspace=item.workspace, item_id=item.id, changes={"failed": reason},
            event=Event(item_id=item.id, kind="failed", actor=None, at=now,
                        data={"what": entry.kind, "error": error.reason, "reason": reason}),
            outbox=outbox,
        )
