"""Build the whole Slack bot from settings: store, config, Bolt app, port and workers."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

import aiohttp
from aiohttp import web
from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)

from bot.config import Config, LoadedConfig, load_config
from bot.models import utcnow
from bot.runtime import Runtime
from bot.settings import Settings
from bot.store import InboxRow, Store
from bot.telemetry import Reachability
from handlers.slack import (
    card_actions,
    card_events,
    chat_views,
    intake_command,
    intake_events,
    intake_modal,
    link_actions,
    told_customer,
    workspace_events,
)
from handlers.slack.context import body_for_bolt, team_and_enterprise, workspace_key
from handlers.slack.counted_client import CountedWebClient, count_listener_calls
from handlers.slack.deps import ACK_ONLY, FAILURE_RECORDED, Deps
from handlers.slack.oauth import SlackInstalls, own_bot_user
from handlers.slack.port import SlackChatPort
from handlers.slack.token_auth import TokenAuthentication
from storage import open_store

log = logging.getLogger(__name__)

SOCKET_MODE_HEADER = "x-feedbackbot-mode"
ORG_WIDE_INSTALL = ("feedbackbot is installed org-wide on Enterprise Grid here, which it does"
                    " not support yet: nothing was forwarded. Ask an admin to install it in"
                    " this workspace instead.")
STARTING_UP = ("feedbackbot is just starting and can't reach Slack yet. Your request is"
               " saved and will be handled as soon as it can; you'll get a message then.")
TOKEN_REFUSED = ("feedbackbot can't sign in to Slack: its token was refused, and an admin"
                 " needs to fix it. Your request is saved and will be handled once it"
                 " works; you'll get a message then.")
NOT_INSTALLED = ("feedbackbot is not installed in this workspace, so nothing was forwarded."
                 " Ask an admin to install it (the /slack/install page of this bot).")
# A refused token is tried again after this many seconds, doubling up to the second.
REFUSED_TOKEN_RETRY = (30.0, 300.0)


class ConfigInvalid(Exception):
    """The config file has errors; `loaded.problems` lists them with file, line and key."""

    def __init__(self, loaded: LoadedConfig) -> None:
        super().__init__("\n".join(str(problem) for problem in loaded.errors))
        self.loaded = loaded


class FeedbackApp(TokenAuthentication):
    """The Slack platform on the runtime: Bolt app, Web API clients and the Slack port.

    Built alone (as tests and the Slack-only commands do), it builds and owns a
    runtime of its own; `start`/`stop` then run that whole runtime.
    """

    name = "slack"

    def __init__(self, *, settings: Settings, config: Config, store: Store | None = None,
                 clock: Callable[[], datetime], api_timeout: float = 10.0,
                 open_side_store: Callable[[], Store] | None = None,
                 runtime: Runtime | None = None) -> None:
        if runtime is None:
            if store is None:
                raise ValueError("FeedbackApp needs a store or a runtime")
            runtime = Runtime(config=config, store=store, clock=clock,
                              open_side_store=open_side_store)
        self.runtime = runtime
        self.settings = settings
        self.config = runtime.config
        # Only the port's shared-channel cache and callers outside the listeners (tests,
        # the demo) use the store here; listeners go through the core's services.
        self.store = runtime.store
        self.off_loop = runtime.off_loop
        self.clock = runtime.clock
        # No automatic retries for posts: the outbox owns them, and a blind retry after
        # a broken connection could post twice.
        self.reach = Reachability()  # what the last Web API call saw, for /healthz
        self.client = CountedWebClient(token=settings.bot_token, base_url=settings.api_url,
                                       timeout=int(api_timeout), retry_handlers=[],
                                       reach=self.reach)
        # Lookups made while handling a request may retry briefly; posts never do here,
        # because the outbox owns their retries and must not send twice.
        self.lookup_client = CountedWebClient(
            base_url=settings.api_url, timeout=int(api_timeout), reach=self.reach,
            retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=1),
                            AsyncServerErrorRetryHandler(max_retry_count=2)])
        self.auth: AuthorizeResult | None = None
        self.auth_refused: str | None = None  # Slack's reason while it refuses the token
        self.refused_token_retry = REFUSED_TOKEN_RETRY
        self.api_timeout = api_timeout
        self._http: aiohttp.ClientSession | None = None
        # OAuth mode: each workspace's own bot token, from the installations in the store.
        self.installs = (SlackInstalls.for_settings(settings, runtime.store, self._web_client,
                                                    on_installed=self._installed)
                         if settings.slack_oauth else None)

        # Requests answered and finished here, as Bolt does by default: the listener
        # acks, then works on. `quick_bolt` waits for the listener before answering:
        # for the ack-only phase of `serve --no-worker` (the listener stops at its ack, so
        # the answer leaves at once, without Bolt's 10 ms ack polling) and for a worker
        # finishing a request another process answered (done when dispatch returns).
        self.bolt = self._new_bolt(process_before_response=False)
        self.quick_bolt = self._new_bolt(process_before_response=True)
        self.port = SlackChatPort(
            client_for=(self.installs.client_for if self.installs
                        else lambda workspace: self.client), store=self.store,
            team_channels={name: team.channel for name, team in self.config.teams.items()
                           if team.channel},
            channels_of=lambda workspace: {
                name: team.channel for name, team in
                runtime.config.for_workspace(workspace).teams.items() if team.channel},
            linked_of=runtime.links.linked)
        runtime.add_platform(self)
        if self.installs is not None:
            # Each installed workspace is its own key, with its own digests and reminders.
            runtime.many_workspaces = True
            runtime.workspace_sources.append(self.installs.installations.installed_keys)
        self.intake = runtime.intake
        self.digests = runtime.digests
        self.reminders = runtime.reminders
        self.outbox = runtime.outbox
        self.scheduler = runtime.scheduler
        self.lifecycle = runtime.lifecycle
        self.deps = Deps(runtime=runtime, port=self.port, installs=self.installs)
        for bolt in (self.bolt, self.quick_bolt):
            # Card listeners first: they match only events about cards, and Bolt runs the
            # first listener that matches.
            card_events.register(bolt, self.deps, self.lifecycle)
            card_actions.register(bolt, self.deps, self.lifecycle)
            told_customer.register(bolt, self.deps)
            link_actions.register(bolt, self.deps)
            chat_views.register(bolt, self.deps)
            intake_command.register(bolt, self.deps, self.lifecycle)
            for feature in (intake_modal, intake_events, workspace_events):
                feature.register(bolt, self.deps)
            workspace_events.register_catch_alls(bolt, self.deps)
        self._connecting: asyncio.Task[None] | None = None

    def _new_bolt(self, *, process_before_response: bool) -> AsyncApp:
        async def authorize(enterprise_id: str | None = None, team_id: str | None = None,
                            **_: Any) -> AuthorizeResult:
            # From the auth.test made at start-up: no Web API call inside a request.
            # Until it has answered, authorization fails and the stored request waits.
            # In OAuth mode, from the workspace's installation in the store.
            found = (await asyncio.to_thread(self._authorized, enterprise_id, team_id)
                     if self.installs is not None else self._authorized(enterprise_id, team_id))
            return found  # type: ignore[return-value]

        bolt = AsyncApp(
            client=self.lookup_client,
            authorize=authorize,
            # The signature is checked on the raw body before anything is stored, so
            # Bolt's own check (which parses first) would only repeat it.
            request_verification_enabled=False,
            # The bot's own messages are ignored by the listeners, which also mark
            # them done in the inbox.
            ignoring_self_events_enabled=False,
            process_before_response=process_before_response,
            # In OAuth mode Bolt is given our installation store, or it would make a
            # file-based one of its own from SLACK_CLIENT_ID (it only names it: requests
            # are authorized above, and /slack/install is served by handlers/slack/oauth.py).
            installation_store=(self.installs.installations if self.installs is not None
                                else None),
        )
        count_listener_calls(bolt, reach=self.reach)
        return bolt

    # --- authorization -----------------------------------------------------------
    def _authorized(self, enterprise_id: str | None,
                    team_id: str | None) -> AuthorizeResult | None:
        """This deployment's credentials, for requests from the workspace it serves only."""
        if self.installs is not None:
            return self.installs.authorize(enterprise_id=enterprise_id, team_id=team_id)
        auth = self.auth
        if auth is None:
            return None
        # An org-wide Grid install has no team ID: every workspace of its enterprise is ours.
        if team_id and auth.team_id and team_id != auth.team_id:
            return None
        if enterprise_id and auth.enterprise_id and enterprise_id != auth.enterprise_id:
            return None
        return auth

    def _installed(self, workspace: str) -> None:
        """OAuth mode: a workspace (re)installed the app; what waited for it is sent now."""
        if self.outbox.tokens.reinstalled(workspace):
            log.warning("workspace %s installed the app again: everything queued meanwhile"
                        " is delivered", workspace)
        self.outbox.wake()

    def busy_listeners(self) -> int:
        """Listeners still running (Bolt runs some after the answer); a stop waits for them."""
        return self.deps.in_flight

    def health(self) -> dict[str, Any]:
        """Slack's part of /healthz: not ok while Slack refuses the token.

        `connected` says auth.test has answered; `error` is Slack's refusal (e.g.
        invalid_auth), or null. Still connecting because Slack is unreachable is ok with
        `connected` false: requests are stored meanwhile. `reachable` says whether Slack
        answered the last Web API call (null before the first): false during an outage.
        """
        if self.installs is not None:
            return {"ok": True, "connected": True, "error": None, "mode": "oauth"}
        refused = self.auth_refused
        if refused is None and self.workspace is not None:
            refused = self.outbox.tokens.reason(self.workspace)
        return {"ok": refused is None, "connected": self.auth is not None, "error": refused,
                "reachable": self.reach.reachable, "unreachable_because": self.reach.problem}

    # --- inbound ----------------------------------------------------------------
    async def dispatch(self, *, inbox_id: int, body: str | dict[str, Any],
                       headers: Mapping[str, str | Sequence[str]], query: str = "",
                       mode: str = "http", replay: bool = False,
                       phase: str = "all") -> BoltResponse:
        """Run a stored request through Bolt; a request nothing will handle is marked done.

        That covers requests no listener matches and requests from a workspace this
        deployment does not serve; both would otherwise be replayed forever.
        `phase` "ack" only works out the answer (a worker finishes the request later);
        "finish" does the whole work and returns once it is done; "all" answers as soon
        as the listener acks and works on after that.
        """
        if self.auth is None and self.installs is None:
            # Not connected yet (Slack may be down): the request is stored and will be
            # finished once auth.test answers. Bolt would tell the person to install the
            # app, which is not what is wrong.
            waiting = TOKEN_REFUSED if self.auth_refused else STARTING_UP
            return BoltResponse(status=200, body=waiting if _is_command(body) else "")
        try:
            # Bolt reads the payload's ids while building the request: odd shapes raise here.
            if isinstance(body, str):
                body, headers = body_for_bolt(body, headers)
            context: dict[str, Any] = {"inbox_id": inbox_id, "replay": replay}
            if phase == "ack":
                context[ACK_ONLY] = True
            request = AsyncBoltRequest(body=body, query=query, headers=dict(headers),
                                       mode=mode, context=context)
            if _org_wide(request.body) and self.installs is None:
                return self._refuse_org_wide(inbox_id, request.body)
            if self.installs is not None and not await self._installed_for(request.body):
                self.runtime.request_done(inbox_id, error="workspace not installed")
                return BoltResponse(status=200,
                                    body=NOT_INSTALLED if "command" in request.body else "")
            bolt = self.bolt if phase == "all" else self.quick_bolt
            response = await bolt.async_dispatch(request)
            if phase == "ack":
                return response  # what comes of the request is the worker's to record
        except Exception as error:  # counted, so that it is retried a few times, not forever
            log.exception("handling stored request %s failed", inbox_id)
            self.runtime.request_failed(inbox_id, kind=_kind(body), error=repr(error))
            return BoltResponse(status=500, body="")
        if response.status >= 500 and not request.context.get(FAILURE_RECORDED):
            # Bolt answers 500 for what raised before any listener ran (a payload shape it
            # could not read); a listener's own failure is counted where it happened.
            self.runtime.request_failed(inbox_id, kind=_kind(request.body),
                                        error=f"HTTP {response.status} before any listener ran")
            return response
        if response.status == 404:
            self.runtime.request_done(inbox_id, error="no listener")
            return response
        team, enterprise = team_and_enterprise(request.body)
        team = request.context.team_id or team
        # (In OAuth mode the installation was checked before Bolt ran.)
        if (self.installs is None
                and self._authorized(request.context.enterprise_id or enterprise, team) is None):
            log.warning("ignored a request from workspace %s, which this deployment does not"
                        " serve", team)
            self.runtime.request_done(inbox_id, error="not a workspace this deployment serves")
        return response

    async def _installed_for(self, body: dict[str, Any]) -> bool:
        """OAuth mode: True when the workspace (or its org) a payload names has the app.

        Uninstall and revocation events pass: they tidy up whatever is left.
        """
        event = body.get("event")
        if isinstance(event, dict) and event.get("type") in ("app_uninstalled", "tokens_revoked"):
            return True
        team, enterprise = team_and_enterprise(body)
        return await asyncio.to_thread(self._authorized, enterprise, team) is not None

    def _refuse_org_wide(self, inbox_id: int, body: dict[str, Any]) -> BoltResponse:
        """Answer a request from an org-wide Enterprise Grid install: not supported yet."""
        log.warning("ignored a %s from an org-wide Enterprise Grid install (enterprise %s),"
                    " which feedbackbot does not support yet", _kind(body),
                    team_and_enterprise(body)[1])
        self.runtime.request_done(inbox_id, error="org-wide Enterprise Grid install")
        return BoltResponse(status=200, body=ORG_WIDE_INSTALL if "command" in body else "")

    def is_own_echo(self, body: dict[str, Any]) -> bool:
        """True for an event about the bot's own new post or reaction, which nothing acts on.

        Until auth.test has said who the bot is, nothing counts as its own.
        """
        bot_user, bot_id = self.deps.bot_user_id, self.deps.bot_id
        if self.installs is not None:
            bot_user, bot_id = own_bot_user(body), None
        event = body.get("event") if body.get("type") == "event_callback" else None
        if not isinstance(event, dict) or not (bot_user or bot_id):
            return False
        if event.get("type") in ("reaction_added", "reaction_removed"):
            return bool(bot_user) and event.get("user") == bot_user
        if event.get("type") != "message" or event.get("subtype") not in (None, "bot_message"):
            return False  # edits and deletions of its posts still matter to relays
        return bool((bot_user and event.get("user") == bot_user)
                    or (bot_id and event.get("bot_id") == bot_id))

    def replay_soon(self, inbox_id: int | None) -> None:
        """Handle a request whose insert landed after Slack was asked to retry it."""
        self.runtime.replay_soon(inbox_id)

    async def replay_inbox(self, *, older_than: timedelta = timedelta(0)) -> int:
        """Finish Slack requests that were acknowledged but not processed; return how many."""
        if self.auth is None and self.installs is None:
            return 0
        return await self.runtime.replay_inbox(platform=self.name, older_than=older_than)

    async def finish(self, row: InboxRow, *, fresh: bool = False) -> None:
        """Run a stored Slack request through Bolt again (after a restart or a failure).

        A `fresh` one was just answered by `serve --no-worker`: the person still gets
        the answers a replay long after the fact would leave out, and this returns once
        the work is done.
        """
        if self.auth is None and self.installs is None:
            return  # finished once auth.test answers
        mode = row.headers.get(SOCKET_MODE_HEADER, "http")
        body: str | dict[str, Any] = json.loads(row.body) if mode == "socket_mode" else row.body
        await self.dispatch(inbox_id=row.id, body=body, headers=row.headers, mode=mode,
                            replay=not fresh, phase="finish" if fresh else "all")

    def finish_after_answer(self, inbox_id: int, *, workspace: str, kind: str, body: str,
                            headers: dict[str, str], dedupe_key: str | None) -> None:
        """Finish a request this process stored and answered, as a task of its own."""
        self.runtime.finish_in_background(InboxRow(
            id=inbox_id, workspace=workspace, kind=kind, dedupe_key=dedupe_key, body=body,
            headers=headers, received_at=self.clock(), attempts=0, platform=self.name))

    # --- the platform's part of the runtime --------------------------------------
    def add_routes(self, app: web.Application) -> None:
        """Serve Slack's requests at /slack/events."""
        from handlers.slack.http import add_slack_routes  # it builds on this module

        if not self.settings.signing_secret:
            # Socket Mode needs no endpoint; without the secret no request could be checked.
            log.warning("SLACK_SIGNING_SECRET is not set: /slack/events is not served")
            return
        add_slack_routes(app, self, signing_secret=self.settings.signing_secret)

    async def connect(self) -> None:
        """Start calling auth.test; the runtime hears once Slack answers."""
        self._share_one_http_session()
        self._connecting = asyncio.create_task(self._connect())

    async def _connect(self) -> None:
        if self.installs is not None:
            # Each workspace's token comes with its requests: nothing to check up front.
            await self.runtime.platform_ready(self.name)
            return
        try:
            await self.authenticate()
        except Exception:  # a background task's failure would otherwise go unseen
            log.exception("could not connect to Slack; restart feedbackbot once that is fixed")
            raise
        await self.runtime.platform_ready(self.name)

    async def connect_once(self) -> None:
        """Call auth.test a few times; raise ConnectionError when Slack won't answer or refuses."""
        if self.installs is not None:
            return  # no single token: each workspace's is checked when it is used
        await self.authenticate(attempts=3)

    async def disconnect(self) -> None:
        """Stop connecting and close the pooled HTTP session."""
        if self._connecting is not None:
            self._connecting.cancel()
            await asyncio.gather(self._connecting, return_exceptions=True)
            self._connecting = None
        if self._http is not None:
            await self._http.close()
            self._http = None

    # --- running this platform alone ----------------------------------------------
    async def start(self, *, outbox: bool = True, scheduler: bool = True,
                    inbox: bool = True, worker: bool = False) -> None:
        """Start the runtime (and so connect to Slack); see Runtime.start."""
        await self.runtime.start(outbox=outbox, scheduler=scheduler, inbox=inbox,
                                 worker=worker)

    async def wait_ready(self, timeout: float = 30.0) -> None:
        """Wait until auth.test has answered."""
        await self.runtime.wait_ready(timeout)

    def _share_one_http_session(self) -> None:
        """Give every Web API client one pooled HTTP session (kept-alive connections).

        Without one, slack_sdk opens a new session, and so a new TLS handshake, per call.
        Bolt's per-request clients copy it from `lookup_client`.
        """
        if self._http is None or self._http.closed:
            # slack_sdk applies its own timeout only to sessions it creates itself.
            self._http = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.api_timeout))
        self.client.session = self._http
        self.lookup_client.session = self._http
        if self.installs is not None:
            self.installs.forget_clients()  # made again on this session

    def _web_client(self, token: str | None) -> CountedWebClient:
        """A client for posts with `token`: no automatic retries (the outbox owns them)."""
        return CountedWebClient(token=token, base_url=self.settings.api_url,
                                timeout=int(self.api_timeout), retry_handlers=[],
                                session=self._http, reach=self.reach)

    async def stop(self) -> None:
        """Stop the runtime: workers, platforms, and the store."""
        await self.runtime.stop()

    @property
    def workspace(self) -> str | None:
        """The workspace this deployment serves, once known."""
        if self.auth is None:
            return None
        return workspace_key(team_id=self.auth.team_id, enterprise_id=self.auth.enterprise_id)


