"""Developers respond on the card, and support hears back: over Slack's real protocol."""

from __future__ import annotations

import asyncio

from handlers.slack.standin.payloads import (
    block_actions,
    event_callback,
    message_event,
    reaction_added_event,
    view_submission,
)
from tests.slack_harness import (
    click_and_submit,
    forward_via_intake_channel,
    make_fake_slack,
    running_bot,
)


def _posts_to(slack, channel):
    return [
        call for call in slack.calls_to("chat.postMessage") if call.args.get("channel") == channel
    ]


async def test_acknowledge_button_records_one_response_for_a_double_click(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "b.db") as running:
        item_id, channel, card_ts = await forward_via_intake_channel(
            slack, running, "refund missing for acme"
        )
        click = block_actions(
            user_id="U0ALICE",
            action_id="fb_ack",
            value=str(item_id),
            channel_id=channel,
            message_ts=card_ts,
        )
        second = block_actions(
            user_id="U0ALICE",
            action_id="fb_ack",
            value=str(item_id),
            channel_id=channel,
            message_ts=card_ts,
        )
        responses = await asyncio.gather(
            running.slack.send_interaction(click), running.slack.send_interaction(second)
        )
        assert [r.status for r in responses] == [200, 200]
        await running.settle()
        item = running.store.get_item(workspace="T0DEMO", item_id=item_id)
        assert item.first_response_by == "U0ALICE"
        assert item.first_response_kind == "button"
        assert item.status == "responded"
        events = [e.kind for e in running.store.events_for(workspace="T0DEMO", item_id=item_id)]
        assert events.count("responded") == 1
        updates = [c for c in slack.calls_to("chat.update") if c.args["ts"] == card_ts]
        assert updates and "acknowledged" in str(updates[-1].args["blocks"])
        thread = [
            c for c in _posts_to(slack, "C0INTAKE") if "is on feedback" in c.args.get("text", "")
        ]
        assert len(thread) == 1


async def test_ack_emoji_on_the_card_counts_and_the_bots_own_does_not(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "b.db") as running:
        item_id, channel, card_ts = await forward_via_intake_channel(
            slack, running, "invoice is wrong"
        )
        await running.slack.send_event(
            event_callback(
                reaction_added_event(user="U0BOT", reaction="eyes", channel=channel, ts=card_ts)
            )
        )
        await running.settle()
        assert running.store.get_item(workspace="T0DEMO", item_id=item_id).first_response_at is None
        await running.slack.send_event(
            event_callback(
                reaction_added_event(user="U0BOB", reaction="eyes", channel=channel, ts=card_ts)
            )
        )
        await running.settle()
        item = running.store.get_item(workspace="T0DEMO", item_id=item_id)
        assert (item.first_response_by, item.first_response_kind) == ("U0BOB", "reaction")


async def test_owner_reply_is_the_response_and_is_relayed_without_pinging(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "b.db") as running:
        item_id, channel, card_ts = await forward_via_intake_channel(
            slack, running, "billing page is blank"
        )
        reply = message_event(
            channel=channel,
            user="U0ALICE",
            thread_ts=card_ts,
            text="Fixed now, thanks <@U0BOB> <!channel> &amp; co",
        )
        await running.slack.send_event(event_callback(reply))
        await running.settle()
        item = running.store.get_item(workspace="T0DEMO", item_id=item_id)
        assert (item.first_response_by, item.first_response_kind) == ("U0ALICE", "reply")
        relays = [
            c for c in _posts_to(slack, "C0INTAKE") if "replied about" in c.args.get("text", "")
        ]
        assert len(relays) == 1
        text = relays[0].args["text"]
        assert "Fixed now" in text and "&amp; co" in text
        assert "<@" not in text and "<!channel>" not in text
        relay_ts = relays[0].response["ts"]

        edited = event_callback(
            {
                "type": "message",
                "subtype": "message_changed",
                "channel": channel,
                "hidden": True,
                "ts": "1.1",
                "message": {
                    **reply,
                    "text": "Fixed in 2.4.1",
                    "edited": {"user": "U0ALICE", "ts": "2.2"},
                },
                "previous_message": reply,
                "event_ts": "1.1",
            }
        )
        await running.slack.send_event(edited)
        await running.settle()
        edits = [c for c in slack.calls_to("chat.update") if c.args.get("ts") == relay_ts]
        assert edits and "Fixed in 2.4.1" in edits[-1].args["text"]

        deleted = event_callback(
            {
                "type": "message",
                "subtype": "message_deleted",
                "channel": channel,
                "hidden": True,
                "ts": "1.2",
                "deleted_ts": reply["ts"],
                "previous_message": reply,
                "event_ts": "1.2",
            }
        )
        await running.slack.send_event(deleted)
        await running.settle()
        assert [c.args["ts"] for c in slack.calls_to("chat.delete")] == [relay_ts]


