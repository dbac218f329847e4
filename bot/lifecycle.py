"""What happens to an item after routing: responses, relays, resolve, reopen, reassign, follow.

Every change is one store transaction: the item row, its event, and the outbox
entries that tell people about it. Nothing here talks to the chat platform except
to ask who belongs to a team.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.config import Config
from bot.links import answered_with, linked_notices, resolved_with
from bot.models import Event, Item, Status
from bot.outbox import card_platform_of, forwarder_notice, notice_entry
from bot.outbox_kinds import CARD, CARD_MOVED, CARD_UPDATE, NOTICE, RELAY_DELETE, RELAY_EDIT
from bot.ports import PLATFORM_NAMES, ChatError, ChatPort, Notice, Ports
from bot.routing import card_platform
from bot.store import NewOutbox, Store
from bot.telemetry import ITEMS_RESOLVED, ITEMS_RESPONDED, item_counted

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]

_MEMBERS_CACHE_SECONDS = 300.0
_GUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
_OPEN = {Status.RECEIVED.value, Status.ROUTED.value, Status.REOPENED.value}


@dataclass(frozen=True)
class Outcome:
    """What a request did; `code` (with `data`) is what the person who asked must be told.

    Each platform words the codes: not_found, not_on_team (data: team; the response
    was noted but isn't the team's), already_responded, not_yours (data: team),
    already_resolved, not_resolved, no_such_team (data: team), already_with_team
    (data: team), not_internal, forwarder_follows, already_following (data: item_id),
    followed (data: team, item_id).
    """

    item: Item | None
    changed: bool
    code: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


def person_key(user: str) -> str:
    """How people are compared: emails (UPNs) and Entra ids ignore case, chat ids don't."""
    return user.casefold() if "@" in user or _GUID.fullmatch(user) else user


def same_person_in(user: str, people: Iterable[str]) -> bool:
    """True when `user` is one of `people` (config may write an email in any case)."""
    key = person_key(user)
    return any(person_key(person) == key for person in people)


