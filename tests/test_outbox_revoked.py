"""A refused token stops a workspace only when confirmed, and sending resumes once it works."""

from __future__ import annotations

from datetime import timedelta
from itertools import pairwise
from typing import Any

import pytest

from bot.config import Config
from bot.intake import IntakeService
from bot.models import Item
from bot.outbox import OutboxWorker
from bot.ports import ChatError
from bot.revocation import RECHECK_FIRST, RECHECK_MAX
from bot.store import Store
from tests.fakes import FrozenClock, RecordingChatPort, intake_request

REVOKED = ChatError("invalid_auth", workspace_gone=True)


@pytest.fixture
def worker(
    fresh_store: Store, chat: RecordingChatPort, example_config: Config, clock: FrozenClock
) -> OutboxWorker:
    """An outbox worker sending through the recording port on the frozen clock."""
    return OutboxWorker(store=fresh_store, port=chat, config=example_config, clock=clock)


async def forwarded(intake: IntakeService, clock: FrozenClock, **fields: Any) -> Item:
    """Forward refund feedback (payments owns it) now."""
    result = await intake.forward(intake_request(at=clock(), **{"as_new": True, **fields}))
    assert result.created
    return result.item


def checks(chat: RecordingChatPort) -> int:
    """How often the token was asked about."""
    return len(chat.calls_of("token_refusal"))


async def test_one_refused_post_with_a_working_token_is_retried_not_revoked(
    intake: IntakeService, worker: OutboxWorker, fresh_store: Store,
    chat: RecordingChatPort, clock: FrozenClock,
) -> None:
    await forwarded(intake, clock)
    chat.fail_next("post_card", REVOKED)

    await worker.drain_once()
    assert checks(chat) == 1
    assert not fresh_store.is_workspace_revoked(workspace="T0WORK")
    assert chat.cards == []

    clock.advance(timedelta(seconds=2))  # an ordinary backoff, not an hour
    await worker.drain_once()
    assert len(chat.cards) == 1
    await worker.drain_once()
    assert [notice.notice.kind for notice in chat.notices] == ["routed"]


async def test_a_refused_post_whose_token_check_gets_no_answer_is_retried_not_revoked(
    intake: IntakeService, worker: OutboxWorker, fresh_store: Store,
    chat: RecordingChatPort, clock: FrozenClock,
) -> None:
    await forwarded(intake, clock)
    chat.fail_next("post_card", REVOKED)
    chat.fail_next("token_refusal", ChatError("http_503"))

    await worker.drain_once()
    assert not fresh_store.is_workspace_revoked(workspace="T0WORK")
    clock.advance(timedelta(seconds=2))
    await worker.drain_once()
    assert len(chat.cards) == 1


async def test_a_refused_token_is_tried_again_with_backoff_and_sending_resumes(
    intake: IntakeService, worker: OutboxWorker, fresh_store: Store,
    chat: RecordingChatPort, clock: FrozenClock,
) -> None:
    first = await forwarded(intake, clock)
    chat.fail_next("post_card", REVOKED)
    chat.refused_tokens["T0WORK"] = "token_revoked"

    await worker.drain_once()
    assert fresh_store.is_workspace_revoked(workspace="T0WORK")
    assert worker.tokens.reason("T0WORK") == "token_revoked"
    # Feedback keeps arriving while the token is refused; it is stored and waits.
    second = await forwarded(intake, clock)
    await worker.drain_once()
    assert checks(chat) == 1 and chat.cards == []

    # Tried again after a minute, then at growing intervals up to a few minutes.
    waits = []
    checked = checks(chat)
    for _ in range(40):
        clock.advance(timedelta(seconds=30))
        await worker.drain_once()
        if checks(chat) > checked:
            checked = checks(chat)
            waits.append(clock())
    gaps = [later - earlier for earlier, later in pairwise(waits)]
    assert gaps and max(gaps) == RECHECK_MAX
    assert gaps == sorted(gaps) and gaps[0] > RECHECK_FIRST
    assert chat.cards == []

    del chat.refused_tokens["T0WORK"]
    clock.advance(RECHECK_MAX)
    await worker.drain_once()
    assert not fresh_store.is_workspace_revoked(workspace="T0WORK")
    assert worker.tokens.reason("T0WORK") is None
    # Everything queued meanwhile goes out in the same pass; nothing was given up. (Two
    # items' cards go out concurrently, so either may come first.)
    assert sorted(card.item.id for card in chat.cards) == [first.id, second.id]
    await worker.drain_once()
    assert [notice.notice.kind for notice in chat.notices] == ["routed", "routed"]
    assert fresh_store.outbox_pending_count() == 0


async def test_a_revoked_mark_set_elsewhere_is_checked_before_it_holds_anything_back(
    intake: IntakeService, worker: OutboxWorker, fresh_store: Store,
    chat: RecordingChatPort, clock: FrozenClock,
) -> None:
    # An uninstall event (or another process) marked the workspace; the token works now.
    fresh_store.set_workspace_revoked(workspace="T0WORK", revoked_at=clock())
    await forwarded(intake, clock)

    await worker.drain_once()
    assert checks(chat) == 1
    assert not fresh_store.is_workspace_revoked(workspace="T0WORK")
    assert len(chat.cards) == 1
