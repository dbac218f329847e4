"""A forward that says the same as an open item: the "+1" offer, linking, answers, unlink.

Over Slack's real protocol: signed events and block_actions to the app, Web API calls
recorded by the fake Slack.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from handlers.slack.standin.payloads import block_actions, event_callback, message_event
from handlers.slack.standin.slack_calls import RecordedCall
from handlers.slack.standin.slack_server import FakeSlack
from tests.slack_harness import (
    RunningBot,
    forward_via_intake_channel,
    make_fake_slack,
    running_bot,
    wait_until,
)

FIRST = "The iOS app crashes every time I open the camera to scan a receipt"
SAME = "iOS app keeps crashing when opening the camera for receipt scanning"
WS = "T0DEMO"


class MovableClock:
    """Wall-clock time, shifted forward on demand (to end a hold without waiting)."""

    def __init__(self) -> None:
        self.shift = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.shift


def _actions(call: RecordedCall) -> list[dict[str, Any]]:
    return [element for block in call.args.get("blocks") or []
            if block.get("type") == "actions" for element in block["elements"]]


def offers(slack: FakeSlack) -> list[RecordedCall]:
    """Offer notices posted: those with a +1 button."""
    return [call for call in slack.calls_to("chat.postMessage")
            if any(a.get("action_id") == "fb_plus_one" for a in _actions(call))]


async def forward_held(slack: FakeSlack, running: RunningBot, text: str, *,
                       user: str = "U0SUPPORT2") -> tuple[int, RecordedCall]:
    """Post `text` in the intake channel, expecting an offer; return (item id, offer)."""
    before = {item.id for item in running.store.list_items()}
    seen = len(offers(slack))
    await running.slack.send_event(
        event_callback(message_event(channel="C0INTAKE", user=user, text=text)))
    await wait_until(lambda: len(offers(slack)) > seen, what="the offer notice")
    await running.settle(due_only=True)
    new = [item for item in running.store.list_items() if item.id not in before]
    assert len(new) == 1
    return new[0].id, offers(slack)[-1]


def click(running: RunningBot, call: RecordedCall, action: str, *, user: str = "U0SUPPORT2",
          value: str | None = None, team_id: str = "T0DEMO",
          slack: FakeSlack | None = None) -> Any:
    element = next(a for a in _actions(call) if a["action_id"] == action)
    return running.slack.send_interaction(block_actions(
        user_id=user, action_id=action, value=value if value is not None else element["value"],
        channel_id=call.args["channel"], message_ts=_posted_ts(call), team_id=team_id,
        response_url=slack.response_url("other") if slack is not None else None))


def _posted_ts(call: RecordedCall) -> str:
    assert call.response is not None
    return str(call.response["ts"])


def card_updates(slack: FakeSlack, ts: str) -> list[RecordedCall]:
    return [c for c in slack.calls_to("chat.update") if c.args.get("ts") == ts]


def texts_to(slack: FakeSlack, channel: str, thread: str | None = None) -> list[str]:
    return [str(c.args.get("text")) for c in slack.calls_to("chat.postMessage")
            if c.args.get("channel") == channel
            and (thread is None or c.args.get("thread_ts") == thread)]


async def test_plus_one_links_the_item_and_answers_reach_both_forwarders(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "b.db") as running:
        first, channel, card_ts = await forward_via_intake_channel(slack, running, FIRST)
        cards_before = len(slack.calls_to("chat.postMessage"))
        second, offer = await forward_held(slack, running, SAME)

        # Held: no card, the offer in the forwarder's intake thread.
        held = running.store.get_item(workspace=WS, item_id=second)
        assert held.card_ts is None
        assert offer.args["channel"] == "C0INTAKE"
        assert f"Looks like #{first}" in offer.args["text"]
        assert "mobile" in offer.args["text"]
        assert [c for c in slack.calls_to("chat.postMessage")[cards_before:]
                if c.args.get("channel") == channel] == []

        response = await click(running, offer, "fb_plus_one")
        assert response.status == 200
        await running.settle()
        linked = running.store.get_item(workspace=WS, item_id=second)
        assert linked.linked_to == first
        assert linked.linked_by == "U0SUPPORT2"
        # Its own card never goes out, #first's card counts two customers.
        assert [c for c in slack.calls_to("chat.postMessage")
                if c.args.get("channel") == channel] == [
            c for c in slack.calls_to("chat.postMessage")[:cards_before]
            if c.args.get("channel") == channel]
        assert "2 customers" in str(card_updates(slack, card_ts)[-1].args["blocks"])
        edits = [c for c in slack.calls_to("chat.update") if c.args.get("ts") == _posted_ts(offer)]
        assert len(edits) == 1 and f"added to #{first}" in edits[0].args["text"]
        assert "fb_plus_one" not in str(edits[0].args["blocks"])

        # A double click changes nothing and says so.
        await click(running, offer, "fb_plus_one")
        await running.settle()
        assert len([c for c in slack.calls_to("chat.update")
                    if c.args.get("ts") == _posted_ts(offer)]) == 1
        assert any("already a +1" in str(c.args.get("text"))
                   for c in slack.calls_to("chat.postEphemeral"))

        # Carol acknowledges #first: both forwarders hear it, in their own threads.
        await running.slack.send_interaction(block_actions(
            user_id="U0CAROL", action_id="fb_ack", value=str(first), channel_id=channel,
            message_ts=card_ts))
        await running.settle()
        thread = offer.args["thread_ts"]
        told = [t for t in texts_to(slack, "C0INTAKE", thread) if "is on feedback" in t]
        assert len(told) == 1 and f"#{first}" in told[0] and f"#{second}" in told[0]
        linked = running.store.get_item(workspace=WS, item_id=second)
        assert linked.first_response_by == "U0CAROL"
        assert second not in {i.id for i in running.store.waiting_items(workspace=WS)}

        # Resolving #first resolves the +1 and tells its forwarder too.
        await running.bot.lifecycle.resolve(workspace=WS, item_id=first, user="U0CAROL",
                                            note="fixed in 2.4.1")
        await running.settle()
        assert running.store.get_item(workspace=WS, item_id=second).status == "resolved"
        assert any("was resolved" in t for t in texts_to(slack, "C0INTAKE", thread))


async def test_its_new_sends_the_card_at_once_and_a_late_plus_one_is_refused(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "b.db") as running:
        _, channel, _ = await forward_via_intake_channel(slack, running, FIRST)
        second, offer = await forward_held(slack, running, SAME)

        await click(running, offer, "fb_its_new")
        await running.settle()
        item = running.store.get_item(workspace=WS, item_id=second)
        assert item.card_ts and item.card_channel == channel and item.linked_to is None
        edits = [c for c in slack.calls_to("chat.update") if c.args.get("ts") == _posted_ts(offer)]
        assert len(edits) == 1 and "as new" in edits[0].args["text"]
        assert slack.calls_to("chat.postEphemeral") == []  # the edit says it all

        await click(running, offer, "fb_plus_one")
        await running.settle()
        assert running.store.get_item(workspace=WS, item_id=second).linked_to is None
        assert any("Too late" in str(c.args.get("text"))
                   for c in slack.calls_to("chat.postEphemeral"))
        # A second "It's new" says it went already.
        await click(running, offer, "fb_its_new")
        await running.settle()
        assert any("already went" in str(c.args.get("text"))
                   for c in slack.calls_to("chat.postEphemeral"))


async def test_nobody_answers_and_the_card_goes_out_at_the_end_of_the_hold(tmp_path):
    clock = MovableClock()
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "b.db",
                                                       clock=clock) as running:
        _, channel, _ = await forward_via_intake_channel(slack, running, FIRST)
        second, offer = await forward_held(slack, running, SAME)
        await asyncio.sleep(0.3)
        assert running.store.get_item(workspace=WS, item_id=second).card_ts is None

        clock.shift = timedelta(minutes=3, seconds=1)
        running.bot.outbox.wake()
        await running.settle()
        item = running.store.get_item(workspace=WS, item_id=second)
        assert item.card_ts and item.card_channel == channel
        # The offer says so, and its buttons are gone.
        [edit] = [c for c in slack.calls_to("chat.update") if c.args.get("ts") == _posted_ts(offer)]
        assert "goes to" in edit.args["text"] and "as new" in edit.args["text"]
        assert "fb_plus_one" not in str(edit.args["blocks"])
        # A click after the hold gets a clear answer and links nothing.
        await click(running, offer, "fb_plus_one")
        await running.settle()
        assert running.store.get_item(workspace=WS, item_id=second).linked_to is None
        assert any("Too late" in str(c.args.get("text"))
                   for c in slack.calls_to("chat.postEphemeral"))


async def test_forged_values_and_other_workspaces_change_nothing(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "b.db") as running:
        first, _, _ = await forward_via_intake_channel(slack, running, FIRST)
        other, _, _ = await forward_via_intake_channel(
            slack, running, "refund for invoice 4471 never arrived at acme")
        second, offer = await forward_held(slack, running, SAME)

        # Another item than the one offered, an unknown item, garbage.
        for value in (f"{second}:{other}", f"99999:{first}", "x:y", f"{second}", "-1:-2"):
            await click(running, offer, "fb_plus_one", value=value)
        await click(running, offer, "fb_its_new", value="99999")
        # Someone else (not the forwarder, not the owning team).
        await click(running, offer, "fb_plus_one", user="U0BOB")
        # The right values from another workspace.
        await click(running, offer, "fb_plus_one", team_id="T0OTHER", slack=slack)
        await click(running, offer, "fb_its_new", team_id="T0OTHER", slack=slack)
        await running.settle(due_only=True)
        item = running.store.get_item(workspace=WS, item_id=second)
        assert item.linked_to is None and item.card_ts is None
        assert running.store.linked_items(workspace=WS, item_id=other) == []
        answers = " ".join(str(c.args.get("text")) for c in slack.calls_to("chat.postEphemeral"))
        assert "no such feedback item" in answers
        assert "Only whoever forwarded" in answers


async def test_the_owning_team_unlinks_and_the_item_gets_its_own_card(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "b.db") as running:
        first, channel, card_ts = await forward_via_intake_channel(slack, running, FIRST)
        second, offer = await forward_held(slack, running, SAME)
        await click(running, offer, "fb_plus_one")
        await running.settle()
        update = card_updates(slack, card_ts)[-1]
        select = next(a for block in update.args["blocks"] if block.get("type") == "actions"
                      for a in block["elements"] if a["action_id"] == "fb_unlink")
        assert [o["value"] for o in select["options"]] == [str(second)]

        def unlink(user: str, value: str) -> Any:
            return running.slack.send_interaction(block_actions(
                user_id=user, action_id="fb_unlink", channel_id=channel, message_ts=card_ts,
                action_type="static_select",
                action_extra={"selected_option": {
                    "text": {"type": "plain_text", "text": f"#{value}"}, "value": value}}))

        await unlink("U0ALICE", str(second))  # payments: not the owning team
        await unlink("U0CAROL", "99999")
        await running.settle()
        assert running.store.get_item(workspace=WS, item_id=second).linked_to == first

        await unlink("U0CAROL", str(second))
        await running.settle()
        item = running.store.get_item(workspace=WS, item_id=second)
        assert item.linked_to is None and item.card_ts and item.card_channel == channel
        assert "unlinked feedback" in " ".join(texts_to(slack, "C0INTAKE",
                                                         offer.args["thread_ts"]))
        assert "customers" not in str(card_updates(slack, card_ts)[-1].args["blocks"])


async def test_feedback_unlink_command(tmp_path):
    from handlers.slack.standin.payloads import slash_command

    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "b.db") as running:
        await forward_via_intake_channel(slack, running, FIRST)
        second, offer = await forward_held(slack, running, SAME)
        await click(running, offer, "fb_plus_one")
        await running.settle()
        answer = await running.slack.send_command(slash_command(
            text=f"unlink #{second}", user_id="U0ERIN", channel_id="C0GENERAL"))
        await running.settle()
        assert "Unlinked" in str(answer.body)
        assert running.store.get_item(workspace=WS, item_id=second).linked_to is None


def _radio(value: str) -> dict[str, Any]:
    return {"value": {"type": "radio_buttons", "selected_option": {
        "text": {"type": "plain_text", "text": value, "emoji": True}, "value": value}}}


async def _open_form(slack: FakeSlack, running: RunningBot, text: str) -> dict[str, Any]:
    from handlers.slack.standin.payloads import message_shortcut
    from tests.slack_harness import opened_view, past_ts

    message = slack.add_message("C0GENERAL", user="U0SUPPORT2", ts=past_ts(600), text=text)
    before = len(slack.calls_to("views.open"))
    await running.slack.send_interaction(message_shortcut(
        callback_id="forward_feedback", user_id="U0SUPPORT2", channel_id="C0GENERAL",
        message=message))
    calls = await slack.wait_for("views.open", count=before + 1)
    return opened_view(calls[before])


async def _submit(running: RunningBot, view: dict[str, Any], same: str | None) -> Any:
    from handlers.slack.standin.payloads import view_submission
    from tests.slack_harness import modal_values

    values = modal_values(text=SAME, team="mobile", severity="normal")
    if same is not None:
        values["same"] = _radio(same)
    return await running.slack.send_interaction(view_submission(
        user_id="U0SUPPORT2", callback_id=view["callback_id"], view_id=view["id"],
        private_metadata=view["private_metadata"], values=values))


async def test_the_form_lists_candidates_and_a_choice_links_without_a_hold(tmp_path):
    from tests.slack_harness import view_block

    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "b.db") as running:
        first, channel, card_ts = await forward_via_intake_channel(slack, running, FIRST)
        view = await _open_form(slack, running, SAME)
        same = view_block(view, "same")["element"]
        assert same["initial_option"]["value"] == "new"
        values = [option["value"] for option in same["options"]]
        assert values[0] == "new" and f"link:{first}" in values
        label = next(o["text"]["text"] for o in same["options"]
                     if o["value"] == f"link:{first}")
        assert label.startswith(f"Same as #{first} (mobile")

        # Forged choices get an error on the field, and nothing is stored.
        for forged in ("link:abc", "link:99999"):
            response = await _submit(running, view, forged)
            assert "same" in str(response.body)
        assert len(running.store.list_items()) == 1

        await _submit(running, view, f"link:{first}")
        await running.settle()
        [second] = [i for i in running.store.list_items() if i.id != first]
        assert second.linked_to == first and second.card_ts is None
        assert offers(slack) == []
        assert "2 customers" in str(card_updates(slack, card_ts)[-1].args["blocks"])
        assert [c for c in slack.calls_to("chat.postMessage")
                if c.args.get("channel") == channel and f"#{second.id}" in
                str(c.args.get("text"))] == []


async def test_the_form_left_at_its_new_sends_the_card_at_once(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "b.db") as running:
        first, channel, _ = await forward_via_intake_channel(slack, running, FIRST)
        view = await _open_form(slack, running, SAME)
        await _submit(running, view, "new")
        await running.settle()
        [second] = [i for i in running.store.list_items() if i.id != first]
        assert second.card_ts and second.card_channel == channel and second.linked_to is None
        assert offers(slack) == []
