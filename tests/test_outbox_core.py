"""Tests for bot.outbox: cards and notices go out from the store, through outages and limits."""

from __future__ import annotations

import inspect
from datetime import timedelta
from typing import Any

import pytest

from bot.config import Config
from bot.intake import IntakeService
from bot.models import IntakeKind, Item
from bot.outbox import MAX_BACKOFF, OutboxWorker
from bot.ports import ChatError, ChatPort
from bot.store import Store
from tests.fakes import PORT_METHODS, FrozenClock, RecordingChatPort, intake_request, make_item

MOBILE_GROUP = ["U0MOB1", "U0MOB2", "U0MOB3"]


@pytest.fixture
def worker(
    fresh_store: Store, chat: RecordingChatPort, example_config: Config, clock: FrozenClock
) -> OutboxWorker:
    """An outbox worker sending through the recording port on the frozen clock."""
    chat.groups["S0MOBILEDEV"] = list(MOBILE_GROUP)
    return OutboxWorker(store=fresh_store, port=chat, config=example_config, clock=clock)


async def forwarded(intake: IntakeService, clock: FrozenClock, **fields: Any) -> Item:
    """Forward feedback (refund text, so payments owns it unless told otherwise) now.

    The forwarder says it's new: these tests are about cards, not the +1 offer.
    """
    result = await intake.forward(intake_request(at=clock(), **{"as_new": True, **fields}))
    assert result.created
    return result.item


def stored(store: Store, item: Item) -> Item:
    """The item as the store has it now."""
    found = store.get_item(workspace=item.workspace, item_id=item.id)
    assert found is not None
    return found


# --- the fake itself ------------------------------------------------------------------


def test_recording_port_offers_every_chat_port_method() -> None:
    # The fake must grow with the port, or core code calling a new method breaks every test.
    assert {"post_card", "send_notice", "find_post"} <= PORT_METHODS
    for name in sorted(PORT_METHODS):
        real = inspect.signature(getattr(ChatPort, name)).parameters
        fake = inspect.signature(getattr(RecordingChatPort, name)).parameters
        assert [(p.name, p.kind) for p in fake.values()] == [
            (p.name, p.kind) for p in real.values()
        ], name


# --- the card ----------------------------------------------------------------------------


async def test_card_mentions_every_owner_for_assign_all(
    intake: IntakeService, worker: OutboxWorker, chat: RecordingChatPort, clock: FrozenClock
) -> None:
    item = await forwarded(intake, clock)

    assert await worker.drain_once() == 1

    assert len(chat.cards) == 1
    card = chat.cards[0]
    assert card.item.id == item.id
    assert card.mentions == ["U0ALICE", "U0BOB"]
    assert card.posted.conversation == "C0PAYMENTS"
    assert card.outbox_key.startswith("fbo-")


async def test_round_robin_takes_turns_through_the_user_group(
    intake: IntakeService, worker: OutboxWorker, chat: RecordingChatPort, clock: FrozenClock
) -> None:
    for _ in range(4):
        await forwarded(intake, clock, text="the iOS app crashes")

    await worker.drain_once()

    assert [card.mentions for card in chat.cards] == [
        ["U0MOB1"],
        ["U0MOB2"],
        ["U0MOB3"],
        ["U0MOB1"],
    ]
    groups = {call["group"] for call in chat.calls_of("group_members")}
    assert groups == {"S0MOBILEDEV"}


async def test_round_robin_counts_per_workspace(
    intake: IntakeService, worker: OutboxWorker, chat: RecordingChatPort, clock: FrozenClock
) -> None:
    await forwarded(intake, clock, text="the iOS app crashes")
    await forwarded(intake, clock, text="the iOS app crashes", workspace="T0OTHER")

    await worker.drain_once()

    assert [card.mentions for card in chat.cards] == [["U0MOB1"], ["U0MOB1"]]


async def test_failed_attempt_does_not_use_up_a_round_robin_turn(
    intake: IntakeService,
    worker: OutboxWorker,
    fresh_store: Store,
    chat: RecordingChatPort,
    clock: FrozenClock,
) -> None:
    first = await forwarded(intake, clock, text="the iOS app crashes")
    chat.fail_next("post_card", ChatError("internal_error"))
    await worker.drain_once()
    clock.advance(MAX_BACKOFF)
    await worker.drain_once()
    await forwarded(intake, clock, text="the iOS app crashes")
    await worker.drain_once()

    assert [card.mentions for card in chat.cards] == [["U0MOB1"], ["U0MOB2"]]
    assert stored(fresh_store, first).assignees == ["U0MOB1"]


