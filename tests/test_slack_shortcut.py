"""The "Forward to feedback" message shortcut and its modal, including Slack Connect channels."""

from __future__ import annotations

from bot.models import ts_to_datetime
from handlers.slack.standin.payloads import (
    event_callback,
    message_shortcut,
    reaction_added_event,
    view_submission,
)
from tests.slack_harness import (
    make_fake_slack,
    modal_values,
    opened_view,
    past_ts,
    posts,
    posts_anywhere_in,
    running_bot,
    view_block,
    wait_for_post,
)

MODAL_LIMIT = 3000


async def shortcut(running, slack, message: dict, *, channel: str, user: str = "U0SUPPORT"):
    """Invoke the shortcut on `message`; return the view it opened."""
    before = len(slack.calls_to("views.open"))
    payload = message_shortcut(
        callback_id="forward_feedback", user_id=user, channel_id=channel, message=message
    )
    response = await running.slack.send_interaction(payload)
    assert response.status == 200
    calls = await slack.wait_for("views.open", count=before + 1)
    return opened_view(calls[before])


async def submit(running, view: dict, values: dict, *, user: str = "U0SUPPORT"):
    payload = view_submission(
        user_id=user,
        callback_id=view["callback_id"],
        view_id=view["id"],
        private_metadata=view["private_metadata"],
        values=values,
    )
    response = await running.slack.send_interaction(payload)
    assert response.status == 200
    return response


def prefill(view: dict) -> str:
    return str(view_block(view, "text")["element"].get("initial_value", ""))


