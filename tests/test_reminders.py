"""SLA reminders at the target and escalations at twice it, once each, with a frozen clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.config import Config
from bot.models import Event, Status
from bot.outbox import OutboxWorker
from bot.reminders import Reminders
from bot.store import Store
from tests.fakes import FrozenClock, RecordingChatPort, make_item

# Monday 2026-11-23 10:00 Berlin (09:00 UTC): inside payments' business hours.
MONDAY_10_BERLIN = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def _routed(store: Store, **fields) -> int:
    values = {
        "workspace": "T0WORK",
        "status": Status.ROUTED.value,
        "card_channel": "C0PAYMENTS",
        "card_ts": "1764000000.000100",
        "assignees": ["U0ALICE"],
        **fields,
    }
    item = make_item(**values)
    created = store.create_item(
        item=item, event=Event(0, "received", "U0SUPPORT", item.forwarded_at), outbox=[]
    )
    return created.id


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(MONDAY_10_BERLIN)


def _thread_notices(chat: RecordingChatPort, kind: str) -> list:
    return [notice for notice in chat.notices if notice.notice.kind == kind]


async def test_reminder_at_the_target_and_escalation_at_twice_it_fire_once_each(
    fresh_store: Store, example_config: Config, clock: FrozenClock
):
    chat = RecordingChatPort(clock=clock)
    worker = OutboxWorker(store=fresh_store, port=chat, config=example_config, clock=clock)
    reminders = Reminders(store=fresh_store, config=example_config, clock=clock)
    # urgent counts wall-clock time: 30m target, 1h escalation.
    item_id = _routed(
        fresh_store,
        severity="urgent",
        forwarded_at=clock(),
        received_at=clock() - timedelta(minutes=5),
    )
    clock.advance(timedelta(minutes=29))
    assert reminders.check(workspace="T0WORK").reminded == 0
    clock.advance(timedelta(minutes=1))
    assert reminders.check(workspace="T0WORK").reminded == 1
    assert reminders.check(workspace="T0WORK").reminded == 0  # once per item
    await worker.drain_once()
    (reminder,) = _thread_notices(chat, "reminder")
    assert reminder.notice.conversation == "C0PAYMENTS"
    assert reminder.notice.thread == "1764000000.000100"
    assert reminder.notice.data["mentions"] == ["U0ALICE"]

    clock.advance(timedelta(minutes=29))
    assert reminders.check(workspace="T0WORK").escalated == 0
    clock.advance(timedelta(minutes=1))
    nudges = reminders.check(workspace="T0WORK")
    assert (nudges.reminded, nudges.escalated) == (0, 1)
    assert reminders.check(workspace="T0WORK").escalated == 0
    await worker.drain_once()
    (escalation,) = _thread_notices(chat, "escalation")
    # payments escalates to its leads' user group rather than every owner.
    assert escalation.notice.data["mentions"] == ["S0PAYLEADS"]
    item = fresh_store.get_item(workspace="T0WORK", item_id=item_id)
    assert item.escalated_at == clock()
    assert any(update.id == item_id and update.escalated_at for update in chat.updates)


def test_business_hours_pause_the_clock_for_normal_severity(
    fresh_store: Store, example_config: Config
):
    # Friday 2026-11-27 15:00 Berlin: 2h of business time left that day, 8h target.
    friday_15 = datetime(2026, 11, 27, 14, 0, tzinfo=UTC)
    clock = FrozenClock(friday_15)
    reminders = Reminders(store=fresh_store, config=example_config, clock=clock)
    _routed(
        fresh_store,
        severity="normal",
        forwarded_at=friday_15,
        received_at=friday_15 - timedelta(minutes=10),
    )
    clock.advance(timedelta(hours=20))  # Saturday 11:00: wall clock past 8h, business 2h
    assert reminders.check(workspace="T0WORK").reminded == 0
    # Monday 2026-11-30 15:00 Berlin: 2h (Fri) + 6h (Mon) = 8 business hours.
    clock.advance(datetime(2026, 11, 30, 13, 59, tzinfo=UTC) - clock())
    assert reminders.check(workspace="T0WORK").reminded == 0
    clock.advance(timedelta(minutes=1))
    assert reminders.check(workspace="T0WORK").reminded == 1


def test_answered_and_resolved_items_are_never_nagged(
    fresh_store: Store, example_config: Config, clock: FrozenClock
):
    reminders = Reminders(store=fresh_store, config=example_config, clock=clock)
    _routed(
        fresh_store,
        severity="urgent",
        forwarded_at=clock(),
        received_at=clock(),
        first_response_at=clock(),
        first_response_by="U0ALICE",
        first_response_kind="button",
    )
    _routed(
        fresh_store,
        severity="urgent",
        forwarded_at=clock(),
        received_at=clock(),
        status=Status.RESOLVED.value,
        resolved_at=clock(),
    )
    clock.advance(timedelta(days=3))
    nudges = reminders.check(workspace="T0WORK")
    assert (nudges.reminded, nudges.escalated) == (0, 0)


def test_a_team_that_receives_an_item_by_reassignment_is_reminded_too(
        fresh_store: Store, example_config: Config, clock: FrozenClock):
    reminders = Reminders(store=fresh_store, config=example_config, clock=clock)
    item_id = _routed(fresh_store, severity="urgent", forwarded_at=clock(), received_at=clock())
    clock.advance(timedelta(minutes=31))
    assert reminders.check(workspace="T0WORK").reminded == 1
    fresh_store.update_item(workspace="T0WORK", item_id=item_id,
                            changes={"team": "triage", "card_channel": "C0TRIAGE",
                                     "assignees": ["U0DAN"]})
    assert reminders.check(workspace="T0WORK").reminded == 1
    assert reminders.check(workspace="T0WORK").reminded == 0