async def test_reply_from_outside_the_team_is_a_comment(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "b.db") as running:
        item_id, channel, card_ts = await forward_via_intake_channel(
            slack, running, "refund question"
        )
        await running.slack.send_event(
            event_callback(
                message_event(
                    channel=channel, user="U0CAROL", thread_ts=card_ts, text="not my area"
                )
            )
        )
        await running.settle()
        item = running.store.get_item(workspace="T0DEMO", item_id=item_id)
        assert item.first_response_at is None
        kinds = [e.kind for e in running.store.events_for(workspace="T0DEMO", item_id=item_id)]
        assert "comment" in kinds
        assert not [
            c for c in _posts_to(slack, "C0INTAKE") if "replied about" in c.args.get("text", "")
        ]


async def test_reply_in_a_thread_that_is_no_card_is_ignored(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "b.db") as running:
        parent = slack.add_message("C0PAYMENTS", user="U0ALICE", text="lunch?")
        before = len(slack.calls)
        response = await running.slack.send_event(
            event_callback(
                message_event(
                    channel="C0PAYMENTS", user="U0BOB", thread_ts=parent["ts"], text="yes"
                )
            )
        )
        await running.settle()
        assert response.status == 200
        assert running.store.list_items() == []
        assert [c.method for c in slack.calls[before:]] == []


async def test_resolve_with_a_note_and_reopen(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "b.db") as running:
        item_id, channel, card_ts = await forward_via_intake_channel(
            slack, running, "refund delayed"
        )
        await click_and_submit(
            slack, running, user="U0BOB", action="fb_resolve", item_id=item_id,
            channel=channel, card_ts=card_ts,
            values={"note": {"value": {"type": "plain_text_input", "value": "fixed in 2.4.1"}}},
        )
        item = running.store.get_item(workspace="T0DEMO", item_id=item_id)
        assert item.status == "resolved" and item.resolution_note == "fixed in 2.4.1"
        assert item.resolved_by == "U0BOB" and item.resolved_at is not None
        told = [c for c in _posts_to(slack, "C0INTAKE") if "resolved" in c.args.get("text", "")]
        assert told and "fixed in 2.4.1" in told[-1].args["text"]
        card = [c for c in slack.calls_to("chat.update") if c.args["ts"] == card_ts][-1]
        assert "fb_reopen" in str(card.args["blocks"])

        await running.slack.send_interaction(
            block_actions(
                user_id="U0ALICE",
                action_id="fb_reopen",
                value=str(item_id),
                channel_id=channel,
                message_ts=card_ts,
            )
        )
        await running.settle()
        item = running.store.get_item(workspace="T0DEMO", item_id=item_id)
        assert item.status == "reopened" and item.resolved_at is None


