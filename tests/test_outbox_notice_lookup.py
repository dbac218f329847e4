"""A notice of unknown fate is looked for wherever it may have landed before it is resent.

Where a confirmation goes depends on whether its channel is shared, which can read
differently from one attempt to the next (a failed check counts as shared, a channel
gets shared or unshared): the copy that landed on the earlier attempt must be found.
"""

from __future__ import annotations

from datetime import timedelta

from bot.config import Config
from bot.intake import IntakeService
from bot.models import IntakeKind
from bot.outbox import OutboxWorker
from bot.ports import ChatError
from bot.store import Store
from tests.fakes import FrozenClock, RecordingChatPort, intake_request

LANDED_BUT_FAILED = ChatError("internal_error", server_trouble=True, unknown_fate=True)


async def _confirmation_lands_then_fails(intake: IntakeService, worker: OutboxWorker,
                                         chat: RecordingChatPort, clock: FrozenClock,
                                         shared_at_first: bool) -> None:
    result = await intake.forward(intake_request(
        at=clock(), kind=IntakeKind.CHANNEL, channel="C0INTAKE",
        reply_channel="C0INTAKE", reply_thread_ts="1714980000.000001"))
    assert result.created
    await worker.drain_once()  # the card
    assert len(chat.cards) == 1
    chat.shared_channels = {"C0INTAKE"} if shared_at_first else set()
    chat.fail_next("send_notice", LANDED_BUT_FAILED, landed=True)
    await worker.drain_once()
    assert len(chat.notices) == 1
    chat.shared_channels = set() if shared_at_first else {"C0INTAKE"}
    clock.advance(timedelta(minutes=10))
    await worker.drain_once()


async def test_a_confirmation_landed_by_dm_is_found_when_the_thread_is_tried_next(
    intake: IntakeService, fresh_store: Store, chat: RecordingChatPort,
    example_config: Config, clock: FrozenClock,
) -> None:
    worker = OutboxWorker(store=fresh_store, port=chat, config=example_config, clock=clock)
    await _confirmation_lands_then_fails(intake, worker, chat, clock, shared_at_first=True)
    assert [notice.posted.conversation for notice in chat.notices] == ["D-U0SUPPORT"]
    assert fresh_store.outbox_pending_count() == 0


async def test_a_confirmation_landed_in_the_thread_is_found_when_a_dm_is_tried_next(
    intake: IntakeService, fresh_store: Store, chat: RecordingChatPort,
    example_config: Config, clock: FrozenClock,
) -> None:
    worker = OutboxWorker(store=fresh_store, port=chat, config=example_config, clock=clock)
    await _confirmation_lands_then_fails(intake, worker, chat, clock, shared_at_first=False)
    assert [notice.posted.conversation for notice in chat.notices] == ["C0INTAKE"]
    assert fresh_store.outbox_pending_count() == 0
