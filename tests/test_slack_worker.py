"""`serve --no-worker` only stores and answers; `feedbackbot worker` finishes the requests.

Over Slack's real protocol: signed requests to the app over HTTP, a fake Slack on
loopback recording every Web API call, and workers as `feedbackbot worker` runs them.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from bot.models import utcnow
from handlers.slack.standin.payloads import block_actions, slash_command
from tests.slack_harness import (
    make_fake_slack,
    running_bot,
    running_worker,
    wait_until,
)
from tests.store_backends import count_rows


def _cards(slack, channel="C0PAYMENTS"):
    return [call for call in slack.calls_to("chat.postMessage")
            if call.args.get("channel") == channel]


def _follow_click(user, item_id, channel, card_ts, n):
    click = block_actions(user_id=user, action_id="fb_follow", value=str(item_id),
                          channel_id=channel, message_ts=card_ts)
    click["actions"][0]["action_ts"] = f"1700000000.{n:06d}"  # each click is its own
    return click


async def test_serve_answers_a_command_and_a_worker_forwards_it(tmp_path):
    db = tmp_path / "bot.db"
    async with make_fake_slack() as slack, running_bot(slack, db,
                                                       worker_elsewhere=True) as serve:
        answer = await serve.slack.send_command(slash_command(
            text="refund not received for order 12", user_id="U0SUPPORT",
            channel_id="C0GENERAL"))
        assert answer.status == 200
        assert "Forwarding to *payments*" in answer.body
        # Whatever serve was going to do is done: it stored the request and nothing else.
        await wait_until(lambda: serve.bot.deps.in_flight == 0, what="serve to be idle")
        assert serve.store.list_items() == []
        assert len(serve.store.inbox_pending()) == 1
        assert _cards(slack) == []
        async with running_worker(slack, db):
            await wait_until(lambda: len(_cards(slack)) == 1 and not serve.store.inbox_pending(),
                             what="the worker to post the card")
            [item] = serve.store.list_items()
            assert item.team == "payments" and item.text == "refund not received for order 12"
            assert item.forwarded_by == "U0SUPPORT"


async def test_slash_command_alone_opens_the_form_in_serve_within_the_trigger_window(tmp_path):
    # The trigger_id expires 3 s after the click: the modal can't wait for a worker.
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db",
                                                       worker_elsewhere=True) as serve:
        answer = await serve.slack.send_command(slash_command(
            text="", user_id="U0SUPPORT", channel_id="C0GENERAL", trigger_id="13345.trig"))
        assert answer.status == 200
        await wait_until(lambda: bool(slack.calls_to("views.open")), what="the form to open")
        [opened] = slack.calls_to("views.open")
        assert opened.args["trigger_id"] == "13345.trig"
        await wait_until(lambda: not serve.store.inbox_pending(), what="serve to finish it")


async def test_a_click_answered_while_no_worker_runs_is_finished_by_the_next(tmp_path):
    db = tmp_path / "bot.db"
    async with make_fake_slack() as slack, running_bot(slack, db,
                                                       worker_elsewhere=True) as serve:
        await serve.slack.send_command(slash_command(
            text="invoice is wrong", user_id="U0SUPPORT", channel_id="C0GENERAL"))
        async with running_worker(slack, db):
            await wait_until(lambda: len(_cards(slack)) == 1, what="the card")
        [item] = serve.store.list_items()
        click = block_actions(user_id="U0ALICE", action_id="fb_ack", value=str(item.id),
                              channel_id=item.card_channel, message_ts=item.card_ts)
        assert (await serve.slack.send_interaction(click)).status == 200
        await wait_until(lambda: serve.bot.deps.in_flight == 0, what="serve to be idle")
        acknowledged = serve.store.get_item(workspace="T0DEMO", item_id=item.id)
        assert acknowledged.first_response_at is None  # answered, not yet done
        async with running_worker(slack, db):
            await wait_until(lambda: serve.store.get_item(
                workspace="T0DEMO", item_id=item.id).first_response_by == "U0ALICE",
                what="the worker to record the acknowledgement")
            await wait_until(lambda: not serve.store.inbox_pending(), what="the row done")


async def test_two_workers_finish_each_request_exactly_once(tmp_path):
    db = tmp_path / "bot.db"
    clicks = 24
    async with make_fake_slack() as slack, running_bot(slack, db,
                                                       worker_elsewhere=True) as serve:
        await serve.slack.send_command(slash_command(
            text="refund twice", user_id="U0SUPPORT", channel_id="C0GENERAL"))
        async with running_worker(slack, db):
            await wait_until(lambda: len(_cards(slack)) == 1, what="the card")
            await wait_until(lambda: not slack.calls_to("chat.postEphemeral")
                             and not serve.store.inbox_pending(), what="quiet")
        [item] = serve.store.list_items()
        people = ["U0ALICE", "U0BOB", "U0SUPPORT2", "U0DAN"]
        for n in range(clicks):
            click = _follow_click(people[n % len(people)], item.id, item.card_channel,
                                  item.card_ts, n)
            assert (await serve.slack.send_interaction(click)).status == 200
        before = len(slack.calls_to("chat.postEphemeral"))
        async with running_worker(slack, db), running_worker(slack, db):
            await wait_until(lambda: not serve.store.inbox_pending(), timeout=20,
                             what="both workers to finish every click")
            await wait_until(lambda: len(slack.calls_to("chat.postEphemeral")) - before
                             >= clicks, timeout=10, what="every click answered")
            await asyncio.sleep(0.3)  # a second finishing of any click would show now
        # Each click answered once: "You'll hear…" the first time, "You already follow…"
        # after; a click finished twice would be answered twice.
        assert len(slack.calls_to("chat.postEphemeral")) - before == clicks
        assert count_rows(serve.store, "inbox") == clicks + 1


async def test_a_request_held_by_a_worker_that_died_is_finished_after_its_lease(tmp_path):
    db = tmp_path / "bot.db"
    async with make_fake_slack() as slack, running_bot(slack, db,
                                                       worker_elsewhere=True) as serve:
        await serve.slack.send_command(slash_command(
            text="refund lost", user_id="U0SUPPORT", channel_id="C0GENERAL"))
        now = [utcnow()]
        # A worker on another host claimed it, then died before finishing it.
        [row] = serve.store.inbox_claim(owner="elsewhere:4242:1", now=now[0],
                                        until=now[0] + timedelta(seconds=30))
        async with running_worker(slack, db, clock=lambda: now[0]) as worker:
            await worker.runtime.replay_inbox()  # a pass finds nothing to take yet
            assert serve.store.list_items() == [] and _cards(slack) == []
            now[0] += timedelta(seconds=31)
            await wait_until(lambda: len(_cards(slack)) == 1, what="the lease to lapse")
            await wait_until(lambda: not serve.store.inbox_pending(), what="the row done")
        [item] = serve.store.list_items()
        assert item.text == "refund lost"
        assert row.id  # the same row, finished once


async def test_help_is_answered_and_done_in_serve_with_nothing_left_for_a_worker(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db",
                                                       worker_elsewhere=True) as serve:
        answer = await serve.slack.send_command(slash_command(
            text="help", user_id="U0SUPPORT", channel_id="C0GENERAL"))
        assert answer.status == 200 and "How to forward customer feedback" in answer.body
        await wait_until(lambda: not serve.store.inbox_pending(), what="serve to finish it")