async def test_shortcut_in_a_shared_channel_prefills_and_suggests(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        said = past_ts(5400)
        message = slack.add_message(
            "C0ACMESHARED", user="U0CUSTOMER", ts=said, text="The export button does nothing"
        )
        view = await shortcut(running, slack, message, channel="C0ACMESHARED")
        assert view["callback_id"] == "feedback_submit"
        assert prefill(view) == "The export button does nothing"
        assert view_block(view, "team")["element"]["initial_option"]["value"] == "payments"
        assert view_block(view, "customer")["element"]["initial_value"] == "acme"
        assert view_block(view, "severity")["element"]["initial_option"]["value"] == "normal"
        assert view_block(view, "note")["optional"] is True
        assert view["id"] in slack.views
        assert running.store.list_items() == []


async def test_submitting_the_modal_forwards_with_the_originals_time_and_chosen_team(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        said = past_ts(5400)
        message = slack.add_message(
            "C0ACMESHARED", user="U0CUSTOMER", ts=said, text="The iOS export button does nothing"
        )
        view = await shortcut(running, slack, message, channel="C0ACMESHARED")
        response = await submit(
            running,
            view,
            modal_values(
                text=prefill(view),
                team="mobile",
                customer="acme",
                severity="high",
                note="Seen by two users",
            ),
        )
        assert not (response.json or {}).get("response_action")
        await running.settle()
        [item] = running.store.list_items()
        assert item.intake_kind == "shortcut"
        assert item.team == "mobile" and item.customer == "acme" and item.severity == "high"
        assert item.text == "The iOS export button does nothing"
        assert item.note == "Seen by two users"
        assert item.received_at == ts_to_datetime(said)
        assert item.forwarded_at > item.received_at
        assert (item.source_channel, item.source_ts) == ("C0ACMESHARED", said)
        assert item.source_author == "U0CUSTOMER"
        assert len(posts(slack, "C0MOBILE")) == 1
        await wait_for_post(slack, "U0SUPPORT")
        assert posts_anywhere_in(slack, "C0ACMESHARED") == []


async def test_long_messages_prefill_3000_characters_and_keep_the_full_text(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        text = "".join(f"line {n}: the invoice total is wrong\n" for n in range(300)).strip()
        assert len(text) > MODAL_LIMIT
        message = slack.add_message("C0GENERAL", user="U0SUPPORT2", ts=past_ts(60), text=text)
        view = await shortcut(running, slack, message, channel="C0GENERAL")
        assert len(prefill(view)) == MODAL_LIMIT
        assert prefill(view) == text[:MODAL_LIMIT]
        assert view_block(view, "text")["element"]["max_length"] == MODAL_LIMIT
        assert len(view["private_metadata"]) <= 3000
        await submit(running, view, modal_values(text=prefill(view), team="payments"))
        await running.settle()
        [item] = running.store.list_items()
        assert item.text == text


async def test_an_edited_prefill_is_forwarded_as_edited(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        text = "x" * 4000
        message = slack.add_message("C0GENERAL", user="U0SUPPORT2", ts=past_ts(60), text=text)
        view = await shortcut(running, slack, message, channel="C0GENERAL")
        await submit(running, view, modal_values(text="Only this part matters", team="triage"))
        await running.settle()
        [item] = running.store.list_items()
        assert item.text == "Only this part matters"


async def test_submitting_without_text_asks_for_it(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        message = slack.add_message(
            "C0GENERAL", user="U0SUPPORT2", ts=past_ts(60), text="Refund missing"
        )
        view = await shortcut(running, slack, message, channel="C0GENERAL")
        response = await submit(running, view, modal_values(text="   ", team="payments"))
        answer = response.json
        assert answer["response_action"] == "errors"
        assert answer["errors"]["text"]
        await running.settle()
        assert running.store.list_items() == []
        assert slack.calls_to("chat.postMessage") == []


async def test_shortcut_on_an_already_forwarded_message_shows_where_it_went(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        said = past_ts(600)
        message = slack.add_message("C0GENERAL", user="U0SUPPORT2", ts=said, text="Refund missing")
        view = await shortcut(running, slack, message, channel="C0GENERAL")
        await submit(running, view, modal_values(text=prefill(view), team="payments"))
        await running.settle()
        info = await shortcut(running, slack, message, channel="C0GENERAL", user="U0SUPPORT2")
        [item] = running.store.list_items()
        assert "submit" not in info and info.get("callback_id") in ("", None)
        assert f"#{item.id}" in str(info["blocks"]) and "payments" in str(info["blocks"])
        await running.settle()
        assert len(running.store.list_items()) == 1
        assert len(posts(slack, "C0PAYMENTS")) == 1


async def test_message_forwarded_while_the_modal_was_open_is_not_forwarded_twice(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        said = past_ts(600)
        message = slack.add_message("C0GENERAL", user="U0SUPPORT2", ts=said, text="Refund missing")
        view = await shortcut(running, slack, message, channel="C0GENERAL")
        reaction = reaction_added_event(
            user="U0SUPPORT2", reaction="inbox_tray", channel="C0GENERAL", ts=said
        )
        assert (await running.slack.send_event(event_callback(reaction))).status == 200
        await running.settle()
        response = await submit(running, view, modal_values(text=prefill(view), team="payments"))
        answer = response.json
        assert answer["response_action"] == "update"
        [item] = running.store.list_items()
        assert f"#{item.id}" in str(answer["view"]["blocks"])
        await running.settle()
        assert len(posts(slack, "C0PAYMENTS")) == 1


async def test_the_same_submission_delivered_twice_forwards_once(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        message = slack.add_message(
            "C0GENERAL", user="U0SUPPORT2", ts=past_ts(60), text="Refund missing"
        )
        view = await shortcut(running, slack, message, channel="C0GENERAL")
        payload = view_submission(
            user_id="U0SUPPORT",
            callback_id="feedback_submit",
            view_id=view["id"],
            private_metadata=view["private_metadata"],
            values=modal_values(text=prefill(view), team="payments"),
        )
        for _ in range(2):
            assert (await running.slack.send_interaction(payload)).status == 200
        await running.settle()
        assert len(running.store.list_items()) == 1
        assert len(posts(slack, "C0PAYMENTS")) == 1


async def test_expired_trigger_tells_the_person_to_try_again(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        slack.expire_triggers = True
        message = slack.add_message(
            "C0ACMESHARED", user="U0CUSTOMER", ts=past_ts(60), text="Refund missing"
        )
        payload = message_shortcut(
            callback_id="forward_feedback",
            user_id="U0SUPPORT",
            channel_id="C0ACMESHARED",
            message=message,
        )
        assert (await running.slack.send_interaction(payload)).status == 200
        await running.settle()
        [dm] = await wait_for_post(slack, "U0SUPPORT")
        assert "try again" in dm.args["text"]
        assert running.store.list_items() == []
        assert slack.calls_to("views.open") == []
        assert posts_anywhere_in(slack, "C0ACMESHARED") == []


async def test_shortcut_on_a_file_only_message_forwards_the_file_names(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        files = [{"id": "F0SHOT", "name": "shot.png", "title": "shot.png"}]
        message = slack.add_message(
            "C0GENERAL",
            user="U0SUPPORT2",
            ts=past_ts(60),
            text="",
            subtype="file_share",
            files=files,
        )
        view = await shortcut(running, slack, message, channel="C0GENERAL")
        assert "shot.png" in prefill(view)
        await submit(running, view, modal_values(text=prefill(view), team="triage"))
        await running.settle()
        [item] = running.store.list_items()
        events = running.store.events_for(workspace=item.workspace, item_id=item.id)
        assert events[0].data["files"] == ["shot.png"]


async def test_shortcut_works_where_the_bot_is_not_a_member(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        said = past_ts(120)
        message = slack.add_message(
            "C0SECRET", user="U0SUPPORT2", ts=said, text="The Android app drains the battery"
        )
        view = await shortcut(running, slack, message, channel="C0SECRET")
        assert view_block(view, "team")["element"]["initial_option"]["value"] == "mobile"
        await submit(running, view, modal_values(text=prefill(view), team="mobile"))
        await running.settle()
        [item] = running.store.list_items()
        assert (item.source_channel, item.source_ts) == ("C0SECRET", said)
        assert len(posts(slack, "C0MOBILE")) == 1
        assert posts_anywhere_in(slack, "C0SECRET") == []


async def test_shortcut_on_a_shared_forward_offers_the_original(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        original = past_ts(7200)
        attachment = {
            "is_share": True,
            "is_msg_unfurl": True,
            "ts": original,
            "channel_id": "C0GLOBEXSHARED",
            "author_id": "U0CUSTOMER",
            "text": "Login loops forever",
            "fallback": "Login loops forever",
            "from_url": "https://demo.slack.com/archives/C0GLOBEXSHARED/p1",
        }
        message = slack.add_message(
            "C0GENERAL",
            user="U0SUPPORT2",
            ts=past_ts(60),
            text="see this",
            attachments=[attachment],
        )
        view = await shortcut(running, slack, message, channel="C0GENERAL")
        assert prefill(view) == "Login loops forever"
        await submit(running, view, modal_values(text=prefill(view), team="mobile"))
        await running.settle()
        [item] = running.store.list_items()
        assert (item.source_channel, item.source_ts) == ("C0GLOBEXSHARED", original)
        assert item.received_at == ts_to_datetime(original)
        assert item.note == "see this"


async def test_a_guest_using_the_shortcut_gets_no_form_and_is_told_privately(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        message = slack.add_message("C0ACMESHARED", user="U0CUSTOMER", text="refund please")
        response = await running.slack.send_interaction(message_shortcut(
            callback_id="forward_feedback", user_id="U0GUEST", channel_id="C0ACMESHARED",
            message=message))
        assert response.status == 200
        await running.settle()
        assert slack.calls_to("views.open") == []
        assert running.store.list_items() == []
        [dm] = await wait_for_post(slack, "U0GUEST")
        assert "Only members of this workspace" in dm.args["text"]
        assert posts(slack, "C0ACMESHARED") == []
