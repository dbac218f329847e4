"""The loop on Teams alone, end to end over HTTP: install, forward 1:1, card, click, refresh.

Inbound activities go to /api/messages; the outbox sends through the real Teams port to
the fake Bot Connector, whose recorded calls are what Teams would have received.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("microsoft_agents.hosting.aiohttp", reason="needs the teams extra")

from handlers.msteams.connector_fake import TENANT_ID
from tests.msteams_harness import BOT_ID, CARDS_CHANNEL, DEV, TEAM_ID, running_teams_bot

WORKSPACE = f"msteams:{TENANT_ID}"


async def test_forward_in_a_1on1_chat_then_acknowledge_on_the_card(tmp_path: Path) -> None:
    async with running_teams_bot(tmp_path, real_port=True, outbox=True) as bot:
        connector = bot.connector
        connector.add_channel(TEAM_ID, TEAM_ID)
        connector.add_channel(TEAM_ID, CARDS_CHANNEL, "payments-cards")
        install = bot.base({"conversationType": "channel", "isGroup": True, "id": TEAM_ID},
                           type="conversationUpdate", membersAdded=[{"id": BOT_ID}],
                           channel_data={"eventType": "teamMemberAdded",
                                         "team": {"id": TEAM_ID, "name": "Payments"}})
        await bot.post(install)

        await bot.post(bot.personal("Acme can't get a refund since Monday"))

        # The card lands in the payments cards channel, and the forwarder hears back 1:1.
        await connector.wait_for("send_to_conversation", 2)
        [item] = bot.store.list_items()
        card_post = next(call for call in connector.calls_to("send_to_conversation")
                         if CARDS_CHANNEL in call.path)
        card = card_post.body["attachments"][0]["content"]
        assert card["type"] == "AdaptiveCard"
        assert "refund" in str(card["body"])
        await bot.settle()
        item = bot.store.get_item(workspace=WORKSPACE, item_id=item.id) or item
        assert (item.card_channel, item.card_platform) == (CARDS_CHANNEL, "msteams")

        # Carol (payments, by email) acknowledges on the card.
        status, body = await bot.post(bot.card_click("acknowledge", item.id, sender=DEV,
                                                     card_message=str(item.card_ts)))

        assert status == 200 and body["type"] == "application/vnd.microsoft.card.adaptive"
        await connector.wait_for("update_activity")  # everyone else sees it too
        [update] = connector.calls_to("update_activity")
        assert update.path.endswith(f"/activities/{item.card_ts}")
        latest = bot.store.get_item(workspace=WORKSPACE, item_id=item.id)
        assert latest is not None and latest.first_response_by == "carol@example.com"
