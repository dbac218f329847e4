"""OAuth mode: many workspaces install the app through Bolt's OAuth flow.

On when SLACK_CLIENT_ID and SLACK_CLIENT_SECRET are set. `serve` then answers
GET /slack/install and /slack/oauth_redirect, each request is authorized from the
installations in our store (no Web API call inside a request), and every workspace's
posts go out with that workspace's own bot token.
"""

from __future__ import annotations

import html
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.oauth.async_callback_options import (
    AsyncCallbackOptions,
    AsyncFailureArgs,
    AsyncSuccessArgs,
)
from slack_bolt.oauth.async_oauth_flow import AsyncOAuthFlow
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_bolt.response import BoltResponse
from slack_sdk.oauth.installation_store import Bot
from slack_sdk.web.async_client import AsyncWebClient

from bot.settings import Settings
from bot.store import Store
from handlers.slack.context import workspace_key
from handlers.slack.installs import StoreInstallationStore, StoreOAuthStateStore
from handlers.slack.manifest import BOT_SCOPES
from handlers.slack.token_cipher import TokenCipher

log = logging.getLogger(__name__)

INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"
# How long a workspace's token is trusted from memory before the store is asked again
# (another process may have seen an uninstall or a reinstall meanwhile).
TOKEN_CACHE_SECONDS = 60.0

_FAILURES = {
    "invalid_browser": "This install link was opened in another browser than the one that"
                       " started it (its cookie is missing). Start again at /slack/install.",
    "invalid_state": "This install link has expired or was already used. Start again at"
                     " /slack/install.",
    "missing_code": "Slack sent no authorization code. Start again at /slack/install.",
    "invalid_code": "Slack refused the authorization code (it may have been used already)."
                    " Start again at /slack/install.",
    "access_denied": "The installation was cancelled in Slack; nothing was installed.",
}


def split_workspace_key(workspace: str) -> tuple[str | None, str | None]:
    """(enterprise ID, team ID) of a workspace key made by `workspace_key`."""
    if ":" in workspace:
        enterprise, team = workspace.split(":", 1)
        return enterprise or None, team or None
    return None, workspace or None


def _page(title: str, message: str, status: int) -> BoltResponse:
    body = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
            f"</title></head><body><h1>{html.escape(title)}</h1>"
            f"<p>{html.escape(message)}</p></body></html>")
    return BoltResponse(status=status, body=body,
                        headers={"Content-Type": "text/html; charset=utf-8"})


async def _install_failed(args: AsyncFailureArgs) -> BoltResponse:
    log.warning("an installation failed: %s", args.reason)
    message = _FAILURES.get(args.reason, f"The installation failed ({args.reason}); nothing"
                                         " was installed. Start again at /slack/install.")
    status = args.suggested_status_code if args.suggested_status_code >= 400 else 400
    return _page("feedbackbot was not installed", message, status)


