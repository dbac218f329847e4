"""Forwarding on Teams over /api/messages: the message action, intake-channel mentions, 1:1s."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

pytest.importorskip("microsoft_agents.hosting.aiohttp", reason="needs the teams extra")

from bot.outbox_kinds import CARD
from handlers.msteams.connector_fake import TENANT_ID
from tests.msteams_harness import (
    CARDS_CHANNEL,
    DEV,
    GUEST,
    INTAKE_CHANNEL,
    SUPPORT,
    TeamsBot,
    running_teams_bot,
)

WORKSPACE = f"msteams:{TENANT_ID}"
LONG_HTML = ("<p>Hi team,</p><p>the <b>refund</b> for order&nbsp;#4411 never arrived &amp; the"
             " customer is upset.</p><ul><li>paid twice</li><li>no email</li></ul>"
             + "<p>" + "more words " * 600 + "</p><p>THE END</p>")


def card_entries(bot: TeamsBot, item_id: int) -> list[str]:
    return [entry.kind for entry in bot.store.outbox_for_item(workspace=WORKSPACE,
                                                              item_id=item_id)]


def replies_and_sends(bot: TeamsBot) -> list[dict]:
    return [call.body for call in bot.connector.calls
            if call.operation in ("send_to_conversation", "reply_to_activity")]


# --- the message action (forwardFeedback) ---------------------------------------------------


async def test_fetch_task_opens_the_form_with_the_suggested_team(tmp_path: Path) -> None:
    async with running_teams_bot(tmp_path) as bot:
        status, body = await bot.post(bot.message_action("composeExtension/fetchTask",
                                                         html=LONG_HTML))

        assert status == 200
        task = body["task"]
        assert task["type"] == "continue"
        card = task["value"]["card"]["content"]
        inputs = {element["id"]: element for element in card["body"] if "id" in element}
        assert inputs["team"]["value"] == "payments"  # "refund" is a payments keyword
        assert set(inputs) == {"team", "customer", "severity", "note"}
        assert bot.store.list_items() == []  # nothing is forwarded by opening the form


async def test_submit_action_forwards_once_with_the_messages_time_and_full_text(
        tmp_path: Path) -> None:
    async with running_teams_bot(tmp_path) as bot:
        submit = bot.message_action(
            "composeExtension/submitAction", html=LONG_HTML,
            data={"team": "payments", "customer": "Acme", "severity": "high",
                  "note": "second time this week"})

        status, body = await bot.post(submit)

        assert status == 200
        assert body["task"]["type"] == "message"
        assert "#1" in body["task"]["value"] and "payments" in body["task"]["value"]
        [item] = bot.store.list_items()
        # The customer spoke at the message's createdDateTime, not when it was forwarded.
        assert item.received_at == datetime(2024, 5, 6, 7, 31, tzinfo=UTC)
        assert item.forwarded_at == bot.clock()
        assert item.text.startswith("Hi team,\nthe refund for order #4411 never arrived &"
                                    " the customer is upset.\n• paid twice\n• no email")
        assert item.text.endswith("THE END")  # the full text is kept
        assert (item.team, item.customer, item.severity, item.note) == (
            "payments", "Acme", "high", "second time this week")
        assert (item.platform, item.intake_kind, item.forwarded_by) == (
            "msteams", "shortcut", "sam@example.com")
        assert item.source_channel == INTAKE_CHANNEL
        assert item.source_ts == "1717171717171"
        assert card_entries(bot, item.id) == [CARD]

        # The same message forwarded again (a new invoke): still one item.
        again = bot.message_action("composeExtension/submitAction", html=LONG_HTML,
                                   data={"team": "mobile"})
        status, body = await bot.post(again)
        assert "already forwarded as feedback #1" in body["task"]["value"]
        assert len(bot.store.list_items()) == 1


async def test_submit_action_with_an_unknown_team_answers_and_stores_nothing(
        tmp_path: Path) -> None:
    async with running_teams_bot(tmp_path) as bot:
        status, body = await bot.post(bot.message_action(
            "composeExtension/submitAction", html="<p>refund</p>", data={"team": "nobody"}))

        assert status == 200
        assert body["task"] == {"type": "message",
                                "value": "There is no team called 'nobody'."}
        assert bot.store.list_items() == []


@pytest.mark.parametrize("name", ["composeExtension/fetchTask",
                                  "composeExtension/submitAction"])
async def test_a_guest_using_the_action_gets_refused_and_nothing_is_stored(
        tmp_path: Path, name: str) -> None:
    async with running_teams_bot(tmp_path) as bot:
        status, body = await bot.post(bot.message_action(
            name, html="<p>refund</p>", sender=GUEST, data={"team": "payments"}))

        assert status == 200
        # No form for a guest: the refusal comes at once.
        assert body["task"] == {"type": "message", "value":
                                "Only members of this organisation can forward feedback."}
        assert bot.store.list_items() == []


async def test_an_action_without_the_message_payload_gets_an_answer(tmp_path: Path) -> None:
    async with running_teams_bot(tmp_path) as bot:
        activity = bot.message_action("composeExtension/fetchTask", html="<p>x</p>")
        activity["value"]["messagePayload"] = None

        status, body = await bot.post(activity)

        assert status == 200
        assert "Send to developers" in body["task"]["value"]
        assert bot.store.list_items() == []


# --- an @mention in an intake channel -------------------------------------------------------


async def test_mentioning_the_bot_in_an_intake_channel_forwards_the_message(
        tmp_path: Path) -> None:
    async with running_teams_bot(tmp_path) as bot:
        post = bot.channel_post("<p>Customer says the <b>app</b> crashes on login</p>")

        status, _ = await bot.post(post)

        assert status == 202
        [item] = bot.store.list_items()
        assert item.text == "Customer says the app crashes on login"  # mention stripped
        assert (item.team, item.intake_kind, item.platform) == ("mobile", "channel", "msteams")
        # Confirmations go back in that thread.
        assert (item.reply_channel, item.reply_thread_ts) == (INTAKE_CHANNEL, post["id"])
        assert item.received_at == datetime(2024, 5, 6, 8, 55, 0, 123000, tzinfo=UTC)


async def test_mentions_outside_intake_channels_and_plain_posts_forward_nothing(
        tmp_path: Path) -> None:
    async with running_teams_bot(tmp_path) as bot:
        await bot.post(bot.channel_post("the app crashes", channel=CARDS_CHANNEL))
        await bot.post(bot.channel_post("the app crashes", mention=False))

        assert bot.store.list_items() == []


async def test_a_guest_mentioning_the_bot_in_an_intake_channel_forwards_nothing(
        tmp_path: Path) -> None:
    async with running_teams_bot(tmp_path) as bot:
        status, _ = await bot.post(bot.channel_post("the app crashes", sender=GUEST))

        assert status == 202
        assert bot.store.list_items() == []
        assert replies_and_sends(bot) == []


# --- a 1:1 message to the bot ---------------------------------------------------------------


async def test_a_direct_message_is_feedback(tmp_path: Path) -> None:
    async with running_teams_bot(tmp_path) as bot:
        message = bot.personal("Acme can't download invoices since Monday")

        await bot.post(message)

        [item] = bot.store.list_items()
        assert (item.team, item.intake_kind, item.forwarded_by) == (
            "payments", "direct", "sam@example.com")
        assert item.reply_channel is None  # notices come back 1:1
        assert card_entries(bot, item.id) == [CARD]
        assert replies_and_sends(bot) == []  # the confirmation follows the card (outbox)


async def test_a_guests_direct_message_gets_no_reply_and_makes_no_item(
        tmp_path: Path) -> None:
    async with running_teams_bot(tmp_path) as bot:
        status, _ = await bot.post(bot.personal("please refund me", sender=GUEST))

        assert status == 202
        assert bot.store.list_items() == []
        assert replies_and_sends(bot) == []
        # Looking the person up is all that happened.
        assert [call.operation for call in bot.connector.calls] == ["get_conversation_member"]


async def test_someone_teams_does_not_know_is_treated_as_outside(tmp_path: Path) -> None:
    async with running_teams_bot(tmp_path) as bot:
        stranger = {"entra_id": "a1b2c3d4-0000-4000-8000-00000000f001", "name": "X Y",
                    "email": "x@elsewhere.example"}

        await bot.post(bot.personal("please refund me", sender=stranger))

        assert bot.store.list_items() == []
        assert replies_and_sends(bot) == []
        assert bot.store.inbox_pending() == []  # a settled answer: not retried


@pytest.mark.parametrize("command, expected", [
    ("help", "Send to developers"),
    ("stats", "All teams, last 7 days: 0 new, 0 responded, 0 resolved, 1 waiting now"),
    ("Stats payments 30d", "**payments**, last 30 days: 0 new, 0 responded, 0 resolved,"
                           " 1 waiting now"),
    ("mine", "You forwarded, still waiting"),
])
async def test_stats_mine_and_help_answer_in_the_chat(tmp_path: Path, command: str,
                                                      expected: str) -> None:
    async with running_teams_bot(tmp_path) as bot:
        await bot.post(bot.personal("Acme can't download invoices"))

        await bot.post(bot.personal(command))

        assert len(bot.store.list_items()) == 1  # the command is not feedback
        [answer] = replies_and_sends(bot)
        assert expected in answer["text"]
        assert answer["conversation"]["id"].startswith("a:1")


async def test_stats_for_a_word_that_is_no_team_is_feedback(tmp_path: Path) -> None:
    async with running_teams_bot(tmp_path) as bot:
        await bot.post(bot.personal("stats broken"))

        [item] = bot.store.list_items()
        assert item.text == "stats broken"


async def test_an_empty_direct_message_gets_the_reason(tmp_path: Path) -> None:
    async with running_teams_bot(tmp_path) as bot:
        await bot.post(bot.personal("   "))

        assert bot.store.list_items() == []
        [answer] = replies_and_sends(bot)
        assert answer["text"] == "There is no text to forward."


async def test_mine_lists_what_waits_on_the_developers_team(tmp_path: Path) -> None:
    async with running_teams_bot(tmp_path) as bot:
        await bot.post(bot.personal("Acme can't download invoices"))

        await bot.post(bot.personal("mine", sender=DEV))

        [answer] = replies_and_sends(bot)
        assert "Waiting for your team's response** (1)" in answer["text"]
        assert "#1" in answer["text"]
        assert SUPPORT["email"] not in answer["text"]
