"""A Teams tenant's own config section (`msteams:TENANT`), over /api/messages."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("microsoft_agents.hosting.aiohttp", reason="needs the teams extra")

from bot.config import Config
from handlers.msteams.connector_fake import TENANT_ID
from tests.msteams_harness import CARDS_CHANNEL, CONFIG, INTAKE_CHANNEL, running_teams_bot

OTHER_INTAKE = "19:other0intake0000@thread.tacv2"


def tenant_config() -> Config:
    """Top level: another intake channel, `refund` to payments; the tenant's section: this
    intake channel, `refund` to its own team."""
    return Config.model_validate({
        **CONFIG,
        "intake": {"msteams_channels": [OTHER_INTAKE]},
        "workspaces": {f"msteams:{TENANT_ID}": {
            "teams": {"eu-billing": {
                "msteams": {"channel": CARDS_CHANNEL, "owners": ["carol@example.com"]},
                "keywords": ["refund"]}},
            "fallback": "eu-billing",
            "intake": {"msteams_channels": [INTAKE_CHANNEL]},
        }},
    })


async def test_a_tenants_section_gives_it_its_intake_channels_and_teams(tmp_path: Path):
    async with running_teams_bot(tmp_path, config=tenant_config()) as bot:
        await bot.post(bot.channel_post("<p>The <b>refund</b> never arrived</p>"))
        # The top level's intake channel is not this tenant's.
        await bot.post(bot.channel_post("the refund again", channel=OTHER_INTAKE))

        items = bot.store.list_items()

    assert [(item.workspace, item.team, item.source_channel) for item in items] == [
        (f"msteams:{TENANT_ID}", "eu-billing", INTAKE_CHANNEL)]