async def test_card_marks_the_item_routed(
    intake: IntakeService,
    worker: OutboxWorker,
    fresh_store: Store,
    chat: RecordingChatPort,
    clock: FrozenClock,
) -> None:
    item = await forwarded(intake, clock)

    await worker.drain_once()

    now = stored(fresh_store, item)
    posted = chat.cards[0].posted
    assert (now.card_channel, now.card_ts) == (posted.conversation, posted.message)
    assert now.status == "routed"
    assert now.assignees == ["U0ALICE", "U0BOB"]
    assert fresh_store.find_item_by_card(workspace="T0WORK", channel=posted.conversation,
                                         ts=posted.message)
    events = fresh_store.events_for(workspace="T0WORK", item_id=item.id)
    assert [e.kind for e in events] == ["received", "routed"]
    assert events[1].at == clock()
    assert events[1].data["ts"] == posted.message


# --- telling the forwarder ---------------------------------------------------------------


async def test_routed_notice_goes_to_the_intake_thread_on_the_next_drain(
    intake: IntakeService, worker: OutboxWorker, chat: RecordingChatPort, clock: FrozenClock
) -> None:
    item = await forwarded(
        intake,
        clock,
        kind=IntakeKind.COMMAND,
        reply_channel="C0INTAKE",
        reply_thread_ts="1714980000.000500",
    )

    await worker.drain_once()
    assert chat.notices == []
    assert await worker.drain_once() == 1

    assert len(chat.notices) == 1
    sent = chat.notices[0]
    assert sent.notice.kind == "routed"
    assert sent.notice.user == "U0SUPPORT"
    assert (sent.notice.conversation, sent.notice.thread) == ("C0INTAKE", "1714980000.000500")
    assert sent.notice.data["team"] == "payments"
    assert sent.item is not None and sent.item.id == item.id
    assert sent.item.card_ts == chat.cards[0].posted.message


async def test_routed_notice_goes_by_dm_without_an_intake_thread(
    intake: IntakeService, worker: OutboxWorker, chat: RecordingChatPort, clock: FrozenClock
) -> None:
    await forwarded(intake, clock)

    await worker.drain_once()
    await worker.drain_once()

    assert [(s.notice.kind, s.notice.user, s.notice.conversation) for s in chat.notices] == [
        ("routed", "U0SUPPORT", None)
    ]
    assert chat.notices[0].posted.conversation == "D-U0SUPPORT"


async def test_routed_notice_goes_by_dm_when_the_thread_is_in_a_shared_channel(
    intake: IntakeService, worker: OutboxWorker, chat: RecordingChatPort, clock: FrozenClock
) -> None:
    # The intake channel got shared with a customer after the item came in.
    chat.shared_channels.add("C0INTAKE")
    await forwarded(
        intake,
        clock,
        kind=IntakeKind.COMMAND,
        reply_channel="C0INTAKE",
        reply_thread_ts="1714980000.000500",
    )

    await worker.drain_once()
    await worker.drain_once()

    assert len(chat.notices) == 1
    notice = chat.notices[0].notice
    assert (notice.kind, notice.user, notice.conversation, notice.thread) == (
        "routed",
        "U0SUPPORT",
        None,
        None,
    )
    assert not any(s.posted.conversation == "C0INTAKE" for s in chat.notices)


# --- rate limits, outages, timeouts ------------------------------------------------------


async def test_rate_limit_waits_for_retry_after(
    intake: IntakeService,
    worker: OutboxWorker,
    fresh_store: Store,
    chat: RecordingChatPort,
    clock: FrozenClock,
) -> None:
    await forwarded(intake, clock)
    chat.fail_next("post_card", ChatError("ratelimited", retry_after=30))
    failed_at = clock()

    assert await worker.drain_once() == 0

    (entry,) = fresh_store.outbox_due(now=failed_at + timedelta(seconds=30))
    assert entry.next_attempt_at == failed_at + timedelta(seconds=30)
    assert (entry.attempts, entry.last_error, entry.status) == (1, "ratelimited", "pending")
    clock.advance(timedelta(seconds=29))
    assert await worker.drain_once() == 0
    assert len(chat.calls_of("post_card")) == 1
    clock.advance(timedelta(seconds=1))
    assert await worker.drain_once() == 1
    assert len(chat.calls_of("post_card")) == 2
    assert len(chat.cards) == 1


