"""Run the Teams endpoint over real HTTP on loopback, with a fake Bot Connector behind it.

Activities are shaped as Teams sends them (Bot Framework v3 schema, Teams channelData);
their serviceUrl is the FakeConnector's, so every call the bot makes is recorded.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
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

_ids = itertools.count(1_717_000_000_000)


def new_id() -> str:
    """An activity/message id as Teams makes them (epoch milliseconds)."""
    return str(next(_ids))


def teams_config(*, intake_channels: tuple[str, ...] = (INTAKE_CHANNEL,)) -> Config:
    """The test config, with Teams intake channels (`intake.msteams_channels`)."""
    return Config.model_validate({**CONFIG, "intake": {"msteams_channels": list(intake_channels)}})


def account(person: dict[str, str]) -> dict[str, Any]:
    """`from` as Teams sends it: the 29: member id, name and Entra object id."""
    return {"id": f"29:1{person['entra_id'].replace('-', '')}", "name": person["name"],
            "aadObjectId": person["entra_id"]}


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

    def base(self, conversation: dict[str, Any], *, sender: dict[str, str] = SUPPORT,
             channel_data: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
        """The envelope every Teams activity has."""
        return {
            "id": new_id(), "channelId": "msteams", "serviceUrl": self.connector.url,
            "timestamp": "2024-05-06T08:55:00.123Z", "locale": "en-US",
            "from": account(sender), "recipient": {"id": BOT_ID, "name": BOT_NAME},
            "conversation": {"tenantId": TENANT_ID, **conversation},
            "channelData": {"tenant": {"id": TENANT_ID}, **(channel_data or {})},
            **fields,
        }

    def personal(self, text: str, *, sender: dict[str, str] = SUPPORT) -> dict[str, Any]:
        """A 1:1 message to the bot."""
        conversation = {"conversationType": "personal",
                        "id": f"a:1{sender['entra_id'].replace('-', '')}"}
        return self.base(conversation, sender=sender, type="message", text=text,
                         textFormat="plain")

    def channel_post(self, text_html: str, *, channel: str = INTAKE_CHANNEL,
                     sender: dict[str, str] = SUPPORT, mention: bool = True,
                     root: str | None = None) -> dict[str, Any]:
        """A channel message (a post, or a reply in thread `root`), maybe @mentioning the bot."""
        activity_id = new_id()
        tag = f"<at>{BOT_NAME}</at>"
        entities = [{"type": "mention", "text": tag,
                     "mentioned": {"id": BOT_ID, "name": BOT_NAME}}] if mention else []
        activity = self.base(
            {"conversationType": "channel", "isGroup": True,
             "id": f"{channel};messageid={root or activity_id}"},
            sender=sender, type="message", textFormat="plain",
            text=(tag + " " if mention else "") + text_html, entities=entities,
            channel_data={"teamsChannelId": channel, "teamsTeamId": TEAM_ID,
                          "channel": {"id": channel}, "team": {"id": TEAM_ID}})
        activity["id"] = activity_id
        if root:
            activity["replyToId"] = root
        return activity

    def message_action(self, name: str, *, html: str, sender: dict[str, str] = SUPPORT,
                       data: dict[str, Any] | None = None,
                       message_id: str = "1717171717171") -> dict[str, Any]:
        """composeExtension/fetchTask or submitAction on a channel message (Teams' shape)."""
        value: dict[str, Any] = {
            "commandId": "forwardFeedback", "commandContext": "message",
            "context": {"theme": "default"},
            "messagePayload": {
                "id": message_id, "replyToId": None, "messageType": "message",
                "createdDateTime": "2024-05-06T07:31:00.000Z", "lastModifiedDateTime": None,
                "deleted": False, "subject": None, "summary": None, "importance": "normal",
                "locale": "en-us", "linkToMessage":
                    f"https://teams.microsoft.com/l/message/{INTAKE_CHANNEL}/{message_id}",
                "from": {"device": None, "conversation": None, "application": None,
                         "user": {"userIdentityType": "aadUser", "id": GUEST["entra_id"],
                                  "displayName": GUEST["name"]}},
                "body": {"contentType": "html", "content": html},
                "attachmentLayout": None, "attachments": [], "mentions": [],
                "reactions": [], "policyViolation": None},
        }
        if data is not None:
            value["data"] = data
        return self.base(
            {"conversationType": "channel", "isGroup": True,
             "id": f"{INTAKE_CHANNEL};messageid={message_id}"},
            sender=sender, type="invoke", name=name, value=value,
            channel_data={"channel": {"id": INTAKE_CHANNEL}, "team": {"id": TEAM_ID},
                          "source": {"name": "message"}})

    def card_click(self, verb: str, item_id: int, *, sender: dict[str, str] = DEV,
                   card_message: str = "1717000009999", **inputs: Any) -> dict[str, Any]:
        """An Action.Execute click (adaptiveCard/action) on a card in the cards channel."""
        return self.base(
            {"conversationType": "channel", "isGroup": True,
             "id": f"{CARDS_CHANNEL};messageid={card_message}"},
            sender=sender, type="invoke", name="adaptiveCard/action", replyToId=card_message,
            value={"action": {"type": "Action.Execute", "verb": verb,
                              "data": {"item": item_id, **inputs}},
                   "trigger": "manual"},
            channel_data={"channel": {"id": CARDS_CHANNEL}, "team": {"id": TEAM_ID}})

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
            connector.add_member(f"a:1{person['entra_id'].replace('-', '')}", **person)
        connector.add_member(TEAM_ID, **GUEST, guest=True)
        connector.add_member(f"a:1{GUEST['entra_id'].replace('-', '')}", **GUEST, guest=True)
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
