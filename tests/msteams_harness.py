"""Run the Teams endpoint over real HTTP on loopback, with a fake Bot Connector behind it.

Activities are shaped as Teams sends them (Bot Framework v3 schema, Teams channelData);
their serviceUrl is the FakeConnector's, so every call the bot makes is recorded.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from bot.config import Config
from bot.runtime import Runtime
from bot.settings import Settings
from bot.store import Store
from handlers.msteams.adapter import TeamsAdapter
from handlers.msteams.connector_fake import TENANT_ID, FakeConnector
from handlers.msteams.inbound import TeamsInbound
from handlers.msteams.standin.activities import TeamsSender, personal_chat_id
from storage import open_store
from tests.fakes import FrozenClock, RecordingChatPort

BOT_ID = "28:c9e8f7d6-0000-4000-8000-0000000000b0"
BOT_NAME = "feedbackbot"
TEAM_ID = "19:team0general0000@thread.tacv2"  # the team's General channel
CARDS_CHANNEL = "19:payments0cards0000@thread.tacv2"
INTAKE_CHANNEL = "19:support0intake000@thread.tacv2"
SUPPORT = {"entra_id": "a1b2c3d4-0000-4000-8000-00000000a001", "name": "Sam Support",
           "email": "sam@example.com"}
DEV = {"entra_id": "a1b2c3d4-0000-4000-8000-00000000d001", "name": "Carol Ng",
       "email": "carol@example.com"}
GUEST = {"entra_id": "a1b2c3d4-0000-4000-8000-00000000e001", "name": "Gus Guest",
         "email": "gus@customer.example"}
ANONYMOUS = Settings(teams_anonymous=True)

CONFIG = {
    "admins": [],
    "teams": {
        # On Teams: its cards go to CARDS_CHANNEL, its owners are named by email.
        "payments": {"msteams": {"channel": CARDS_CHANNEL, "owners": ["carol@example.com"]},
                     "keywords": ["refund", "invoice"]},
        # On Slack only: an item forwarded on Teams can be owned by a Slack team.
        "mobile": {"channel": "C0MOBILE", "owners": ["U0MOBILE"], "keywords": ["app"]},
    },
    "fallback": "mobile",
}

def teams_config(*, intake_channels: tuple[str, ...] = (INTAKE_CHANNEL,)) -> Config:
    """The test config, with Teams intake channels (`intake.msteams_channels`)."""
    return Config.model_validate({**CONFIG, "intake": {"msteams_channels": list(intake_channels)}})


@dataclass
class TeamsBot:
    """A running endpoint: its URL, store, connector fake and helpers to send activities."""

    url: str
    store: Store
    connector: FakeConnector
    inbound: TeamsInbound
    clock: FrozenClock
    session: aiohttp.ClientSession
    runtime: Runtime

    @property
    def sender(self) -> TeamsSender:
        """Builds activities as Teams sends them, from this endpoint's connector and team."""
        return TeamsSender(service_url=self.connector.url, tenant=TENANT_ID, bot_id=BOT_ID,
                           bot_name=BOT_NAME, team_id=TEAM_ID)

    def base(self, conversation: dict[str, Any], *, sender: dict[str, str] = SUPPORT,
             channel_data: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
        """The envelope every Teams activity has."""
        return self.sender.base(conversation, sender=sender, channel_data=channel_data,
                                **fields)

    def personal(self, text: str, *, sender: dict[str, str] = SUPPORT) -> dict[str, Any]:
        """A 1:1 message to the bot."""
        return self.sender.personal(text, sender=sender)

    def channel_post(self, text_html: str, *, channel: str = INTAKE_CHANNEL,
                     sender: dict[str, str] = SUPPORT, mention: bool = True,
                     root: str | None = None) -> dict[str, Any]:
        """A channel message (a post, or a reply in thread `root`), maybe @mentioning the bot."""
        return self.sender.channel_post(text_html, channel=channel, sender=sender,
                                        mention=mention, root=root)

    def message_action(self, name: str, *, html: str, sender: dict[str, str] = SUPPORT,
                       data: dict[str, Any] | None = None,
                       message_id: str = "1717171717171") -> dict[str, Any]:
        """composeExtension/fetchTask or submitAction on a guest's message in the intake channel."""
        return self.sender.message_action(
            name, html=html, channel=INTAKE_CHANNEL, sender=sender, author=GUEST,
            created=datetime(2024, 5, 6, 7, 31, tzinfo=UTC), data=data,
            message_id=message_id)

    def card_click(self, verb: str, item_id: int, *, sender: dict[str, str] = DEV,
                   card_message: str = "1717000009999", **inputs: Any) -> dict[str, Any]:
        """An Action.Execute click (adaptiveCard/action) on a card in the cards channel."""
        return self.sender.card_click(verb, item_id, channel=CARDS_CHANNEL,
                                      card_message=card_message, sender=sender, **inputs)

    async def settle(self, timeout: float = 5.0) -> None:
        """Wait until every stored request is finished (late inserts are replayed too)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            await self.inbound.drain()
            if not self.store.inbox_pending():
                return
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"not settled: {self.store.inbox_pending()}")
            await asyncio.sleep(0.01)

    async def post(self, activity: Any, *, token: str | None = None,
                   raw: bytes | None = None, headers: dict[str, str] | None = None,
                   ) -> tuple[int, Any]:
        """POST to /api/messages; returns (status, JSON body or None), after background work."""
        sent = dict(headers or {})
        if token is not None:
            sent["Authorization"] = token
        kwargs: dict[str, Any] = {"data": raw} if raw is not None else {"json": activity}
        async with self.session.post(self.url + "/api/messages", headers=sent,
                                     **kwargs) as response:
            try:
                body = await response.json(content_type=None)
            except ValueError:
                body = None
            status = response.status
        await self.inbound.drain()
        return status, body


@asynccontextmanager
async def running_teams_bot(tmp_path: Path, *, settings: Settings = ANONYMOUS,
                            config: Config | None = None,
                            start: datetime | None = None,
                            before_start: Callable[[TeamsBot], None] | None = None,
                            real_port: bool = False, outbox: bool = False,
                            ) -> AsyncIterator[TeamsBot]:
    """Start the runtime with Teams plugged in, on an ephemeral loopback port.

    The store is a fresh SQLite file; the scheduler stays off, and so does the outbox
    unless `outbox` (what the bot would send then waits in the outbox for the tests).
    """
    config = config or teams_config()
    clock = FrozenClock(start) if start else FrozenClock()
    store = open_store(f"sqlite:///{tmp_path / 'teams.db'}")
    runtime = Runtime(config=config, store=store, clock=clock)
    # The runtime asks the Teams port whether a follower is internal; the Teams port
    # answers that from member lookups, stood in for here by a recording port.
    teams_port = RecordingChatPort.for_config(config, clock=clock)
    teams_port.internal_users = {SUPPORT["email"], DEV["email"], "olga@example.com"}
    # With `real_port`, the Teams port itself sends to the fake connector (end to end).
    adapter = TeamsAdapter(runtime=runtime, settings=settings,
                           port=None if real_port else teams_port)
    runtime.add_platform(adapter)
    runner = web.AppRunner(runtime.web_app(), access_log=None)
    async with FakeConnector() as connector:
        for person in (SUPPORT, DEV):
            connector.add_member(TEAM_ID, **person)
            connector.add_member(personal_chat_id(person), **person)
        connector.add_member(TEAM_ID, **GUEST, guest=True)
        connector.add_member(personal_chat_id(GUEST), **GUEST, guest=True)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        try:
            async with aiohttp.ClientSession() as session:
                bot = TeamsBot(url=f"http://127.0.0.1:{port}", store=store,
                               connector=connector, inbound=adapter.inbound, clock=clock,
                               session=session, runtime=runtime)
                if before_start is not None:
                    before_start(bot)
                await runtime.start(outbox=outbox, scheduler=False)
                yield bot
        finally:
            await runner.cleanup()
            await runtime.stop()
