"""The first rule: nothing is ever posted into a channel shared with customers."""

from __future__ import annotations

from handlers.slack.standin.payloads import (
    block_actions,
    channel_shared_event,
    event_callback,
    message_event,
)
from tests.slack_harness import (
    example_config,
    forward_via_intake_channel,
    make_fake_slack,
    posts,
    running_bot,
)

SHARED = ("C0ACMESHARED", "C0GLOBEXSHARED")


def _anything_into(slack, channel: str) -> list:
    return [call for call in slack.calls
            if call.args.get("channel") == channel and call.method.startswith("chat.")]


async def test_a_team_channel_that_is_shared_gets_no_card_and_the_forwarder_is_told(tmp_path):
    config = example_config()
    teams = dict(config.teams)
    teams["triage"] = teams["triage"].model_copy(update={"channel": "C0GLOBEXSHARED"})
    config = config.model_copy(update={"teams": teams})
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "b.db",
                                                        config=config) as running:
        await running.slack.send_event(event_callback(message_event(
            channel="C0INTAKE", user="U0SUPPORT", text="a question about nothing in particular")))
        await running.settle()
        (item,) = running.store.list_items()
        assert item.team == "triage" and item.card_ts is None
        assert item.failed and "shared with another organisation" in item.failed
        # The item keeps plain words; Slack's notice links the channel.
        assert item.failed.startswith("the channel C0GLOBEXSHARED is shared")
        told = [call for call in posts(slack, "C0INTAKE") if "couldn't deliver" in
                call.args.get("text", "")]
        assert len(told) == 1
        assert "the channel <#C0GLOBEXSHARED> is shared" in told[0].args["text"]
        for channel in SHARED:
            assert _anything_into(slack, channel) == []


async def test_once_a_team_channel_becomes_shared_its_cards_are_left_alone(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "b.db") as running:
        item_id, channel, card_ts = await forward_via_intake_channel(
            slack, running, "the ios app crashes")
        slack.update_channel(channel, is_ext_shared=True)
        await running.slack.send_event(event_callback(channel_shared_event(
            channel=channel, connected_team_id="T0ACME")))
        await running.settle()
        before = len(_anything_into(slack, channel))
        await running.slack.send_interaction(block_actions(
            user_id="U0CAROL", action_id="fb_ack", value=str(item_id), channel_id=channel,
            message_ts=card_ts))
        await running.slack.send_interaction(block_actions(
            user_id="U0CUSTOMER", action_id="fb_resolve", value=str(item_id),
            channel_id=channel, message_ts=card_ts))
        await running.settle()
        item = running.store.get_item(workspace="T0DEMO", item_id=item_id)
        assert item.first_response_by == "U0CAROL"  # recorded, though the card can't change
        assert len(_anything_into(slack, channel)) == before