async def test_unauthorized_resolve_is_refused_and_changes_nothing(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "b.db") as running:
        item_id, channel, card_ts = await forward_via_intake_channel(
            slack, running, "refund delayed"
        )
        await running.slack.send_interaction(
            block_actions(
                user_id="U0CAROL",
                action_id="fb_resolve",
                value=str(item_id),
                channel_id=channel,
                message_ts=card_ts,
            )
        )
        await running.settle()
        ephemerals = slack.calls_to("chat.postEphemeral")
        assert ephemerals and ephemerals[-1].args["user"] == "U0CAROL"
        assert "Not yours" in ephemerals[-1].args["text"]
        assert slack.calls_to("views.open") == []
        # Even a forged submission of the modal is refused.
        await running.slack.send_interaction(
            view_submission(
                user_id="U0CAROL",
                callback_id="fb_resolve_submit",
                private_metadata=f'{{"item": {item_id}}}',
                values={},
            )
        )
        await running.settle()
        item = running.store.get_item(workspace="T0DEMO", item_id=item_id)
        assert item.status == "routed" and item.resolved_at is None


async def test_reassign_posts_a_new_card_and_marks_the_old_one_moved(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "b.db") as running:
        item_id, channel, card_ts = await forward_via_intake_channel(
            slack, running, "refund button does nothing in the app"
        )
        await click_and_submit(
            slack, running, user="U0ALICE", action="fb_reassign", item_id=item_id,
            channel=channel, card_ts=card_ts,
            values={"team": {"value": {"type": "static_select",
                                       "selected_option": {"value": "mobile"}}}},
        )
        item = running.store.get_item(workspace="T0DEMO", item_id=item_id)
        assert item.team == "mobile" and item.reassignments == 1
        assert item.card_channel == "C0MOBILE" and item.card_ts != card_ts
        moved = [c for c in slack.calls_to("chat.update") if c.args["ts"] == card_ts][-1]
        assert "Moved to" in str(moved.args["blocks"])
        events = running.store.events_for(workspace="T0DEMO", item_id=item_id)
        reassigned = next(e for e in events if e.kind == "reassigned")
        assert reassigned.data["from"] == "payments" and reassigned.data["to"] == "mobile"
        assert reassigned.actor == "U0ALICE"


async def test_a_follower_gets_the_same_relays(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "b.db") as running:
        item_id, channel, card_ts = await forward_via_intake_channel(
            slack, running, "invoice totals wrong"
        )
        await running.slack.send_interaction(
            block_actions(
                user_id="U0SUPPORT2",
                action_id="fb_follow",
                value=str(item_id),
                channel_id=channel,
                message_ts=card_ts,
            )
        )
        await running.settle()
        await running.slack.send_event(
            event_callback(
                message_event(
                    channel=channel, user="U0BOB", thread_ts=card_ts, text="looking into it"
                )
            )
        )
        await running.settle()
        dm = slack.dm_channel("U0SUPPORT2")
        relayed = [
            c
            for c in slack.calls_to("chat.postMessage")
            if c.args.get("channel") in ("U0SUPPORT2", dm)
            and "looking into it" in c.args.get("text", "")
        ]
        assert len(relayed) == 1


async def test_button_values_and_metadata_that_are_no_item_ids_get_a_plain_answer(tmp_path):
    from handlers.slack.standin.payloads import view_submission

    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "b.db") as running:
        _, channel, card_ts = await forward_via_intake_channel(slack, running, "refund late")
        for value in ("9" * 30, "abc", "-4"):
            response = await running.slack.send_interaction(block_actions(
                user_id="U0ALICE", action_id="fb_reopen", value=value, channel_id=channel,
                message_ts=card_ts))
            assert response.status == 200
        for metadata in ('{"item": "abc"}', '{"item": 99999999999999999999999}', "not json"):
            response = await running.slack.send_interaction(view_submission(
                user_id="U0ALICE", callback_id="fb_resolve_submit",
                private_metadata=metadata, values={}))
            assert response.status == 200
        await running.settle()
        assert running.store.inbox_pending() == []
        assert [item.status for item in running.store.list_items()] == ["routed"]


