"""The 1:1 conversation, turn by turn, with the Agents SDK's own TestAdapter and TestFlow.

The turns are the bot's (handlers/msteams/turns.py); member lookups go to the fake Bot
Connector through the SDK's connector client, as they do from /api/messages.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

pytest.importorskip("microsoft_agents.testing", reason="needs the teams extra")

from microsoft_agents.activity import Activity
from microsoft_agents.hosting.core import ChannelServiceAdapter, TurnContext
from microsoft_agents.hosting.core.connector.client import ConnectorClient
from microsoft_agents.testing import TestAdapter, TestFlow

from tests.msteams_harness import GUEST, TeamsBot, running_teams_bot


def adapter_for(activity: dict) -> TestAdapter:
    """A TestAdapter stamping activities with this 1:1 chat (not its own default one)."""
    return TestAdapter(
        conversation=Activity.model_validate(activity).get_conversation_reference())


def turn_of(bot: TeamsBot, client: ConnectorClient) -> Callable[[TurnContext], Awaitable[None]]:
    """The bot's turn handler, with the connector client the hosting adapter would give it."""

    async def on_turn(context: TurnContext) -> None:
        context.turn_state[ChannelServiceAdapter._AGENT_CONNECTOR_CLIENT_KEY] = client
        body = context.activity.model_dump(mode="json", by_alias=True, exclude_none=True)
        await bot.inbound.turns.on_turn(context, body)

    return on_turn


async def test_help_then_feedback_in_a_1on1_chat(tmp_path: Path) -> None:
    async with running_teams_bot(tmp_path) as bot:
        client = ConnectorClient(bot.connector.url, "")
        try:
            flow = TestFlow(adapter_for(bot.personal("")), turn_of(bot, client))
            await (flow
                   .send(Activity.model_validate(bot.personal("help")))
                   .assert_reply_contains("Send to developers")
                   .send(Activity.model_validate(bot.personal("Refunds fail for Acme")))
                   .assert_no_more_replies()
                   .start_test())
        finally:
            await client.close()

        [item] = bot.store.list_items()
        assert (item.team, item.intake_kind) == ("payments", "direct")


async def test_a_guest_gets_no_reply_at_all(tmp_path: Path) -> None:
    async with running_teams_bot(tmp_path) as bot:
        client = ConnectorClient(bot.connector.url, "")
        try:
            flow = TestFlow(adapter_for(bot.personal("", sender=GUEST)),
                            turn_of(bot, client))
            await (flow
                   .send(Activity.model_validate(bot.personal("help", sender=GUEST)))
                   .assert_no_more_replies()
                   .send(Activity.model_validate(bot.personal("refund me", sender=GUEST)))
                   .assert_no_more_replies()
                   .start_test())
        finally:
            await client.close()

        assert bot.store.list_items() == []
