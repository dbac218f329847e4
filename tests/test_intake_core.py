"""Tests for bot.intake: forwarded words become one stored item, before any chat call."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from bot.config import Config
from bot.intake import IntakeRejected, IntakeService
from bot.models import IntakeKind, IntakeRequest, Item, SourceMessage
from bot.outbox_kinds import CARD
from bot.store import Store
from storage.store import SqlStore
from tests.fakes import FrozenClock, RecordingChatPort, intake_request

FAR_FUTURE = datetime(2100, 1, 1, tzinfo=UTC)


@pytest.fixture
def chat(example_config: Config, clock: FrozenClock) -> RecordingChatPort:
    """A recording port that knows the support staff as members of the workspace."""
    port = RecordingChatPort.for_config(example_config, clock=clock)
    port.internal_users = {"U0SUPPORT", "U0SUPPORT2"}
    return port


@pytest.fixture
def intake(
    fresh_store: Store, example_config: Config, clock: FrozenClock, chat: RecordingChatPort
) -> IntakeService:
    """An intake service over an empty store, routing by the example config."""
    return IntakeService(store=fresh_store, config=example_config, clock=clock, port=chat)


def assert_nothing_stored(store: Store) -> None:
    """No item, no event and no outbox entry was written."""
    assert store.list_items() == []
    assert store.outbox_pending_count() == 0
    assert store.outbox_due(now=FAR_FUTURE) == []


# --- store first -------------------------------------------------------------------------


async def test_item_event_and_card_entry_are_stored_before_any_chat_call(
    intake: IntakeService, fresh_store: Store, chat: RecordingChatPort, clock: FrozenClock
) -> None:
    result = await intake.forward(intake_request(at=clock()), port=chat)

    assert result.created is True
    # The forwarder is checked; nothing is posted: the card waits in the outbox.
    assert [name for name, _ in chat.calls] == ["is_internal_user"]
    item = result.item
    assert item.id > 0
    assert fresh_store.get_item(workspace="T0WORK", item_id=item.id) == item
    assert (item.team, item.status) == ("payments", "received")
    events = fresh_store.events_for(workspace="T0WORK", item_id=item.id)
    assert [(e.kind, e.actor) for e in events] == [("received", "U0SUPPORT")]
    assert events[0].data["route_reason"] == "keywords"
    entries = fresh_store.outbox_due(now=FAR_FUTURE)
    assert [(e.kind, e.item_id, e.workspace) for e in entries] == [(CARD, item.id, "T0WORK")]


async def test_card_entry_is_due_at_once(
    intake: IntakeService, fresh_store: Store, clock: FrozenClock
) -> None:
    await intake.forward(intake_request(at=clock()))
    assert [e.kind for e in fresh_store.outbox_due(now=clock())] == [CARD]


async def test_result_carries_the_route(intake: IntakeService, clock: FrozenClock) -> None:
    result = await intake.forward(intake_request(at=clock(), text="the iOS app crashes"))
    assert result.route is not None
    assert (result.route.team, result.route.reason) == ("mobile", "keywords")
    assert result.item.team == "mobile"


# --- at most once ------------------------------------------------------------------------


async def test_second_forward_of_the_same_source_returns_the_first_item(
    intake: IntakeService, fresh_store: Store, clock: FrozenClock
) -> None:
    first = await intake.forward(intake_request(at=clock(), ts="1714980000.000100"))
    # Someone else forwards the same message later, with other words and another team.
    again = intake_request(
        at=clock() + timedelta(minutes=5),
        ts="1714980000.000100",
        text="the iOS app crashes",
        forwarded_by="U0OTHER",
    )
    second = await intake.forward(again)

    assert (second.created, second.route) == (False, None)
    assert second.item == first.item
    assert len(fresh_store.list_items()) == 1
    assert len(fresh_store.events_for(workspace="T0WORK", item_id=first.item.id)) == 1
    assert fresh_store.outbox_pending_count() == 1


class RacingStore(SqlStore):
    """A store whose source lookup always misses, as when two deliveries race past it."""

    def find_item_by_source(self, *, workspace: str, channel: str, ts: str) -> Item | None:
        return None


async def test_delivery_that_loses_the_race_returns_the_winning_item(
    fresh_store: Store, example_config: Config, clock: FrozenClock, chat: RecordingChatPort
) -> None:
    assert isinstance(fresh_store, SqlStore)
    # The same database as fresh_store, which closes it after the test.
    store = RacingStore(fresh_store.database)
    intake = IntakeService(store=store, config=example_config, clock=clock, port=chat)
    first = await intake.forward(intake_request(at=clock(), ts="1714980000.000100"))
    second = await intake.forward(intake_request(at=clock(), ts="1714980000.000100"))
    assert (first.created, second.created) == (True, False)
    assert second.item == first.item
    assert store.outbox_pending_count() == 1


async def test_same_source_in_another_workspace_is_another_item(
    intake: IntakeService, fresh_store: Store, clock: FrozenClock
) -> None:
    first = await intake.forward(intake_request(at=clock(), ts="1714980000.000100"))
    other = await intake.forward(
        intake_request(at=clock(), ts="1714980000.000100", workspace="T0OTHER")
    )
    assert other.created is True
    assert other.item.id != first.item.id
    assert len(fresh_store.list_items()) == 2


async def test_one_item_per_intake_key(
    intake: IntakeService, fresh_store: Store, clock: FrozenClock
) -> None:
    def command(key: str) -> IntakeRequest:
        return intake_request(
            at=clock(), kind=IntakeKind.COMMAND, channel=None, ts=None, intake_key=key
        )

    first = await intake.forward(command("cmd-1"))
    repeat = await intake.forward(command("cmd-1"))
    other = await intake.forward(command("cmd-2"))

    assert (first.created, repeat.created, other.created) == (True, False, True)
    assert repeat.item.id == first.item.id
    assert first.item.intake_key == "cmd-1"
    assert len(fresh_store.list_items()) == 2
    # One card each (the second, saying the same, is held while its +1 is offered).
    assert sum(e.kind == CARD for e in fresh_store.outbox_due(now=FAR_FUTURE)) == 2


async def test_commands_without_source_or_key_are_separate_items(
    intake: IntakeService, fresh_store: Store, clock: FrozenClock
) -> None:
    request = intake_request(at=clock(), kind=IntakeKind.COMMAND, channel=None, ts=None)
    first = await intake.forward(request)
    second = await intake.forward(request)
    assert first.item.id != second.item.id
    assert len(fresh_store.list_items()) == 2


# --- bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "   ", "\n\t \u3000"])
async def test_empty_text_is_rejected_and_nothing_stored(
    intake: IntakeService,
    fresh_store: Store,
    chat: RecordingChatPort,
    clock: FrozenClock,
    text: str,
) -> None:
    with pytest.raises(IntakeRejected, match="no text"):
        await intake.forward(intake_request(at=clock(), text=text), port=chat)
    assert_nothing_stored(fresh_store)
    assert chat.calls == []


async def test_unknown_team_is_rejected_and_nothing_stored(
    intake: IntakeService, fresh_store: Store, clock: FrozenClock
) -> None:
    with pytest.raises(IntakeRejected, match="nope"):
        await intake.forward(intake_request(at=clock(), team="nope"))
    assert_nothing_stored(fresh_store)


@pytest.mark.parametrize("severity", ["critical", "URGENT", " high"])
async def test_unknown_severity_is_rejected_and_nothing_stored(
    intake: IntakeService, fresh_store: Store, clock: FrozenClock, severity: str
) -> None:
    with pytest.raises(IntakeRejected, match="Severity"):
        await intake.forward(intake_request(at=clock(), severity=severity))
    assert_nothing_stored(fresh_store)


async def test_chosen_team_and_severity_are_kept(intake: IntakeService, clock: FrozenClock) -> None:
    result = await intake.forward(intake_request(at=clock(), team="mobile", severity="urgent"))
    assert (result.item.team, result.item.severity) == ("mobile", "urgent")
    assert result.route is not None and result.route.reason == "chosen"


async def test_severity_defaults_to_the_config(
    intake: IntakeService, example_config: Config, clock: FrozenClock
) -> None:
    result = await intake.forward(intake_request(at=clock()))
    assert result.item.severity == example_config.severity_default == "normal"


# --- only internal users -----------------------------------------------------------------


@pytest.mark.parametrize("kind", [IntakeKind.REACTION, IntakeKind.CHANNEL])
async def test_emoji_and_channel_intake_from_outsider_is_rejected(
    intake: IntakeService,
    fresh_store: Store,
    chat: RecordingChatPort,
    clock: FrozenClock,
    kind: IntakeKind,
) -> None:
    chat.internal_users = {"U0SUPPORT"}
    request = intake_request(at=clock(), kind=kind, forwarded_by="U0CUSTOMER")
    with pytest.raises(IntakeRejected, match="members of this workspace"):
        await intake.forward(request, port=chat)
    assert_nothing_stored(fresh_store)
    assert chat.calls == [("is_internal_user", {"workspace": "T0WORK", "user": "U0CUSTOMER"})]


@pytest.mark.parametrize("kind", [IntakeKind.REACTION, IntakeKind.CHANNEL])
async def test_emoji_and_channel_intake_from_member_is_stored(
    intake: IntakeService, chat: RecordingChatPort, clock: FrozenClock, kind: IntakeKind
) -> None:
    chat.internal_users = {"U0SUPPORT"}
    result = await intake.forward(intake_request(at=clock(), kind=kind), port=chat)
    assert result.created is True
    assert result.item.intake_kind == kind.value
    assert [name for name, _ in chat.calls] == ["is_internal_user"]


@pytest.mark.parametrize("kind", [IntakeKind.COMMAND, IntakeKind.SHORTCUT])
async def test_a_guest_cannot_forward_with_the_command_or_shortcut_either(
    intake: IntakeService, fresh_store: Store, chat: RecordingChatPort,
    clock: FrozenClock, kind: IntakeKind
) -> None:
    # Guests and Slack Connect users can see /feedback and shortcuts in shared channels.
    request = intake_request(at=clock(), kind=kind, forwarded_by="U0GUEST")
    with pytest.raises(IntakeRejected):
        await intake.forward(request, port=chat)
    assert_nothing_stored(fresh_store)


async def test_emoji_intake_without_a_port_to_check_the_user_is_not_trusted(
    example_config: Config, fresh_store: Store, clock: FrozenClock
) -> None:
    intake = IntakeService(store=fresh_store, config=example_config, clock=clock)
    request = intake_request(at=clock(), kind=IntakeKind.REACTION, forwarded_by="U0CUSTOMER")
    with pytest.raises(ValueError, match="needs a ChatPort"):
        await intake.forward(request)
    assert_nothing_stored(fresh_store)


# --- what is kept ------------------------------------------------------------------------


async def test_received_and_forwarded_times_are_kept_as_given(
    intake: IntakeService, fresh_store: Store, clock: FrozenClock
) -> None:
    berlin_summer = timezone(timedelta(hours=2))
    received = datetime(2024, 5, 1, 23, 59, 58, 654321, tzinfo=berlin_summer)
    forwarded = datetime(2024, 5, 6, 8, 15, 0, 1, tzinfo=UTC)
    request = intake_request(at=forwarded, received_at=received)

    result = await intake.forward(request)

    stored = fresh_store.get_item(workspace="T0WORK", item_id=result.item.id)
    assert stored is not None
    assert (stored.received_at, stored.forwarded_at) == (received, forwarded)
    assert stored.received_at.utcoffset() == timedelta(0)
    events = fresh_store.events_for(workspace="T0WORK", item_id=result.item.id)
    assert events[0].at == forwarded


async def test_source_and_reply_place_are_kept(
    intake: IntakeService, fresh_store: Store, clock: FrozenClock
) -> None:
    request = intake_request(
        at=clock(),
        kind=IntakeKind.COMMAND,
        source=SourceMessage(
            channel="C0SUPPORT", ts="1714980000.000777", author="U0CUST", permalink="https://x/p"
        ),
        reply_channel="C0INTAKE",
        reply_thread_ts="1714980000.000777",
        note="customer is furious",
    )
    item = (await intake.forward(request)).item
    stored = fresh_store.get_item(workspace="T0WORK", item_id=item.id)
    assert stored is not None
    assert (stored.source_channel, stored.source_ts) == ("C0SUPPORT", "1714980000.000777")
    assert (stored.source_author, stored.source_permalink) == ("U0CUST", "https://x/p")
    assert (stored.reply_channel, stored.reply_thread_ts) == ("C0INTAKE", "1714980000.000777")
    assert stored.note == "customer is furious"


async def test_customer_is_detected_from_a_shared_channel(
    intake: IntakeService, clock: FrozenClock
) -> None:
    # The text says nothing about payments; owning the customer is what routes it.
    result = await intake.forward(
        intake_request(at=clock(), channel="C0ACMESHARED", text="the iOS app is slow")
    )
    assert (result.item.customer, result.item.team) == ("acme", "payments")
    assert result.route is not None and result.route.reason == "customer"


async def test_customer_given_by_the_forwarder_wins_over_detection(
    intake: IntakeService, clock: FrozenClock
) -> None:
    request = intake_request(at=clock(), channel="C0ACMESHARED", customer="globex")
    result = await intake.forward(request)
    assert (result.item.customer, result.item.team) == ("globex", "mobile")


async def test_huge_text_is_stored_in_full(
    intake: IntakeService, fresh_store: Store, clock: FrozenClock
) -> None:
    text = ("refund " + "x" * 93 + "\n") * 2000
    assert len(text) >= 200_000
    result = await intake.forward(intake_request(at=clock(), text=text))
    stored = fresh_store.get_item(workspace="T0WORK", item_id=result.item.id)
    assert stored is not None
    assert stored.text == text


async def test_odd_unicode_is_stored_unchanged(
    intake: IntakeService, fresh_store: Store, clock: FrozenClock
) -> None:
    text = (
        "refund \u202eevil\u202c ok "  # right-to-left override and pop
        "👩\u200d💻 dev "  # zero-width joiner sequence
        "🇩🇪 e\u0301 "  # flag, combining accent (not normalised)
        "\x01\x07\x1b[31m\x7f "  # control characters other than NUL
        "\ufeff\u200b \r\n tab\there <@U0ALL> &amp;"
    )
    result = await intake.forward(intake_request(at=clock(), text=text))
    stored = fresh_store.get_item(workspace="T0WORK", item_id=result.item.id)
    assert stored is not None
    assert stored.text == text
    assert len(stored.text) == len(text)


async def test_nul_characters_are_dropped_and_the_rest_is_kept(
    intake: IntakeService, fresh_store: Store, clock: FrozenClock
) -> None:
    result = await intake.forward(intake_request(at=clock(), text="refund\x00 missing\x00"))
    assert result.item.text == "refund missing"


# --- who may forward: decided here for every platform ----------------------------------

async def test_may_forward_asks_the_port_and_trusts_listed_bots_without_asking(
    example_config: Config, fresh_store: Store, clock: FrozenClock
) -> None:
    config = example_config.model_copy(update={"intake": example_config.intake.model_copy(
        update={"bots": ["B0ZENDESK"]})})
    chat = RecordingChatPort(internal_users={"U0SUPPORT"})
    intake = IntakeService(store=fresh_store, config=config, clock=clock, port=chat)
    assert await intake.may_forward(workspace="T0WORK", user="U0SUPPORT")
    assert not await intake.may_forward(workspace="T0WORK", user="U0GUEST")
    assert await intake.may_forward(workspace="T0WORK", user="B0ZENDESK")
    asked = [call["user"] for call in chat.calls_of("is_internal_user")]
    assert asked == ["U0SUPPORT", "U0GUEST"]


async def test_may_forward_refuses_someone_the_platform_knows_is_from_outside(
    intake: IntakeService,
) -> None:
    # Slack says so in the event (another workspace's team id): no lookup is needed.
    assert not await intake.may_forward(workspace="T0WORK", user="U0SUPPORT",
                                        from_outside=True)


async def test_already_forwarded_finds_the_item_made_from_a_message(
    intake: IntakeService, clock: FrozenClock
) -> None:
    item = (await intake.forward(intake_request(at=clock()))).item
    assert item.source_channel and item.source_ts
    found = intake.already_forwarded(workspace="T0WORK", conversation=item.source_channel,
                                     message=item.source_ts)
    assert found is not None and found.id == item.id
    assert intake.already_forwarded(workspace="T0WORK", conversation=item.source_channel,
                                    message="1.2") is None
