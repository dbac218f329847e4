"""App Home shows a person's waiting items with their buttons, and their teams' figures."""

from __future__ import annotations

from datetime import timedelta

from handlers.slack.standin.payloads import event_callback
from tests.fakes import FrozenClock
from tests.slack_harness import forward_via_intake_channel, make_fake_slack, running_bot


def app_home_opened(user: str, tab: str = "home") -> dict:
    """Slack's app_home_opened event."""
    return {"type": "app_home_opened", "user": user, "channel": "D0HOME", "tab": tab,
            "event_ts": "1764201600.000100"}


async def test_home_lists_waiting_items_with_buttons_and_team_figures(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "b.db") as running:
        item_id, _, _ = await forward_via_intake_channel(slack, running, "refund not received")
        await forward_via_intake_channel(slack, running, "the ios app crashes")
        await running.slack.send_event(event_callback(app_home_opened("U0BOB")))
        (call,) = await slack.wait_for("views.publish")
        assert call.args["user_id"] == "U0BOB"
        view = call.args["view"]
        assert view["type"] == "home"
        text = str(view["blocks"])
        assert "refund not received" in text and "ios app" not in text
        buttons = [element["action_id"] for block in view["blocks"]
                   if block["type"] == "actions" for element in block["elements"]]
        assert "fb_ack" in buttons and "fb_resolve" in buttons
        assert "*payments*, last 7 days: 1 new" in text
        assert f"#{item_id}" in text


async def test_messages_tab_opening_publishes_nothing(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "b.db") as running:
        await running.slack.send_event(event_callback(app_home_opened("U0BOB", "messages")))
        await running.settle()
        assert slack.calls_to("views.publish") == []


async def test_an_overdue_card_gets_one_reminder_in_its_thread(tmp_path):
    clock = FrozenClock()
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "b.db",
                                                        clock=clock) as running:
        await running.slack.send_event(event_callback({
            "type": "message", "channel": "C0INTAKE", "user": "U0SUPPORT",
            "text": "urgent: refunds are failing for everyone", "ts": f"{clock().timestamp():.6f}",
            "event_ts": f"{clock().timestamp():.6f}", "channel_type": "channel"}))
        await running.settle()
        (item,) = running.store.list_items()
        running.store.update_item(workspace=item.workspace, item_id=item.id,
                                  changes={"severity": "urgent"})
        clock.advance(timedelta(minutes=31))
        await running.bot.scheduler.tick()
        await running.bot.scheduler.tick()
        await running.settle()
        reminders = [call for call in slack.calls_to("chat.postMessage")
                     if call.args.get("thread_ts") == item.card_ts]
        assert len(reminders) == 1
        assert "<@U0ALICE>" in reminders[0].args["text"]


async def test_acknowledging_from_the_home_tab_refreshes_it(tmp_path):
    from handlers.slack.standin.payloads import block_actions

    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "b.db") as running:
        item_id, _, _ = await forward_via_intake_channel(slack, running, "refund not received")
        await running.slack.send_event(event_callback(app_home_opened("U0BOB")))
        (first,) = await slack.wait_for("views.publish")
        home = {**first.args["view"], "id": "V0HOME"}
        await running.slack.send_interaction(block_actions(
            user_id="U0BOB", action_id="fb_ack", value=str(item_id), view=home))
        published = await slack.wait_for("views.publish", count=2)
        await running.settle()
        item = running.store.get_item(workspace="T0DEMO", item_id=item_id)
        assert (item.first_response_by, item.first_response_kind) == ("U0BOB", "button")
        refreshed = str(published[-1].args["view"]["blocks"])
        assert "Nothing is waiting for your response" in refreshed
        # No ephemeral can go to a home tab: nothing was posted into a channel for it.
        assert slack.calls_to("chat.postEphemeral") == []


async def test_home_shows_a_guest_no_items_and_no_figures(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "b.db") as running:
        await forward_via_intake_channel(slack, running, "refund not received")
        await running.slack.send_event(event_callback(app_home_opened("U0GUEST")))
        (call,) = await slack.wait_for("views.publish")
        text = str(call.args["view"]["blocks"])
        assert "members of this workspace only" in text
        assert "refund" not in text and "payments" not in text
