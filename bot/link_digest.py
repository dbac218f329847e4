"""The digest's "Most asked": the items that most customers +1'd in the period."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.models import Item
from bot.store import Store

MOST_ASKED = 5  # items shown
MOST_ASKED_TITLE = "Most asked"
MOST_ASKED_ABOUT = "the items most customers +1'd in this period"


@dataclass(frozen=True)
class MostAsked:
    """An item, the +1s it got in the period, and everyone who said it so far."""

    item: Item
    new: int  # +1s linked in the period
    customers: int  # the item and all its +1s
    names: tuple[str, ...]  # the customers named, distinct, in the order they came

    def label(self) -> str:
        """"3 customers (+2 this period): acme, globex, initech" (not escaped)."""
        names = ", ".join(self.names[:6]) + ("…" if len(self.names) > 6 else "")
        said = f"{self.customers} customers (+{self.new} this period)"
        return f"{said}: {names}" if names else said


def most_asked(store: Store, *, workspace: str, since: datetime, until: datetime,
               teams: Sequence[str] | None = None,
               limit: int = MOST_ASKED) -> tuple[MostAsked, ...]:
    """The items most +1'd in [since, until), of `teams` (all when None), most first."""
    counted = store.most_linked(workspace=workspace, since=since, until=until, teams=teams,
                                limit=limit)
    items = {item.id: item for item in store.items_by_ids(
        workspace=workspace, ids=[item_id for item_id, _ in counted])}
    found = []
    for item_id, new in counted:
        item = items.get(item_id)
        if item is None:
            continue
        linked = store.linked_items(workspace=workspace, item_id=item_id)
        names: dict[str, None] = {}
        for one in (item, *linked):
            if one.customer:
                names.setdefault(one.customer, None)
        found.append(MostAsked(item=item, new=new, customers=len(linked) + 1,
                               names=tuple(names)))
    return tuple(found)