async def test_server_error_backs_off_then_succeeds_once(
    intake: IntakeService,
    worker: OutboxWorker,
    fresh_store: Store,
    chat: RecordingChatPort,
    clock: FrozenClock,
) -> None:
    item = await forwarded(intake, clock)
    chat.fail_next("post_card", ChatError("internal_error"), count=2)

    await worker.drain_once()
    (entry,) = fresh_store.outbox_due(now=clock() + MAX_BACKOFF)
    assert clock() < entry.next_attempt_at <= clock() + MAX_BACKOFF
    # Not due yet: the same instant sends nothing.
    assert await worker.drain_once() == 0
    assert len(chat.calls_of("post_card")) == 1

    clock.advance(MAX_BACKOFF)
    assert await worker.drain_once() == 0
    clock.advance(MAX_BACKOFF)
    assert await worker.drain_once() == 1

    assert len(chat.calls_of("post_card")) == 3
    assert len(chat.cards) == 1
    assert stored(fresh_store, item).card_ts == chat.cards[0].posted.message
    assert stored(fresh_store, item).failed is None


async def test_timeout_whose_post_landed_is_found_not_posted_again(
    intake: IntakeService,
    worker: OutboxWorker,
    fresh_store: Store,
    chat: RecordingChatPort,
    clock: FrozenClock,
) -> None:
    item = await forwarded(intake, clock)
    chat.fail_next("post_card", ChatError("timeout", unknown_fate=True), landed=True)

    await worker.drain_once()
    (entry,) = fresh_store.outbox_due(now=clock() + MAX_BACKOFF)
    assert entry.unknown_fate is True
    clock.advance(MAX_BACKOFF)
    assert await worker.drain_once() == 1

    assert len(chat.cards) == 1
    assert len(chat.calls_of("post_card")) == 1
    assert [c["outbox_key"] for c in chat.calls_of("find_post")] == [entry.key]
    now = stored(fresh_store, item)
    assert (now.card_channel, now.card_ts) == (
        chat.cards[0].posted.conversation,
        chat.cards[0].posted.message,
    )
    assert now.status == "routed"


async def test_timeout_whose_post_was_lost_is_posted_again(
    intake: IntakeService, worker: OutboxWorker, chat: RecordingChatPort, clock: FrozenClock
) -> None:
    await forwarded(intake, clock)
    chat.fail_next("post_card", ChatError("timeout", unknown_fate=True))

    await worker.drain_once()
    clock.advance(MAX_BACKOFF)
    await worker.drain_once()

    assert len(chat.calls_of("find_post")) == 1
    assert len(chat.calls_of("post_card")) == 2
    assert len(chat.cards) == 1


async def test_timeout_does_not_mistake_an_older_post_with_the_same_key(
    intake: IntakeService,
    worker: OutboxWorker,
    fresh_store: Store,
    chat: RecordingChatPort,
    clock: FrozenClock,
) -> None:
    # A card from an earlier database whose entry ids started over, so its key repeats.
    old = await chat.post_card(item=make_item(id=1), mentions=[], outbox_key="fbo-1")
    clock.advance(timedelta(days=1))
    item = await forwarded(intake, clock)
    (entry,) = fresh_store.outbox_due(now=clock())
    assert entry.key == "fbo-1"
    chat.fail_next("post_card", ChatError("timeout", unknown_fate=True))

    await worker.drain_once()
    clock.advance(MAX_BACKOFF)
    await worker.drain_once()

    assert len(chat.cards) == 2
    assert stored(fresh_store, item).card_ts == chat.cards[1].posted.message != old.message


