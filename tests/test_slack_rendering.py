"""Customer text on cards: escaped so it never pings, cut to Block Kit's limits, kept whole."""

from __future__ import annotations

import json
import re
import unicodedata

from handlers.slack.standin.payloads import (
    event_callback,
    forwarded_message_event,
    message_event,
    message_shortcut,
    slash_command,
    view_submission,
)
from tests.slack_harness import (
    block_texts,
    config_with,
    make_fake_slack,
    modal_values,
    opened_view,
    past_ts,
    posts,
    running_bot,
    wait_for_post,
)

HOSTILE = "Hey <!channel> and <!here> @channel <@U0ALICE> & <https://evil.example|click> <#C0X>"
RAW = ("<!channel>", "<!here>", "<@U0ALICE>", "<https://evil.example|click>", "<#C0X>")
ESCAPED = (
    "&lt;!channel&gt;",
    "&lt;!here&gt;",
    "&lt;@U0ALICE&gt;",
    "&lt;https://evil.example|click&gt;",
    "&amp;",
)
SECTION_LIMIT = 3000
FIELD_LIMIT = 2000
# Every `&` must start one of the three entities; a cut in the middle would show garbage.
BROKEN_ENTITY = re.compile(r"&(?!amp;|lt;|gt;)")


async def post_in_intake(running, text: str) -> dict:
    event = message_event(channel="C0INTAKE", user="U0SUPPORT", text=text)
    assert (await running.slack.send_event(event_callback(event))).status == 200
    await running.settle()
    return event


def assert_never_pings(card_args: dict) -> None:
    rendered = json.dumps(card_args["blocks"], ensure_ascii=False) + card_args["text"]
    for raw in RAW:
        assert raw not in rendered, raw
    assert card_args.get("link_names") in (None, False)


