"""The outbox sends items concurrently, each item's entries in order, and holds back only
the workspace a platform rate-limited or failed for. Several workers share one outbox."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from bot.config import Config
from bot.models import Event, Item
from bot.outbox import MAX_BACKOFF, OutboxWorker, notice_entry
from bot.outbox_kinds import CARD
from bot.ports import WORKSPACE, ChatError, Notice, Posted
from bot.store import NewOutbox, Store
from storage import open_store
from tests.fakes import FrozenClock, RecordingChatPort, make_item
from tests.store_backends import BACKENDS, PostgresDatabases


class InterleavingPort(RecordingChatPort):
    """A recording port whose sends take a few turns of the event loop, so sends overlap.

    It notes, per item, how many of its sends were under way at once, and overall.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.busy: Counter[int] = Counter()
        self.most_per_item = 0
        self.most_at_once = 0
        self.order: list[tuple[int, str]] = []  # (item id, outbox key), as sends began
        self._overlap = asyncio.Event()

    async def _turns(self, item_id: int, key: str, turns: int) -> None:
        first = not self.order
        self.order.append((item_id, key))
        self.busy[item_id] += 1
        self.most_per_item = max(self.most_per_item, self.busy[item_id])
        self.most_at_once = max(self.most_at_once, sum(self.busy.values()))
        if self.most_at_once > 1:
            self._overlap.set()
        if first:
            # The first send lasts until another begins (a sequential worker never lets
            # one begin: then it gives up waiting, and most_at_once stays 1).
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._overlap.wait(), 5)
        for _ in range(turns):
            await asyncio.sleep(0)
        self.busy[item_id] -= 1

    async def post_card(self, *, item: Item, mentions: list[str], outbox_key: str) -> Posted:
        await self._turns(item.id, outbox_key, 3 + item.id % 4)
        return await super().post_card(item=item, mentions=mentions, outbox_key=outbox_key)

    async def send_notice(self, *, workspace: str, item: Item | None, notice: Notice,
                          outbox_key: str) -> Posted:
        assert item is not None
        await self._turns(item.id, outbox_key, 1 + (item.id * 7) % 5)
        return await super().send_notice(workspace=workspace, item=item, notice=notice,
                                         outbox_key=outbox_key)


def _forwarded(store: Store, clock: FrozenClock, *, workspace: str = "T0WORK",
               relays: int = 0) -> Item:
    """An item waiting for its card, followed by `relays` relayed replies for its forwarder."""
    item = store.create_item(
        item=make_item(workspace=workspace, forwarded_at=clock()),
        event=Event(item_id=0, kind="received", actor="U0SUPPORT", at=clock()),
        outbox=[NewOutbox(kind=CARD), *(
            notice_entry(Notice(kind="relay", user="U0SUPPORT", data={"text": f"reply {n}"}))
            for n in range(relays))])
    return item


async def _run_until(worker: OutboxWorker, done: Callable[[], bool]) -> None:
    """Run the worker until `done()` holds (or the test's own timeout)."""
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop, idle=0.01))
    while not done():
        await asyncio.sleep(0.005)
    stop.set()
    await running


async def test_an_items_entries_go_in_order_while_items_go_concurrently(
        fresh_store: Store, example_config: Config, clock: FrozenClock):
    chat = InterleavingPort(team_channels={"payments": "C0PAYMENTS"}, clock=clock)
    items = [_forwarded(fresh_store, clock, relays=3) for _ in range(12)]
    worker = OutboxWorker(store=fresh_store, port=chat, config=example_config, clock=clock,
                          concurrency=8)

    # Each card queues its confirmation, so every item ends with 5 sends.
    await asyncio.wait_for(_run_until(worker, lambda: len(chat.notices) == 12 * 4), 30)

    assert chat.most_per_item == 1  # never two sends of one item at once
    assert chat.most_at_once > 1  # but several items at once
    for item in items:
        ids = [int(key.removeprefix("fbo-")) for item_id, key in chat.order
               if item_id == item.id]
        card, *relays, confirmation = ids
        # The card first; the relays in the order they were queued; the confirmation,
        # queued when the card landed, after them.
        assert relays == sorted(relays) and card < relays[0] < confirmation
        assert len(ids) == 5
    assert len(chat.cards) == 12
    assert fresh_store.outbox_pending_count() == 0


