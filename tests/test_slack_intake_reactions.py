"""The intake emoji: any message the bot can read is forwarded once, by internal people only."""

from __future__ import annotations

import asyncio

from bot.models import ts_to_datetime
from handlers.slack.standin.payloads import (
    event_callback,
    forwarded_message_event,
    reaction_added_event,
)
from tests.slack_harness import (
    card_header,
    make_fake_slack,
    past_ts,
    posts,
    posts_anywhere_in,
    running_bot,
    wait_for_post,
    wait_until,
)


async def react(running, *, user: str, channel: str, ts: str, reaction: str = "inbox_tray") -> dict:
    event = reaction_added_event(user=user, reaction=reaction, channel=channel, ts=ts)
    response = await running.slack.send_event(event_callback(event))
    assert response.status == 200
    await running.settle()
    return event


async def test_reaction_forwards_the_message_with_the_customers_time(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        said = past_ts(2 * 3600)
        slack.add_message(
            "C0GENERAL",
            user="U0SUPPORT2",
            ts=said,
            text="Customer call: invoices show the wrong VAT",
        )
        event = await react(running, user="U0SUPPORT", channel="C0GENERAL", ts=said)
        [item] = running.store.list_items()
        assert item.intake_kind == "reaction"
        assert item.text == "Customer call: invoices show the wrong VAT"
        assert item.received_at == ts_to_datetime(said)
        assert item.forwarded_at == ts_to_datetime(event["event_ts"])
        assert item.forwarded_by == "U0SUPPORT" and item.source_author == "U0SUPPORT2"
        assert (item.source_channel, item.source_ts) == ("C0GENERAL", said)
        [card] = posts(slack, "C0PAYMENTS")
        assert "<@U0ALICE>" in card_header(card) and "<@U0BOB>" in card_header(card)
        [dm] = await wait_for_post(slack, "U0SUPPORT")
        assert "payments" in dm.args["text"]
        assert posts(slack, "C0GENERAL") == []


async def test_two_reactors_give_one_item_and_one_card(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        said = past_ts(600)
        slack.add_message("C0GENERAL", user="U0SUPPORT2", ts=said, text="refund is missing")
        await react(running, user="U0SUPPORT", channel="C0GENERAL", ts=said)
        await react(running, user="U0LEAD", channel="C0GENERAL", ts=said)
        [item] = running.store.list_items()
        assert item.forwarded_by == "U0SUPPORT"
        assert len(posts(slack, "C0PAYMENTS")) == 1
        assert posts(slack, "U0LEAD") == []


async def test_two_reactors_at_the_same_instant_give_one_item(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        said = past_ts(600)
        slack.add_message("C0GENERAL", user="U0SUPPORT2", ts=said, text="refund is missing")
        events = [
            reaction_added_event(user=user, reaction="inbox_tray", channel="C0GENERAL", ts=said)
            for user in ("U0SUPPORT", "U0SUPPORT2")
        ]
        responses = await asyncio.gather(
            *(running.slack.send_event(event_callback(event)) for event in events)
        )
        assert [r.status for r in responses] == [200, 200]
        await running.settle()
        assert len(running.store.list_items()) == 1
        assert len(posts(slack, "C0PAYMENTS")) == 1


async def test_customer_reacting_in_a_shared_channel_forwards_nothing(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        said = past_ts(600)
        slack.add_message("C0ACMESHARED", user="U0CUSTOMER", ts=said, text="Refund please!")
        await react(running, user="U0CUSTOMER", channel="C0ACMESHARED", ts=said)
        assert running.store.list_items() == []
        assert slack.calls_to("chat.postMessage") == []
        assert posts_anywhere_in(slack, "C0ACMESHARED") == []


async def test_internal_reaction_in_a_shared_channel_routes_by_customer_and_dms(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        said = past_ts(900)
        slack.add_message(
            "C0ACMESHARED", user="U0CUSTOMER", ts=said, text="The dashboard is slow since Monday"
        )
        await react(running, user="U0SUPPORT", channel="C0ACMESHARED", ts=said)
        [item] = running.store.list_items()
        assert item.customer == "acme" and item.team == "payments"
        assert item.source_author == "U0CUSTOMER"
        assert item.received_at == ts_to_datetime(said)
        assert item.reply_channel is None
        assert len(posts(slack, "C0PAYMENTS")) == 1
        [dm] = await wait_for_post(slack, "U0SUPPORT")
        assert dm.response["channel"] == slack.dm_channel("U0SUPPORT")
        assert posts_anywhere_in(slack, "C0ACMESHARED") == []
        assert [m["ts"] for m in slack.messages("C0ACMESHARED")] == [said]


async def test_reaction_where_the_bot_is_not_a_member_asks_for_an_invite_by_dm(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        said = past_ts(300)
        slack.add_message("C0SECRET", user="U0SUPPORT2", ts=said, text="refund missing")
        await react(running, user="U0SUPPORT", channel="C0SECRET", ts=said)
        assert running.store.list_items() == []
        [dm] = await wait_for_post(slack, "U0SUPPORT")
        assert "/invite" in dm.args["text"]
        assert "&lt;#" not in dm.args["text"]  # no link mangled by escaping
        assert posts_anywhere_in(slack, "C0SECRET") == []


async def test_other_emoji_do_nothing(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        said = past_ts(300)
        slack.add_message("C0GENERAL", user="U0SUPPORT2", ts=said, text="refund missing")
        for emoji in ("eyes", "thumbsup", "inbox_tray::skin-tone-2", "outbox_tray"):
            await react(running, user="U0SUPPORT", channel="C0GENERAL", ts=said, reaction=emoji)
        assert running.store.list_items() == []
        assert slack.calls_to("chat.postMessage") == []
        assert slack.calls_to("conversations.history") == []


async def test_reaction_on_a_thread_reply_forwards_that_reply(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        parent = past_ts(3600)
        earlier = past_ts(2400)
        reply = past_ts(1800)
        slack.add_message("C0GENERAL", user="U0SUPPORT2", ts=parent, text="Call notes, Globex")
        # Slack returns the parent first and bounds replies by oldest/limit, so an earlier
        # reply must not be mistaken for the one that got the emoji.
        slack.add_message("C0GENERAL", user="U0DAN", ts=earlier, thread_ts=parent,
                          text="earlier reply about billing")
        slack.add_message(
            "C0GENERAL",
            user="U0SUPPORT2",
            ts=reply,
            thread_ts=parent,
            text="They say the iOS app logs them out",
        )
        later = past_ts(60)
        slack.add_message("C0GENERAL", user="U0DAN", ts=later, text="unrelated newer post")
        await react(running, user="U0SUPPORT", channel="C0GENERAL", ts=reply)
        [item] = running.store.list_items()
        assert item.text == "They say the iOS app logs them out"
        assert (item.source_channel, item.source_ts) == ("C0GENERAL", reply)
        assert item.received_at == ts_to_datetime(reply)
        assert len(posts(slack, "C0MOBILE")) == 1


async def test_reaction_in_an_intake_channel_confirms_in_the_thread(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        parent = past_ts(3600)
        reply = past_ts(1200)
        slack.add_message("C0INTAKE", user="U0SUPPORT2", ts=parent, text="Acme call summary")
        slack.add_message(
            "C0INTAKE",
            user="U0SUPPORT2",
            ts=reply,
            thread_ts=parent,
            text="They also want invoices in CSV",
        )
        await react(running, user="U0SUPPORT", channel="C0INTAKE", ts=reply)
        [item] = running.store.list_items()
        assert item.source_ts == reply
        [notice] = await wait_for_post(slack, "C0INTAKE")
        assert notice.args["thread_ts"] == parent


async def test_reaction_on_the_bots_own_card_is_not_new_feedback(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        said = past_ts(600)
        slack.add_message("C0GENERAL", user="U0SUPPORT2", ts=said, text="refund is missing")
        await react(running, user="U0SUPPORT", channel="C0GENERAL", ts=said)
        [card] = posts(slack, "C0PAYMENTS")
        await react(running, user="U0ALICE", channel="C0PAYMENTS", ts=card.response["ts"])
        assert len(running.store.list_items()) == 1
        assert len(posts(slack, "C0PAYMENTS")) == 1


async def test_reaction_by_a_user_the_workspace_does_not_know_is_ignored(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        said = past_ts(300)
        slack.add_message("C0GENERAL", user="U0SUPPORT2", ts=said, text="refund missing")
        await react(running, user="U0GHOST", channel="C0GENERAL", ts=said)
        await react(running, user="U0GUEST", channel="C0GENERAL", ts=said)
        assert running.store.list_items() == []
        assert slack.calls_to("chat.postMessage") == []
        assert running.store.inbox_pending() == []


async def test_reaction_on_a_message_that_is_gone_tells_the_reactor(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        await react(running, user="U0SUPPORT", channel="C0GENERAL", ts=past_ts(30))
        assert running.store.list_items() == []
        [dm] = await wait_for_post(slack, "U0SUPPORT")
        assert "find" in dm.args["text"]


async def test_reaction_on_a_shared_forward_keys_the_item_by_the_original(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        original = past_ts(7200)
        slack.add_message(
            "C0ACMESHARED", user="U0CUSTOMER", ts=original, text="Refund still missing"
        )
        forward = forwarded_message_event(
            channel="C0GENERAL",
            user="U0SUPPORT2",
            text="FYI",
            original_text="Refund still missing",
            original_author="U0CUSTOMER",
            original_ts=original,
            original_channel="C0ACMESHARED",
        )
        shared = slack.add_message(
            "C0GENERAL", user="U0SUPPORT2", text="FYI", attachments=forward["attachments"]
        )
        await react(running, user="U0SUPPORT", channel="C0GENERAL", ts=shared["ts"])
        await react(running, user="U0SUPPORT2", channel="C0ACMESHARED", ts=original)
        [item] = running.store.list_items()
        assert (item.source_channel, item.source_ts) == ("C0ACMESHARED", original)
        assert item.received_at == ts_to_datetime(original)
        assert item.note == "FYI"
        assert len(posts(slack, "C0PAYMENTS")) == 1
        assert posts_anywhere_in(slack, "C0ACMESHARED") == []


async def test_reaction_on_a_non_message_item_does_nothing(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        event = {
            "type": "reaction_added",
            "user": "U0SUPPORT",
            "reaction": "inbox_tray",
            "item": {"type": "file", "file": "F0CRASH"},
            "event_ts": past_ts(0),
        }
        response = await running.slack.send_event(event_callback(event))
        assert response.status == 200
        await running.settle()
        assert running.store.list_items() == []
        assert slack.calls_to("chat.postMessage") == []


async def test_reaction_during_a_user_lookup_outage_is_kept_and_finished_later(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        said = past_ts(600)
        slack.add_message("C0GENERAL", user="U0SUPPORT2", ts=said, text="refund missing")
        slack.fail_next("users.info", status=500)
        event = reaction_added_event(
            user="U0SUPPORT", reaction="inbox_tray", channel="C0GENERAL", ts=said
        )
        assert (await running.slack.send_event(event_callback(event))).status == 200
        await wait_until(
            lambda: (
                bool(slack.calls_to("users.info", include_failed=True))
                and running.bot.deps.in_flight == 0
            ),
            what="the lookup to fail and the listener to finish",
        )
        assert running.store.list_items() == []
        assert len(running.store.inbox_pending()) == 1  # kept, not dropped as "external"
        assert await running.bot.replay_inbox() == 1
        await running.settle()
        [item] = running.store.list_items()
        assert item.forwarded_at == ts_to_datetime(event["event_ts"])
        assert len(posts(slack, "C0PAYMENTS")) == 1


async def test_reaction_in_a_channel_the_workspace_does_not_know_asks_for_an_invite(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        await react(running, user="U0SUPPORT", channel="C0NOWHERE", ts=past_ts(60))
        assert running.store.list_items() == []
        [dm] = await wait_for_post(slack, "U0SUPPORT")
        assert "/invite" in dm.args["text"]
        assert running.store.inbox_pending() == []


async def test_reaction_events_with_garbled_timestamps_are_ignored_without_a_crash(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        said = past_ts(300)
        slack.add_message("C0GENERAL", user="U0SUPPORT2", ts=said, text="refund missing")
        for bad in ("nan", "", "soon", None):
            event = reaction_added_event(
                user="U0SUPPORT", reaction="inbox_tray", channel="C0GENERAL", ts=said
            )
            event["item"]["ts"] = bad
            assert (await running.slack.send_event(event_callback(event))).status == 200
        event = reaction_added_event(
            user="U0SUPPORT", reaction="inbox_tray", channel="C0GENERAL", ts=said
        )
        event["event_ts"] = "inf"
        assert (await running.slack.send_event(event_callback(event))).status == 200
        await running.settle()
        assert running.store.inbox_pending() == []
        [item] = running.store.list_items()  # the last one, timed by the bot's own clock
        assert item.source_ts == said
