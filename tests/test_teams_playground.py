"""End to end through Microsoft's Agents Playground: a 1:1 Teams message to feedbackbot is
forwarded as feedback and its confirmation comes back to the chat, all over real HTTP on
loopback.

The bot under test is feedbackbot as `serve` builds it (runtime, Teams platform in
anonymous mode, one aiohttp app); the Playground plays both the user and the Bot
Connector (the activities' serviceUrl is the Playground itself), so whatever the bot
sends arrives back in the Playground's chat.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests import playground_driver
from tests.playground_driver import ChatMessage, PlaygroundError, running_playground

pytest.importorskip("microsoft_agents.hosting.aiohttp", reason="needs the teams extra")

from aiohttp import web
from microsoft_agents.authentication.msal import MsalConnectionManager
from microsoft_agents.hosting.aiohttp import (
    CloudAdapter,
    jwt_authorization_middleware,
    start_agent_process,
)
from microsoft_agents.hosting.core import (
    AgentApplication,
    ApplicationOptions,
    MemoryStorage,
    TurnContext,
    TurnState,
)
from microsoft_agents.hosting.core.authorization import AgentAuthConfiguration

from bot.cli import attach_platforms, platforms_to_run
from bot.cli_support import check_config_file, open_runtime
from bot.platforms import load_platforms
from bot.runtime import Runtime
from bot.settings import Settings

_UNAVAILABLE = playground_driver.unavailable_reason()
needs_playground = pytest.mark.skipif(_UNAVAILABLE is not None, reason=_UNAVAILABLE or "")
# The SDK keys its aiohttp app and request state with strings.
pytestmark = pytest.mark.filterwarnings("ignore::aiohttp.web_exceptions.NotAppKeyWarning")

TEAM_ID = "19:team0general0000@thread.tacv2"  # the team's General channel
CARDS_CHANNEL = "19:payments0cards0000@thread.tacv2"
TENANT_ID = "00000000-0000-0000-0000-0000000000001"

# The Playground's organisation: its built-in tenant and people, and one team whose ids
# have Teams' shape, with the cards channel in it. Alex Wilber is the user the chat speaks
# as; the Playground's member lookup gives him this tenant and userRole "user", so he is
# staff and may forward (a guest or another tenant's user would be ignored).
PLAYGROUND_CONFIG = {
    "version": "0.1.1",
    "tenantId": TENANT_ID,
    "bot": {"id": "00000000-0000-0000-0000-00000000000011", "name": "feedbackbot"},
    "currentUser": {"id": "user-id-0", "name": "Alex Wilber",
                    "userPrincipleName": "alexw@example.com",
                    "aadObjectId": "00000000-0000-0000-0000-0000000000020",
                    "givenName": "Alex", "surname": "Wilber", "email": "alexw@example.com"},
    # The Playground wants at least five more people; Megan owns the payments team.
    "users": [{"id": f"user-id-{number}", "name": name,
               "userPrincipleName": f"{login}@example.com",
               "aadObjectId": f"00000000-0000-0000-0000-00000000000{20 + number}",
               "givenName": name.split()[0], "surname": name.split()[1],
               "email": f"{login}@example.com"}
              for number, (name, login) in enumerate(
                  [("Megan Bowen", "meganb"), ("Adele Vance", "adelev"),
                   ("Isaiah Langer", "isaiahl"), ("Patti Fernandez", "pattif"),
                   ("Lynne Robbins", "lynner")], start=1)],
    "personalChat": {"id": "a:1alexw0personal0chat"},
    "groupChat": {"id": "19:group0chat0000@thread.v2", "name": "Group Chat"},
    "team": {"id": TEAM_ID, "name": "Payments",
             "aadGroupId": "00000000-0000-0000-0000-000000000031",
             "channels": [{"id": CARDS_CHANNEL, "name": "payments-cards"}]},
}

# The payments team lives on Teams; Megan, a Playground user, owns it. The Playground's
# member lookup knows people only by their member id (user-id-1), not by email or Entra id
# as Teams does, so she is named, not mentioned. (Both files are YAML; JSON is YAML.)
BOT_CONFIG = {
    "teams": {"payments": {"msteams": {"channel": CARDS_CHANNEL,
                                       "owners": ["meganb@example.com"]},
                           "keywords": ["export", "refund"]}},
    "fallback": "payments",
}


@dataclass
class RunningBot:
    """feedbackbot serving on loopback: its /api/messages URL and its runtime (store)."""

    endpoint: str
    runtime: Runtime


@pytest.fixture
async def feedbackbot(tmp_path: Path) -> AsyncIterator[RunningBot]:
    """feedbackbot with Teams in anonymous mode, built as `serve` builds it, on loopback."""
    config_path = tmp_path / "feedbackbot.yml"
    config_path.write_text(json.dumps(BOT_CONFIG))
    # No MICROSOFT_APP_ID, so the explicit anonymous switch is what lets requests in.
    settings = Settings(teams_anonymous=True, config_path=str(config_path),
                        database_url=f"sqlite:///{tmp_path / 'feedback.db'}")
    config = check_config_file(settings.config_path)
    assert config is not None
    platforms = platforms_to_run(settings, load_platforms())
    assert not isinstance(platforms, str), platforms
    assert [platform.name for platform in platforms] == ["msteams"]
    runtime = open_runtime(settings, config)
    assert attach_platforms(runtime, settings, platforms) is None
    runner = web.AppRunner(runtime.web_app(), access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        await runtime.start()
        yield RunningBot(f"http://127.0.0.1:{port}/api/messages", runtime)
    finally:
        await runtime.stop()
        await runner.cleanup()


def card_text(message: ChatMessage) -> str:
    """The words of the Adaptive Card(s) a bot message carries, one line per text block."""
    lines = []
    for attachment in message.raw["message"].get("attachments") or []:
        for block in attachment.get("content", {}).get("body", []):
            if block.get("type") == "TextBlock":
                lines.append(str(block["text"]))
            for part in block.get("items", []):  # a Container
                if part.get("type") == "TextBlock":
                    lines.append(str(part["text"]))
    return "\n".join(lines)


@needs_playground
async def test_a_personal_message_is_forwarded_and_confirmed(feedbackbot: RunningBot) -> None:
    feedback = "Acme says the export button does nothing on Safari 17"
    async with running_playground(feedbackbot.endpoint,
                                  config_yaml=json.dumps(PLAYGROUND_CONFIG)) as playground:
        # Added to the team (the bot learns where its channels are), then opened 1:1.
        await playground.install_in(TEAM_ID)
        await playground.install_in_personal_chat()

        await playground.send_personal_message(feedback)

        card, confirmation = await playground.bot_messages(count=2, timeout=15)
        assert card.conversation_id == CARDS_CHANNEL
        assert feedback in card_text(card).split("\n")
        assert confirmation.conversation_id == playground.personal_chat_id
        assert card_text(confirmation) == (
            "📥 Feedback #1 went to **payments**. **meganb@example\\.com** will pick it up."
            " I'll let you know when they respond.")
        assert playground.refused_connections() == []

    [item] = feedbackbot.runtime.store.list_items()
    assert (item.platform, item.intake_kind, item.text, item.forwarded_by) == (
        "msteams", "direct", feedback, "alexw@example.com")
    assert (item.team, item.card_platform, item.card_channel) == (
        "payments", "msteams", CARDS_CHANNEL)


async def start_silent_bot() -> tuple[web.AppRunner, str]:
    """An anonymous Agents SDK bot that answers nothing, on an ephemeral loopback port."""
    auth = AgentAuthConfiguration(anonymous_allowed=True)
    connections = MsalConnectionManager(connections_configurations={"SERVICE_CONNECTION": auth})
    adapter = CloudAdapter(connection_manager=connections)
    agent = AgentApplication[TurnState](
        ApplicationOptions(storage=MemoryStorage(), start_typing_timer=False),
        connection_manager=connections,
    )

    @agent.activity("message")
    async def on_message(context: TurnContext, state: TurnState) -> None:
        """Take the message and answer nothing."""

    async def messages(request: web.Request) -> web.StreamResponse:
        return await start_agent_process(request, agent, adapter)

    app = web.Application(middlewares=[jwt_authorization_middleware])
    app["agent_configuration"] = auth
    app.router.add_post("/api/messages", messages)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, f"http://127.0.0.1:{port}/api/messages"


@needs_playground
async def test_a_bot_that_does_not_answer_fails_the_round_trip() -> None:
    runner, endpoint = await start_silent_bot()
    try:
        async with running_playground(endpoint) as playground:
            await playground.install_in_personal_chat()
            await playground.send_personal_message("Anyone there?")
            with pytest.raises(PlaygroundError, match="sent 0 of 1 messages"):
                await playground.bot_messages(count=1, timeout=2)
    finally:
        await runner.cleanup()


@needs_playground
async def test_a_playground_config_it_rejects_is_reported() -> None:
    runner, endpoint = await start_silent_bot()
    try:
        with pytest.raises(PlaygroundError, match="must NOT have fewer than 5 items"):
            async with running_playground(
                    endpoint, config_yaml=json.dumps({**PLAYGROUND_CONFIG, "users": []})):
                pass
    finally:
        await runner.cleanup()


async def test_the_driver_refuses_a_bot_that_is_not_on_loopback() -> None:
    with pytest.raises(ValueError, match="loopback"):
        async with running_playground("http://192.0.2.1:3978/api/messages"):
            pass
