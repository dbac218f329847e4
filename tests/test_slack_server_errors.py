"""A post Slack answers with a 5xx may have landed all the same: it is looked up, not resent.

Slack says of `internal_error` that some aspect of the operation may have succeeded
before the error was raised; the fake Slack applies the call, then answers 500.
"""

from __future__ import annotations

from handlers.slack.standin.payloads import event_callback, message_event
from tests.slack_harness import make_fake_slack, running_bot
from tests.test_slack_resilience import cards_per_item


async def test_a_card_answered_500_after_it_landed_is_not_posted_twice(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        slack.fail_next("chat.postMessage", status=500, applied=True)
        response = await running.slack.send_event(event_callback(
            message_event(channel="C0INTAKE", user="U0SUPPORT", text="refund never came")))
        assert response.status == 200
        await running.settle(timeout=15)
        [item] = running.store.list_items()
        assert cards_per_item(slack) == {item.id: 1}
        assert item.card_ts == slack.messages("C0PAYMENTS")[0]["ts"]


async def test_a_card_and_its_confirmation_answered_503_after_landing_appear_once(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        # The message is in the channel's history, as in Slack, before its event comes.
        posted = slack.add_message("C0INTAKE", user="U0SUPPORT", text="refund never came")
        source = message_event(channel="C0INTAKE", user="U0SUPPORT", text="refund never came",
                               ts=posted["ts"])
        # The card, then the confirmation in the intake thread: both land, both fail.
        slack.fail_next("chat.postMessage", count=2, status=503, applied=True)
        await running.slack.send_event(event_callback(source))
        await running.settle(timeout=15)
        assert len(slack.calls_to("chat.postMessage", include_failed=True)) >= 2
        [item] = running.store.list_items()
        assert cards_per_item(slack) == {item.id: 1}
        replies = [m for m in slack.messages("C0INTAKE")
                   if m.get("thread_ts") == source["ts"] and m["ts"] != source["ts"]]
        assert len(replies) == 1, replies


async def test_a_confirmation_of_unknown_fate_is_found_in_its_thread_in_a_busy_channel(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        posted = slack.add_message("C0INTAKE", user="U0SUPPORT", text="refund never came")
        # A thousand newer messages: more than a lookup pages through in the channel.
        for n in range(1000):
            slack.add_message("C0INTAKE", user="U0SUPPORT2", text=f"chatter {n}")
        source = message_event(channel="C0INTAKE", user="U0SUPPORT", text="refund never came",
                               ts=posted["ts"])
        slack.fail_next("chat.postMessage", count=2, status=500, applied=True)
        await running.slack.send_event(event_callback(source))
        await running.settle(timeout=15)
        replies = [m for m in slack.messages("C0INTAKE")
                   if m.get("thread_ts") == source["ts"] and m["ts"] != source["ts"]]
        assert len(replies) == 1, replies