async def test_notice_timeout_whose_post_landed_is_not_sent_twice(
    intake: IntakeService, worker: OutboxWorker, chat: RecordingChatPort, clock: FrozenClock
) -> None:
    await forwarded(intake, clock)
    await worker.drain_once()
    chat.fail_next("send_notice", ChatError("timeout", unknown_fate=True), landed=True)

    await worker.drain_once()
    clock.advance(MAX_BACKOFF)
    await worker.drain_once()

    assert len(chat.calls_of("send_notice")) == 1
    assert len(chat.notices) == 1


# --- giving up ---------------------------------------------------------------------------


async def test_permanent_error_flags_the_item_and_tells_the_forwarder(
    intake: IntakeService,
    worker: OutboxWorker,
    fresh_store: Store,
    chat: RecordingChatPort,
    clock: FrozenClock,
) -> None:
    item = await forwarded(intake, clock)
    chat.fail_next("post_card", ChatError("channel_not_found", permanent=True))

    await worker.drain_once()

    now = stored(fresh_store, item)
    assert now.failed is not None
    assert "doesn't exist" in now.failed
    assert "channel_not_found" not in now.failed
    assert now.card_ts is None
    events = fresh_store.events_for(workspace="T0WORK", item_id=item.id)
    assert [e.kind for e in events] == ["received", "failed"]
    assert events[1].data["error"] == "channel_not_found"

    await worker.drain_once()
    assert [(s.notice.kind, s.notice.user) for s in chat.notices] == [("failed", "U0SUPPORT")]
    assert chat.notices[0].notice.data["reason"] == now.failed
    # Plain words in the item; the error and channel let each platform word the notice.
    assert now.failed == "the channel C0PAYMENTS doesn't exist or the bot can't see it"
    assert {key: chat.notices[0].notice.data[key] for key in ("error", "channel", "what")} == {
        "error": "channel_not_found", "channel": "C0PAYMENTS", "what": "card"}

    # The card entry is finished for good: no more attempts, however long we wait.
    clock.advance(timedelta(days=1))
    assert await worker.drain_once() == 0
    assert len(chat.calls_of("post_card")) == 1
    assert fresh_store.outbox_pending_count() == 0


async def test_revoked_workspace_gets_nothing_further(
    intake: IntakeService,
    worker: OutboxWorker,
    fresh_store: Store,
    chat: RecordingChatPort,
    clock: FrozenClock,
) -> None:
    await forwarded(intake, clock)
    await forwarded(intake, clock)
    other = await forwarded(intake, clock, workspace="T0OTHER")
    # Both T0WORK cards are on their way at once (items go concurrently): Slack refuses
    # each, as it refuses every call made with a revoked token, and only those.
    chat.fail_next("post_card", ChatError("token_revoked", workspace_gone=True), count=2,
                   workspace="T0WORK")
    chat.refused_tokens["T0WORK"] = "token_revoked"

    await worker.drain_once()
    assert fresh_store.is_workspace_revoked(workspace="T0WORK")
    assert not fresh_store.is_workspace_revoked(workspace="T0OTHER")
    calls_at_revocation = len(chat.calls)
    for _ in range(3):
        clock.advance(timedelta(hours=2))
        await worker.drain_once()

    # Only the token is tried again; nothing is sent while it is refused.
    revoked_calls = [
        (name, kwargs)
        for name, kwargs in chat.calls[calls_at_revocation:]
        if kwargs.get("workspace", getattr(kwargs.get("item"), "workspace", None)) == "T0WORK"
        and name != "token_refusal"
    ]
    assert revoked_calls == []
    assert [card.item.workspace for card in chat.cards] == ["T0OTHER"]
    assert stored(fresh_store, other).status == "routed"
    # The revoked workspace's work is kept, not dropped.
    pending = fresh_store.outbox_due(now=clock() + timedelta(days=1))
    assert sorted(e.workspace for e in pending) == ["T0WORK", "T0WORK"]


async def test_drained_entries_are_not_sent_again(
    intake: IntakeService,
    worker: OutboxWorker,
    fresh_store: Store,
    chat: RecordingChatPort,
    clock: FrozenClock,
) -> None:
    await forwarded(intake, clock)

    assert await worker.drain_once() == 1
    assert await worker.drain_once() == 1
    clock.advance(timedelta(hours=1))
    assert await worker.drain_once() == 0

    assert (len(chat.cards), len(chat.notices)) == (1, 1)
    assert fresh_store.outbox_pending_count() == 0
    assert worker.sent == 2
