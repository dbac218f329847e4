"""The "+1" flow in the core (bot/links.py): hold, offer, link, shared answers, unlink.

Both storage backends; the recording fake ChatPort stands in for the platform.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from bot.config import Config
from bot.figure_rows import is_waiting
from bot.intake import IntakeRejected, IntakeService
from bot.lifecycle import Lifecycle
from bot.links import NEW, PLUS_ONE, Links
from bot.outbox import OutboxWorker
from bot.outbox_kinds import CARD, CARD_UPDATE, NOTICE
from bot.store import Store
from tests.fakes import FrozenClock, RecordingChatPort, intake_request

WS = "T0WORK"
FIRST = "The iOS app crashes every time I open the camera to scan a receipt"
SAME = "iOS app keeps crashing when opening the camera for receipt scanning"
OTHER = "Please add an export of invoices to CSV for the finance team"


@pytest.fixture
def chat(example_config: Config, clock: FrozenClock) -> RecordingChatPort:
    port = RecordingChatPort.for_config(example_config, clock=clock)
    port.internal_users = {"U0SUPPORT", "U0SUPPORT2"}
    port.groups = {"S0MOBILEDEV": ["U0CAROL", "U0ERIN"]}
    return port


@pytest.fixture
def intake(fresh_store: Store, example_config: Config, clock: FrozenClock,
           chat: RecordingChatPort) -> IntakeService:
    return IntakeService(store=fresh_store, config=example_config, clock=clock, port=chat)


@pytest.fixture
def lifecycle(fresh_store: Store, example_config: Config, clock: FrozenClock,
              chat: RecordingChatPort) -> Lifecycle:
    return Lifecycle(store=fresh_store, config=example_config, port=chat, clock=clock)


@pytest.fixture
def links(fresh_store: Store, example_config: Config, clock: FrozenClock,
          lifecycle: Lifecycle) -> Links:
    return Links(store=fresh_store, config=example_config, clock=clock,
                 may_manage=lifecycle.may_manage)


@pytest.fixture
def worker(fresh_store: Store, example_config: Config, clock: FrozenClock,
           chat: RecordingChatPort) -> OutboxWorker:
    return OutboxWorker(store=fresh_store, port=chat, config=example_config, clock=clock)


async def _forward(intake: IntakeService, clock: FrozenClock, text: str, **extra: object):
    return (await intake.forward(intake_request(at=clock(), text=text, **extra))).item


async def _carded(intake: IntakeService, worker: OutboxWorker, clock: FrozenClock,
                  text: str = FIRST):
    item = await _forward(intake, clock, text)
    await _drain(worker)
    return item


async def _drain(worker: OutboxWorker) -> None:
    """Send everything due now, and what sending it queued."""
    while await worker.drain_once():
        pass


async def test_no_match_sends_the_card_at_once(intake, worker, fresh_store, clock, chat):
    await _carded(intake, worker, clock)
    other = await _forward(intake, clock, OTHER)
    due = fresh_store.outbox_due(now=clock())
    assert [(e.kind, e.item_id) for e in due] == [(CARD, other.id)]
    assert not [n for n in chat.notices if n.notice.kind == "offer"]


async def test_a_match_is_offered_at_once_and_its_card_held_for_the_hold(
        intake, worker, fresh_store, clock, chat):
    first = await _carded(intake, worker, clock)
    second = await _forward(intake, clock, SAME, forwarded_by="U0SUPPORT2")
    entries = fresh_store.outbox_for_item(workspace=WS, item_id=second.id)
    assert [(e.kind, e.payload.get("kind")) for e in entries] == [(NOTICE, "offer"), (CARD, None)]
    assert entries[1].next_attempt_at == clock() + timedelta(minutes=3)
    await _drain(worker)
    offer = [n for n in chat.notices if n.notice.kind == "offer"]
    assert len(offer) == 1 and offer[0].notice.user == "U0SUPPORT2"
    assert offer[0].notice.data["match"] == first.id
    assert len(chat.cards) == 1

    clock.advance(timedelta(minutes=2, seconds=59))
    await _drain(worker)
    assert len(chat.cards) == 1
    clock.advance(timedelta(seconds=1))
    await _drain(worker)
    assert [card.item.id for card in chat.cards] == [first.id, second.id]


def test_the_hold_is_configurable_within_bounds(example_config: Config) -> None:
    data = example_config.model_dump()
    assert Config.model_validate({**data, "offer_hold_minutes": 10}).offer_hold_minutes == 10
    assert Config.model_validate({**data, "offer_hold_minutes": 0}).offer_hold_minutes == 0
    for wrong in (-1, 16, "3"):
        with pytest.raises(ValidationError):
            Config.model_validate({**data, "offer_hold_minutes": wrong})


async def test_a_hold_of_zero_offers_nothing(fresh_store, example_config, clock, chat,
                                             worker):
    config = example_config.model_copy(update={"offer_hold_minutes": 0})
    intake = IntakeService(store=fresh_store, config=config, clock=clock, port=chat)
    await _carded(intake, worker, clock)
    second = await _forward(intake, clock, SAME)
    assert [(e.kind, e.item_id) for e in fresh_store.outbox_due(now=clock())] == [
        (CARD, second.id)]


async def test_a_workspace_section_sets_its_own_hold(fresh_store, example_config, clock,
                                                     chat, worker):
    data = example_config.model_dump(exclude_unset=True)
    config = Config.model_validate({**data, "workspaces": {"T0QUIET": {
        "offer_hold_minutes": 0}}})
    intake = IntakeService(store=fresh_store, config=config, clock=clock, port=chat)
    for workspace in (WS, "T0QUIET"):
        first = await _forward(intake, clock, FIRST, workspace=workspace)
        await _drain(worker)
        second = await _forward(intake, clock, SAME, workspace=workspace)
        due = [e.kind for e in fresh_store.outbox_due(now=clock())
               if e.item_id == second.id and e.workspace == workspace]
        # Offers are on where the section says nothing, off where it says 0.
        assert due == ([NOTICE] if workspace == WS else [CARD]), workspace
        assert first.workspace == workspace


async def test_its_new_in_the_request_offers_nothing(intake, worker, fresh_store, clock):
    await _carded(intake, worker, clock)
    second = await _forward(intake, clock, SAME, as_new=True)
    assert [e.kind for e in fresh_store.outbox_due(now=clock())] == [CARD]
    assert fresh_store.outbox_due(now=clock())[0].item_id == second.id


async def test_a_choice_in_the_form_links_at_once(intake, worker, fresh_store, clock, chat):
    first = await _carded(intake, worker, clock)
    second = await _forward(intake, clock, OTHER, link_to=first.id)
    assert second.linked_to == first.id
    await _drain(worker)
    clock.advance(timedelta(minutes=10))
    await _drain(worker)
    assert [card.item.id for card in chat.cards] == [first.id]
    assert [u.id for u in chat.updates] == [first.id]
    linked = [n for n in chat.notices if n.notice.kind == "linked"]
    assert len(linked) == 1 and linked[0].item.id == second.id


async def test_a_choice_of_an_unknown_item_is_refused(intake, fresh_store, clock):
    with pytest.raises(IntakeRejected) as refused:
        await _forward(intake, clock, OTHER, link_to=4242)
    assert refused.value.code == "no_such_item"
    assert fresh_store.list_items() == []


async def test_linked_items_are_answered_resolved_and_reopened_with_their_item(
        intake, worker, lifecycle, links, fresh_store, clock, chat):
    first = await _carded(intake, worker, clock)
    second = await _forward(intake, clock, SAME, forwarded_by="U0SUPPORT2",
                            channel="C0OTHER")
    outcome = await links.answer(workspace=WS, item_id=second.id, user="U0SUPPORT2",
                                 choice=PLUS_ONE, match=first.id)
    assert outcome.changed and outcome.code == "linked"
    held = fresh_store.get_item(workspace=WS, item_id=second.id)
    assert is_waiting(held) is False
    assert second.id not in {i.id for i in fresh_store.waiting_items(workspace=WS)}

    clock.advance(timedelta(minutes=5))
    await lifecycle.acknowledge(workspace=WS, item_id=first.id, user="U0CAROL", kind="button")
    answered = fresh_store.get_item(workspace=WS, item_id=second.id)
    assert (answered.first_response_at, answered.first_response_by) == (clock(), "U0CAROL")
    await _drain(worker)
    heard = [n for n in chat.notices if n.notice.kind == "acknowledged"]
    assert {n.notice.user for n in heard} == {"U0SUPPORT", "U0SUPPORT2"}
    assert [n.notice.data.get("plus_one") for n in heard
            if n.notice.user == "U0SUPPORT2"] == [second.id]

    await lifecycle.resolve(workspace=WS, item_id=first.id, user="U0CAROL", note="fixed")
    resolved = fresh_store.get_item(workspace=WS, item_id=second.id)
    assert (resolved.status, resolved.resolution_note) == ("resolved", "fixed")
    await lifecycle.reopen(workspace=WS, item_id=first.id, user="U0CAROL")
    assert fresh_store.get_item(workspace=WS, item_id=second.id).status == "reopened"


async def test_linking_to_an_answered_item_answers_at_link_time_and_says_what_is_known(
        intake, worker, lifecycle, links, fresh_store, clock, chat):
    first = await _carded(intake, worker, clock)
    await lifecycle.acknowledge(workspace=WS, item_id=first.id, user="U0CAROL", kind="button")
    second = await _forward(intake, clock, SAME, forwarded_by="U0SUPPORT2")
    await _drain(worker)
    clock.advance(timedelta(minutes=1))
    await links.answer(workspace=WS, item_id=second.id, user="U0SUPPORT2", choice=PLUS_ONE,
                       match=first.id)
    linked = fresh_store.get_item(workspace=WS, item_id=second.id)
    assert linked.first_response_at == clock()
    await _drain(worker)
    [(_, _, edited)] = chat.edits
    assert edited.kind == "linked" and edited.data["acknowledged_by"] == "U0CAROL"


async def test_answers_are_idempotent_and_late_ones_change_nothing(
        intake, worker, links, fresh_store, clock):
    first = await _carded(intake, worker, clock)
    second = await _forward(intake, clock, SAME, forwarded_by="U0SUPPORT2")
    new = await links.answer(workspace=WS, item_id=second.id, user="U0SUPPORT2", choice=NEW)
    again = await links.answer(workspace=WS, item_id=second.id, user="U0SUPPORT2", choice=NEW)
    assert (new.code, again.code) == ("sent_as_new", "already_new")
    await _drain(worker)
    late = await links.answer(workspace=WS, item_id=second.id, user="U0SUPPORT2",
                              choice=PLUS_ONE, match=first.id)
    assert (late.changed, late.code) == (False, "too_late")
    forged = await links.answer(workspace=WS, item_id=second.id, user="U0SUPPORT2",
                                choice=PLUS_ONE, match=second.id)
    elsewhere = await links.answer(workspace="T0ELSE", item_id=second.id, user="U0SUPPORT2",
                                   choice=NEW)
    assert (forged.code, elsewhere.code) == ("not_found", "not_found")


async def test_a_card_being_posted_can_no_longer_be_linked(intake, worker, links,
                                                           fresh_store, clock):
    first = await _carded(intake, worker, clock)
    second = await _forward(intake, clock, SAME, forwarded_by="U0SUPPORT2")
    await _drain(worker)  # the offer
    clock.advance(timedelta(minutes=3))
    leased = fresh_store.outbox_lease_due(owner="other", now=clock(),
                                          until=clock() + timedelta(minutes=2), limit=10)
    assert [(e.kind, e.item_id) for e in leased] == [(CARD, second.id)]
    late = await links.answer(workspace=WS, item_id=second.id, user="U0SUPPORT2",
                              choice=PLUS_ONE, match=first.id)
    assert late.code == "too_late"
    assert fresh_store.get_item(workspace=WS, item_id=second.id).linked_to is None


async def test_unlink_by_the_owning_team_routes_it_as_new(intake, worker, links, lifecycle,
                                                          fresh_store, clock, chat):
    first = await _carded(intake, worker, clock)
    second = await _forward(intake, clock, OTHER, forwarded_by="U0SUPPORT2", link_to=first.id)
    await lifecycle.acknowledge(workspace=WS, item_id=first.id, user="U0CAROL", kind="button")
    refused = await links.unlink(workspace=WS, item_id=second.id, user="U0SUPPORT2")
    assert refused.code == "not_yours"
    done = await links.unlink(workspace=WS, item_id=second.id, user="U0CAROL")
    assert done.changed and done.code == "unlinked"
    again = await links.unlink(workspace=WS, item_id=second.id, user="U0CAROL")
    assert again.code == "not_linked"
    item = fresh_store.get_item(workspace=WS, item_id=second.id)
    assert (item.linked_to, item.first_response_at, item.status) == (None, None, "received")
    kinds = [e.kind for e in fresh_store.outbox_for_item(workspace=WS, item_id=first.id)]
    assert kinds.count(CARD_UPDATE) >= 2
    await _drain(worker)
    assert second.id in [card.item.id for card in chat.cards]
    assert any(n.notice.kind == "unlinked" for n in chat.notices)


async def test_a_plus_one_is_never_offered_itself(intake, worker, links, fresh_store, clock):
    first = await _carded(intake, worker, clock)
    second = await _forward(intake, clock, SAME, link_to=first.id)
    match = links.offer(workspace=WS, text=SAME, team="mobile")
    assert match is not None and match["match"] == first.id
    assert match["customers"] == 2
    # The form lists the item, never its +1 (which says the very same words).
    listed = links.candidates(workspace=WS, text=SAME, team="mobile", floor=0.0)
    assert [item.id for item in listed] == [first.id]
    assert second.id != first.id


async def test_forgetting_a_person_erases_who_linked_an_item(intake, worker, fresh_store,
                                                             clock):
    from bot.erasure import ERASED, Person

    first = await _carded(intake, worker, clock)
    second = await _forward(intake, clock, OTHER, forwarded_by="U0SUPPORT2", link_to=first.id)
    assert fresh_store.get_item(workspace=WS, item_id=second.id).linked_by == "U0SUPPORT2"
    fresh_store.forget_person(person=Person(user="U0SUPPORT2"), now=clock())
    forgotten = fresh_store.get_item(workspace=WS, item_id=second.id)
    assert forgotten.linked_by == ERASED and forgotten.linked_to == first.id