def _org_wide(body: dict[str, Any]) -> bool:
    # Commands send the flag as form text, events and interactions as JSON.
    return body.get("is_enterprise_install") in (True, "true")


def _kind(body: str | dict[str, Any]) -> str:
    if isinstance(body, dict):
        return str(body.get("type") or body.get("command") or "unknown")
    return "request"


def _is_command(body: str | dict[str, Any]) -> bool:
    if isinstance(body, dict):
        return "command" in body
    return "command" in parse_qs(body) if not body.lstrip().startswith("{") else False


def create_app(settings: Settings, *, config: Config | None = None, store: Store | None = None,
               clock: Callable[[], datetime] = utcnow, api_timeout: float = 10.0,
               runtime: Runtime | None = None) -> FeedbackApp:
    """Build the Slack platform from settings (on `runtime`, or on a runtime of its own).

    Nothing is read from the environment here.

    Raises ConfigInvalid when the config file has errors, and ValueError for a
    DATABASE_URL that isn't understood.
    """
    if config is None:
        loaded = load_config(settings.config_path)
        if loaded.config is None:
            raise ConfigInvalid(loaded)
        for warning in loaded.warnings:
            log.warning("%s", warning)
        config = loaded.config
    if runtime is not None:
        return FeedbackApp(settings=settings, config=runtime.config,
                           clock=runtime.clock, api_timeout=api_timeout, runtime=runtime)
    open_side_store = None
    if store is None:
        store = open_store(settings.database_url)
        if settings.database_url not in ("sqlite:///", "sqlite:///:memory:"):
            # A second connection, so that a call stuck behind a lock holds up no other.
            def open_side_store() -> Store:
                return open_store(settings.database_url)
    return FeedbackApp(settings=settings, config=config, store=store, clock=clock,
                       api_timeout=api_timeout, open_side_store=open_side_store,
                       runtime=runtime)


