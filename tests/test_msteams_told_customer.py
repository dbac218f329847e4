"""The loop closed with the customer on Teams, over /api/messages and the fake Bot Connector:
Told the customer on the forwarder's notice card, and support's reply in the customer's thread."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("microsoft_agents.hosting.aiohttp", reason="needs the teams extra")

from handlers.msteams.connector_fake import TENANT_ID
from tests.msteams_harness import (
    BOT_ID,
    CARDS_CHANNEL,
    DEV,
    GUEST,
    SUPPORT,
    TEAM_ID,
    TeamsBot,
    running_teams_bot,
)

WORKSPACE = f"msteams:{TENANT_ID}"
MESSAGE = "application/vnd.microsoft.activity.message"
TOLD = "toldCustomer"
SHARED = "19:acme0shared0000@thread.tacv2"  # a channel the customer's guests write in


def _verbs(card: dict[str, Any]) -> list[str]:
    return [action.get("verb") for action in card.get("actions") or []]


def _card(call: Any) -> dict[str, Any]:
    return dict(call.body["attachments"][0]["content"])


async def _install(bot: TeamsBot) -> None:
    bot.connector.add_channel(TEAM_ID, TEAM_ID)
    bot.connector.add_channel(TEAM_ID, CARDS_CHANNEL, "payments-cards")
    await bot.post(bot.base({"conversationType": "channel", "isGroup": True, "id": TEAM_ID},
                            type="conversationUpdate", membersAdded=[{"id": BOT_ID}],
                            channel_data={"eventType": "teamMemberAdded",
                                          "team": {"id": TEAM_ID, "name": "Payments"}}))


async def test_told_the_customer_on_the_notice_records_once(tmp_path: Path) -> None:
    async with running_teams_bot(tmp_path, real_port=True, outbox=True) as bot:
        connector = bot.connector
        await _install(bot)
        await bot.post(bot.personal("Acme can't get a refund since Monday"))
        await connector.wait_for("send_to_conversation", 2)
        await bot.settle()
        [item] = bot.store.list_items()
        item = bot.store.get_item(workspace=WORKSPACE, item_id=item.id) or item

        # Before the team responds: refused, and not offered on the routed notice.
        _, body = await bot.post(bot.card_click(TOLD, item.id, sender=SUPPORT))
        assert body["type"] == MESSAGE and "hasn't responded to feedback" in body["value"]
        routed = [call for call in connector.calls_to("send_to_conversation")
                  if CARDS_CHANNEL not in call.path]
        assert routed and TOLD not in _verbs(_card(routed[-1]))

        await bot.post(bot.card_click("acknowledge", item.id, sender=DEV,
                                      card_message=str(item.card_ts)))
        await connector.wait_for("send_to_conversation", 3)
        notice = [call for call in connector.calls_to("send_to_conversation")
                  if "is on feedback" in str(_card(call)["body"])][-1]
        assert TOLD in _verbs(_card(notice))

        # A guest, and a forged id, are refused; then Sam's click records it, once.
        _, body = await bot.post(bot.card_click(TOLD, item.id, sender=GUEST))
        assert body["value"] == "Only members of this organisation can act on feedback."
        _, body = await bot.post(bot.card_click(TOLD, 987654, sender=SUPPORT))
        assert body["value"] == "That feedback item no longer exists."
        _, body = await bot.post(bot.card_click(TOLD, item.id, sender=SUPPORT))
        assert body["type"] == MESSAGE and body["value"].startswith("✅ Noted")
        _, body = await bot.post(bot.card_click(TOLD, item.id, sender=DEV))
        assert body["value"].startswith("Already recorded: **sam@example\\.com**")

        latest = bot.store.get_item(workspace=WORKSPACE, item_id=item.id)
        assert latest is not None
        assert (latest.customer_answered_by, latest.customer_answered_how) == (
            "sam@example.com", "button")
        events = bot.store.events_for(workspace=WORKSPACE, item_id=item.id)
        assert [e.actor for e in events if e.kind == "customer_answered"] == [
            "sam@example.com"]

        # The notice is updated in place: who told the customer, and no button.
        await connector.wait_for("update_activity", 3)  # the card twice, then the notice
        shown = [activity["attachments"][0]["content"]
                 for posted in connector.activities.values() for activity in posted.values()
                 if "is on feedback" in str(activity.get("attachments"))]
        assert len(shown) == 1 and TOLD not in _verbs(shown[0])
        assert "The customer heard back: **Sam Support**" in str(shown[0]["body"])
        # The team's card says the loop is closed.
        card_updates = [call for call in connector.calls_to("update_activity")
                        if call.path.endswith(f"/activities/{item.card_ts}")]
        assert "The customer heard back" in str(_card(card_updates[-1])["body"])


async def test_a_reply_by_support_in_the_customers_thread_closes_the_loop(
        tmp_path: Path) -> None:
    async with running_teams_bot(tmp_path) as bot:
        said = "1717171717100"
        action = bot.sender.message_action(
            "composeExtension/submitAction", html="<p>Our refund is missing</p>",
            channel=SHARED, sender=SUPPORT, author=GUEST,
            created=datetime(2024, 5, 6, 7, 31, tzinfo=UTC), data={"team": "payments"},
            message_id=said)
        await bot.post(action)
        [item] = bot.store.list_items()
        assert (item.source_channel, item.source_ts) == (SHARED, said)
        bot.store.update_item(workspace=WORKSPACE, item_id=item.id,
                              changes={"card_channel": CARDS_CHANNEL, "card_ts": "1717000009999",
                                       "status": "routed"})

        # Teams stamps each message with when it was written: here, the bot's clock.
        teams = dataclasses.replace(bot.sender, clock=bot.clock)

        async def reply(sender: dict[str, str], words: str) -> None:
            bot.clock.advance(timedelta(minutes=5))
            await bot.post(teams.channel_post(f"<p>{words}</p>", channel=SHARED, sender=sender,
                                              mention=False, root=said))

        def told() -> Any:
            return bot.store.get_item(workspace=WORKSPACE, item_id=item.id)

        await reply(SUPPORT, "looking into it")  # before the team's first response
        assert told().customer_answered_at is None
        await bot.post(bot.card_click("acknowledge", item.id, sender=DEV))
        await reply(GUEST, "any news?")  # the customer's side never counts
        assert told().customer_answered_at is None

        await reply(SUPPORT, "The refund went out today")
        answered_at = bot.clock()
        await reply(DEV, "and a voucher")
        latest = told()
        assert (latest.customer_answered_by, latest.customer_answered_how) == (
            "sam@example.com", "thread")
        # When Teams says it was written (to the millisecond), not when it was processed.
        assert latest.customer_answered_at == answered_at.replace(
            microsecond=answered_at.microsecond // 1000 * 1000)
        events = bot.store.events_for(workspace=WORKSPACE, item_id=item.id)
        assert [e.actor for e in events if e.kind == "customer_answered"] == [
            "sam@example.com"]
        # `stats` in the 1:1 chat shows the whole loop beside time to response.
        from tests.test_msteams_forward import replies_and_sends
        before = len(replies_and_sends(bot))
        await bot.post(bot.personal("stats payments"))
        [answer] = replies_and_sends(bot)[before:]
        assert answer["text"].endswith("\n- Until the customer heard back: median 1h 44m,"
                                       " p90 1h 44m (1 item)")
