""""+1": a forward that says the same as an open item joins it instead of making a new card.

At forward time the intake asks `Links.offer` for a match. With one, the new item is
stored but its card is held back (`offer_hold_minutes`) while its forwarder is offered
"+1 to #123" or "It's new"; when nobody answers, the card goes out as new at the end of
the hold. A linked item keeps its own customer, text and times, never gets a card of its
own, and shares its item's answers: its forwarder is told of the first response, relays
and resolution, and it counts as answered (and resolved) when its item is. The owning
team can unlink it; it is then routed as a new item. Platform-neutral.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bot.config import Config
from bot.models import Event, Item, Status
from bot.outbox_entries import forwarder_notice, notice_entry
from bot.outbox_kinds import CARD, CARD_UPDATE, NOTICE, NOTICE_EDIT
from bot.similar import SimilarItems
from bot.store import NewOutbox, Store

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]

# Notice kinds (words in handlers/notice_words.py).
OFFER = "offer"  # "Looks like #123 …" with +1 / It's new
LINKED = "linked"  # the item was added to another as a +1, and what is known of it
SENT_AS_NEW = "sent_as_new"  # the forwarder said it's new: the card went out
UNLINKED = "unlinked"  # the owning team unlinked it: it is its own item now
PLUS_ONE, NEW = "plus_one", "new"  # the forwarder's two answers
OFFERED = "offered"  # in a held card's payload: its forwarder was offered a +1


@dataclass(frozen=True)
class LinkOutcome:
    """What a +1, "It's new" or unlink did; `code` is what the person must be told.

    Codes: linked, sent_as_new, unlinked (changed); already_linked, already_new,
    too_late, not_linked, not_found, not_yours (nothing changed). `data` carries
    item (the +1) and parent (the item it joins), and team for not_yours.
    """

    changed: bool
    code: str
    data: dict[str, Any] = field(default_factory=dict)


def customer_names(parent: Item, linked: list[Item]) -> list[str]:
    """The distinct customers named by an item and its +1s, in the order they came."""
    names: dict[str, None] = {}
    for item in (parent, *linked):
        if item.customer:
            names.setdefault(item.customer, None)
    return list(names)


def offered_match(store: Store, item: Item) -> int | None:
    """The item offered to `item`'s forwarder when it was forwarded, or None."""
    for event in store.events_for(workspace=item.workspace, item_id=item.id):
        if event.kind == "received":
            match = event.data.get("offer")
            return int(match) if isinstance(match, int) else None
    return None


def linked_notices(store: Store, item: Item, notice_kind: str,
                   data: dict[str, Any]) -> list[NewOutbox]:
    """The same notice for the forwarder of every +1 of `item`, where they forwarded it."""
    entries = []
    for linked in store.linked_items(workspace=item.workspace, item_id=item.id):
        if linked.forwarded_by == item.forwarded_by and linked.reply_channel is None:
            continue  # the same person, told 1:1 already
        entries.append(notice_entry(forwarder_notice(linked, notice_kind, **data,
                                                     plus_one=linked.id)))
    return entries


def answered_with(store: Store, item: Item) -> None:
    """Record `item`'s first response on its +1s that had none."""
    if item.first_response_at is None:
        return
    store.update_linked(workspace=item.workspace, parent=item.id, changes={
        "first_response_at": item.first_response_at,
        "first_response_by": item.first_response_by,
        "first_response_kind": item.first_response_kind,
        "status": Status.RESPONDED.value}, unless_set="first_response_at")


def resolved_with(store: Store, item: Item) -> None:
    """Make `item`'s +1s resolved (or reopened) as `item` now is."""
    store.update_linked(workspace=item.workspace, parent=item.id, changes={
        "status": item.status, "resolved_at": item.resolved_at,
        "resolved_by": item.resolved_by, "resolution_note": item.resolution_note})


def offer_edit(store: Store, item: Item, kind: str,
               data: dict[str, Any]) -> NewOutbox | None:
    """The entry rewriting `item`'s offer notice as a `kind` notice; None when none was sent."""
    for entry in store.outbox_for_item(workspace=item.workspace, item_id=item.id):
        if (entry.kind == NOTICE and entry.payload.get("kind") == OFFER
                and entry.status == "sent" and entry.result and entry.result.get("ts")):
            return NewOutbox(kind=NOTICE_EDIT, payload={
                "channel": entry.result.get("channel"), "ts": entry.result.get("ts"),
                "platform": entry.payload.get("platform") or "slack",
                "notice": {**entry.payload, "kind": kind, "data": data}})
    return None


def offer_ended(store: Store, item: Item) -> list[NewOutbox]:
    """When an offered item's card goes out: the offer says so, and loses its buttons."""
    match = offered_match(store, item)
    edit = offer_edit(store, item, SENT_AS_NEW, {"match": match}) if match else None
    return [edit] if edit is not None else []


