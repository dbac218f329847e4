"""End to end through Microsoft's Agents Playground: a 1:1 Teams message reaches the bot and
its confirmation comes back to the chat, all over real HTTP on loopback.

The bot under test is the `bot_endpoint` fixture: today a minimal Agents SDK 1.9 bot that
confirms what it got; the feedbackbot Teams endpoint replaces it by yielding its own URL.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from tests import playground_driver
from tests.playground_driver import PlaygroundError, running_playground

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

_UNAVAILABLE = playground_driver.unavailable_reason()
needs_playground = pytest.mark.skipif(_UNAVAILABLE is not None, reason=_UNAVAILABLE or "")
# The SDK keys its aiohttp app and request state with strings.
pytestmark = pytest.mark.filterwarnings("ignore::aiohttp.web_exceptions.NotAppKeyWarning")

CONFIRMATION = "Thanks, forwarded to the developers: "

# How the bot answers a 1:1 message; the default confirms, a test may make it silent.
Reply = Callable[[TurnContext], Awaitable[None]]


async def confirm_forward(context: TurnContext) -> None:
    """Answer a 1:1 message with a confirmation that quotes it."""
    await context.send_activity(CONFIRMATION + (context.activity.text or ""))


async def stay_silent(context: TurnContext) -> None:
    """Take the message and answer nothing."""


async def start_minimal_bot(reply: Reply) -> tuple[web.AppRunner, str]:
    """An anonymous Agents SDK bot on an ephemeral loopback port; returns it and its endpoint."""
    auth = AgentAuthConfiguration(anonymous_allowed=True)
    connections = MsalConnectionManager(connections_configurations={"SERVICE_CONNECTION": auth})
    adapter = CloudAdapter(connection_manager=connections)
    agent = AgentApplication[TurnState](
        ApplicationOptions(storage=MemoryStorage(), start_typing_timer=False),
        connection_manager=connections,
    )

    @agent.activity("message")
    async def on_message(context: TurnContext, state: TurnState) -> None:
        await reply(context)

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


@pytest.fixture
def bot_reply() -> Reply:
    """The minimal bot's answer; override in a test module to change it."""
    return confirm_forward


@pytest.fixture
async def bot_endpoint(bot_reply: Reply) -> AsyncIterator[str]:
    """The URL of the bot under test's /api/messages, on loopback."""
    runner, endpoint = await start_minimal_bot(bot_reply)
    try:
        yield endpoint
    finally:
        await runner.cleanup()


@needs_playground
async def test_a_personal_message_gets_its_confirmation_back(bot_endpoint: str) -> None:
    feedback = "The export button does nothing on Safari 17"
    async with running_playground(bot_endpoint) as playground:
        await playground.install_in_personal_chat()
        await playground.send_personal_message(feedback)
        [reply] = await playground.bot_messages(count=1, timeout=15)

        assert reply.conversation_id == playground.personal_chat_id
        assert reply.text == CONFIRMATION + feedback
        assert playground.refused_connections() == []


@needs_playground
@pytest.mark.parametrize("bot_reply", [stay_silent])
async def test_a_bot_that_does_not_answer_fails_the_round_trip(bot_endpoint: str) -> None:
    async with running_playground(bot_endpoint) as playground:
        await playground.install_in_personal_chat()
        await playground.send_personal_message("Anyone there?")
        with pytest.raises(PlaygroundError, match="sent 0 of 1 messages"):
            await playground.bot_messages(count=1, timeout=2)


async def test_the_driver_refuses_a_bot_that_is_not_on_loopback() -> None:
    with pytest.raises(ValueError, match="loopback"):
        async with running_playground("http://192.0.2.1:3978/api/messages"):
            pass
