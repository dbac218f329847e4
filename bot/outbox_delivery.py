"""What each kind of outbox entry sends, through its platform's ChatPort."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from bot.config import Config
from bot.digest_service import DigestService
from bot.links import OFFERED, offer_ended
from bot.log_context import REQUEST_ID, request_scope
from bot.models import Event, Item, Status
from bot.outbox_entries import card_platform_of, forwarder_notice, notice_entry, notice_of
from bot.outbox_kinds import (
    CARD,
    CARD_MOVED,
    CARD_UPDATE,
    DIGEST,
    EPHEMERAL,
    NOTICE,
    NOTICE_EDIT,
    RELAY_DELETE,
    RELAY_EDIT,
)
from bot.ports import PLATFORM_NAMES, ChatError, ChatPort, Notice, Ports, Posted
from bot.store import OutboxEntry, Store
from bot.telemetry import DIGEST_FAILURES, DIGEST_RUNS, ITEMS_ROUTED, item_counted

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


class Delivery:
    """Sends one outbox entry; the worker decides when, and what a failure means."""

    def __init__(self, *, store: Store, ports: Ports, config: Config, clock: Clock,
                 digests: DigestService | None) -> None:
        self.store = store
        self.ports = ports
        self.config = config
        self.clock = clock
        self.digests = digests

    async def _refuse_if_shared(self, port: ChatPort, workspace: str,
                                conversation: str) -> None:
        """Raise a permanent error for a conversation outsiders can read: never post there.

        When the platform can't tell now, its ChatError is raised, so the entry waits.
        """
        if await port.is_shared_conversation(workspace=workspace, conversation=conversation):
            raise ChatError("channel_is_shared", permanent=True)

    async def deliver(self, entry: OutboxEntry, item: Item | None,
                      platform: str) -> dict[str, Any]:
        """Make the calls `entry` stands for; return what to keep as its result.

        Raises ChatError when a call fails. A card also records its routing on the item
        and queues the forwarder's confirmation, in one transaction.
        """
        port = self.ports.on(platform)
        if entry.kind == CARD and item is not None:
            # Logged under the request that brought the item in, from intake to card.
            with request_scope(entry.payload.get(REQUEST_ID), item_id=item.id):
                return await self._post_card(entry, item, port)
        if entry.kind == CARD_UPDATE and item is not None:
            if item.card_channel and item.card_ts:
                await self._refuse_if_shared(port, item.workspace, item.card_channel)
                await port.update_card(item=item)
            return {"updated": bool(item.card_ts)}
        if entry.kind == NOTICE:
            return await self._send_notice(entry, item, port)
        if entry.kind == DIGEST:
            try:
                posted = await self._post_digest(entry, port)
            except Exception:
                DIGEST_FAILURES.labels(platform=platform).inc()
                raise
            DIGEST_RUNS.labels(platform=platform).inc()
            return posted
        payload = entry.payload
        if entry.kind == CARD_MOVED and item is not None:
            if not item.card_ts:
                # The new card isn't posted yet; its link is needed first.
                raise ChatError("waiting for the new card", permanent=entry.attempts > 50)
            await self._refuse_if_shared(port, item.workspace, payload["channel"])
            await port.mark_card_moved(item=item, conversation=payload["channel"],
                                       message=payload["ts"])
            return {"moved": True}
        if entry.kind in (RELAY_EDIT, NOTICE_EDIT):
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
        team = self.config.for_workspace(item.workspace).teams.get(item.team)
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
            # Kept before posting only when a retry could choose otherwise (a round-robin
            # turn, a group's members): a fixed list of owners is chosen the same way again.
            if team.assign == "round_robin" or (platform == "slack" and team.owner_group):
                self.store.update_item(workspace=item.workspace, item_id=item.id,
                                       changes={"assignees": assignees}, now=self.clock())
        if posted is None:
            item.assignees = assignees
            posted = await port.post_card(item=item, mentions=assignees,
                                          outbox_key=entry.key)
        # Nobody answered its +1 offer (or "It's new"): the offer loses its buttons.
        ended = (await asyncio.to_thread(offer_ended, self.store, item)
                 if entry.payload.get(OFFERED) else [])
        now = self.clock()
        updated = await asyncio.to_thread(
            self.store.update_item,
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
                                                  assignees=assignees)), *ended],
        )
        if updated is None:
            log.warning("item %s vanished while its card was posted", item.id)
        else:
            item_counted(ITEMS_ROUTED, team=item.team, platform=platform)
        log.info("item %s: card posted to %s", item.id, posted.conversation)
        return {"channel": posted.conversation, "ts": posted.message}

    async def _post_digest(self, entry: OutboxEntry, port: ChatPort) -> dict[str, Any]:
        if self.digests is None:
            raise ChatError("this process does not post digests")
        payload = entry.payload
        index = int(payload["index"])
        digests = self.config.for_workspace(entry.workspace).digests
        if index >= len(digests):
            raise ChatError("the digest subscription was removed from the config",
                            permanent=True)
        channel = digests[index].target
        await self._refuse_if_shared(port, entry.workspace, channel)
        existing = None
        if entry.unknown_fate:
            existing = await port.find_post(workspace=entry.workspace, conversation=channel,
                                            user=None, outbox_key=entry.key,
                                            since=entry.created_at)
        # Reading a digest's window (and a week of themes) takes a while at a million
        # items: in a thread, so the event loop goes on answering requests meanwhile.
        data = await asyncio.to_thread(self.digests.build_claimed,
                                       workspace=entry.workspace, claim=payload)
        chart = await self.digests.chart(data)
        posted = await port.post_digest(workspace=entry.workspace, data=data,
                                        chart_png=chart, outbox_key=entry.key,
                                        existing=existing, conversation=channel)
        return {"channel": posted.conversation, "ts": posted.message}

    async def _assign(self, item: Item, port: ChatPort, platform: str) -> list[str]:
        team = self.config.for_workspace(item.workspace).teams[item.team]
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
        notice = wanted = notice_of(entry.payload)
        if notice.conversation and await self._may_be_shared(port, entry.workspace,
                                                             notice.conversation):
            # Never post where outsiders can read: the person is told 1:1 instead.
            notice = Notice(kind=notice.kind, user=notice.user, data=notice.data,
                            platform=notice.platform)
        if entry.unknown_fate:
            # An earlier attempt may have judged the channel otherwise, and sent it to the
            # channel or by DM (None): look in both.
            places = dict.fromkeys([notice.conversation, wanted.conversation, None])
            for conversation in places:
                thread = wanted.thread if conversation == wanted.conversation else None
                found = await port.find_post(workspace=entry.workspace,
                                             conversation=conversation, user=notice.user,
                                             outbox_key=entry.key, since=entry.created_at,
                                             thread=thread)
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
