"""The card's Action.Execute buttons and replies in its thread, over /api/messages."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("microsoft_agents.hosting.aiohttp", reason="needs the teams extra")

from bot.models import Item
from bot.outbox_kinds import CARD, CARD_MOVED, CARD_UPDATE
from handlers.msteams.connector_fake import TENANT_ID
from tests.msteams_harness import (
    CARDS_CHANNEL,
    DEV,
    GUEST,
    SUPPORT,
    TEAM_ID,
    TeamsBot,
    running_teams_bot,
)

WORKSPACE = f"msteams:{TENANT_ID}"
CARD_MESSAGE = "1717000009999"
OTHER = {"entra_id": "a1b2c3d4-0000-4000-8000-00000000c001", "name": "Olga Other",
         "email": "olga@example.com"}
ADAPTIVE = "application/vnd.microsoft.card.adaptive"
MESSAGE = "application/vnd.microsoft.activity.message"


async def routed_item(bot: TeamsBot) -> Item:
    """An item forwarded 1:1 whose card was posted in the payments cards channel."""
    bot.connector.add_member(TEAM_ID, **OTHER)
    await bot.post(bot.personal("Acme can't download invoices since Monday"))
    [item] = bot.store.list_items()
    routed = bot.store.update_item(workspace=WORKSPACE, item_id=item.id,
                                   changes={"card_channel": CARDS_CHANNEL,
                                            "card_ts": CARD_MESSAGE, "status": "routed"})
    assert routed is not None
    return routed


def new_entries(bot: TeamsBot, item: Item) -> list[str]:
    return [entry.kind for entry in bot.store.outbox_for_item(workspace=WORKSPACE,
                                                              item_id=item.id)][1:]


async def test_acknowledge_by_the_owning_team_is_the_first_response(tmp_path: Path) -> None:
    async with running_teams_bot(tmp_path) as bot:
        item = await routed_item(bot)

        status, body = await bot.post(bot.card_click("acknowledge", item.id, sender=DEV))

        assert status == 200
        assert (body["statusCode"], body["type"]) == (200, ADAPTIVE)
        assert "acknowledged 5m after the customer spoke" in str(body["value"]["body"])
        verbs = [action.get("verb") for action in body["value"]["actions"]]
        assert "acknowledge" not in verbs  # the refreshed card has no Acknowledge any more
        latest = bot.store.get_item(workspace=WORKSPACE, item_id=item.id)
        assert latest is not None
        assert (latest.first_response_by, latest.first_response_kind) == (
            "carol@example.com", "button")
        assert latest.first_response_at == bot.clock()
        # Everyone else sees the change when the outbox updates the posted card.
        assert CARD_UPDATE in new_entries(bot, item)


async def test_someone_outside_the_team_gets_not_yours(tmp_path: Path) -> None:
    async with running_teams_bot(tmp_path) as bot:
        item = await routed_item(bot)

        status, body = await bot.post(bot.card_click("resolve", item.id, sender=OTHER))

        assert status == 200
        assert body["type"] == MESSAGE
        assert body["value"].startswith("Not yours: only **payments**")
        latest = bot.store.get_item(workspace=WORKSPACE, item_id=item.id)
        assert latest is not None and latest.status == "routed"
        assert new_entries(bot, item) == []


async def test_an_acknowledgement_from_outside_the_team_does_not_count(tmp_path: Path) -> None:
    async with running_teams_bot(tmp_path) as bot:
        item = await routed_item(bot)

        _, body = await bot.post(bot.card_click("acknowledge", item.id, sender=OTHER))

        assert body["type"] == MESSAGE
        assert "not on **payments**" in body["value"]
        latest = bot.store.get_item(workspace=WORKSPACE, item_id=item.id)
        assert latest is not None and latest.first_response_at is None


async def test_a_guest_clicking_changes_nothing(tmp_path: Path) -> None:
    async with running_teams_bot(tmp_path) as bot:
        item = await routed_item(bot)
        events_before = bot.store.events_for(workspace=WORKSPACE, item_id=item.id)

        _, body = await bot.post(bot.card_click("acknowledge", item.id, sender=GUEST))

        assert body["value"] == "Only members of this organisation can act on feedback."
        assert bot.store.events_for(workspace=WORKSPACE, item_id=item.id) == events_before


async def test_resolve_with_a_note_refreshes_the_card(tmp_path: Path) -> None:
    async with running_teams_bot(tmp_path) as bot:
        item = await routed_item(bot)

        _, body = await bot.post(bot.card_click("resolve", item.id, sender=DEV,
                                                note="fixed in 2.4.1"))

        assert body["type"] == ADAPTIVE
        [resolved] = [block["text"] for block in body["value"]["body"]
                      if block.get("text", "").startswith("🏁")]
        assert resolved.endswith(": fixed in 2\\.4\\.1")  # escaped for Teams markdown
        latest = bot.store.get_item(workspace=WORKSPACE, item_id=item.id)
        assert latest is not None
        assert (latest.status, latest.resolution_note, latest.resolved_by) == (
            "resolved", "fixed in 2.4.1", "carol@example.com")
        assert CARD_UPDATE in new_entries(bot, item)


async def test_reassign_moves_the_item_to_the_chosen_team(tmp_path: Path) -> None:
    async with running_teams_bot(tmp_path) as bot:
        item = await routed_item(bot)

        _, body = await bot.post(bot.card_click("reassign", item.id, sender=DEV,
                                                team="mobile"))

        assert body["type"] == ADAPTIVE
        latest = bot.store.get_item(workspace=WORKSPACE, item_id=item.id)
        assert latest is not None and latest.team == "mobile"
        assert {CARD, CARD_MOVED} <= set(new_entries(bot, item))


@pytest.mark.parametrize("inputs", [{}, {"team": "   "}, {"team": ["mobile"]}])
async def test_reassign_without_a_team_asks_for_one(tmp_path: Path, inputs: dict) -> None:
    async with running_teams_bot(tmp_path) as bot:
        item = await routed_item(bot)

        _, body = await bot.post(bot.card_click("reassign", item.id, sender=DEV, **inputs))

        assert body["type"] == MESSAGE and "Choose the team" in body["value"]


async def test_follow_makes_an_internal_user_a_follower(tmp_path: Path) -> None:
    async with running_teams_bot(tmp_path) as bot:
        item = await routed_item(bot)

        _, body = await bot.post(bot.card_click("follow", item.id, sender=OTHER))

        assert body["type"] == MESSAGE
        assert "You'll hear what **payments** says" in body["value"]
        assert bot.store.followers(workspace=WORKSPACE, item_id=item.id,
                                   platform="msteams") == ["olga@example.com"]


@pytest.mark.parametrize("data", [{"item": "x"}, {"item": -1}, {"item": 2**70}, {}])
async def test_a_click_without_a_valid_item_gets_an_answer(tmp_path: Path,
                                                           data: dict) -> None:
    async with running_teams_bot(tmp_path) as bot:
        click = bot.card_click("acknowledge", 1, sender=DEV)
        click["value"]["action"]["data"] = data

        status, body = await bot.post(click)

        assert status == 200
        assert body == {"statusCode": 200, "type": MESSAGE,
                        "value": "That button doesn't belong to a feedback item."}
        assert bot.store.inbox_pending() == []  # answered for good, not retried


async def test_a_click_on_a_missing_item_says_so(tmp_path: Path) -> None:
    async with running_teams_bot(tmp_path) as bot:
        _, body = await bot.post(bot.card_click("acknowledge", 42, sender=DEV))

        assert body == {"statusCode": 200, "type": MESSAGE,
                        "value": "That feedback item no longer exists."}


async def test_a_redelivered_click_records_one_response(tmp_path: Path) -> None:
    async with running_teams_bot(tmp_path) as bot:
        item = await routed_item(bot)
        click = bot.card_click("acknowledge", item.id, sender=DEV)

        await bot.post(click)
        status, body = await bot.post(click)

        assert status == 200 and body["statusCode"] == 200
        events = bot.store.events_for(workspace=WORKSPACE, item_id=item.id)
        assert [event.kind for event in events].count("responded") == 1


# --- replies in the card's thread -----------------------------------------------------------


async def test_a_reply_by_the_owning_team_is_the_first_response(tmp_path: Path) -> None:
    async with running_teams_bot(tmp_path) as bot:
        item = await routed_item(bot)

        reply = bot.channel_post("<p>Looking into it now</p>", channel=CARDS_CHANNEL,
                                 sender=DEV, mention=False, root=CARD_MESSAGE)
        status, _ = await bot.post(reply)

        assert status == 202
        latest = bot.store.get_item(workspace=WORKSPACE, item_id=item.id)
        assert latest is not None
        assert (latest.first_response_by, latest.first_response_kind) == (
            "carol@example.com", "reply")
        relays = [entry.payload for entry in bot.store.outbox_for_item(
            workspace=WORKSPACE, item_id=item.id) if entry.payload.get("kind") == "relay"]
        assert [relay["data"]["text"] for relay in relays] == ["Looking into it now"]
        assert relays[0]["user"] == SUPPORT["email"]


async def test_a_reply_from_outside_the_team_is_a_comment(tmp_path: Path) -> None:
    async with running_teams_bot(tmp_path) as bot:
        item = await routed_item(bot)

        await bot.post(bot.channel_post("me too", channel=CARDS_CHANNEL, sender=OTHER,
                                        mention=False, root=CARD_MESSAGE))

        latest = bot.store.get_item(workspace=WORKSPACE, item_id=item.id)
        assert latest is not None and latest.first_response_at is None
        events = bot.store.events_for(workspace=WORKSPACE, item_id=item.id)
        assert events[-1].kind == "comment" and events[-1].actor == "olga@example.com"


async def test_a_click_teams_cannot_place_is_answered_try_again_and_not_replayed(
        tmp_path: Path) -> None:
    async with running_teams_bot(tmp_path) as bot:
        item = await routed_item(bot)
        bot.connector.fail_next("get_conversation_member", status=503)

        status, body = await bot.post(bot.card_click("acknowledge", item.id, sender=DEV))

        assert status == 200
        assert body == {"statusCode": 200, "type": MESSAGE,
                        "value": "The bot is busy just now. Please try again in a moment."}
        latest = bot.store.get_item(workspace=WORKSPACE, item_id=item.id)
        assert latest is not None and latest.first_response_at is None
        # Not left to be replayed later, when the click would count at the wrong time.
        assert bot.store.inbox_pending() == []
