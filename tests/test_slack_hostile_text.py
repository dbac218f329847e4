"""Hostile customer text over Slack's real protocol: the bot keeps answering and loses nothing."""

from __future__ import annotations

import asyncio

import aiohttp

from bot.config import Config
from handlers.slack.standin.payloads import event_callback, message_event
from tests.slack_harness import example_config, make_fake_slack, running_bot

# Nested quantifiers: a backtracking engine takes 2^n steps on "a" * n + "!".
EXPLOSIVE_PATTERN = "(a+)+$"


def config_with_pattern(pattern: str) -> Config:
    """The example config, with `pattern` added to the mobile team's routing patterns."""
    config = example_config()
    mobile = config.teams["mobile"]
    teams = {**config.teams,
             "mobile": mobile.model_copy(update={"patterns": [*mobile.patterns, pattern]})}
    return config.model_copy(update={"teams": teams})


async def test_a_pattern_with_nested_quantifiers_cannot_freeze_the_bot(tmp_path):
    # https://owasp.org/www-community/attacks/Regular_expression_Denial_of_Service_-_ReDoS
    # 27 letters cost Python's backtracking `re` several seconds with the loop blocked;
    # the issue's 34 would cost hours.
    text = "a" * 27 + "!"
    async with make_fake_slack() as slack, running_bot(
            slack, tmp_path / "bot.db", config=config_with_pattern(EXPLOSIVE_PATTERN)) as running:
        await running.slack.send_event(event_callback(message_event(
            channel="C0INTAKE", user="U0SUPPORT", text=text)))
        loop = asyncio.get_running_loop()
        started = loop.time()
        async with aiohttp.ClientSession() as session, session.get(
                f"{running.url}/healthz", timeout=aiohttp.ClientTimeout(total=60)) as response:
            assert response.status == 200
        # Generous: a blocked event loop answers only after the whole search.
        assert loop.time() - started < 3.0
        await running.settle()
        [item] = running.store.list_items()
        assert item.text == text and item.team == "triage"
        assert item.card_channel == "C0TRIAGE"


async def test_the_issue_text_routes_at_once_with_the_pattern_in_place(tmp_path):
    text = "a" * 34 + "!"
    async with make_fake_slack() as slack, running_bot(
            slack, tmp_path / "bot.db", config=config_with_pattern(EXPLOSIVE_PATTERN)) as running:
        await running.slack.send_event(event_callback(message_event(
            channel="C0INTAKE", user="U0SUPPORT", text=text + " and aaaa")))
        await slack.wait_for("chat.postMessage",
                             where=lambda call: call.args.get("channel") == "C0MOBILE")
        [item] = running.store.list_items()
        assert item.team == "mobile"  # the pattern still matches where it should


async def test_a_lone_surrogate_is_stored_replaced_and_the_item_routed(tmp_path):
    # JSON allows "\ud800" on its own; it used to fail every insert and the item was lost.
    text = "refund for Acme \ud800 never arrived"
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        response = await running.slack.send_event(event_callback(message_event(
            channel="C0INTAKE", user="U0SUPPORT", text=text)))
        assert response.status == 200
        cards = await slack.wait_for("chat.postMessage",
                                     where=lambda call: call.args.get("channel") == "C0PAYMENTS")
        [item] = running.store.list_items()
        assert item.text == "refund for Acme \ufffd never arrived"
        assert "never arrived" in str(cards[0].args["blocks"])
        assert running.store.inbox_pending() == []
