"""The "+1" offer on Teams, end to end: forward 1:1 twice, +1 on the offer card, answers.

Inbound activities go to /api/messages; the outbox sends through the real Teams port to
the fake Bot Connector, whose recorded calls are what Teams would have received.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("microsoft_agents.hosting.aiohttp", reason="needs the teams extra")

from handlers.msteams.connector_fake import TENANT_ID
from tests.msteams_harness import BOT_ID, CARDS_CHANNEL, DEV, SUPPORT, TEAM_ID, running_teams_bot
from tests.slack_harness import wait_until

WORKSPACE = f"msteams:{TENANT_ID}"
FIRST = "Acme was charged twice and the refund never arrived on their invoice"
SAME = "Globex charged twice, refund never arrived, invoice shows both charges"


def _actions(call: Any) -> list[dict[str, Any]]:
    return [action for attachment in call.body.get("attachments") or []
            for action in attachment["content"].get("actions") or []]


def offers(connector: Any) -> list[Any]:
    return [call for call in connector.calls_to("send_to_conversation")
            if any(a.get("verb") == "plusOne" for a in _actions(call))]


async def test_plus_one_on_teams_links_updates_the_card_and_tells_the_forwarder(
        tmp_path: Path) -> None:
    async with running_teams_bot(tmp_path, real_port=True, outbox=True) as bot:
        connector = bot.connector
        connector.add_channel(TEAM_ID, TEAM_ID)
        connector.add_channel(TEAM_ID, CARDS_CHANNEL, "payments-cards")
        await bot.post(bot.base({"conversationType": "channel", "isGroup": True, "id": TEAM_ID},
                                type="conversationUpdate", membersAdded=[{"id": BOT_ID}],
                                channel_data={"eventType": "teamMemberAdded",
                                              "team": {"id": TEAM_ID, "name": "Payments"}}))
        await bot.post(bot.personal(FIRST))
        await wait_until(lambda: any(i.card_ts for i in bot.store.list_items()),
                         what="the first card")
        [first] = bot.store.list_items()

        await bot.post(bot.personal(SAME, sender=DEV))
        await wait_until(lambda: bool(offers(connector)), what="the offer")
        second = next(i for i in bot.store.list_items() if i.id != first.id)
        assert second.card_ts is None
        offer = offers(connector)[0]
        assert f"Looks like #{first.id}" in str(offer.body)
        plus_one = next(a for a in _actions(offer) if a.get("verb") == "plusOne")
        assert plus_one["data"] == {"item": second.id, "match": first.id}

        # Someone else's click, and a forged match, change nothing.
        _, body = await bot.post(bot.card_click("plusOne", second.id, sender=SUPPORT,
                                                match=first.id))
        assert "Only whoever forwarded" in str(body)
        _, body = await bot.post(bot.card_click("plusOne", second.id, sender=DEV,
                                                match=second.id))
        assert "no such" in str(body)
        assert bot.store.get_item(workspace=WORKSPACE, item_id=second.id).linked_to is None

        status, body = await bot.post(bot.card_click("plusOne", second.id, sender=DEV,
                                                     match=first.id))
        assert status == 200 and f"+1 of #{first.id}" in str(body)
        assert bot.store.get_item(workspace=WORKSPACE, item_id=second.id).linked_to == first.id
        card_ts = str(bot.store.get_item(workspace=WORKSPACE, item_id=first.id).card_ts)
        await wait_until(lambda: any("2 customers" in str(call.body)
                                     and call.path.endswith(f"/activities/{card_ts}")
                                     for call in connector.calls_to("update_activity")),
                         what="the card's update")
        await wait_until(lambda: any(f"was added to #{first.id}" in str(call.body)
                                     for call in connector.calls_to("update_activity")),
                         what="the offer's edit")
        _, again = await bot.post(bot.card_click("plusOne", second.id, sender=DEV,
                                                 match=first.id))
        assert "already a +1" in str(again)

        # Carol acknowledges the first card: the +1's forwarder hears it 1:1.
        await bot.post(bot.card_click("acknowledge", first.id, sender=DEV,
                                      card_message=str(bot.store.get_item(
                                          workspace=WORKSPACE, item_id=first.id).card_ts)))
        await wait_until(lambda: any(
            f"Your feedback #{second.id} is a +1" in str(call.body)
            for call in connector.calls_to("send_to_conversation")), what="the +1's notice")
        linked = bot.store.get_item(workspace=WORKSPACE, item_id=second.id)
        assert linked.first_response_at is not None

        # The owning team unlinks it from the card: it gets its own card.
        _, body = await bot.post(bot.card_click("unlink", first.id, sender=DEV,
                                                unlinkItem=str(second.id)))
        assert "Unlinked" in str(body)
        await wait_until(lambda: bool(bot.store.get_item(workspace=WORKSPACE,
                                                         item_id=second.id).card_ts),
                         what="the unlinked item's card")


async def test_the_send_to_developers_form_lists_candidates_and_links_the_choice(
        tmp_path: Path) -> None:
    async with running_teams_bot(tmp_path) as bot:
        await bot.post(bot.personal(FIRST))
        [first] = bot.store.list_items()
        html = f"<p>{SAME}</p>"

        _, body = await bot.post(bot.message_action("composeExtension/fetchTask", html=html))
        card = body["task"]["value"]["card"]["content"]
        same = next(element for element in card["body"] if element.get("id") == "same")
        assert same["value"] == "new"
        assert [c["value"] for c in same["choices"]] == ["new", f"link:{first.id}"]
        assert same["choices"][1]["title"].startswith(f"Same as #{first.id} (payments")

        for forged in ("link:abc", "link:99999"):
            _, body = await bot.post(bot.message_action(
                "composeExtension/submitAction", html=html, message_id="1717171717172",
                data={"team": "payments", "same": forged}))
            assert body["task"]["type"] == "message"
        assert len(bot.store.list_items()) == 1

        _, body = await bot.post(bot.message_action(
            "composeExtension/submitAction", html=html, message_id="1717171717173",
            data={"team": "payments", "same": f"link:{first.id}"}))
        second = next(i for i in bot.store.list_items() if i.id != first.id)
        assert second.linked_to == first.id
        # Linked at once: its card is not held, it is withdrawn.
        assert [e for e in bot.store.outbox_for_item(workspace=WORKSPACE, item_id=second.id)
                if e.kind == "card" and e.status == "pending"] == []


async def test_the_form_left_at_its_new_is_sent_at_once(tmp_path: Path) -> None:
    async with running_teams_bot(tmp_path) as bot:
        await bot.post(bot.personal(FIRST))
        await bot.post(bot.message_action(
            "composeExtension/submitAction", html=f"<p>{SAME}</p>",
            data={"team": "payments", "same": "new"}))
        [second] = [i for i in bot.store.list_items() if "Globex" in i.text]
        due = bot.store.outbox_due(now=bot.clock())
        assert [(e.kind, e.item_id) for e in due if e.item_id == second.id] == [
            ("card", second.id)]
