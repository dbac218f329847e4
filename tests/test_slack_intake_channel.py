"""Intake channel posts become routed cards, over Slack's real HTTP protocol."""

from __future__ import annotations

from handlers.slack.standin.payloads import event_callback, message_event
from tests.slack_harness import forward_via_intake_channel, make_fake_slack, running_bot


async def test_post_in_intake_channel_routes_card_and_confirms_in_thread(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        event = message_event(
            channel="C0INTAKE", user="U0SUPPORT", text="Acme says their refund never arrived"
        )
        response = await running.slack.send_event(event_callback(event))
        assert response.status == 200
        cards = await slack.wait_for(
            "chat.postMessage", where=lambda c: c.args.get("channel") == "C0PAYMENTS"
        )
        notices = await slack.wait_for(
            "chat.postMessage", where=lambda c: c.args.get("channel") == "C0INTAKE"
        )
        card = cards[0].args
        assert "<@U0ALICE>" in str(card["blocks"]) and "<@U0BOB>" in str(card["blocks"])
        assert notices[0].args["thread_ts"] == event["ts"]
        items = running.store.list_items()
        assert len(items) == 1
        assert items[0].team == "payments" and items[0].status == "routed"
        assert items[0].customer == "acme"


async def test_the_confirmation_names_the_owners_without_pinging_them(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        await running.slack.send_event(event_callback(message_event(
            channel="C0INTAKE", user="U0SUPPORT", text="refund never arrived")))
        notices = await slack.wait_for("chat.postMessage", where=lambda c: c.args.get(
            "channel") == "C0INTAKE")
        text = notices[0].args["text"]
        assert "will pick it up" in text and "<@U0ALICE>" not in text
        assert "alice" in text.lower()


async def test_a_me_post_in_the_intake_channel_is_forwarded(tmp_path):
    # `/me` posts arrive with subtype me_message; they are a person's words like any post.
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        event = message_event(channel="C0INTAKE", user="U0SUPPORT", subtype="me_message",
                              text="is passing on: Acme's refund never arrived")
        await running.slack.send_event(event_callback(event))
        await slack.wait_for("chat.postMessage",
                             where=lambda call: call.args.get("channel") == "C0PAYMENTS")
        [item] = running.store.list_items()
        assert item.text == "is passing on: Acme's refund never arrived"
        assert item.source_ts == event["ts"] and item.team == "payments"


async def test_a_me_reply_in_a_card_thread_is_the_teams_response(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        item_id, channel, card_ts = await forward_via_intake_channel(slack, running,
                                                                     "refund never arrived")
        await running.slack.send_event(event_callback(message_event(
            channel=channel, user="U0ALICE", thread_ts=card_ts, subtype="me_message",
            text="is looking into the refund now")))
        await running.settle()
        item = running.store.get_item(workspace="T0DEMO", item_id=item_id)
        assert (item.first_response_by, item.first_response_kind) == ("U0ALICE", "reply")
        relays = [call for call in slack.calls_to("chat.postMessage")
                  if "looking into the refund" in call.args.get("text", "")]
        assert len(relays) == 1 and relays[0].args["channel"] == "C0INTAKE"


# Five posts that say different things: none is offered as a +1 of another.
DIFFERENT_PROBLEMS = ("the refund never arrived", "the invoice has the wrong address",
                      "the iOS app crashes on login", "the CSV export is empty",
                      "no password reset email comes")


async def test_a_burst_from_one_person_checks_them_with_slack_once(tmp_path):
    # Each post needs to know the poster is staff; overlapping lookups share one call.
    import asyncio

    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "b.db") as running:
        slack.delay_next("users.info", seconds=0.3)
        await asyncio.gather(*(
            running.slack.send_event(event_callback(message_event(
                channel="C0INTAKE", user="U0SUPPORT2", text=text)))
            for text in DIFFERENT_PROBLEMS))
        await running.settle(timeout=10)
        assert len(running.store.list_items()) == 5
        looked_up = [call for call in slack.calls_to("users.info")
                     if call.args.get("user") == "U0SUPPORT2"]
        assert len(looked_up) == 1
