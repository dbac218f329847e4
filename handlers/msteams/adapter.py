"""Microsoft Teams as a platform of the runtime: /api/messages in, a ChatPort out."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiohttp import web

from bot.conversations import ConversationBook
from bot.ports import ChatPort
from bot.runtime import Runtime
from bot.settings import Settings
from bot.store import InboxRow
from handlers.msteams.auth import log_mode
from handlers.msteams.inbound import InboxHooks, TeamsInbound
from handlers.msteams.inbound_body import BodyReader
from handlers.msteams.people import People
from handlers.msteams.services import TeamsServices

log = logging.getLogger(__name__)

NAME = "msteams"
DRAIN_SECONDS = 10.0


class TeamsAdapter:
    """Receives Teams activities on the runtime's web app; sends through `port`.

    Items, inbox and outbox are the runtime's; plug the adapter in with
    `runtime.add_platform`. Without a `port`, the Teams port (cards, notices, 1:1 chats,
    member lookups: handlers/msteams/port.py) is built from the settings.
    """

    name = NAME

    def __init__(self, *, runtime: Runtime, settings: Settings, port: ChatPort | None = None,
                 people: People | None = None, bodies: BodyReader | None = None) -> None:
        self.runtime = runtime
        self.settings = settings
        self._port = port if port is not None else _teams_port(runtime, settings)
        # A deployment serving many workspaces keys each tenant "msteams:<tenant>".
        runtime.key_prefixes[NAME] = f"{NAME}:"
        services = TeamsServices(
            config=runtime.config, intake=runtime.intake, lifecycle=runtime.lifecycle,
            views=runtime.views, conversations=_conversation_book(runtime),
            clock=runtime.clock, claim_workspace=runtime.claim_workspace,
            closed_loop=runtime.closed_loop, links=runtime.links)
        hooks = InboxHooks(
            persist=runtime.persist,
            done=lambda inbox_id, error: runtime.request_done(inbox_id, error=error),
            failed=lambda inbox_id, kind, error: runtime.request_failed(
                inbox_id, kind=kind, error=error))
        self.inbound = TeamsInbound(services=services, settings=settings, hooks=hooks,
                                    bodies=bodies, people=people)

    @property
    def port(self) -> ChatPort:
        """What the core sends through on Teams."""
        return self._port

    def add_routes(self, app: web.Application) -> None:
        """POST /api/messages (token-checked; stored before it is answered), and the port's own."""
        self.inbound.add_routes(app)
        charts = getattr(self._port, "charts", None)  # digest charts served to Teams
        if charts is not None:
            charts.add_routes(app)

    async def connect(self) -> None:
        """Say how callers are checked; Teams needs no connection, so stored work resumes now."""
        log_mode(self.settings)
        await self.runtime.platform_ready(NAME)

    async def connect_once(self) -> None:
        """For one-off commands: Teams needs no connection, only an app registration.

        Raises ConnectionError when there is none (nor local anonymous mode).
        """
        if self.settings.teams_auth_mode == "refuse":
            raise ConnectionError("Microsoft Teams needs MICROSOFT_APP_ID, MICROSOFT_APP_PASSWORD"
                                  " and MICROSOFT_APP_TENANT_ID (see the README's environment"
                                  " table)")

    async def disconnect(self) -> None:
        """Let the work started after answers finish (briefly); what's left stays stored."""
        try:
            await asyncio.wait_for(self.inbound.drain(), DRAIN_SECONDS)
        except TimeoutError:
            self.inbound.cancel_background()
            log.warning("Teams: stopped with requests still being handled; they are stored"
                        " and are finished at the next start")
        close = getattr(self._port, "close", None)
        if close is not None:
            await close()

    def health(self) -> dict[str, Any]:
        """Teams' part of /healthz: caller checks (refusing all is not ok), connector reach."""
        mode = self.settings.teams_auth_mode
        part: dict[str, Any] = {"ok": mode != "refuse", "auth": mode}
        # Whether the Bot Connector answered the last call (a test's fake port has none).
        reach = getattr(getattr(self._port, "connector", None), "reach", None)
        if reach is not None:
            part.update(reachable=reach.reachable, unreachable_because=reach.problem)
        return part

    async def finish(self, row: InboxRow, *, fresh: bool = False) -> None:
        """Finish one stored activity (a replay after a restart or a failure).

        Teams requests are finished where they are answered (invokes answer with
        results), so a worker only ever finishes them as replays: `fresh` changes nothing.
        """
        await self.inbound.finish(row)


def _conversation_book(runtime: Runtime) -> ConversationBook:
    """Where Teams conversations are remembered (the core's book over the runtime's store)."""
    return ConversationBook(store=runtime.store, platform=NAME, clock=runtime.clock)


def _teams_port(runtime: Runtime, settings: Settings) -> ChatPort:
    """The Teams port for the settings' app registration (handlers/msteams/port.py)."""
    from handlers.msteams.port import create_teams_port

    return create_teams_port(config=runtime.config, store=runtime.store, settings=settings,
                             clock=runtime.clock, linked_of=runtime.links.linked)
