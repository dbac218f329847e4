"""Requests being answered go before background work on the same event loop: the outbox
and the finishing of earlier requests wait for their turn (bot/answers_first.py)."""

from __future__ import annotations

import asyncio

from bot.answers_first import AnswersFirst
from bot.config import Config
from bot.models import Event
from bot.outbox import OutboxWorker
from bot.outbox_kinds import CARD
from bot.store import NewOutbox, Store
from tests.fakes import FrozenClock, RecordingChatPort, make_item


async def _passes(count: int) -> None:
    for _ in range(count):
        await asyncio.sleep(0)


async def test_a_turn_is_given_at_once_while_nothing_is_answered():
    gate = AnswersFirst()
    await asyncio.wait_for(gate.turn(), 1)
    assert gate.given_while_quiet == 0


async def test_background_steps_wait_while_a_request_is_answered_then_go_one_per_pass():
    gate = AnswersFirst()
    went: list[int] = []

    async def step(number: int) -> None:
        await gate.turn()
        went.append(number)

    with gate.answering_one():
        steps = [asyncio.create_task(step(number)) for number in range(3)]
        await _passes(10)
        assert went == []  # none while the answer is under way
    await _passes(2)
    assert went == [0]  # one step per pass of the loop, in the order they asked
    await asyncio.wait_for(asyncio.gather(*steps), 1)
    assert went == [0, 1, 2]


async def test_a_request_arriving_between_steps_stops_the_rest():
    gate = AnswersFirst()
    went: list[int] = []

    async def step(number: int) -> None:
        await gate.turn()
        went.append(number)

    with gate.answering_one():
        steps = [asyncio.create_task(step(number)) for number in range(5)]
        await _passes(2)
    await _passes(2)
    assert went == [0]
    with gate.answering_one():
        # A turn given just before the request came may still be taken; no more.
        await _passes(10)
        assert went in ([0], [0, 1])
    await asyncio.wait_for(asyncio.gather(*steps), 1)
    assert went == [0, 1, 2, 3, 4]


async def test_a_cancelled_step_does_not_hold_up_the_others():
    gate = AnswersFirst()
    with gate.answering_one():
        first = asyncio.create_task(gate.turn())
        second = asyncio.create_task(gate.turn())
        await _passes(2)
        first.cancel()
    await asyncio.wait_for(second, 1)
    assert first.cancelled()


async def test_the_outbox_sends_nothing_while_a_request_is_answered(
        fresh_store: Store, example_config: Config, clock: FrozenClock):
    chat = RecordingChatPort.for_config(example_config, clock=clock)
    gate = AnswersFirst()
    worker = OutboxWorker(store=fresh_store, port=chat, config=example_config, clock=clock,
                          answers_first=gate)
    fresh_store.create_item(
        item=make_item(forwarded_at=clock()),
        event=Event(item_id=0, kind="received", actor="U0SUPPORT", at=clock()),
        outbox=[NewOutbox(kind=CARD)])

    with gate.answering_one():
        sending = asyncio.create_task(worker.drain_once())
        for _ in range(50):  # the lease runs in a thread: give it time to come back
            await asyncio.sleep(0.01)
        assert chat.cards == []
    assert await asyncio.wait_for(sending, 5) == 1
    assert len(chat.cards) == 1
