"""The loop closed with the customer: recording when support told them, by a click or a reply.

The first record wins; later ones change nothing and say who recorded it first. Recording
also re-renders the forwarder's notices that offered "Told the customer", so none offers
it any more.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from bot.lifecycle import Outcome
from bot.models import Event, Item
from bot.outbox_kinds import CARD_UPDATE, NOTICE, RELAY_DELETE, RELAY_EDIT
from bot.ports import ChatError, Ports
from bot.store import NewOutbox, OutboxEntry, Store

log = logging.getLogger(__name__)

BUTTON = "button"  # "Told the customer" on a notice
THREAD = "thread"  # a reply by someone of the workspace in the source message's thread

# The forwarder's notices that offer "Told the customer" once the team has responded.
OFFERED_ON = frozenset({"acknowledged", "relay", "resolved"})
EVENT_KIND = "customer_answered"

# Outcome codes: not_found, not_internal, not_responded_yet, already_told (data: by, how,
# at), told (data: item_id). Each platform words them.


def offers_told_customer(item: Item | None, notice_kind: str, user: str) -> bool:
    """Whether a notice to `user` offers the button: the forwarder's, after a response."""
    return (item is not None and notice_kind in OFFERED_ON and item.first_response_at is not None
            and user == item.forwarded_by)


class ClosedLoop:
    """Records when the customer heard back, and tells the forwarder's notices."""

    def __init__(self, *, store: Store, ports: Ports,
                 clock: Callable[[], datetime]) -> None:
        self.store = store
        self.ports = ports
        self.clock = clock

    async def told_customer(self, *, workspace: str, item_id: int, user: str,
                            platform: str = "slack", internal: bool | None = None) -> Outcome:
        """Record a "Told the customer" click by `user` (a person on `platform`).

        `internal` is whether they are of the workspace, when the platform already said so
        (else the port is asked).
        """
        item = self.store.get_item(workspace=workspace, item_id=item_id)
        if item is None or item.platform != platform:
            return Outcome(None, False, "not_found")
        if item.customer_answered_at is not None:
            return _already(item)
        if item.first_response_at is None:
            return Outcome(item, False, "not_responded_yet", {"item_id": item.id})
        if not user or not await self._internal(workspace, user, platform, internal):
            return Outcome(item, False, "not_internal")
        return self._record(item, user=user, how=BUTTON, at=self.clock())

    async def source_thread_reply(self, *, workspace: str, conversation: str, thread: str,
                                  user: str, said_at: datetime, platform: str = "slack",
                                  internal: bool | None = None) -> Outcome:
        """Record a reply in an item's source thread, when someone of the workspace sent it
        after the team's first response; anything else records nothing."""
        item = self.store.find_item_by_source(workspace=workspace, channel=conversation,
                                              ts=thread)
        if item is None or item.platform != platform:
            return Outcome(None, False)
        if item.customer_answered_at is not None:
            return _already(item)
        if item.first_response_at is None or said_at < item.first_response_at:
            return Outcome(item, False, "not_responded_yet", {"item_id": item.id})
        if not await self._internal(workspace, user, platform, internal):
            return Outcome(item, False, "not_internal")  # the customer, or a guest
        return self._record(item, user=user, how=THREAD, at=said_at)

    async def _internal(self, workspace: str, user: str, platform: str,
                        known: bool | None) -> bool:
        if known is not None:
            return known
        try:
            return await self.ports.on(platform).is_internal_user(workspace=workspace,
                                                                  user=user)
        except ChatError as error:
            if not error.permanent:
                raise  # asked again when the platform answers
            log.warning("could not tell whether %s is internal; not recorded", user)
            return False

    def _record(self, item: Item, *, user: str, how: str, at: datetime) -> Outcome:
        updated = self.store.update_item(
            workspace=item.workspace, item_id=item.id,
            changes={"customer_answered_at": at, "customer_answered_by": user,
                     "customer_answered_how": how},
            only_if={"customer_answered_at": None},
            event=Event(item_id=item.id, kind=EVENT_KIND, actor=user, at=at,
                        data={"how": how, "team": item.team,
                              "seconds_since_customer": int(
                                  (at - item.received_at).total_seconds())}),
            outbox=[NewOutbox(kind=CARD_UPDATE), *self._notice_edits(item)],
            now=self.clock())
        if updated is None:  # a concurrent click or reply won
            latest = self.store.get_item(workspace=item.workspace, item_id=item.id)
            return _already(latest) if latest is not None else Outcome(None, False,
                                                                       "not_found")
        return Outcome(updated, True, "told", {"item_id": item.id})

    def _notice_edits(self, item: Item) -> list[NewOutbox]:
        """Edits that re-render each sent notice offering the button, with its latest words."""
        shown: dict[tuple[str, str], dict[str, Any]] = {}
        for entry in self.store.outbox_for_item(workspace=item.workspace, item_id=item.id):
            where = _where(entry)
            if entry.kind == NOTICE and entry.status == "sent" and where is not None:
                if _offered(item, entry.payload):
                    shown[where] = {**entry.payload}
            elif entry.kind == RELAY_EDIT and entry.status != "cancelled":
                key = (str(entry.payload.get("channel")), str(entry.payload.get("ts")))
                if key in shown:
                    shown[key] = {**shown[key], **(entry.payload.get("notice") or {})}
            elif entry.kind == RELAY_DELETE:
                shown.pop((str(entry.payload.get("channel")), str(entry.payload.get("ts"))),
                          None)
        return [NewOutbox(kind=RELAY_EDIT, payload={
            "channel": channel, "ts": ts, "platform": notice.get("platform") or "slack",
            "notice": notice}) for (channel, ts), notice in shown.items()]


def _offered(item: Item, payload: dict[str, Any]) -> bool:
    return payload.get("kind") in OFFERED_ON and payload.get("user") == item.forwarded_by


def _where(entry: OutboxEntry) -> tuple[str, str] | None:
    result = entry.result or {}
    channel, ts = result.get("channel"), result.get("ts")
    return (str(channel), str(ts)) if channel and ts else None


def _already(item: Item) -> Outcome:
    return Outcome(item, False, "already_told", {
        "item_id": item.id, "by": item.customer_answered_by or "",
        "how": item.customer_answered_how or "", "at": item.customer_answered_at})


def offering_notices(store: Store, item: Item) -> list[tuple[str, str]]:
    """(conversation, message) of each sent notice that offers "Told the customer", oldest
    first; the button is on them while nobody has recorded that the customer heard back."""
    return [where for entry in store.outbox_for_item(workspace=item.workspace, item_id=item.id)
            if entry.kind == NOTICE and entry.status == "sent" and _offered(item, entry.payload)
            and (where := _where(entry)) is not None]