async def test_a_reply_that_is_only_a_file_is_relayed_as_such(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "b.db") as running:
        _, channel, card_ts = await forward_via_intake_channel(slack, running, "invoice wrong")
        await running.slack.send_event(event_callback(message_event(
            channel=channel, user="U0ALICE", thread_ts=card_ts, text="", subtype="file_share",
            files=[{"id": "F1", "name": "fix-proof.png", "title": "fix-proof.png"}])))
        await running.settle()
        relays = [c for c in _posts_to(slack, "C0INTAKE") if "replied about" in
                  c.args.get("text", "")]
        assert len(relays) == 1 and "fix-proof.png" in relays[0].args["text"]


async def test_edits_to_a_relayed_reply_follow_after_the_item_moved(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "b.db") as running:
        item_id, channel, card_ts = await forward_via_intake_channel(
            slack, running, "refund button does nothing in the app")
        reply = message_event(channel=channel, user="U0ALICE", thread_ts=card_ts,
                              text="looking at it")
        await running.slack.send_event(event_callback(reply))
        await running.settle()
        (relay,) = [c for c in _posts_to(slack, "C0INTAKE") if "looking at it" in
                    c.args.get("text", "")]
        await click_and_submit(
            slack, running, user="U0ALICE", action="fb_reassign", item_id=item_id,
            channel=channel, card_ts=card_ts,
            values={"team": {"value": {"type": "static_select",
                                       "selected_option": {"value": "mobile"}}}})
        await running.slack.send_event(event_callback({
            "type": "message", "subtype": "message_changed", "channel": channel,
            "hidden": True, "ts": "1.3", "event_ts": "1.3", "previous_message": reply,
            "message": {**reply, "text": "actually this is the app's bug"}}))
        await running.settle()
        edits = [c for c in slack.calls_to("chat.update")
                 if c.args.get("ts") == relay.response["ts"]]
        assert edits and "actually this is the app" in edits[-1].args["text"]


def _changed(channel: str, message: dict, *, previous: dict | None, ts: str) -> dict:
    """A message_changed event as Slack sends it for an edit, an unfurl or a pin."""
    event = {"type": "message", "subtype": "message_changed", "channel": channel,
             "hidden": True, "ts": ts, "message": message, "event_ts": ts}
    if previous is not None:
        event["previous_message"] = previous
    return event_callback(event)


async def test_an_unfurl_on_a_reply_edits_no_relay_but_a_real_edit_does(tmp_path):
    # Slack attaches link previews with message_changed and the same words; each one
    # used to re-send the relay as an edit.
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        _, channel, card_ts = await forward_via_intake_channel(slack, running,
                                                               "billing page is blank")
        reply = message_event(channel=channel, user="U0ALICE", thread_ts=card_ts,
                              text="See https://status.example.com for the fix")
        await running.slack.send_event(event_callback(reply))
        await running.settle()
        unfurl = {"id": 1, "from_url": "https://status.example.com", "title": "Status"}
        with_preview = {**reply, "attachments": [unfurl]}
        await running.slack.send_event(_changed(channel, with_preview, previous=reply,
                                                ts="9.1"))
        # Some deliveries carry no previous_message: what was relayed decides then.
        await running.slack.send_event(_changed(channel, with_preview, previous=None,
                                                ts="9.2"))
        await running.settle()

        def relay_edits() -> list:
            return [call for call in slack.calls_to("chat.update")
                    if call.args.get("channel") != channel]  # the card itself is updated too

        assert relay_edits() == []

        edited = {**with_preview, "text": "Fixed in 2.4.1, see https://status.example.com",
                  "edited": {"user": "U0ALICE", "ts": "9.3"}}
        await running.slack.send_event(_changed(channel, edited, previous=with_preview,
                                                ts="9.3"))
        await running.settle()
        await running.slack.send_event(_changed(channel, edited, previous=None, ts="9.4"))
        await running.settle()
        updates = relay_edits()
        assert len(updates) == 1 and "Fixed in 2.4.1" in updates[0].args["text"]