async def test_card_escapes_mentions_broadcasts_and_links(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        await post_in_intake(running, HOSTILE)
        [item] = running.store.list_items()
        assert item.text == HOSTILE and item.team == "triage"
        [card] = posts(slack, "C0TRIAGE")
        assert_never_pings(card.args)
        body = "\n".join(block_texts(card.args["blocks"]))
        for escaped in ESCAPED:
            assert escaped in body, escaped
        assert "&lt;!channel&gt;" in card.args["text"]
        [notice] = await wait_for_post(slack, "C0INTAKE")
        assert "<!channel>" not in notice.args["text"]


async def test_note_and_customer_are_escaped_too(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        message = slack.add_message(
            "C0GENERAL", user="U0SUPPORT2", ts=past_ts(60), text="exports are slow"
        )
        payload = message_shortcut(
            callback_id="forward_feedback",
            user_id="U0SUPPORT",
            channel_id="C0GENERAL",
            message=message,
        )
        assert (await running.slack.send_interaction(payload)).status == 200
        view = opened_view((await slack.wait_for("views.open"))[0])
        submission = view_submission(
            user_id="U0SUPPORT",
            callback_id="feedback_submit",
            view_id=view["id"],
            private_metadata=view["private_metadata"],
            values=modal_values(
                text="exports are slow", team="triage", customer="<!channel> & co", note=HOSTILE
            ),
        )
        assert (await running.slack.send_interaction(submission)).status == 200
        await running.settle()
        [item] = running.store.list_items()
        assert item.customer == "<!channel> & co" and item.note == HOSTILE
        [card] = posts(slack, "C0TRIAGE")
        assert_never_pings(card.args)
        body = "\n".join(block_texts(card.args["blocks"]))
        assert "&lt;!channel&gt; &amp; co" in body
        assert "&lt;@U0ALICE&gt;" in body


async def test_forwarders_comment_on_a_shared_message_is_escaped(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        event = forwarded_message_event(
            channel="C0INTAKE",
            user="U0SUPPORT",
            text=HOSTILE,
            original_text=HOSTILE,
            original_author="U0CUSTOMER",
            original_ts=past_ts(600),
            original_channel="C0GLOBEXSHARED",
        )
        assert (await running.slack.send_event(event_callback(event))).status == 200
        await running.settle()
        [item] = running.store.list_items()
        assert item.note == HOSTILE and item.customer == "globex"
        [card] = posts(slack, "C0MOBILE")
        assert_never_pings(card.args)


async def test_huge_text_fits_block_kit_and_is_stored_whole(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        text = "".join(f"{n}: a&b <c> d\n" for n in range(4000))[:49_999] + "!"
        assert len(text) == 50_000
        await post_in_intake(running, text)
        [item] = running.store.list_items()
        assert item.text == text
        [card] = posts(slack, "C0TRIAGE")
        for block in card.args["blocks"]:
            if isinstance(block.get("text"), dict):
                assert len(block["text"]["text"]) <= SECTION_LIMIT
            for field in block.get("fields") or []:
                assert len(field["text"]) <= FIELD_LIMIT
        texts = block_texts(card.args["blocks"])
        assert all(not BROKEN_ENTITY.search(part) for part in texts)
        assert len(card.args["text"]) <= 4000
        assert_never_pings(card.args)


async def test_cut_never_splits_an_entity(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        for n, char in enumerate("&<>"):
            ts = past_ts(100 - n)
            event = message_event(channel="C0INTAKE", user="U0SUPPORT", text=char * 5000, ts=ts)
            assert (await running.slack.send_event(event_callback(event))).status == 200
        await running.settle()
        cards = posts(slack, "C0TRIAGE")
        assert len(cards) == 3
        for card in cards:
            texts = [*block_texts(card.args["blocks"]), card.args["text"]]
            assert all(not BROKEN_ENTITY.search(part) for part in texts)
            assert all(len(part) <= SECTION_LIMIT for part in texts)


ODD = (
    "\u202eevil\u202c txt 👩\u200d💻 de\u0301ja\u0300 vu 🇩🇪 \u200b zero-width"
    " \U0001f600 عربى \ufeff end"
)


async def test_odd_unicode_survives_intact_in_the_store(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        text = "x " + ODD + " x"
        await post_in_intake(running, text)
        [item] = running.store.list_items()
        assert item.text == text
        assert unicodedata.is_normalized("NFD", "e\u0301")  # the combining mark is kept apart
        assert "e\u0301" in item.text and "\u202e" in item.text and "\u200d" in item.text
        [card] = posts(slack, "C0TRIAGE")
        assert "👩\u200d💻" in json.dumps(card.args["blocks"], ensure_ascii=False)


async def test_odd_unicode_survives_the_slash_command_and_the_modal(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        form = slash_command(text="cmd " + ODD, user_id="U0SUPPORT", channel_id="C0GENERAL")
        assert (await running.slack.send_command(form)).status == 200
        await running.settle()
        message = slack.add_message(
            "C0GENERAL", user="U0SUPPORT2", ts=past_ts(60), text="modal " + ODD
        )
        payload = message_shortcut(
            callback_id="forward_feedback",
            user_id="U0SUPPORT",
            channel_id="C0GENERAL",
            message=message,
        )
        assert (await running.slack.send_interaction(payload)).status == 200
        view = opened_view((await slack.wait_for("views.open"))[0])
        initial = next(b for b in view["blocks"] if b.get("block_id") == "text")
        assert initial["element"]["initial_value"] == "modal " + ODD
        submission = view_submission(
            user_id="U0SUPPORT",
            callback_id="feedback_submit",
            view_id=view["id"],
            private_metadata=view["private_metadata"],
            values={**modal_values(text="modal " + ODD, team="triage", note=ODD),
                    # Slack sends the radio buttons' initial option: "It's new".
                    **({"same": {"value": {"type": "radio_buttons", "selected_option": {
                        "text": {"type": "plain_text", "text": "It's new"}, "value": "new"}}}}
                       if any(b.get("block_id") == "same" for b in view["blocks"]) else {})},
        )
        assert (await running.slack.send_interaction(submission)).status == 200
        await running.settle()
        texts = sorted(item.text for item in running.store.list_items())
        assert texts == sorted(["cmd " + ODD, "modal " + ODD])
        modal_item = next(i for i in running.store.list_items() if i.text.startswith("modal"))
        assert modal_item.note == ODD


async def test_a_bots_post_names_the_bot_without_a_broken_user_mention(tmp_path):
    config = config_with(bots=["B0ZENDESK"])
    async with (
        make_fake_slack() as slack,
        running_bot(slack, tmp_path / "bot.db", config=config) as running,
    ):
        event = message_event(
            channel="C0INTAKE",
            user=None,
            bot_id="B0ZENDESK",
            subtype="bot_message",
            text="Ticket 7: exports time out",
        )
        assert (await running.slack.send_event(event_callback(event))).status == 200
        await running.settle()
        [card] = posts(slack, "C0TRIAGE")
        assert "<@B0ZENDESK>" not in json.dumps(card.args["blocks"])
