"""The outbox sends Teams cards and notices through the Teams port, to a fake Bot Connector.

A 429 with Retry-After or a 5xx delays the send; it is made once when Teams takes it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from types import SimpleNamespace

import pytest

pytest.importorskip("microsoft_agents.hosting.core", reason="needs the teams extra")

from bot.conversations import ConversationBook
from bot.models import Event
from bot.outbox import OutboxWorker
from bot.ports import Ports
from bot.store import NewOutbox
from handlers.msteams.connector import ConnectorAccess
from handlers.msteams.connector_fake import FakeConnector
from handlers.msteams.port import TeamsChatPort
from storage import open_store
from tests.fakes import FrozenClock
from tests.msteams_world import (
    CAROL,
    CHANNEL,
    TENANT_ID,
    WORKSPACE,
    FixedToken,
    card_item,
    install_team,
    teams_config,
)


@pytest.fixture
async def outbox() -> AsyncIterator[SimpleNamespace]:
    """An outbox worker whose Teams port talks to a fake connector, on a frozen clock."""
    store = open_store("sqlite:///:memory:")
    clock = FrozenClock()
    async with FakeConnector() as fake:
        install_team(store, fake)
        config = teams_config()
        port = TeamsChatPort(config=config,
                             conversations=ConversationBook(store=store, platform="msteams",
                                                            clock=clock),
                             connector=ConnectorAccess(tokens=FixedToken()),
                             tenant_id=TENANT_ID, clock=clock)
        worker = OutboxWorker(store=store, port=Ports({"msteams": port}), config=config,
                              clock=clock)
        item = store.create_item(
            item=card_item(assignees=[], forwarded_at=clock(), received_at=clock()),
            event=Event(item_id=0, kind="received", actor="dave@example.com", at=clock()),
            outbox=[NewOutbox(kind="card")])
        yield SimpleNamespace(fake=fake, store=store, worker=worker, clock=clock, item=item)
        await port.close()
    store.close()


async def _drain(worker: OutboxWorker) -> int:
    delivered = 0
    while (sent := await worker.drain_once()):
        delivered += sent
    return delivered


async def test_a_rate_limited_card_waits_as_asked_and_is_posted_once(outbox):
    outbox.fake.rate_limit_next("send_to_conversation", retry_after=30)
    assert await _drain(outbox.worker) == 0
    (entry,) = outbox.store.outbox_for_item(workspace=WORKSPACE, item_id=outbox.item.id)
    assert entry.status == "pending" and "ratelimited" in (entry.last_error or "")
    assert entry.next_attempt_at == outbox.clock() + timedelta(seconds=30)

    outbox.clock.advance(timedelta(seconds=29))
    assert await _drain(outbox.worker) == 0
    assert len(outbox.fake.calls_to("send_to_conversation")) == 1

    outbox.clock.advance(timedelta(seconds=2))
    assert await _drain(outbox.worker) == 2  # the card, then the forwarder's notice
    item = outbox.store.get_item(workspace=WORKSPACE, item_id=outbox.item.id)
    assert item.card_channel == CHANNEL and item.card_platform == "msteams"
    assert list(outbox.fake.activities[CHANNEL]) == [item.card_ts]  # posted once
    card = outbox.fake.activities[CHANNEL][item.card_ts]["attachments"][0]["content"]
    assert card["msteams"]["entities"][0]["mentioned"]["id"] == CAROL

    chat = outbox.store.personal_conversation(platform="msteams", user="dave@example.com")
    assert chat is not None
    (notice,) = outbox.fake.activities[chat.conversation_id].values()
    assert "went to **mobile**" in str(notice["attachments"])


async def test_a_connector_outage_is_retried_later_and_nothing_is_lost(outbox):
    outbox.fake.fail_next("send_to_conversation", status=503, count=2)
    assert await _drain(outbox.worker) == 0
    (entry,) = outbox.store.outbox_for_item(workspace=WORKSPACE, item_id=outbox.item.id)
    assert entry.status == "pending" and entry.next_attempt_at > outbox.clock()
    for _ in range(2):
        outbox.clock.now = entry.next_attempt_at
        await _drain(outbox.worker)
        (entry,) = [e for e in outbox.store.outbox_for_item(
            workspace=WORKSPACE, item_id=outbox.item.id) if e.kind == "card"]
    assert entry.status == "sent"
    assert len(outbox.fake.activities[CHANNEL]) == 1
    assert len(outbox.fake.calls_to("send_to_conversation")) == 4  # 2 refused, card, notice


async def test_a_connector_outage_holds_back_the_tenants_other_cards_until_its_backoff_ends(
        outbox):
    outbox.fake.fail_next("send_to_conversation", status=503)
    assert await _drain(outbox.worker) == 0
    (entry,) = outbox.store.outbox_for_item(workspace=WORKSPACE, item_id=outbox.item.id)
    second = outbox.store.create_item(
        item=card_item(id=13, assignees=[], forwarded_at=outbox.clock(),
                       received_at=outbox.clock()),
        event=Event(item_id=0, kind="received", actor="dave@example.com", at=outbox.clock()),
        outbox=[NewOutbox(kind="card")])

    # The connector is failing for this tenant: its next card waits, unsent, with the first.
    assert await _drain(outbox.worker) == 0
    assert len(outbox.fake.calls_to("send_to_conversation")) == 1

    outbox.clock.now = entry.next_attempt_at
    assert await _drain(outbox.worker) == 4  # both cards, then both notices
    cards = {outbox.store.get_item(workspace=WORKSPACE, item_id=item_id).card_ts
             for item_id in (outbox.item.id, second.id)}
    assert len(cards) == 2 and None not in cards