class Lifecycle:
    """Applies people's responses to items and queues what others must be told."""

    def __init__(self, *, store: Store, config: Config, port: ChatPort | Ports,
                 clock: Clock) -> None:
        self.store = store
        self.config = config
        self.ports = Ports.of(port)
        self.clock = clock
        self._members: dict[tuple[str, str], tuple[float, frozenset[str]]] = {}

    # --- who may do what -------------------------------------------------------
    async def team_members(self, *, workspace: str, team: str,
                           platform: str = "slack") -> frozenset[str]:
        """Return a team's owners on `platform`, a user group expanded (cached 5 minutes).

        Raises ChatError when a user group can't be read.
        """
        config = self.config.for_workspace(workspace).teams.get(team)
        if config is None:
            return frozenset()
        group = config.owner_group if platform == "slack" else None
        if not group:
            return frozenset(config.owners_on(platform))
        key = (workspace, team)
        cached = self._members.get(key)
        if cached and time.monotonic() - cached[0] < _MEMBERS_CACHE_SECONDS:
            return cached[1]
        members = frozenset(await self.ports.on(platform).group_members(workspace=workspace,
                                                                        group=group))
        self._members[key] = (time.monotonic(), members)
        return members

    async def is_responder(self, item: Item, user: str) -> bool:
        """True for members of the owning team (where its card is) and admins."""
        if same_person_in(user, self.config.for_workspace(item.workspace).admins):
            return True
        try:
            members = await self.team_members(workspace=item.workspace, team=item.team,
                                              platform=card_platform_of(item))
        except ChatError:
            log.warning("could not read the members of %s; treating %s as outside it",
                        item.team, user)
            return False
        return same_person_in(user, members)

    async def may_manage(self, item: Item, user: str) -> bool:
        """True for the owning team, the forwarder and admins: they may resolve or reassign."""
        return (same_person_in(user, [item.forwarded_by])
                or await self.is_responder(item, user))

    # --- helpers ------------------------------------------------------------------
    def _tell_everyone(self, item: Item, notice_kind: str, /, **data: Any) -> list[NewOutbox]:
        """Notices for the forwarder (where they forwarded) and each follower (1:1)."""
        entries = [notice_entry(forwarder_notice(item, notice_kind, **data))]
        for platform in PLATFORM_NAMES:
            for user in self.store.followers(workspace=item.workspace, item_id=item.id,
                                             platform=platform):
                if user != item.forwarded_by:
                    entries.append(notice_entry(Notice(kind=notice_kind, user=user, data=data,
                                                       platform=platform)))
        # Each "+1" forwarder hears what the item's own forwarder hears.
        return entries + linked_notices(self.store, item, notice_kind, data)

    def _item_of_card(self, workspace: str, channel: str, ts: str) -> Item | None:
        """The item whose card is (or was, before a reassignment) that message."""
        return (self.store.find_item_by_card(workspace=workspace, channel=channel, ts=ts)
                or self.store.find_item_by_past_card(workspace=workspace, channel=channel,
                                                     ts=ts))

    def _get(self, workspace: str, item_id: int) -> Item | None:
        return self.store.get_item(workspace=workspace, item_id=item_id)

    def item(self, *, workspace: str, item_id: int) -> Item | None:
        """The item numbered `item_id`, or None."""
        return self._get(workspace, item_id)

    async def check_manage(self, *, workspace: str, item_id: int, user: str) -> Outcome:
        """Whether `user` may resolve or reassign an item; `code` says why not, if not."""
        item = self._get(workspace, item_id)
        if item is None:
            return Outcome(None, False, "not_found")
        if not await self.may_manage(item, user):
            return Outcome(item, False, "not_yours", {"team": item.team})
        return Outcome(item, False)

    # --- first response -----------------------------------------------------------
    async def acknowledge_card(self, *, workspace: str, conversation: str, message: str,
                               user: str, kind: str) -> Outcome:
        """Acknowledge the item whose card is `message`; a message that is no card is ignored."""
        item = self.store.find_item_by_card(workspace=workspace, channel=conversation,
                                            ts=message)
        if item is None:
            return Outcome(None, False)
        return await self.acknowledge(workspace=workspace, item_id=item.id, user=user,
                                      kind=kind)

    async def acknowledge(self, *, workspace: str, item_id: int, user: str, kind: str,
                          ) -> Outcome:
        """Record a button or emoji acknowledgement; the first from the team is the response."""
        item = self._get(workspace, item_id)
        if item is None:
            return Outcome(None, False, "not_found")
        if user in (None, ""):
            return Outcome(item, False)
        now = self.clock()
        if not await self.is_responder(item, user):
            self.store.update_item(
                workspace=workspace, item_id=item.id, changes={},
                event=Event(item_id=item.id, kind="acknowledged", actor=user, at=now,
                            data={"kind": kind, "owner": False, "team": item.team}))
            return Outcome(item, False, "not_on_team", {"team": item.team})
        return self._first_response(item, user=user, kind=kind, now=now)

    def _first_response(self, item: Item, *, user: str, kind: str, now: datetime,
                        extra: list[NewOutbox] | None = None) -> Outcome:
        if item.first_response_at is not None:
            if extra:
                self.store.update_item(workspace=item.workspace, item_id=item.id, changes={},
                                       outbox=extra, now=self.clock())
            return Outcome(item, False, "already_responded")
        status = Status.RESPONDED.value if item.status in _OPEN else item.status
        wait = now - item.received_at
        updated = self.store.update_item(
            workspace=item.workspace, item_id=item.id,
            changes={"first_response_at": now, "first_response_by": user,
                     "first_response_kind": kind, "status": status},
            only_if={"first_response_at": None},
            event=Event(item_id=item.id, kind="responded", actor=user, at=now,
                        data={"kind": kind, "team": item.team,
                              "seconds_since_customer": int(wait.total_seconds())}),
            # A relayed reply says more than "they're on it", so it replaces that notice.
            outbox=[NewOutbox(kind=CARD_UPDATE),
                    *(extra or self._tell_everyone(item, "acknowledged", by=user, kind=kind))],
        )
        if updated is None:
            # Another click won the race; record nothing more.
            latest = self._get(item.workspace, item.id)
            if extra and latest is not None:
                self.store.update_item(workspace=item.workspace, item_id=item.id, changes={},
                                       outbox=extra, now=self.clock())
            return Outcome(latest, False, "already_responded")
        item_counted(ITEMS_RESPONDED, team=updated.team, platform=updated.platform)
        answered_with(self.store, updated)
        return Outcome(updated, True)

    # --- thread replies and relays --------------------------------------------------
    async def reply(self, *, workspace: str, card_channel: str, thread_ts: str, user: str,
                    text: str, reply_ts: str, marked: bool) -> Outcome:
        """Handle a reply in a card's thread: a response, a relay, or a comment.

        Replies to a message that is no card are ignored.
        """
        item = self._item_of_card(workspace, card_channel, thread_ts)
        if item is None:
            return Outcome(None, False)
        now = self.clock()
        if not await self.is_responder(item, user):
            self.store.update_item(
                workspace=workspace, item_id=item.id, changes={},
                event=Event(item_id=item.id, kind="comment", actor=user, at=now,
                            data={"ts": reply_ts, "text": text}))
            return Outcome(item, False)
        relays: list[NewOutbox] = []
        # A reply is relayed once, however often it is marked or redelivered.
        relay = self.config.for_workspace(workspace).relay
        if (relay == "all" or marked) and not self._relays_of(item, reply_ts):
            relays = self._tell_everyone(item, "relay", by=user, text=text, reply_ts=reply_ts)
        if item.first_response_at is None:
            return self._first_response(item, user=user, kind="reply", now=now, extra=relays)
        if relays:
            self.store.update_item(
                workspace=workspace, item_id=item.id, changes={},
                event=Event(item_id=item.id, kind="relayed", actor=user, at=now,
                            data={"ts": reply_ts}),
                outbox=relays)
        return Outcome(item, bool(relays))

    def _relays_of(self, item: Item, reply_ts: str) -> list[Any]:
        return [entry for entry in self.store.outbox_for_item(workspace=item.workspace,
                                                              item_id=item.id)
                if entry.kind == NOTICE and entry.payload.get("kind") == "relay"
                and (entry.payload.get("data") or {}).get("reply_ts") == reply_ts]

    def _last_relayed_text(self, item: Item, reply_ts: str) -> str | None:
        """The words support last got (or will get) for one reply, or None."""
        latest = None
        for entry in self.store.outbox_for_item(workspace=item.workspace, item_id=item.id):
            notice = entry.payload.get("notice") if entry.kind == RELAY_EDIT else entry.payload
            if entry.kind not in (NOTICE, RELAY_EDIT) or entry.status == "cancelled":
                continue
            data = (notice or {}).get("data") or {}
            if (notice or {}).get("kind") == "relay" and data.get("reply_ts") == reply_ts:
                latest = data.get("text")
        return latest

    async def reply_changed(self, *, workspace: str, card_channel: str, thread_ts: str,
                            reply_ts: str, text: str | None) -> Outcome:
        """Make relays follow an edited reply, or withdraw them when `text` is None."""
        item = self._item_of_card(workspace, card_channel, thread_ts)
        if item is None:
            return Outcome(None, False)
        if text is not None and text == self._last_relayed_text(item, reply_ts):
            # Slack reports an unfurl or a pin as an edit with the same words.
            return Outcome(item, False)
        now = self.clock()
        follow_ups: list[NewOutbox] = []
        for entry in self._relays_of(item, reply_ts):
            if entry.status == "pending":
                if text is None:
                    self.store.outbox_cancel(entry.id, reason="reply deleted", now=now)
                else:
                    # Not sent yet: send the new words in its place.
                    self.store.outbox_cancel(entry.id, reason="reply edited", now=now)
                    data = {**entry.payload.get("data", {}), "text": text}
                    follow_ups.append(NewOutbox(kind=NOTICE, payload={**entry.payload,
                                                                      "data": data}))
                continue
            if entry.status != "sent" or not entry.result:
                continue
            # Edited where the relay went: on the platform of the person it told.
            where = {"channel": entry.result.get("channel"), "ts": entry.result.get("ts"),
                     "platform": entry.payload.get("platform") or "slack"}
            if text is None:
                follow_ups.append(NewOutbox(kind=RELAY_DELETE, payload=where))
            else:
                follow_ups.append(NewOutbox(kind=RELAY_EDIT, payload={
                    **where, "notice": {**entry.payload,
                                        "data": {**entry.payload.get("data", {}),
                                                 "text": text}}}))
        if not follow_ups:
            return Outcome(item, False)
        self.store.update_item(
            workspace=workspace, item_id=item.id, changes={},
            event=Event(item_id=item.id, kind="relay_deleted" if text is None
                        else "relay_edited", actor=None, at=now, data={"ts": reply_ts}),
            outbox=follow_ups)
        return Outcome(item, True)

    # --- resolve, reopen, reassign, follow ----------------------------------------------
    async def resolve(self, *, workspace: str, item_id: int, user: str,
                      note: str | None) -> Outcome:
        """Resolve an item with an optional note; only its team, forwarder or an admin may."""
        item = self._get(workspace, item_id)
        if item is None:
            return Outcome(None, False, "not_found")
        if not await self.may_manage(item, user):
            return Outcome(item, False, "not_yours", {"team": item.team})
        if item.status == Status.RESOLVED.value:
            return Outcome(item, False, "already_resolved")
        now = self.clock()
        note = (note or "").strip() or None
        updated = self.store.update_item(
            workspace=workspace, item_id=item.id,
            changes={"status": Status.RESOLVED.value, "resolved_at": now, "resolved_by": user,
                     "resolution_note": note},
            only_if={"status": item.status},
            event=Event(item_id=item.id, kind="resolved", actor=user, at=now,
                        data={"note": note}),
            outbox=[NewOutbox(kind=CARD_UPDATE),
                    *self._tell_everyone(item, "resolved", by=user, note=note)])
        if updated is not None:
            item_counted(ITEMS_RESOLVED, team=updated.team, platform=updated.platform)
            resolved_with(self.store, updated)
        return Outcome(updated, updated is not None)

    async def reopen(self, *, workspace: str, item_id: int, user: str) -> Outcome:
        """Reopen a resolved item."""
        item = self._get(workspace, item_id)
        if item is None:
            return Outcome(None, False, "not_found")
        if not await self.may_manage(item, user):
            return Outcome(item, False, "not_yours", {"team": item.team})
        if item.status != Status.RESOLVED.value:
            return Outcome(item, False, "not_resolved")
        now = self.clock()
        updated = self.store.update_item(
            workspace=workspace, item_id=item.id,
            changes={"status": Status.REOPENED.value, "resolved_at": None, "resolved_by": None,
                     "resolution_note": None},
            only_if={"status": Status.RESOLVED.value},
            event=Event(item_id=item.id, kind="reopened", actor=user, at=now),
            outbox=[NewOutbox(kind=CARD_UPDATE),
                    *self._tell_everyone(item, "reopened", by=user)])
        if updated is not None:
            resolved_with(self.store, updated)
        return Outcome(updated, updated is not None)

    async def reassign(self, *, workspace: str, item_id: int, user: str,
                       to_team: str) -> Outcome:
        """Move an item to another team: a new card there, the old one marked as moved.

        The customer's clock keeps running from `received_at`.
        """
        item = self._get(workspace, item_id)
        if item is None:
            return Outcome(None, False, "not_found")
        if not await self.may_manage(item, user):
            return Outcome(item, False, "not_yours", {"team": item.team})
        teams = self.config.for_workspace(workspace).teams
        if to_team not in teams:
            return Outcome(item, False, "no_such_team", {"team": to_team})
        if to_team == item.team:
            return Outcome(item, False, "already_with_team", {"team": to_team})
        now = self.clock()
        status = item.status
        if item.first_response_at is None and status in _OPEN:
            status = Status.RECEIVED.value
        moved = [NewOutbox(kind=CARD)]
        if item.card_channel and item.card_ts:
            moved.append(NewOutbox(kind=CARD_MOVED, payload={
                "channel": item.card_channel, "ts": item.card_ts, "from": item.team,
                "to": to_team, "by": user, "platform": card_platform_of(item)}))
        updated = self.store.update_item(
            workspace=workspace, item_id=item.id,
            changes={"team": to_team, "reassignments": item.reassignments + 1,
                     "card_platform": card_platform(teams[to_team],
                                                    item.platform),
                     "assignees": [], "card_channel": None, "card_ts": None,
                     "status": status, "failed": None},
            only_if={"team": item.team},
            event=Event(item_id=item.id, kind="reassigned", actor=user, at=now,
                        data={"from": item.team, "to": to_team,
                              "old_card_channel": item.card_channel,
                              "old_card_ts": item.card_ts}),
            outbox=[*moved, *self._tell_everyone(item, "reassigned", by=user,
                                                 **{"from": item.team, "to": to_team})])
        return Outcome(updated, updated is not None)

    async def follow(self, *, workspace: str, item_id: int, user: str,
                     platform: str = "slack") -> Outcome:
        """Let an internal user (a person on `platform`) get the same relays as the forwarder."""
        item = self._get(workspace, item_id)
        if item is None:
            return Outcome(None, False, "not_found")
        if not await self.ports.on(platform).is_internal_user(workspace=workspace, user=user):
            return Outcome(item, False, "not_internal")
        if user == item.forwarded_by:
            return Outcome(item, False, "forwarder_follows")
        now = self.clock()
        if not self.store.add_follower(workspace=workspace, item_id=item.id, user=user,
                                       now=now, platform=platform):
            return Outcome(item, False, "already_following", {"item_id": item.id})
        self.store.update_item(workspace=workspace, item_id=item.id, changes={},
                               event=Event(item_id=item.id, kind="followed", actor=user,
                                           at=now))
        return Outcome(item, True, "followed", {"team": item.team, "item_id": item.id})