async def test_a_rate_limit_for_one_workspace_delays_no_other_workspace(
        fresh_store: Store, example_config: Config, clock: FrozenClock):
    chat = RecordingChatPort(team_channels={"payments": "C0PAYMENTS"}, clock=clock)
    worker = OutboxWorker(store=fresh_store, port=chat, config=example_config, clock=clock)
    limited = _forwarded(fresh_store, clock, workspace="T0LIMITED")
    other = _forwarded(fresh_store, clock, workspace="T0OTHER")
    # Both cards go out at once, in either order: the 429 is for T0LIMITED's.
    chat.fail_next("post_card", ChatError("ratelimited", retry_after=60, limited=WORKSPACE),
                   workspace="T0LIMITED")

    assert await worker.drain_once() == 1
    assert [card.item.id for card in chat.cards if card.item.workspace == "T0OTHER"] == [
        other.id]

    # More cards for both: the limited workspace's wait, the other's go at once.
    later_limited = _forwarded(fresh_store, clock, workspace="T0LIMITED")
    later_other = _forwarded(fresh_store, clock, workspace="T0OTHER")
    await worker.drain_once()
    posted = [call["item"].id for call in chat.calls_of("post_card")]
    assert later_other.id in posted
    assert later_limited.id not in posted
    assert posted.count(limited.id) == 1

    clock.advance(timedelta(seconds=60))
    await worker.drain_once()
    landed = [card.item.id for card in chat.cards]
    assert landed.count(limited.id) == 1 and landed.count(later_limited.id) == 1
    # Slack said no before posting: the retry posts without looking for an earlier post.
    assert chat.calls_of("find_post") == []


async def test_server_errors_back_off_their_own_workspace_only(
        fresh_store: Store, example_config: Config, clock: FrozenClock):
    chat = RecordingChatPort(team_channels={"payments": "C0PAYMENTS"}, clock=clock)
    worker = OutboxWorker(store=fresh_store, port=chat, config=example_config, clock=clock)
    failing = _forwarded(fresh_store, clock, workspace="T0DOWN")
    chat.fail_next("post_card", ChatError("http_503", server_trouble=True))
    await worker.drain_once()

    waiting = _forwarded(fresh_store, clock, workspace="T0DOWN")
    healthy = _forwarded(fresh_store, clock, workspace="T0UP")
    await worker.drain_once()
    attempted = [call["item"].id for call in chat.calls_of("post_card")]
    # The failing workspace is left alone while it backs off; the other is served.
    assert attempted == [failing.id, healthy.id]

    clock.advance(MAX_BACKOFF)
    await worker.drain_once()
    landed = sorted(card.item.id for card in chat.cards)
    assert landed == sorted([failing.id, waiting.id, healthy.id])


@pytest.fixture(params=BACKENDS)
def shared_url(request: pytest.FixtureRequest, tmp_path: Any,
               postgres_databases: PostgresDatabases) -> str:
    """One empty database of each backend, for several stores (processes) to share."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'shared.db'}"
    return postgres_databases.take()


async def test_two_workers_on_one_database_send_every_entry_exactly_once(
        shared_url: str, example_config: Config):
    clock = FrozenClock()
    store_a, store_b = open_store(shared_url), open_store(shared_url)
    try:
        items = [_forwarded(store_a, clock, relays=2) for _ in range(15)]
        chat = InterleavingPort(team_channels={"payments": "C0PAYMENTS"}, clock=clock)
        workers = [OutboxWorker(store=store, port=chat, config=example_config, clock=clock,
                                concurrency=4) for store in (store_a, store_b)]
        stop = asyncio.Event()
        runs = [asyncio.create_task(worker.run(stop, idle=0.01)) for worker in workers]
        for _ in range(3000):
            if len(chat.notices) >= 15 * 3:
                break
            await asyncio.sleep(0.01)
        stop.set()
        await asyncio.gather(*runs)

        sends = Counter(key for _, key in chat.order)
        assert set(sends.values()) == {1}  # nothing twice
        entries = [entry for item in items
                   for entry in store_a.outbox_for_item(workspace="T0WORK", item_id=item.id)]
        assert len(entries) == 15 * 4 and {entry.status for entry in entries} == {"sent"}
        assert {f"fbo-{entry.id}" for entry in entries} == set(sends)  # nothing lost
        assert chat.most_per_item == 1
        assert all(worker.sent for worker in workers)  # both took a share
    finally:
        store_a.close()
        store_b.close()


def test_the_concurrency_comes_from_the_environment_and_bad_values_are_named(
        fresh_store: Store, example_config: Config, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("FEEDBACKBOT_OUTBOX_CONCURRENCY", "5")
    chat = RecordingChatPort()
    assert OutboxWorker(store=fresh_store, port=chat, config=example_config).concurrency == 5
    monkeypatch.setenv("FEEDBACKBOT_OUTBOX_CONCURRENCY", "many")
    with pytest.raises(ValueError, match=r"FEEDBACKBOT_OUTBOX_CONCURRENCY.*'many'"):
        OutboxWorker(store=fresh_store, port=chat, config=example_config)
