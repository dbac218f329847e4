"""Sent outbox entries of concurrent lanes are recorded together, in one transaction."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from bot.models import Event
from bot.outbox import LEASE, POSTS, notice_entry
from bot.outbox_kinds import CARD, NOTICE
from bot.outbox_marks import SentMarks
from bot.ports import Notice
from bot.store import NewOutbox, OutboxEntry, Store
from storage import open_store
from tests.fakes import FrozenClock, make_item


def _forward_with_notice(store: Store, clock: FrozenClock) -> int:
    item = store.create_item(
        item=make_item(forwarded_at=clock()),
        event=Event(item_id=0, kind="received", actor="U0SUPPORT", at=clock()),
        outbox=[NewOutbox(kind=CARD),
                notice_entry(Notice(kind="relay", user="U0SUPPORT", data={"text": "hi"}))])
    return item.id


def _lease_cards(store: Store, clock: FrozenClock) -> list[OutboxEntry]:
    return store.outbox_lease_due(owner="me", now=clock(), until=clock() + LEASE, limit=10,
                                  posting_kinds=POSTS)


def _mark(entry: OutboxEntry, clock: FrozenClock) -> dict[str, object]:
    assert entry.item_id is not None
    return {"entry_id": entry.id, "result": {"ts": f"1.{entry.id}"}, "now": clock(),
            "owner": "me", "until": clock() + LEASE, "posting_kinds": POSTS,
            "item": (entry.workspace, entry.item_id)}


async def test_lanes_finishing_together_share_one_transaction(fresh_store: Store,
                                                               clock: FrozenClock):
    ids = [_forward_with_notice(fresh_store, clock) for _ in range(3)]
    cards = _lease_cards(fresh_store, clock)
    assert [card.kind for card in cards] == [CARD] * 3
    marks = SentMarks(fresh_store)

    following = await asyncio.gather(*(marks.sent_and_lease_next(**_mark(card, clock))
                                       for card in cards))

    assert (marks.batches, marks.marks) == (1, 3)
    # Each lane gets its own item's next entry, leased to it.
    assert [(entry.item_id, entry.kind) for entry in following if entry] == [
        (item_id, NOTICE) for item_id in ids]
    for card, entry in zip(cards, following, strict=True):
        stored = fresh_store.outbox_get(card.id)
        assert stored is not None and stored.status == "sent"
        assert entry is not None
        assert fresh_store.outbox_lease(entry.id, owner="someone else", now=clock(),
                                        until=clock() + timedelta(minutes=1),
                                        maybe_posts=True) is False


async def test_a_batch_the_store_refuses_fails_every_lane_in_it_and_writes_none(
        fresh_store: Store, clock: FrozenClock):
    _forward_with_notice(fresh_store, clock)
    _forward_with_notice(fresh_store, clock)
    first, second = _lease_cards(fresh_store, clock)
    marks = SentMarks(fresh_store)
    unstorable = {**_mark(second, clock), "result": {"ts": object()}}  # not JSON

    results = await asyncio.gather(marks.sent_and_lease_next(**_mark(first, clock)),
                                   marks.sent_and_lease_next(**unstorable),
                                   return_exceptions=True)

    assert [type(result) for result in results] == [TypeError, TypeError]
    stored = fresh_store.outbox_get(first.id)
    assert stored is not None and stored.status == "pending"  # one transaction: rolled back
    # The next batch is written as usual.
    assert await marks.sent_and_lease_next(**_mark(first, clock)) is not None


async def test_a_batch_is_one_commit(tmp_path, clock: FrozenClock):
    store = open_store(f"sqlite:///{tmp_path / 'bot.db'}")
    try:
        for _ in range(4):
            _forward_with_notice(store, clock)
        cards = _lease_cards(store, clock)
        statements: list[str] = []
        store.database._conn.set_trace_callback(statements.append)  # type: ignore[attr-defined]
        marks = SentMarks(store)

        await asyncio.gather(*(marks.sent_and_lease_next(**_mark(card, clock))
                               for card in cards))

        assert marks.batches == 1
        assert statements.count("COMMIT") == 1  # one synced commit for the four sends
    finally:
        store.close()
