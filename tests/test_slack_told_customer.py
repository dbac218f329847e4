"""Told the customer: the forwarder's notices offer it after the team's first response, and a
click records when the customer heard back, over Slack's real protocol."""

from __future__ import annotations

from typing import Any

from handlers.slack.standin.payloads import block_actions
from handlers.slack.standin.workspace import CUSTOMER, GUEST
from tests.slack_harness import (
    click_and_submit,
    forward_via_intake_channel,
    make_fake_slack,
    running_bot,
)

TOLD = "fb_told_customer"


def _notices(slack: Any, words: str) -> list[Any]:
    return [call for call in slack.calls_to("chat.postMessage")
            if call.args.get("channel") == "C0INTAKE" and words in call.args.get("text", "")]


def _buttons(call: Any) -> list[str]:
    blocks = call.args.get("blocks") or []
    return [element.get("action_id") for block in blocks if block.get("type") == "actions"
            for element in block.get("elements") or []]


def _ephemerals(slack: Any, user: str) -> list[str]:
    return [call.args.get("text", "") for call in slack.calls_to("chat.postEphemeral")
            if call.args.get("user") == user]


def _click(user: str, value: str, ts: str) -> dict[str, Any]:
    return block_actions(user_id=user, action_id=TOLD, value=value, channel_id="C0INTAKE",
                         message_ts=ts)


async def _acknowledged(slack: Any, running: Any) -> tuple[int, str, str]:
    item_id, channel, card_ts = await forward_via_intake_channel(
        slack, running, "refund missing for acme")
    await running.slack.send_interaction(block_actions(
        user_id="U0ALICE", action_id="fb_ack", value=str(item_id), channel_id=channel,
        message_ts=card_ts))
    await running.settle()
    return item_id, channel, card_ts


async def test_a_click_records_once_and_the_notices_stop_offering_it(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "b.db") as running:
        item_id, channel, card_ts = await _acknowledged(slack, running)
        routed = _notices(slack, "went to")
        assert routed and TOLD not in _buttons(routed[-1])  # no response yet: not offered
        [acknowledged] = _notices(slack, "is on feedback")
        assert _buttons(acknowledged) == [TOLD]
        notice_ts = acknowledged.response["ts"]
        # Talk among support in the intake thread is not an answer to the customer.
        from handlers.slack.standin.payloads import event_callback, message_event
        from tests.slack_harness import past_ts
        source_ts = running.store.get_item(workspace="T0DEMO", item_id=item_id).source_ts
        await running.slack.send_event(event_callback(message_event(
            channel="C0INTAKE", user="U0SUPPORT2", text="I'll call them", ts=past_ts(0),
            thread_ts=source_ts)))
        await running.settle()
        assert running.store.get_item(workspace="T0DEMO",
                                      item_id=item_id).customer_answered_at is None

        # A double click: the first records, the second changes nothing and says so.
        await running.slack.send_interaction(_click("U0SUPPORT", str(item_id), notice_ts))
        await running.settle()
        await running.slack.send_interaction(_click("U0SUPPORT2", str(item_id), notice_ts))
        await running.settle()

        item = running.store.get_item(workspace="T0DEMO", item_id=item_id)
        assert item.customer_answered_by == "U0SUPPORT"
        assert item.customer_answered_how == "button"
        assert item.customer_answered_at is not None
        assert item.customer_answered_at >= item.first_response_at
        events = running.store.events_for(workspace="T0DEMO", item_id=item_id)
        assert [e.actor for e in events if e.kind == "customer_answered"] == ["U0SUPPORT"]
        assert any("Noted: the customer heard back" in text
                   for text in _ephemerals(slack, "U0SUPPORT"))
        assert any("Already recorded" in text and "<@U0SUPPORT>" in text
                   for text in _ephemerals(slack, "U0SUPPORT2"))

        # The notice clicked is edited: who told the customer, and no button any more.
        edits = [call for call in slack.calls_to("chat.update")
                 if call.args.get("ts") == notice_ts]
        assert edits and TOLD not in _buttons(edits[-1])
        assert "The customer heard back: <@U0SUPPORT>" in str(edits[-1].args["blocks"])

        # The team's card says the loop is closed.
        card_updates = [call for call in slack.calls_to("chat.update")
                        if call.args.get("ts") == card_ts]
        assert "The customer heard back" in str(card_updates[-1].args["blocks"])

        # A later notice says who did, instead of offering the button again.
        await click_and_submit(
            slack, running, user="U0ALICE", action="fb_resolve", item_id=item_id,
            channel=channel, card_ts=card_ts,
            values={"note": {"value": {"type": "plain_text_input", "value": "refunded"}}})
        [resolved] = _notices(slack, "was resolved by")
        assert TOLD not in _buttons(resolved)
        assert "The customer heard back: <@U0SUPPORT>" in str(resolved.args["blocks"])


