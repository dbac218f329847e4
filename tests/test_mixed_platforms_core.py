"""Mixed organisations: support on one platform, developers on the other, one set of items."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest

from bot.config import Config, parse_config_text
from bot.digest_service import DigestService
from bot.intake import IntakeService
from bot.lifecycle import Lifecycle
from bot.models import IntakeKind
from bot.outbox import OutboxWorker
from bot.ports import Ports
from bot.store import Store
from tests.fakes import FrozenClock, RecordingChatPort, intake_request

TEAMS_CHANNEL = "19:mobile@thread.tacv2"
CONFIG = f"""
teams:
  payments:
    channel: C0PAYMENTS
    owners: [U0ALICE]
    keywords: [refund]
  mobile:
    msteams:
      channel: "{TEAMS_CHANNEL}"
      owners: [carol@example.com]
    keywords: [crash]
  web:
    channel: C0WEB
    owners: [U0DAN]
    msteams: {{channel: "19:web@thread.tacv2", owners: [dan@example.com]}}
fallback: payments
digests:
  - msteams_channel: "19:managers@thread.tacv2"
    at: "09:00"
"""


@pytest.fixture
def config() -> Config:
    loaded = parse_config_text(CONFIG)
    assert loaded.config is not None, loaded.problems
    return loaded.config


class Org:
    """The core of one deployment with a recording port per platform."""

    def __init__(self, store: Store, config: Config) -> None:
        self.clock = FrozenClock()
        self.slack = RecordingChatPort(team_channels={"payments": "C0PAYMENTS",
                                                      "web": "C0WEB"},
                                       internal_users={"U0SUPPORT"}, clock=self.clock)
        self.teams = RecordingChatPort(team_channels={"mobile": TEAMS_CHANNEL,
                                                      "web": "19:web@thread.tacv2"},
                                       internal_users={"sam@example.com",
                                                       "carol@example.com"},
                                       clock=self.clock)
        ports = Ports({"slack": self.slack, "msteams": self.teams})
        self.store = store
        self.intake = IntakeService(store=store, config=config, clock=self.clock, port=ports)
        self.lifecycle = Lifecycle(store=store, config=config, port=ports, clock=self.clock)
        self.digests = DigestService(store=store, config=config, clock=self.clock,
                                     platforms=("slack", "msteams"))
        self.outbox = OutboxWorker(store=store, port=ports, config=config, clock=self.clock,
                                   digests=self.digests)

    async def drain(self) -> None:
        """Send everything due, including what sending queues (a card's confirmation)."""
        while await self.outbox.drain_once():
            pass


async def test_slack_feedback_for_a_teams_team_goes_to_teams_and_answers_go_back_to_slack(
    fresh_store: Store, config: Config,
) -> None:
    org = Org(fresh_store, config)
    result = await org.intake.forward(intake_request(at=org.clock(), text="app crash on login",
                                                     workspace="T0WORK"))
    item = result.item
    assert (item.team, item.platform, item.card_platform) == ("mobile", "slack", "msteams")
    await org.drain()
    (card,) = org.teams.cards
    assert card.posted.conversation == TEAMS_CHANNEL
    assert card.mentions == ["carol@example.com"]
    assert org.slack.cards == []
    # The "routed" confirmation goes back to the forwarder, on Slack.
    assert [(n.notice.kind, n.notice.user) for n in org.slack.notices] == [
        ("routed", "U0SUPPORT")]

    # A Slack person is not on the Teams team; its Teams owner's acknowledgement counts.
    refused = await org.lifecycle.acknowledge(workspace="T0WORK", item_id=item.id,
                                              user="U0ALICE", kind="button")
    assert not refused.changed
    org.clock.advance(timedelta(minutes=30))
    done = await org.lifecycle.acknowledge(workspace="T0WORK", item_id=item.id,
                                           user="carol@example.com", kind="button")
    assert done.changed and done.item is not None
    assert done.item.first_response_by == "carol@example.com"
    await org.drain()
    assert [n.notice.kind for n in org.slack.notices] == ["routed", "acknowledged"]
    assert org.teams.notices == []
    assert [updated.id for updated in org.teams.updates] == [item.id]


async def test_reassigning_across_platforms_moves_the_card_and_keeps_the_forwarder(
    fresh_store: Store, config: Config,
) -> None:
    org = Org(fresh_store, config)
    item = (await org.intake.forward(intake_request(
        at=org.clock(), text="app crash", kind=IntakeKind.DIRECT, workspace="T0WORK",
        forwarded_by="sam@example.com", platform="msteams", channel=None))).item
    await org.drain()
    (old,) = org.teams.cards
    moved = await org.lifecycle.reassign(workspace="T0WORK", item_id=item.id,
                                         user="carol@example.com", to_team="payments")
    assert moved.changed and moved.item is not None
    assert moved.item.card_platform == "slack"
    await org.drain()
    (new,) = org.slack.cards
    assert new.posted.conversation == "C0PAYMENTS"
    # The old card, on Teams, points to the new one; the forwarder hears it on Teams.
    assert [(i.id, conversation, message) for i, conversation, message in org.teams.moved] == [
        (item.id, old.posted.conversation, old.posted.message)]
    assert {n.notice.kind for n in org.teams.notices} == {"routed", "reassigned"}
    assert all(n.notice.user == "sam@example.com" for n in org.teams.notices)
    assert [n.notice.kind for n in org.slack.notices] == []


async def test_a_team_on_both_platforms_gets_the_card_where_the_feedback_came_from(
    fresh_store: Store, config: Config,
) -> None:
    org = Org(fresh_store, config)
    from_slack = (await org.intake.forward(intake_request(
        at=org.clock(), text="checkout", team="web"))).item
    from_teams = (await org.intake.forward(intake_request(
        at=org.clock(), text="checkout", team="web", kind=IntakeKind.DIRECT,
        forwarded_by="sam@example.com", platform="msteams", channel=None))).item
    assert (from_slack.card_platform, from_teams.card_platform) == ("slack", "msteams")
    assert from_slack.id != from_teams.id  # one numbering for the whole organisation


async def test_the_digest_counts_items_of_both_platforms(fresh_store: Store,
                                                         config: Config) -> None:
    org = Org(fresh_store, config)
    for text, platform, user in (("refund", "slack", "U0SUPPORT"),
                                 ("app crash", "msteams", "sam@example.com")):
        await org.intake.forward(intake_request(
            at=org.clock(), text=text, workspace="T0WORK", forwarded_by=user,
            platform=platform, kind=IntakeKind.DIRECT if platform == "msteams"
            else IntakeKind.SHORTCUT, channel=None if platform == "msteams" else "C0S"))
    await org.drain()
    data = org.digests.build(workspace="T0WORK", index=0, local_date=org.clock().date(),
                             late=False, window_end=org.clock() + timedelta(hours=1))
    waiting = sorted(row.item.team for row in data.longest_waiting)
    assert waiting == ["mobile", "payments"]


async def test_an_owner_written_with_capitals_in_the_config_is_still_the_owner(
    fresh_store: Store,
) -> None:
    # Teams gives the UPN in whatever case the directory holds; the config may differ.
    loaded = parse_config_text(CONFIG.replace("carol@example.com", "Carol@Example.com"))
    assert loaded.config is not None, loaded.problems
    org = Org(fresh_store, loaded.config)
    item = (await org.intake.forward(intake_request(at=org.clock(), text="app crash"))).item
    await org.drain()
    done = await org.lifecycle.acknowledge(workspace=item.workspace, item_id=item.id,
                                           user="carol@example.com", kind="button")
    assert done.changed and done.item is not None
    assert done.item.first_response_by == "carol@example.com"
    # Slack ids stay exact: another case is another (made-up) id.
    other = await org.intake.forward(intake_request(at=org.clock(), text="refund"))
    refused = await org.lifecycle.acknowledge(workspace=item.workspace,
                                              item_id=other.item.id, user="u0alice",
                                              kind="button")
    assert not refused.changed


async def test_a_digest_subscription_on_teams_is_posted_through_the_teams_port(
    fresh_store: Store, config: Config,
) -> None:
    org = Org(fresh_store, config)
    await org.intake.forward(intake_request(at=org.clock(), text="refund"))
    claimed = org.digests.claim_current(workspace="T0WORK", force=True)
    assert len(claimed) == 1
    await org.drain()
    assert org.slack.digests == []
    ((data, chart, posted),) = org.teams.digests
    assert posted.conversation == "19:managers@thread.tacv2"
    assert chart.startswith(b"\x89PNG") and data.figures.waiting


async def test_an_edited_reply_is_edited_where_the_teams_forwarder_got_it(
    fresh_store: Store, config: Config,
) -> None:
    org = Org(fresh_store, config)
    item = (await org.intake.forward(intake_request(
        at=org.clock(), text="refund missing", kind=IntakeKind.DIRECT, workspace="T0WORK",
        forwarded_by="sam@example.com", platform="msteams", channel=None))).item
    await org.drain()
    card = org.store.get_item(workspace="T0WORK", item_id=item.id)
    assert card is not None and card.card_platform == "slack" and card.card_channel
    await org.lifecycle.reply(workspace="T0WORK", card_channel=card.card_channel,
                              thread_ts=str(card.card_ts), user="U0ALICE",
                              text="on its way", reply_ts="1714990000.000100", marked=False)
    await org.drain()
    (relay,) = [n for n in org.teams.notices if n.notice.kind == "relay"]
    await org.lifecycle.reply_changed(workspace="T0WORK", card_channel=card.card_channel,
                                      thread_ts=str(card.card_ts), reply_ts="1714990000.000100",
                                      text="on its way, sent today")
    await org.drain()
    assert [(conversation, message) for conversation, message, _ in org.teams.edits] == [
        (relay.posted.conversation, relay.posted.message)]
    assert org.slack.edits == []


async def test_a_digest_for_a_teams_channel_is_posted_on_teams(fresh_store: Store,
                                                               config: Config) -> None:
    org = Org(fresh_store, config)
    claimed = org.digests.claim_window(workspace="T0WORK", index=0,
                                       start=org.clock() - timedelta(days=1))
    assert claimed is not None

    await org.drain()

    assert [posted.conversation for _, _, posted in org.teams.digests] == [
        "19:managers@thread.tacv2"]
    assert org.slack.calls == []


async def test_a_digest_is_read_off_the_event_loop(fresh_store: Store, config: Config,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    # At a million items a digest reads for a second: the event loop must go on answering.
    org = Org(fresh_store, config)
    await org.intake.forward(intake_request(at=org.clock(), text="refund"))
    read_in: list[int] = []
    reading = fresh_store.figure_rows

    def noting_the_thread(**kwargs: Any) -> Any:
        read_in.append(threading.get_ident())
        return reading(**kwargs)

    monkeypatch.setattr(fresh_store, "figure_rows", noting_the_thread)
    assert org.digests.claim_current(workspace="T0WORK", force=True)
    await org.drain()
    assert org.teams.digests and read_in
    assert threading.get_ident() not in read_in
