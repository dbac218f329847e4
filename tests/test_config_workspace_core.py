"""Workspace sections in the core services: SLA reminders, relays and stats follow each
workspace's own config (recording fake ChatPort, both backends)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.config import Config, parse_config_text
from bot.intake import IntakeService
from bot.lifecycle import Lifecycle
from bot.models import Event, IntakeKind, IntakeRequest, SourceMessage, Status
from bot.outbox import OutboxWorker
from bot.ports import Ports
from bot.reminders import Reminders
from bot.store import Store
from bot.views import Views
from tests.fakes import FrozenClock, RecordingChatPort, make_item
from tests.slack_harness import EXAMPLE_CONFIG

START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
A, B = "T0AAA", "T0BBB"
CARD_TS = "1764000000.000100"

B_SECTION = """
workspaces:
  T0BBB:
    teams:
      payments: {channel: C0BPAY, owners: [U0BPAY]}
    fallback: payments
    customer_channels: {}
    relay: marked
    sla: {urgent: 10m}
"""


def sectioned_config() -> Config:
    loaded = parse_config_text(EXAMPLE_CONFIG.read_text() + B_SECTION)
    assert loaded.config is not None, loaded.problems
    return loaded.config


def carded(store: Store, workspace: str, channel: str, **fields) -> int:
    item = make_item(workspace=workspace, status=Status.ROUTED.value, card_channel=channel,
                     card_ts=CARD_TS, severity="urgent", forwarded_at=START,
                     received_at=START, **fields)
    return store.create_item(item=item, event=Event(0, "received", "U0SUPPORT", START),
                             outbox=[]).id


async def test_reminders_use_each_workspaces_sla_and_owners(fresh_store: Store):
    clock = FrozenClock(START)
    config = sectioned_config()
    chat = RecordingChatPort(clock=clock)
    worker = OutboxWorker(store=fresh_store, port=chat, config=config, clock=clock)
    reminders = Reminders(store=fresh_store, config=config, clock=clock)
    carded(fresh_store, A, "C0PAYMENTS", assignees=["U0ALICE"])
    carded(fresh_store, B, "C0BPAY")

    clock.advance(timedelta(minutes=10))
    counts = {key: reminders.check(workspace=key).reminded for key in (A, B)}
    await worker.drain_once()

    # B's section sets urgent to 10 minutes; A keeps the top level's 30.
    assert counts == {A: 0, B: 1}
    [notice] = [sent.notice for sent in chat.notices if sent.notice.kind == "reminder"]
    assert notice.conversation == "C0BPAY"
    assert notice.data["mentions"] == ["U0BPAY"] and notice.data["sla"] == "10m"


async def test_relays_follow_each_workspaces_relay_setting(fresh_store: Store):
    clock = FrozenClock(START)
    config = sectioned_config()
    chat = RecordingChatPort(clock=clock)
    lifecycle = Lifecycle(store=fresh_store, config=config, port=chat, clock=clock)
    ids = {A: carded(fresh_store, A, "C0PAYMENTS"), B: carded(fresh_store, B, "C0BPAY")}

    outcomes = {}
    for key, channel, user in ((A, "C0PAYMENTS", "U0ALICE"), (B, "C0BPAY", "U0BPAY")):
        outcomes[key] = await lifecycle.reply(
            workspace=key, card_channel=channel, thread_ts=CARD_TS, user=user,
            text="We are on it", reply_ts="1764000100.000200", marked=False)
    relayed = {key: [entry for entry in fresh_store.outbox_due(now=clock() + timedelta(1))
                     if entry.workspace == key and entry.item_id == ids[key]
                     and entry.payload.get("kind") == "relay"]
               for key in (A, B)}

    # Both replies are the first response; only A (relay: all) relays an unmarked one.
    assert all(outcome.changed for outcome in outcomes.values())
    assert len(relayed[A]) == 1 and relayed[B] == []


async def test_stats_list_each_workspaces_own_teams(fresh_store: Store):
    clock = FrozenClock(START)
    config = parse_config_text(EXAMPLE_CONFIG.read_text() + B_SECTION.replace(
        "      payments: {channel: C0BPAY, owners: [U0BPAY]}\n    fallback: payments\n",
        "      billing: {channel: C0BPAY, owners: [U0BPAY]}\n    fallback: billing\n")).config
    assert config is not None
    chat = RecordingChatPort(clock=clock)
    lifecycle = Lifecycle(store=fresh_store, config=config, port=chat, clock=clock)
    views = Views(store=fresh_store, config=config, lifecycle=lifecycle,
                  ports=Ports.of(chat), clock=clock)

    stats = {key: await views.stats(workspace=key, days=7) for key in (A, B)}

    assert [row.team for row in stats[A].rows][:-1] == ["payments", "mobile", "triage"]
    assert [row.team for row in stats[B].rows][:-1] == ["billing"]


async def test_cards_mention_the_owners_of_the_workspaces_own_team(fresh_store: Store):
    clock = FrozenClock(START)
    config = sectioned_config()
    chat = RecordingChatPort(clock=clock)
    chat.internal_users = {"U0SUPPORT"}
    worker = OutboxWorker(store=fresh_store, port=chat, config=config, clock=clock)
    intake = IntakeService(store=fresh_store, config=config, clock=clock, port=chat)
    for key in (A, B):
        await intake.forward(IntakeRequest(
            workspace=key, kind=IntakeKind.COMMAND, text="the invoice is wrong",
            forwarded_by="U0SUPPORT", received_at=clock(), forwarded_at=clock(),
            source=SourceMessage(channel=None, ts=None), intake_key=f"command:{key}"))
    await worker.drain_once()

    # Both go to a team called payments: A's owners are the top level's, B's its own.
    mentions = {card.item.workspace: (card.item.team, card.mentions) for card in chat.cards}
    assert mentions == {A: ("payments", ["U0ALICE", "U0BOB"]), B: ("payments", ["U0BPAY"])}