async def test_clicks_that_may_not_record_are_refused_plainly(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "b.db") as running:
        item_id, _, _ = await forward_via_intake_channel(slack, running, "refund missing")
        [routed] = _notices(slack, "went to")
        ts = routed.response["ts"]

        # Before any response from the team.
        await running.slack.send_interaction(_click("U0SUPPORT", str(item_id), ts))
        await running.settle()
        assert any("hasn't responded to feedback" in text
                   for text in _ephemerals(slack, "U0SUPPORT"))
        await running.slack.send_interaction(block_actions(
            user_id="U0ALICE", action_id="fb_ack", value=str(item_id),
            channel_id=running.store.get_item(workspace="T0DEMO", item_id=item_id).card_channel,
            message_ts=running.store.get_item(workspace="T0DEMO", item_id=item_id).card_ts))
        await running.settle()

        # A guest, and a person of another organisation (the customer).
        await running.slack.send_interaction(_click(GUEST, str(item_id), ts))
        await running.slack.send_interaction(_click(CUSTOMER, str(item_id), ts))
        # A forged id, an id of no item, and one that is no number.
        await running.slack.send_interaction(_click("U0SUPPORT2", "424242", ts))
        await running.slack.send_interaction(_click("U0SUPPORT2", "1; DROP TABLE items", ts))
        await running.settle()

        item = running.store.get_item(workspace="T0DEMO", item_id=item_id)
        assert item.customer_answered_at is None and item.customer_answered_by is None
        events = running.store.events_for(workspace="T0DEMO", item_id=item_id)
        assert not [e for e in events if e.kind == "customer_answered"]
        for outsider in (GUEST, CUSTOMER):
            assert any("Only members of this workspace" in text
                       for text in _ephemerals(slack, outsider)), outsider
        assert len([text for text in _ephemerals(slack, "U0SUPPORT2")
                    if "no longer exists" in text]) == 2


async def test_a_reply_by_support_in_the_customers_thread_closes_the_loop(tmp_path):
    from bot.models import ts_to_datetime
    from handlers.slack.standin.payloads import (
        event_callback,
        message_event,
        reaction_added_event,
    )
    from handlers.slack.standin.workspace import CUSTOMER_TEAM_ID
    from tests.slack_harness import past_ts

    async def say(user: str | None, text: str, *, thread: str, channel: str = "C0ACMESHARED",
                  team: str = "T0DEMO", bot_id: str | None = None) -> str:
        ts = past_ts(0)
        await running.slack.send_event(event_callback(message_event(
            channel=channel, user=user, text=text, ts=ts, thread_ts=thread, team=team,
            bot_id=bot_id, subtype="bot_message" if bot_id else None),
            is_ext_shared_channel=channel == "C0ACMESHARED"))
        await running.settle()
        return ts

    def told() -> tuple[Any, list[Any]]:
        item = running.store.get_item(workspace="T0DEMO", item_id=item_id)
        events = running.store.events_for(workspace="T0DEMO", item_id=item_id)
        return item, [e for e in events if e.kind == "customer_answered"]

    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "b.db") as running:
        said = past_ts(3600)
        slack.add_message("C0ACMESHARED", user=CUSTOMER, ts=said,
                          text="our refund is missing since Monday")
        await running.slack.send_event(event_callback(reaction_added_event(
            user="U0SUPPORT", reaction="inbox_tray", channel="C0ACMESHARED", ts=said)))
        await running.settle()
        [item] = running.store.list_items()
        item_id = item.id
        assert (item.source_channel, item.source_ts) == ("C0ACMESHARED", said)

        # Before the team's first response, support's reply is not the answer yet.
        await say("U0SUPPORT2", "looking into it", thread=said)
        assert told()[0].customer_answered_at is None
        await running.slack.send_interaction(block_actions(
            user_id="U0ALICE", action_id="fb_ack", value=str(item_id),
            channel_id=item.card_channel or "", message_ts=item.card_ts or ""))
        await running.settle()
        [ack_notice] = [call for call in slack.calls_to("chat.postMessage")
                        if "is on feedback" in call.args.get("text", "")]
        assert _buttons(ack_notice) == [TOLD]

        # The customer, a guest, another bot and the bot itself never count.
        await say(CUSTOMER, "any news?", thread=said, team=CUSTOMER_TEAM_ID)
        await say(GUEST, "+1", thread=said)
        await say(None, "build 512 deployed", thread=said, bot_id="B0OTHER")
        await say("U0BOT", "echo", thread=said)
        # Nor a reply in another thread, or in the intake channel.
        await say("U0SUPPORT2", "refund sent", thread=past_ts(60))
        await say("U0SUPPORT2", "refund sent", thread=said, channel="C0INTAKE")
        assert told()[0].customer_answered_at is None and told()[1] == []

        answer_ts = await say("U0SUPPORT2", "The refund went out today, sorry!", thread=said)
        await say("U0SUPPORT", "and a voucher", thread=said)
        item, events = told()
        assert item.customer_answered_by == "U0SUPPORT2"
        assert item.customer_answered_how == "thread"
        assert item.customer_answered_at == ts_to_datetime(answer_ts)
        assert [e.actor for e in events] == ["U0SUPPORT2"]
        # The forwarder's notice no longer offers the button.
        edits = [call for call in slack.calls_to("chat.update")
                 if call.args.get("ts") == ack_notice.response["ts"]]
        assert edits and TOLD not in _buttons(edits[-1])
        assert "a reply in the customer's thread" in str(edits[-1].args["blocks"])