class SlackInstalls:
    """The installations of a deployment in OAuth mode: the flow, authorization, clients."""

    def __init__(self, *, settings: Settings, store: Store, cipher: TokenCipher,
                 new_client: Callable[[str | None], AsyncWebClient],
                 clock: Callable[[], datetime] | None = None,
                 on_installed: Callable[[str], None] = lambda workspace: None) -> None:
        assert settings.slack_client_id and settings.slack_client_secret
        now = clock or (lambda: datetime.now(UTC))
        self.installations = StoreInstallationStore(store=store, cipher=cipher, clock=now)
        self.states = StoreOAuthStateStore(store=store, clock=now)
        redirect_uri = (f"{settings.public_url}{REDIRECT_PATH}"
                        if settings.public_url else None)
        self.flow = AsyncOAuthFlow(
            client=AsyncWebClient(base_url=settings.api_url),
            settings=AsyncOAuthSettings(
                client_id=settings.slack_client_id,
                client_secret=settings.slack_client_secret,
                scopes=sorted(BOT_SCOPES),
                redirect_uri=redirect_uri,
                install_path=INSTALL_PATH,
                redirect_uri_path=REDIRECT_PATH,
                # Straight on to Slack's consent page, with the state cookie set.
                install_page_rendering_enabled=False,
                installation_store=self.installations,
                state_store=self.states,
                callback_options=AsyncCallbackOptions(success=self._installed,
                                                      failure=_install_failed),
            ))
        self._new_client = new_client
        self.on_installed = on_installed
        self._clients: dict[str, tuple[float, AsyncWebClient]] = {}

    # --- HTTP ----------------------------------------------------------------------
    async def _installed(self, args: AsyncSuccessArgs) -> BoltResponse:
        installation = args.installation
        where = (installation.enterprise_name or installation.enterprise_id
                 if installation.is_enterprise_install
                 else installation.team_name or installation.team_id)
        workspace = workspace_key(team_id=installation.team_id,
                                  enterprise_id=installation.enterprise_id)
        log.info("installed in %s", workspace)
        self.forget_clients()  # a reinstall brings a new token
        self.on_installed(workspace)
        return _page("feedbackbot is installed",
                     f"feedbackbot is installed in {where}. You can close this page.", 200)

    def add_routes(self, app: web.Application) -> None:
        """Serve GET /slack/install and GET /slack/oauth_redirect."""

        async def install(request: web.Request) -> web.Response:
            return await to_aiohttp_response(
                await self.flow.handle_installation(await to_bolt_request(request)))

        async def redirect(request: web.Request) -> web.Response:
            return await to_aiohttp_response(
                await self.flow.handle_callback(await to_bolt_request(request)))

        app.router.add_get(INSTALL_PATH, install)
        app.router.add_get(REDIRECT_PATH, redirect)

    # --- authorization -------------------------------------------------------------
    def bot_for(self, *, enterprise_id: str | None, team_id: str | None) -> Bot | None:
        """The bot installed for a workspace: its own, else its Grid org's (org-wide).

        Reads the store in this thread.
        """
        if team_id:
            bot = self.installations.find_bot_now(enterprise_id=enterprise_id, team_id=team_id)
            if bot is not None:
                return bot
        if enterprise_id:
            return self.installations.find_bot_now(enterprise_id=enterprise_id, team_id=None,
                                           is_enterprise_install=True)
        return None

    def authorize(self, *, enterprise_id: str | None,
                  team_id: str | None) -> AuthorizeResult | None:
        """Credentials for a request from a workspace, from the store; None if not installed."""
        bot = self.bot_for(enterprise_id=enterprise_id, team_id=team_id)
        if bot is None:
            return None
        return AuthorizeResult(enterprise_id=enterprise_id, team_id=team_id,
                               bot_user_id=bot.bot_user_id, bot_id=bot.bot_id,
                               bot_token=bot.bot_token, bot_scopes=bot.bot_scopes)

    def client_for(self, workspace: str) -> AsyncWebClient:
        """A Web API client with `workspace`'s bot token (none when it is not installed,
        which Slack answers not_authed: the outbox then waits for a reinstall)."""
        now = time.monotonic()
        cached = self._clients.get(workspace)
        if cached is not None and now - cached[0] < TOKEN_CACHE_SECONDS:
            return cached[1]
        enterprise, team = split_workspace_key(workspace)
        bot = self.bot_for(enterprise_id=enterprise, team_id=team)
        client = self._new_client(bot.bot_token if bot is not None else None)
        self._clients[workspace] = (now, client)
        return client

    def forget_clients(self) -> None:
        """Read every token from the store again at its next use."""
        self._clients.clear()

    async def uninstalled(self, *, enterprise_id: str | None, team_id: str | None,
                          org_wide: bool) -> None:
        """Delete everything stored for a workspace (or a whole org) after app_uninstalled."""
        if org_wide:
            team_id = None
        await self.installations.async_delete_all(enterprise_id=enterprise_id, team_id=team_id)
        self.forget_clients()

    async def tokens_revoked(self, *, enterprise_id: str | None, team_id: str | None,
                             org_wide: bool, users: list[str], bot: bool) -> None:
        """Delete the revoked tokens: the users' installations, and the bot when listed."""
        if org_wide:
            team_id = None
        for user in users:
            await self.installations.async_delete_installation(enterprise_id=enterprise_id,
                                                       team_id=team_id, user_id=user)
        if bot:
            await self.installations.async_delete_bot(enterprise_id=enterprise_id, team_id=team_id)
        self.forget_clients()

    @classmethod
    def for_settings(cls, settings: Settings, store: Store,
                     new_client: Callable[[str | None], AsyncWebClient],
                     on_installed: Callable[[str], None]) -> SlackInstalls:
        """Build from settings; raise SecretKeyProblem without a usable FEEDBACKBOT_SECRET_KEY."""
        return cls(settings=settings, store=store, cipher=TokenCipher(settings.secret_key),
                   new_client=new_client, on_installed=on_installed)


def own_bot_user(body: dict[str, object]) -> str | None:
    """The bot user an event was delivered for (its `authorizations`), or None."""
    authorizations = body.get("authorizations")
    if isinstance(authorizations, list) and authorizations:
        first = authorizations[0]
        if isinstance(first, dict) and first.get("is_bot") and first.get("user_id"):
            return str(first["user_id"])
    return None
