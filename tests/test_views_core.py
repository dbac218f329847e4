"""What is waiting on whom and the stats figures, computed by the core for every platform."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from datetime import timedelta

import pytest

from bot.config import Config
from bot.intake import IntakeService
from bot.lifecycle import Lifecycle
from bot.metrics import Figures
from bot.ports import ChatError, Ports
from bot.store import Store, StoreBusy
from bot.views import CANT_CHECK, NOT_INTERNAL, Views, mine, stats
from tests.fakes import FrozenClock, RecordingChatPort, intake_request


def _views(store: Store, config: Config, clock: FrozenClock, chat: RecordingChatPort) -> Views:
    ports = Ports({"slack": chat})
    lifecycle = Lifecycle(store=store, config=config, port=ports, clock=clock)
    return Views(store=store, config=config, lifecycle=lifecycle, ports=ports, clock=clock)


async def _forward(intake: IntakeService, clock: FrozenClock, text: str, *,
                   forwarded_by: str = "U0SUPPORT") -> int:
    request = intake_request(at=clock(), text=text, forwarded_by=forwarded_by)
    return (await intake.forward(request)).item.id


async def test_stats_counts_new_and_answered_items_per_team_and_overall(
    fresh_store: Store, example_config: Config, clock: FrozenClock, intake: IntakeService
) -> None:
    chat = RecordingChatPort(internal_users={"U0ALICE"})
    views = _views(fresh_store, example_config, clock, chat)
    refund = await _forward(intake, clock, "the refund never arrived")
    await _forward(intake, clock, "the invoice is wrong")
    await _forward(intake, clock, "the app shows a crash at login")
    clock.advance(timedelta(minutes=30))
    await views.lifecycle.acknowledge(workspace="T0WORK", item_id=refund, user="U0ALICE",
                                      kind="button")
    clock.advance(timedelta(minutes=1))

    data = await views.stats(workspace="T0WORK", days=7)

    by_team = {row.team: row for row in data.rows}
    assert data.days == 7
    assert [row.team for row in data.rows] == [*example_config.teams, "all"]
    assert (by_team["payments"].new, by_team["payments"].responded,
            by_team["payments"].waiting) == (2, 1, 1)
    assert by_team["payments"].time_to_response.count == 1
    assert by_team["payments"].developer_response.median == timedelta(minutes=30)
    assert (by_team["mobile"].new, by_team["all"].new, by_team["all"].waiting) == (1, 3, 2)
    one_team = stats(store=fresh_store, config=example_config, workspace="T0WORK",
                     now=clock(), days=30, team="payments")
    assert [row.team for row in one_team.rows] == ["payments"]
    assert one_team.days == 30


async def test_mine_lists_what_waits_on_a_developer_and_on_the_forwarder_oldest_first(
    fresh_store: Store, example_config: Config, clock: FrozenClock, intake: IntakeService
) -> None:
    chat = RecordingChatPort(groups={"S0MOBILEDEV": ["U0EVE"]})
    views = _views(fresh_store, example_config, clock, chat)
    first = await _forward(intake, clock, "the refund never arrived")
    clock.advance(timedelta(minutes=5))
    second = await _forward(intake, clock, "a double charge on the invoice")
    crash = await _forward(intake, clock, "the app shows a crash at login")
    answered = await _forward(intake, clock, "the billing page is slow")
    await views.lifecycle.acknowledge(workspace="T0WORK", item_id=answered, user="U0BOB",
                                      kind="button")
    clock.advance(timedelta(hours=1))

    alice = await views.mine(workspace="T0WORK", user="U0ALICE")
    eve = await mine(store=fresh_store, lifecycle=views.lifecycle, workspace="T0WORK",
                     now=clock(), user="U0EVE")
    support = await views.mine(workspace="T0WORK", user="U0SUPPORT")

    assert [item.id for item in alice.theirs] == [first, second]
    assert alice.forwarded == [] and alice.now == clock()
    assert [item.id for item in eve.theirs] == [crash]  # a user group's member
    assert support.theirs == []
    assert [item.id for item in support.forwarded] == [first, second, crash]
    assert (await views.mine(workspace="T0WORK", user="U0NOBODY")).empty


async def test_mine_treats_a_team_whose_group_cant_be_read_as_not_theirs(
    fresh_store: Store, example_config: Config, clock: FrozenClock, intake: IntakeService
) -> None:
    chat = RecordingChatPort()  # S0MOBILEDEV unknown: reading it fails
    views = _views(fresh_store, example_config, clock, chat)
    await _forward(intake, clock, "the app shows a crash at login")
    data = await views.mine(workspace="T0WORK", user="U0EVE")
    assert data.empty


async def test_figures_are_for_internal_people_only_and_wait_when_the_platform_cant_say(
    fresh_store: Store, example_config: Config, clock: FrozenClock
) -> None:
    chat = RecordingChatPort(internal_users={"U0ALICE"})
    views = _views(fresh_store, example_config, clock, chat)
    assert await views.refusal(workspace="T0WORK", user="U0ALICE") is None
    assert await views.refusal(workspace="T0WORK", user="U0GUEST") == NOT_INTERNAL
    chat.fail_next("is_internal_user", ChatError("ratelimited", retry_after=1.0))
    assert await views.refusal(workspace="T0WORK", user="U0ALICE") == CANT_CHECK


async def test_my_teams_stats_shows_only_the_teams_the_person_is_on(
    fresh_store: Store, example_config: Config, clock: FrozenClock, intake: IntakeService
) -> None:
    chat = RecordingChatPort()
    views = _views(fresh_store, example_config, clock, chat)
    await _forward(intake, clock, "the refund never arrived")
    clock.advance(timedelta(minutes=1))
    data = await views.my_teams_stats(workspace="T0WORK", user="U0BOB")
    assert [(row.team, row.new) for row in data.rows] == [("payments", 1)]
    assert (await views.my_teams_stats(workspace="T0WORK", user="U0SUPPORT")).rows == []


async def test_figures_are_read_through_the_given_reader_off_the_event_loop(
    fresh_store: Store, example_config: Config, clock: FrozenClock, intake: IntakeService
) -> None:
    chat = RecordingChatPort(internal_users={"U0ALICE"})
    ports = Ports({"slack": chat})
    lifecycle = Lifecycle(store=fresh_store, config=example_config, port=ports, clock=clock)
    loop_thread = threading.get_ident()
    read_on: list[int] = []

    async def in_a_thread(work: Callable[[Store], Figures]) -> Figures:
        def run() -> Figures:
            read_on.append(threading.get_ident())
            return work(fresh_store)
        return await asyncio.to_thread(run)

    views = Views(store=fresh_store, config=example_config, lifecycle=lifecycle, ports=ports,
                  clock=clock, read_figures=in_a_thread)
    await _forward(intake, clock, "the refund never arrived")
    clock.advance(timedelta(minutes=1))

    data = await views.stats(workspace="T0WORK", days=7, team="payments")

    assert [(row.team, row.new) for row in data.rows] == [("payments", 1)]
    assert read_on and loop_thread not in read_on


async def test_figures_that_cannot_be_read_in_time_say_so(
    fresh_store: Store, example_config: Config, clock: FrozenClock
) -> None:
    chat = RecordingChatPort(internal_users={"U0ALICE"})
    ports = Ports({"slack": chat})
    lifecycle = Lifecycle(store=fresh_store, config=example_config, port=ports, clock=clock)

    async def too_slow(work: Callable[[Store], Figures]) -> Figures:
        raise StoreBusy("reading figures took longer than 2.5s")

    views = Views(store=fresh_store, config=example_config, lifecycle=lifecycle, ports=ports,
                  clock=clock, read_figures=too_slow)

    with pytest.raises(StoreBusy):
        await views.stats(workspace="T0WORK", days=7)
