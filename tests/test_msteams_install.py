"""Install and removal activities: the bot keeps each conversation's serviceUrl and reference."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("microsoft_agents.hosting.aiohttp", reason="needs the teams extra")

from handlers.msteams.connector_fake import TENANT_ID
from tests.msteams_harness import (
    BOT_ID,
    CARDS_CHANNEL,
    INTAKE_CHANNEL,
    SUPPORT,
    TEAM_ID,
    TeamsBot,
    running_teams_bot,
)

WORKSPACE = f"msteams:{TENANT_ID}"
_NOW = datetime(2024, 5, 6, 9, 0, tzinfo=UTC)


def team_update(bot: TeamsBot, event: str, **fields: Any) -> dict[str, Any]:
    """A conversationUpdate in the team's General channel (where Teams sends team events)."""
    return bot.sender.team_update(event, sender=SUPPORT, team_name="Payments",
                                  aad_group_id="0c1d2e3f-0000-4000-8000-000000000042",
                                  **fields)


def channel_ids(bot: TeamsBot, **kwargs: Any) -> list[str]:
    return sorted(conversation.conversation_id for conversation in
                  bot.store.list_conversations(platform="msteams", **kwargs))


async def test_being_added_to_a_team_saves_its_channels_with_their_service_url(
        tmp_path: Path) -> None:
    async with running_teams_bot(tmp_path) as bot:
        bot.connector.add_channel(TEAM_ID, TEAM_ID)  # General: no name
        bot.connector.add_channel(TEAM_ID, CARDS_CHANNEL, "payments-cards")

        status, _ = await bot.post(team_update(bot, "teamMemberAdded",
                                               membersAdded=[{"id": BOT_ID}]))

        assert status == 202
        assert channel_ids(bot) == sorted([TEAM_ID, CARDS_CHANNEL])
        [call] = bot.connector.calls_to("fetch_channel_list")
        assert call.path == f"/v3/teams/{TEAM_ID}/conversations"
        cards = bot.store.get_conversation(platform="msteams", conversation_id=CARDS_CHANNEL)
        assert cards is not None
        assert (cards.kind, cards.team_id, cards.tenant, cards.workspace) == (
            "channel", TEAM_ID, TENANT_ID, WORKSPACE)
        assert cards.service_url == bot.connector.url
        # Enough to send there after a restart: conversation, bot, channel and serviceUrl.
        assert cards.reference["conversation"]["id"] == CARDS_CHANNEL
        assert cards.reference["bot"]["id"] == BOT_ID
        assert cards.reference["serviceUrl"] == bot.connector.url
        assert cards.reference["channelId"] == "msteams"


async def test_when_the_channel_list_fails_the_general_channel_is_still_saved(
        tmp_path: Path) -> None:
    async with running_teams_bot(tmp_path) as bot:
        bot.connector.fail_next("fetch_channel_list", status=503)

        await bot.post(team_update(bot, "teamMemberAdded", membersAdded=[{"id": BOT_ID}]))

        assert channel_ids(bot) == [TEAM_ID]
        assert bot.store.inbox_pending() == []  # the install is done, not retried


async def test_installation_update_add_and_remove(tmp_path: Path) -> None:
    async with running_teams_bot(tmp_path) as bot:
        bot.connector.add_channel(TEAM_ID, CARDS_CHANNEL, "payments-cards")

        await bot.post(team_update(bot, "", type="installationUpdate", action="add"))
        assert channel_ids(bot) == sorted([TEAM_ID, CARDS_CHANNEL])

        await bot.post(team_update(bot, "", type="installationUpdate", action="remove"))
        assert channel_ids(bot) == []
        assert channel_ids(bot, include_removed=True) == sorted([TEAM_ID, CARDS_CHANNEL])


async def test_removal_from_the_team_forgets_its_channels(tmp_path: Path) -> None:
    async with running_teams_bot(tmp_path) as bot:
        bot.connector.add_channel(TEAM_ID, CARDS_CHANNEL, "payments-cards")
        await bot.post(team_update(bot, "teamMemberAdded", membersAdded=[{"id": BOT_ID}]))

        await bot.post(team_update(bot, "teamMemberRemoved", membersRemoved=[{"id": BOT_ID}]))

        assert channel_ids(bot) == []


