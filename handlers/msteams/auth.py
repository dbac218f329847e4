"""Who may call /api/messages: Bot Framework tokens checked by the Agents SDK, or nobody.

Anonymous mode exists for local testing only; it needs MICROSOFT_APP_ID unset *and*
FEEDBACKBOT_TEAMS_ANONYMOUS=1, so a deployment that forgot its app id refuses every
request (401) instead of trusting every request.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from microsoft_agents.authentication.msal import MsalConnectionManager
from microsoft_agents.hosting.aiohttp import jwt_authorization_decorator
from microsoft_agents.hosting.core import AgentAuthConfiguration, ClaimsIdentity

from bot.settings import Settings

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# Where the SDK's JWT check looks for its configuration on the (sub-)application.
CONFIG_KEY = "agent_configuration"
REFUSED = {"error": "Teams requests are refused: MICROSOFT_APP_ID is not set"}
UNAUTHORIZED = {"error": "Invalid token or authentication failed."}


def auth_configuration(settings: Settings) -> AgentAuthConfiguration | None:
    """The SDK's auth configuration for the settings' mode; None when every call is refused."""
    mode = settings.teams_auth_mode
    if mode == "jwt":
        return AgentAuthConfiguration(
            client_id=settings.microsoft_app_id, tenant_id=settings.microsoft_app_tenant_id,
            client_secret=settings.microsoft_app_password, anonymous_allowed=False)
    if mode == "anonymous":
        return AgentAuthConfiguration(anonymous_allowed=True)
    return None


def connection_manager(config: AgentAuthConfiguration | None) -> MsalConnectionManager:
    """Tokens for the bot's own calls to the Bot Connector (unused in anonymous mode)."""
    return MsalConnectionManager(
        connections_configurations={"SERVICE_CONNECTION": config or AgentAuthConfiguration()})


def log_mode(settings: Settings) -> None:
    """Say at start how /api/messages checks its callers; anonymous mode loudly."""
    mode = settings.teams_auth_mode
    if mode == "anonymous":
        log.warning("Teams: /api/messages accepts requests WITHOUT a token"
                    " (FEEDBACKBOT_TEAMS_ANONYMOUS=1 and no MICROSOFT_APP_ID). Use this for"
                    " local testing only: anyone who can reach the bot can forward feedback.")
    elif mode == "refuse":
        log.warning("Teams: MICROSOFT_APP_ID is not set, so /api/messages refuses every"
                    " request (401). Set MICROSOFT_APP_ID, MICROSOFT_APP_PASSWORD and"
                    " MICROSOFT_APP_TENANT_ID to serve Teams.")
    else:
        if not (settings.microsoft_app_password and settings.microsoft_app_tenant_id):
            log.warning("Teams: MICROSOFT_APP_PASSWORD or MICROSOFT_APP_TENANT_ID is not set;"
                        " the bot can check tokens but not send to Teams")
        log.info("Teams: /api/messages checks the Bot Framework token of every request")


def claims_of(request: web.Request) -> ClaimsIdentity:
    """The identity the token check attached to `request`."""
    claims = request.get("claims_identity")
    return claims if isinstance(claims, ClaimsIdentity) else ClaimsIdentity()


def guarded(handler: Handler, config: AgentAuthConfiguration | None) -> Handler:
    """Wrap `handler` so that it runs only for callers the SDK's JWT check lets through.

    The request's app must hold `config` under CONFIG_KEY. With no config every call
    gets 401. A token the SDK chokes on (it raises for a header without a key id)
    gets 401 too, never a 500.
    """
    checked = jwt_authorization_decorator(handler)

    async def guard(request: web.Request) -> web.StreamResponse:
        if config is None:
            return web.json_response(REFUSED, status=401)
        try:
            return await checked(request)
        except (KeyError, TypeError, AttributeError) as error:
            if "claims_identity" in request:
                raise  # the token was fine: this failure is the handler's own
            log.info("refused a Teams request whose token could not be read (%s)",
                     type(error).__name__)
            return web.json_response(UNAUTHORIZED, status=401)

    return guard
