"""Deliver what the store says must be sent, surviving outages, rate limits and restarts."""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

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
from bot.ports import PLATFORM_NAMES, ChatError, ChatPort, Notice, Ports, Posted
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

# Plain words, without any platform's markup: they are kept in the item (`failed`) and
# shown wherever the item is. Each platform words a failed notice itself, from the
# error and the channel kept beside these words.
_PLAIN_REASONS = {
    "channel_not_found": "{channel} doesn't exist or the bot can't see it",
    "not_in_channel": "the bot isn't a member of {channel}; invite it with /invite",
    "is_archived": "{channel} is archived",
    "user_not_found": "the person could not be found",
    "cannot_dm_bot": "the person is a bot and can't get messages",
    "channel_is_shared": ("{channel} is shared with another organisation, and"
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
    """Say what a permanent platform error means, in plain words without markup."""
    template = _PLAIN_REASONS.get(error, "the chat platform refused the message ({error})")
    return template.format(channel=f"the channel {channel}" if channel else "the channel",
                           error=error)


def notice_entry(notice: Notice) -> NewOutbox:
    """Build the outbox entry that delivers `notice`."""
    # The payload's keys predate Teams; entries stored then must still be delivered.
    return NewOutbox(kind=NOTICE, payload={
        "kind": notice.kind, "user": notice.user, "channel": notice.conversation,
        "thread_ts": notice.thread, "data": notice.data, "platform": notice.platform,
    })


def notice_of(payload: dict[str, Any]) -> Notice:
    """The notice an outbox payload (written by notice_entry) delivers."""
    return Notice(kind=payload["kind"], user=payload["user"],
                  conversation=payload.get("channel"), thread=payload.get("thread_ts"),
                  data=payload.get("data") or {}, platform=payload.get("platform") or "slack")


def forwarder_notice(item: Item, notice_kind: str, /, **data: Any) -> Notice:
    """Address a notice to whoever forwarded `item`, where they forwarded it."""
    return Notice(kind=notice_kind, user=item.forwarded_by, conversation=item.reply_channel,
                  thread=item.reply_thread_ts, data=data, platform=item.platform)


def card_platform_of(item: Item) -> str:
    """Where `item`'s card is (or goes); items from before Teams have theirs on Slack."""
    return item.card_platform or "slack"


def platform_of(entry: OutboxEntry, item: Item | None) -> str:
    """The platform an outbox entry is sent on."""
    if entry.kind in (CARD, CARD_UPDATE) and item is not None:
        return card_platform_of(item)
    return str(entry.payload.get("platform") or "slack")


class OutboxWorker:
    """Sends due outbox entries through each platform's ChatPort, one at a time, in order.

    Rate limits wait for Retry-After (a platform that asks to slow down gets nothing more
    in that pass; the others carry on); 5xx and timeouts back off exponentially and
    are retried forever; permanent errors flag the item and tell the forwarder. A call
    refused for the token stops a workspace only when its token itself is refused
    (`tokens`); its entries then wait, kept, until the token works again.
    """

    def __init__(self, *, store: Store, port: ChatPort | Ports, config: Config,
                 clock: Clock = utcnow, digests: DigestService | None = None) -> None:
        self.store = store
        self.ports = Ports.of(port)
        self.config = config
        self.clock = clock
        self.digests = digests
        self._wake = asyncio.Event()
        self._rate_limited: set[str] = set()
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self.sent = 0
        self._tokens: dict[str, TokenChecks] = {}

    def _platform_of(self, entry: OutboxEntry, item: Item | None) -> str:
        """The platform an entry goes out on; a digest's is its subscription's."""
        if entry.kind == DIGEST:
            index = int(entry.payload.get("index", -1))
            if 0 <= index < len(self.config.digests):
                return self.config.digests[index].platform
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
        self._rate_limited.clear()
        for checks in list(self._tokens.values()):
            await checks.recheck_due()
        for entry in self.store.outbox_due(now=self.clock()):
            item = (self.store.get_item(workspace=entry.workspace, item_id=entry.item_id)
                    if entry.item_id is not None else None)
            platform = self._platform_of(entry, item)
            if platform in self._rate_limited:
                continue  # it asked us to slow down: the rest waits for the next pass
            if await self.tokens_on(platform).held_back(entry.workspace):
                self.store.outbox_retry(entry.id, error="the workspace refuses the app's token",
                                        next_attempt_at=self.clock() + REVOKED_DEFER,
                                        unknown_fate=False)
                continue
            if await self._attempt(entry, platform):
                delivered += 1
                if delivered_ids is not None:
                    delivered_ids.add(entry.id)
        self.sent += delivered
        return delivered

    async def _attempt(self, entry: OutboxEntry, platform: str) -> bool:
        now = self.clock()
        # From the lease on, a crash leaves a post's fate unknown: look before re-sending.
        if not self.store.outbox_lease(entry.id, owner=self.owner, now=now,
                                       until=now + LEASE, maybe_posts=entry.kind in POSTS):
            return False  # another process is on it, or it was just finished
        try:
            result = await self._deliver(entry, platform)
        except ChatError as error:
            if error.workspace_gone:
                await self._token_failed(entry, platform, error)
            else:
                if error.retry_after is not None:
                    self._rate_limited.add(platform)
                self._failed(entry, error)
            return False
        self.store.outbox_sent(entry.id, result=result, now=self.clock())
        return True

    async def _refuse_if_shared(self, port: ChatPort, workspace: str,
                                conversation: str) -> None:
        """Raise a permanent error for a conversation outsiders can read: never post there.

        When the platform can't tell now, its ChatError is raised, so the entry waits.
        """
        if await port.is_shared_conversation(workspace=workspace, conversation=conversation):
            raise ChatError("channel_is_shared", permanent=True)

    async def _deliver(self, entry: OutboxEntry, platform: str) -> dict[str, Any]:
        item = (self.store.get_item(workspace=entry.workspace, item_id=entry.item_id)
                if entry.item_id is not None else None)
        port = self.ports.on(platform)
        if entry.kind == CARD and item is not None:
            return await self._post_card(entry, item, port)
        if entry.kind == CARD_UPDATE and item is not None:
            if item.card_channel and item.card_ts:
                await self._refuse_if_shared(port, item.workspace, item.card_channel)
                await port.update_card(item=item)
            return {"updated": bool(item.card_ts)}
        if entry.kind == NOTICE:
            return await self._send_notice(entry, item, port)
        if entry.kind == DIGEST:
            return await self._post_digest(entry, port)
        payload = entry.payload
        if entry.kind == CARD_MOVED and item is not None:
            if not item.card_ts:
                # The new card isn't posted yet; its link is needed first.
                raise ChatError("waiting for the new card", permanent=entry.attempts > 50)
            await self._refuse_if_shared(port, item.workspace, payload["channel"])
            await port.mark_card_moved(item=item, conversation=payload["channel"],
                                       message=payload["ts"])
            return {"moved": True}
        if entry.kind == RELAY_EDIT:
            notice = payload["notice"]
            await port.edit_notice(
                workspace=entry.workspace, conversation=payload["channel"],
                message=payload["ts"], item=item,
                notice=Notice(kind=notice["kind"], user=notice["user"],
                              data=notice.get("data") or {}, platform=platform))
            return {"edited": True}
        if entry.kind == RELAY_DELETE:
            await port.delete_message(workspace=entry.workspace,
                                      conversation=payload["channel"], message=payload["ts"])
            return {"deleted": True}
        if entry.kind == EPHEMERAL:
            await self._refuse_if_shared(port, entry.workspace, payload["channel"])
            await port.send_ephemeral(workspace=entry.workspace,
                                      conversation=payload["channel"], user=payload["user"],
                                      text=payload["text"])
            return {"sent": True}
        log.warning("dropping outbox entry %s of kind %s: its item is gone", entry.id,
                    entry.kind)
        return {"dropped": True}

    async def _post_card(self, entry: OutboxEntry, item: Item, port: ChatPort,
                         ) -> dict[str, Any]:
        if item.card_ts:
            return {"channel": item.card_channel, "ts": item.card_ts, "already": True}
        team = self.config.teams.get(item.team)
        if team is None:
            raise ChatError(f"team {item.team} is no longer configured", permanent=True)
        platform = card_platform_of(item)
        channel = team.channel_on(platform)
        if not channel:
            raise ChatError(f"team {item.team} has no channel on"
                            f" {PLATFORM_NAMES.get(platform, platform)}", permanent=True)
        await self._refuse_if_shared(port, item.workspace, channel)
        posted: Posted | None = None
        if entry.unknown_fate:
            posted = await port.find_post(workspace=item.workspace, conversation=channel,
                                          user=None, outbox_key=entry.key,
                                          since=entry.created_at)
        assignees = item.assignees
        if not assignees:
            # Chosen once and kept, so a retry neither skips a round-robin turn nor
            # mentions different people than a post that did land.
            assignees = await self._assign(item, port, platform)
            self.store.update_item(workspace=item.workspace, item_id=item.id,
                                   changes={"assignees": assignees}, now=self.clock())
        if posted is None:
            item.assignees = assignees
            posted = await port.post_card(item=item, mentions=assignees,
                                          outbox_key=entry.key)
        now = self.clock()
        updated = self.store.update_item(
            workspace=item.workspace, item_id=item.id,
            changes={"card_channel": posted.conversation, "card_ts": posted.message,
                     "card_platform": platform,
                     "assignees": assignees,
                     "status": Status.ROUTED.value if item.status == Status.RECEIVED.value
                     else item.status},
            event=Event(item_id=item.id, kind="routed", actor=None, at=now,
                        data={"team": item.team, "channel": posted.conversation,
                              "ts": posted.message, "assignees": assignees}),
            outbox=[notice_entry(forwarder_notice(item, "routed", team=item.team,
                                                  assignees=assignees))],
        )
        if updated is None:
            log.warning("item %s vanished while its card was posted", item.id)
        return {"channel": posted.conversation, "ts": posted.message}

    async def _post_digest(self, entry: OutboxEntry, port: ChatPort) -> dict[str, Any]:
        if self.digests is None:
            raise ChatError("this process does not post digests")
        payload = entry.payload
        index = int(payload["index"])
        if index >= len(self.config.digests):
            raise ChatError("the digest subscription was removed from the config",
                            permanent=True)
        channel = self.config.digests[index].target
        await self._refuse_if_shared(port, entry.workspace, channel)
        existing = None
        if entry.unknown_fate:
            existing = await port.find_post(workspace=entry.workspace, conversation=channel,
                                            user=None, outbox_key=entry.key,
                                            since=entry.created_at)
        data = self.digests.build_claimed(workspace=entry.workspace, claim=payload)
        chart = await self.digests.chart(data)
        posted = await port.post_digest(workspace=entry.workspace, data=data,
                                        chart_png=chart, outbox_key=entry.key,
                                        existing=existing, conversation=channel)
        return {"channel": posted.conversation, "ts": posted.message}

    async def _assign(self, item: Item, port: ChatPort, platform: str) -> list[str]:
        team = self.config.teams[item.team]
        members = list(team.owners_on(platform))
        group = team.owner_group if platform == "slack" else None
        if group:
            members = await port.group_members(workspace=item.workspace, group=group)
        if not members:
            return []
        if team.assign == "round_robin":
            turn = self.store.next_rotation(workspace=item.workspace, team=item.team)
            return [members[turn % len(members)]]
        return members

    async def _send_notice(self, entry: OutboxEntry, item: Item | None,
                           port: ChatPort) -> dict[str, Any]:
        notice = notice_of(entry.payload)
        if notice.conversation and await self._may_be_shared(port, entry.workspace,
                                                             notice.conversation):
            # Never post where outsiders can read: the person is told 1:1 instead.
            notice = Notice(kind=notice.kind, user=notice.user, data=notice.data,
                            platform=notice.platform)
        if entry.unknown_fate:
            found = await port.find_post(workspace=entry.workspace,
                                         conversation=notice.conversation, user=notice.user,
                                         outbox_key=entry.key, since=entry.created_at)
            if found is not None:
                return {"channel": found.conversation, "ts": found.message, "found": True}
        posted = await port.send_notice(workspace=entry.workspace, item=item,
                                        notice=notice, outbox_key=entry.key)
        return {"channel": posted.conversation, "ts": posted.message}

    async def _may_be_shared(self, port: ChatPort, workspace: str, conversation: str) -> bool:
        """Whether outsiders may read `conversation`; True when the platform can't say now."""
        try:
            return await port.is_shared_conversation(workspace=workspace,
                                                     conversation=conversation)
        except ChatError as error:
            log.warning("could not check who can read %s (%s); treating it as shared",
                        conversation, error.reason)
            return True

    async def _token_failed(self, entry: OutboxEntry, platform: str,
                            error: ChatError) -> None:
        """A call was refused for the token: wait for the workspace only if the token is refused."""
        try:
            refusal = await self.tokens_on(platform).confirm(entry.workspace)
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
        channel = (self.config.teams[item.team].channel_on(card_platform_of(item))
                   if entry.kind == CARD and item.team in self.config.teams
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
