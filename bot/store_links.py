"""The Store's part for "+1" links: an item linked to the item it says the same as."""

from __future__ import annotations

import abc
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bot.models import Event, Item

if TYPE_CHECKING:
    from bot.store import NewOutbox


class LinkStore(abc.ABC):
    """Store methods behind bot/links.py; each is one transaction."""

    @abc.abstractmethod
    def linked_items(self, *, workspace: str, item_id: int) -> list[Item]:
        """The items linked to `item_id` (its +1s), oldest link first."""

    @abc.abstractmethod
    def link_counts(self, *, workspace: str, item_ids: Sequence[int]) -> dict[int, int]:
        """How many items are linked to each of `item_ids` (those with none are left out)."""

    @abc.abstractmethod
    def most_linked(self, *, workspace: str, since: datetime, until: datetime,
                    teams: Sequence[str] | None, limit: int) -> list[tuple[int, int]]:
        """(item id, +1s linked to it in [since, until)) of `teams`' items, most first."""

    @abc.abstractmethod
    def link_item(self, *, workspace: str, item_id: int, to: int, by: str, now: datetime,
                  changes: dict[str, Any], events: Sequence[Event],
                  outbox: Sequence[NewOutbox], parent_outbox: Sequence[NewOutbox],
                  ) -> Item | None:
        """Link `item_id` to `to`, apply `changes` to it, cancel its card still held back.

        Nothing is written, and None returned, when the item is already linked, is `to`
        itself, has a card, or its card is being posted right now. Items linked to
        `item_id` move to `to`. `events` are appended to the items their item_id names;
        `outbox` is queued for the item, `parent_outbox` for `to`.
        """

    @abc.abstractmethod
    def unlink_item(self, *, workspace: str, item_id: int, parent: int,
                    changes: dict[str, Any], events: Sequence[Event],
                    outbox: Sequence[NewOutbox], parent_outbox: Sequence[NewOutbox],
                    ) -> Item | None:
        """Undo the link of `item_id` to `parent` and apply `changes`; None when not linked
        to it (then nothing is written). `events`/`outbox` as for link_item."""

    @abc.abstractmethod
    def update_linked(self, *, workspace: str, parent: int, changes: dict[str, Any],
                      unless_set: str | None = None) -> list[Item]:
        """Apply `changes` to the items linked to `parent` (only those whose `unless_set`
        column is NULL, when given); return them as changed."""

    @abc.abstractmethod
    def release_held_card(self, *, workspace: str, item_id: int, now: datetime) -> bool:
        """Make the item's card entry, held back until later, due now.

        False when no card entry of the item is pending and held.
        """