async def test_stats_show_the_whole_loop_with_unknowns_apart(tmp_path):
    from handlers.slack.standin.payloads import slash_command
    from tests.test_slack_command import ack_text

    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "b.db") as running:
        told_id, _, _ = await _acknowledged(slack, running)
        other_id, channel, card_ts = await forward_via_intake_channel(
            slack, running, "acme says the invoice PDF shows the wrong VAT number")
        await running.slack.send_interaction(block_actions(
            user_id="U0BOB", action_id="fb_ack", value=str(other_id), channel_id=channel,
            message_ts=card_ts))
        await running.settle()
        [notice] = [call for call in _notices(slack, "is on feedback")
                    if f"#{told_id}" in call.args["text"]]
        await running.slack.send_interaction(_click("U0SUPPORT", str(told_id),
                                                    notice.response["ts"]))
        await running.settle()

        response = await running.slack.send_command(slash_command(
            text="stats payments", user_id="U0ALICE", channel_id="C0GENERAL"))
        text = ack_text(response)
        assert "• Until the customer heard back: median" in text
        assert "(1 item)" in text and text.endswith("; 1 of 2 unknown")
        response = await running.slack.send_command(slash_command(
            text="stats", user_id="U0ALICE", channel_id="C0GENERAL"))
        assert ack_text(response).count("Until the customer heard back") == 4


async def test_a_click_from_another_workspace_never_touches_this_ones_item(tmp_path):
    from tests.oauth_harness import install, running_oauth_bot
    from tests.test_slack_workspace_isolation import A, B, forward

    async with make_fake_slack() as slack, \
            running_oauth_bot(slack, tmp_path / "bot.db") as running:
        slack.add_user("U0BSUP", "bravo-support", team_id=B)
        await install(slack, running.url, team_id=A, bot_user_id="U0BOTA")
        await install(slack, running.url, team_id=B, bot_user_id="U0BOTB")
        await forward(running, team=A, user="U0SUPPORT", bot_user="U0BOTA",
                      text="alpha refund never arrived")
        [item] = running.store.list_items()
        await running.slack.send_interaction(block_actions(
            user_id="U0ALICE", action_id="fb_ack", value=str(item.id), team_id=A,
            channel_id=str(item.card_channel), message_ts=str(item.card_ts)))
        await running.settle()

        # Support of workspace B clicks with A's item id (forged, or from a Grid sibling).
        await running.slack.send_interaction(block_actions(
            user_id="U0BSUP", action_id=TOLD, value=str(item.id), team_id=B,
            channel_id="C0INTAKE", message_ts="1764000000.000100"))
        await running.settle()

        after = running.store.get_item(workspace=A, item_id=item.id)
        assert after is not None and after.customer_answered_at is None
        assert not [e for e in running.store.events_for(workspace=A, item_id=item.id)
                    if e.kind == "customer_answered"]
        assert any("no longer exists" in text for text in _ephemerals(slack, "U0BSUP"))