def known_state(parent: Item, linked: list[Item]) -> dict[str, Any]:
    """What a forwarder is told of an item they +1: its team, customers and answers."""
    return {"match": parent.id, "team": parent.team,
            "customers": len(linked) + 1, "names": customer_names(parent, linked)[:10],
            "acknowledged_by": parent.first_response_by,
            "resolved_by": parent.resolved_by if parent.status == Status.RESOLVED.value
            else None,
            "note": parent.resolution_note if parent.status == Status.RESOLVED.value
            else None}


class Links:
    """Offers, +1s, "It's new" and unlinking; every change is one store transaction."""

    def __init__(self, *, store: Store, config: Config, clock: Clock,
                 may_manage: Callable[[Item, str], Any] | None = None) -> None:
        self.store = store
        self.config = config
        self.clock = clock
        self.similar = SimilarItems(store, clock=clock)
        # Who may unlink: the same rule as Resolve/Reassign (bot.lifecycle.may_manage).
        self.may_manage = may_manage

    def hold(self, workspace: str) -> timedelta:
        """How long a card of `workspace` waits for its forwarder's answer to an offer."""
        return timedelta(minutes=self.config.for_workspace(workspace).offer_hold_minutes)

    def linked(self, item: Item) -> list[Item]:
        """The +1s of `item`, oldest first (what its card counts and names)."""
        return self.store.linked_items(workspace=item.workspace, item_id=item.id)

    def candidates(self, *, workspace: str, text: str, team: str | None,
                   floor: float) -> list[Item]:
        """The items `text` may be a +1 of, best first, scoring at least `floor`.

        For the forwarding forms; +1s are never listed themselves (their item is).
        """
        found = [match for match in self.similar.candidates(workspace=workspace, text=text,
                                                            team=team)
                 if match.score >= floor]
        items = {item.id: item for item in self.store.items_by_ids(
            workspace=workspace, ids=[match.item_id for match in found])}
        return [items[match.item_id] for match in found if match.item_id in items]

    # --- at forward time -----------------------------------------------------------
    def root(self, workspace: str, item_id: int) -> Item | None:
        """The item `item_id` names, or the item it is a +1 of; None when there is none."""
        item = self.store.get_item(workspace=workspace, item_id=item_id)
        if item is not None and item.linked_to is not None:
            item = self.store.get_item(workspace=workspace, item_id=item.linked_to)
        return item

    def offer(self, *, workspace: str, text: str, team: str | None) -> dict[str, Any] | None:
        """The data of an offer for a new forward of `text`, or None when nothing matches.

        A failing store read means no offer: the forward goes on as new. Offers are off
        with `offer_hold_minutes: 0`.
        """
        hold_minutes = self.config.for_workspace(workspace).offer_hold_minutes
        if hold_minutes == 0:
            return None
        try:
            match = self.similar.best_match(workspace=workspace, text=text, team=team)
            parent = self.root(workspace, match.item_id) if match is not None else None
            if parent is None:
                return None
            linked = self.store.linked_items(workspace=workspace, item_id=parent.id)
        except Exception:
            log.exception("looking for a similar item failed; forwarding as new")
            return None
        return {**known_state(parent, linked), "hold_minutes": hold_minutes}

    def chosen(self, *, workspace: str, item_id: int) -> Item | None:
        """The item a forwarder chose in the form, if it still can be joined."""
        return self.root(workspace, item_id)

    def held_card(self, now: datetime, payload: dict[str, Any], *, workspace: str,
                  offered: bool) -> NewOutbox:
        """A card entry held back for the offer's time (at least a minute, so that a +1
        chosen in the form is linked before it could go out).

        An `offered` card, when it goes out, also rewrites the offer (its buttons go).
        """
        return NewOutbox(kind=CARD, payload={**payload, OFFERED: True} if offered else payload,
                         not_before=now + max(self.hold(workspace), timedelta(minutes=1)))

    # --- the forwarder's answer -------------------------------------------------------
    async def _may_answer(self, item: Item, user: str) -> bool:
        if user == item.forwarded_by:
            return True
        return bool(self.may_manage and await self.may_manage(item, user))

    async def answer(self, *, workspace: str, item_id: int, user: str, choice: str,
                     match: int | None = None) -> LinkOutcome:
        """Apply a forwarder's "+1" (to `match`) or "It's new" to a held item.

        Repeated and late answers change nothing and say why.
        """
        item = self.store.get_item(workspace=workspace, item_id=item_id)
        offered = offered_match(self.store, item) if item is not None else None
        if item is None or offered is None or (choice == PLUS_ONE and match != offered):
            return LinkOutcome(False, "not_found")
        if not await self._may_answer(item, user):
            return LinkOutcome(False, "not_yours", {"team": item.team, "item": item.id})
        data = {"item": item.id, "parent": item.linked_to or offered}
        if item.linked_to is not None:
            return LinkOutcome(False, "already_linked", data)
        if choice == NEW:
            if not self.store.release_held_card(workspace=workspace, item_id=item.id,
                                                now=self.clock()):
                return LinkOutcome(False, "already_new", data)
            # The card goes out now; posting it rewrites the offer (bot/outbox_delivery.py).
            return LinkOutcome(True, SENT_AS_NEW, data)
        parent = self.root(workspace, offered)
        if parent is None:
            return LinkOutcome(False, "not_found")
        linked = self.link(item, parent, by=user, edit_offer=True)
        if linked is None:
            return LinkOutcome(False, "too_late", {**data, "team": item.team})
        return LinkOutcome(True, LINKED, {**data, "parent": parent.id})

    def link(self, item: Item, parent: Item, *, by: str, edit_offer: bool = False,
             ) -> Item | None:
        """Make `item` a +1 of `parent`; None when it is too late (its card is out).

        The item takes on what is known of `parent` (answered, resolved); its forwarder
        is told that, and `parent`'s card is re-rendered with the new count.
        """
        now = self.clock()
        linked = self.store.linked_items(workspace=parent.workspace, item_id=parent.id)
        changes: dict[str, Any] = {"failed": None}
        if parent.first_response_at is not None and item.first_response_at is None:
            changes.update(first_response_at=now, first_response_by=parent.first_response_by,
                           first_response_kind=parent.first_response_kind,
                           status=Status.RESPONDED.value)
        if parent.status == Status.RESOLVED.value:
            changes.update(status=Status.RESOLVED.value, resolved_at=now,
                           resolved_by=parent.resolved_by,
                           resolution_note=parent.resolution_note)
        state = known_state(parent, [*linked, item])
        tell = offer_edit(self.store, item, LINKED, state) if edit_offer else None
        if tell is None:
            tell = notice_entry(forwarder_notice(item, LINKED, **state))
        done = self.store.link_item(
            workspace=item.workspace, item_id=item.id, to=parent.id, by=by, now=now,
            changes=changes,
            events=[Event(item_id=item.id, kind="linked", actor=by, at=now,
                          data={"to": parent.id}),
                    Event(item_id=parent.id, kind="plus_one", actor=by, at=now,
                          data={"item": item.id})],
            outbox=[tell], parent_outbox=[NewOutbox(kind=CARD_UPDATE)])
        if done is not None:
            log.info("item %s linked to %s", item.id, parent.id, extra={"item_id": item.id})
        return done

    # --- the owning team's unlink -------------------------------------------------------
    async def unlink(self, *, workspace: str, item_id: int, user: str) -> LinkOutcome:
        """Make a +1 its own item again: routed and carded as new, its forwarder told.

        Only who may resolve or reassign the item it joined may.
        """
        item = self.store.get_item(workspace=workspace, item_id=item_id)
        if item is None:
            return LinkOutcome(False, "not_found")
        if item.linked_to is None:
            return LinkOutcome(False, "not_linked", {"item": item.id})
        parent = self.store.get_item(workspace=workspace, item_id=item.linked_to)
        if parent is None:
            return LinkOutcome(False, "not_found")
        if not (self.may_manage and await self.may_manage(parent, user)):
            return LinkOutcome(False, "not_yours", {"team": parent.team, "item": item.id})
        now = self.clock()
        # Its own problem after all: the answers of the item it joined were not for it.
        changes: dict[str, Any] = {"status": Status.RECEIVED.value, "first_response_at": None,
                   "first_response_by": None, "first_response_kind": None,
                   "resolved_at": None, "resolved_by": None, "resolution_note": None,
                   "escalated_at": None, "card_channel": None, "card_ts": None,
                   "assignees": []}
        done = self.store.unlink_item(
            workspace=workspace, item_id=item.id, parent=parent.id, changes=changes,
            events=[Event(item_id=item.id, kind="unlinked", actor=user, at=now,
                          data={"from": parent.id}),
                    Event(item_id=parent.id, kind="plus_one_removed", actor=user, at=now,
                          data={"item": item.id})],
            outbox=[NewOutbox(kind=CARD),
                    notice_entry(forwarder_notice(item, UNLINKED, by=user,
                                                  match=parent.id))],
            parent_outbox=[NewOutbox(kind=CARD_UPDATE)])
        if done is None:
            return LinkOutcome(False, "not_linked", {"item": item.id})
        return LinkOutcome(True, UNLINKED, {"item": item.id, "parent": parent.id})
