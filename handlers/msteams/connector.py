"""Calls to the Bot Connector through the Agents SDK's connector client, as ChatErrors.

The SDK's client neither retries nor honours Retry-After; it raises
`aiohttp.ClientResponseError` carrying the response headers, which is where the outbox's
wait comes from. Nothing here retries: the outbox does.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import aiohttp
from microsoft_agents.hosting.core.authorization import (
    AccessTokenProviderBase,
    AgentAuthConfiguration,
    AnonymousTokenProvider,
    AuthenticationConstants,
)
from microsoft_agents.hosting.core.connector.teams import TeamsConnectorClient

from bot.ports import ChatError
from bot.telemetry import Reachability, api_called

log = logging.getLogger(__name__)

# The audience of the Bot Connector's tokens (Azure public cloud).
CONNECTOR_AUDIENCE = AuthenticationConstants.AGENTS_SDK_SCOPE
CONNECTOR_SCOPES = [f"{AuthenticationConstants.AGENTS_SDK_SCOPE}/.default"]
# A generous total: a send that times out has an unknown fate and may be posted twice
# (the Bot Connector can't be searched), so waiting longer is the lesser evil.
REQUEST_TIMEOUT = aiohttp.ClientTimeout(total=30, connect=10)
DEFAULT_RETRY_AFTER = 1.0
T = TypeVar("T")
PLATFORM = "msteams"


def token_provider(*, app_id: str | None, password: str | None,
                   tenant_id: str | None) -> AccessTokenProviderBase:
    """MSAL client credentials for the bot's Entra app, or no token (anonymous local mode)."""
    if not app_id:
        return AnonymousTokenProvider()
    from microsoft_agents.authentication.msal import MsalAuth

    return MsalAuth(AgentAuthConfiguration(client_id=app_id, client_secret=password,
                                           tenant_id=tenant_id))


def retry_after_seconds(value: str | None, *, now: datetime | None = None) -> float:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP-date."""
    if not value:
        return DEFAULT_RETRY_AFTER
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return DEFAULT_RETRY_AFTER
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - (now or datetime.now(UTC))).total_seconds(), 0.0)


def _error_code(message: str) -> str:
    """The connector's error code from a response body ({"error": {"code": …}}), if any."""
    try:
        body = json.loads(message)
    except (TypeError, ValueError):
        return ""
    error = body.get("error") if isinstance(body, dict) else None
    return str(error.get("code") or "") if isinstance(error, dict) else ""


PLAIN_REASONS = {
    400: "Teams refused the message as malformed",
    403: "Teams does not allow the bot to do this here",
    404: "Teams does not know this conversation, message or person",
    413: "the message is too large for Teams",
}


class ConnectorError(ChatError):
    """A ChatError from an HTTP answer of the connector; `status` is its HTTP status."""

    def __init__(self, reason: str, *, status: int, **kinds: Any) -> None:
        super().__init__(reason, **kinds)
        self.status = status


def chat_error(error: BaseException, *, sending: bool) -> ChatError:
    """Classify a connector failure for the outbox.

    `sending` says the call may have created something (a post), so a timeout or a
    dropped connection leaves its fate unknown. Raises `error` itself when it is not a
    connector failure.
    """
    if isinstance(error, aiohttp.ClientResponseError):
        status = error.status
        code = _error_code(error.message)
        detail = f" ({code})" if code else ""
        if status == 429:
            wait = error.headers.get("Retry-After") if error.headers else None
            return ConnectorError("ratelimited", status=status,
                                  retry_after=retry_after_seconds(wait))
        if status == 401:
            return ConnectorError(f"Teams refused the bot's token (401){detail}",
                                  status=status, workspace_gone=True)
        if status == 408 or status >= 500:
            return ConnectorError(f"Teams answered {status}{detail}", status=status,
                                  server_trouble=True)
        reason = PLAIN_REASONS.get(status, "Teams refused the request")
        return ConnectorError(f"{reason} ({status}{', ' + code if code else ''})",
                              status=status, permanent=True)
    if isinstance(error, asyncio.TimeoutError | aiohttp.ServerTimeoutError):
        return ChatError("timeout", unknown_fate=sending, server_trouble=True)
    if isinstance(error, aiohttp.ClientConnectorError):
        # Never reached the connector.
        return ChatError(f"connection: {error}", server_trouble=True)
    if isinstance(error, aiohttp.ClientError):
        return ChatError(f"connection: {error}", unknown_fate=sending, server_trouble=True)
    raise error


class ConnectorAccess:
    """One SDK connector client per service URL, carrying a fresh token on every call.

    Sessions are opened on first use and closed by `close()`.
    """

    def __init__(self, *, tokens: AccessTokenProviderBase,
                 timeout: aiohttp.ClientTimeout = REQUEST_TIMEOUT) -> None:
        self.tokens = tokens
        self.timeout = timeout
        self._clients: dict[str, TeamsConnectorClient] = {}
        self.reach = Reachability()  # what the last call saw, for /healthz

    async def token(self) -> str:
        """A token for the Bot Connector ("" in anonymous mode).

        Raises ChatError: workspace_gone when Entra refuses the credentials.
        """
        try:
            return await self.tokens.get_access_token(CONNECTOR_AUDIENCE, CONNECTOR_SCOPES)
        except ValueError as error:  # MSAL's "failed to acquire token" (bad id or secret)
            raise ChatError(f"Entra refused the bot's credentials: {error}",
                            workspace_gone=True) from error
        except OSError as error:  # Entra unreachable
            raise ChatError(f"Entra unreachable: {error}") from error

    async def client(self, service_url: str) -> TeamsConnectorClient:
        """The connector client for `service_url`, with a current Authorization header."""
        base = service_url if service_url.endswith("/") else service_url + "/"
        token = await self.token()
        client = self._clients.get(base)
        if client is None:
            session = aiohttp.ClientSession(base_url=base, timeout=self.timeout)
            client = TeamsConnectorClient(base, token, session=session)
            self._clients[base] = client
        elif len(token) > 1:
            client.client.headers["Authorization"] = f"Bearer {token}"
        return client

    async def call(self, service_url: str,
                   operation: Callable[[TeamsConnectorClient], Awaitable[T]], *,
                   sending: bool = False, method: str = "connector") -> T:
        """Run one connector operation, counted under `method`; every failure is a ChatError."""
        client = await self.client(service_url)
        try:
            result = await operation(client)
        except (TimeoutError, aiohttp.ClientError) as error:
            status = getattr(error, "status", None)
            api_called(platform=PLATFORM, method=method,
                       error=f"http_{status}" if status else type(error).__name__)
            if status is None or status == 408 or status >= 500:
                self.reach.failed(f"HTTP {status}" if status else type(error).__name__)
            else:
                self.reach.answered()
            raise chat_error(error, sending=sending) from error
        api_called(platform=PLATFORM, method=method)
        self.reach.answered()
        return result

    async def close(self) -> None:
        """Close every session."""
        clients, self._clients = self._clients, {}
        for client in clients.values():
            await client.close()