async def test_a_person_joining_a_team_changes_nothing(tmp_path: Path) -> None:
    async with running_teams_bot(tmp_path) as bot:
        await bot.post(team_update(bot, "teamMemberAdded",
                                   membersAdded=[{"id": "29:1someoneelse"}]))

        assert channel_ids(bot, include_removed=True) == []


async def test_channel_created_and_deleted(tmp_path: Path) -> None:
    async with running_teams_bot(tmp_path) as bot:
        created = team_update(bot, "channelCreated",
                              channel_data={"channel": {"id": INTAKE_CHANNEL, "name": "intake"}})
        await bot.post(created)
        assert channel_ids(bot) == [INTAKE_CHANNEL]

        deleted = team_update(bot, "channelDeleted",
                              channel_data={"channel": {"id": INTAKE_CHANNEL, "name": "intake"}})
        await bot.post(deleted)
        assert channel_ids(bot) == []


async def test_a_personal_install_saves_the_1on1_chat_with_the_persons_key(
        tmp_path: Path) -> None:
    async with running_teams_bot(tmp_path) as bot:
        chat = f"a:1{SUPPORT['entra_id'].replace('-', '')}"
        added = bot.base({"conversationType": "personal", "id": chat},
                         type="conversationUpdate", membersAdded=[{"id": BOT_ID}])

        await bot.post(added)

        found = bot.store.personal_conversation(platform="msteams", user="sam@example.com")
        assert found is not None
        assert (found.conversation_id, found.kind) == (chat, "personal")
        assert found.reference["user"]["aadObjectId"] == SUPPORT["entra_id"]


async def test_a_channel_the_bot_hears_from_is_remembered(tmp_path: Path) -> None:
    async with running_teams_bot(tmp_path) as bot:
        await bot.post(bot.channel_post("just chatting", mention=False))

        assert channel_ids(bot) == [INTAKE_CHANNEL]


async def test_check_config_names_configured_channels_the_bot_is_not_in(
        tmp_path: Path) -> None:
    from bot.install_check import missing_installs

    async with running_teams_bot(tmp_path) as bot:
        config = bot.inbound.services.config
        before = missing_installs(config, bot.store)
        assert len(before) == 2
        assert "teams.payments.msteams.channel" in before[0] and CARDS_CHANNEL in before[0]
        assert "intake.msteams_channels[0]" in before[1] and INTAKE_CHANNEL in before[1]
        assert missing_installs(config, None) == before  # no database yet: none known

        bot.connector.add_channel(TEAM_ID, INTAKE_CHANNEL, "support-intake")
        bot.connector.add_channel(TEAM_ID, CARDS_CHANNEL, "payments-cards")
        await bot.post(team_update(bot, "teamMemberAdded", membersAdded=[{"id": BOT_ID}]))

        assert missing_installs(config, bot.store) == []


def test_check_config_command_warns_about_teams_channels_without_the_bot(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from bot.cli import main
    from bot.store import Conversation
    from storage import open_store

    config = tmp_path / "feedbackbot.yml"
    config.write_text(
        "teams:\n"
        "  payments:\n"
        "    msteams:\n"
        f"      channel: \"{CARDS_CHANNEL}\"\n"
        "      owners: [carol@example.com]\n"
        "intake:\n"
        f"  msteams_channels: [\"{INTAKE_CHANNEL}\"]\n"
        "digests:\n"
        "  - msteams_channel: \"19:managers@thread.tacv2\"\n"
        "    at: \"09:00\"\n")
    database = f"sqlite:///{tmp_path / 'feedback.db'}"
    store = open_store(database)
    store.save_conversation(Conversation(
        platform="msteams", conversation_id=CARDS_CHANNEL, workspace=WORKSPACE, kind="channel",
        service_url="https://smba.trafficmanager.net/emea/", reference={}), now=_NOW)
    store.close()
    monkeypatch.setenv("DATABASE_URL", database)

    assert main(["--config", str(config), "check-config"]) == 0  # warnings only

    out = capsys.readouterr().out
    assert CARDS_CHANNEL not in out  # the bot was added there
    assert f"intake.msteams_channels[0]: the bot is not in Teams channel {INTAKE_CHANNEL}" \
        in out
    assert "digests[0].msteams_channel: the bot is not in Teams channel 19:managers" in out
    assert "OK (3 warning(s))" in out  # with the config's own: no fallback team
