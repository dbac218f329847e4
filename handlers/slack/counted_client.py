"""The Slack Web API client, counting each call and its failures for /metrics and /healthz."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncSlackResponse, AsyncWebClient

from bot.telemetry import Reachability, api_called

PLATFORM = "slack"


class CountedWebClient(AsyncWebClient):
    """An AsyncWebClient that counts every call by method and notes whether Slack answered.

    `reach` is shared by a process's clients, so /healthz says what the last call saw.
    """

    def __init__(self, *args: Any, reach: Reachability | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.reach = reach or Reachability()

    async def api_call(self, api_method: str, **kwargs: Any) -> AsyncSlackResponse:
        """Make the call (see AsyncWebClient.api_call), counting it; raises as it does."""
        try:
            response = await super().api_call(api_method, **kwargs)
        except SlackApiError as error:
            status = error.response.status_code
            api_called(platform=PLATFORM, method=api_method,
                       error=str(error.response.get("error") or f"http_{status}"))
            if status >= 500:
                self.reach.failed(f"HTTP {status}")
            else:
                self.reach.answered()
            raise
        except Exception as error:  # counted, then raised as it was
            api_called(platform=PLATFORM, method=api_method, error=type(error).__name__)
            self.reach.failed(type(error).__name__)
            raise
        api_called(platform=PLATFORM, method=api_method)
        self.reach.answered()
        return response


def counted_copy(client: AsyncWebClient, *, reach: Reachability) -> CountedWebClient:
    """A CountedWebClient making the same calls as `client` (same token, session, retries)."""
    return CountedWebClient(
        token=client.token, base_url=client.base_url, timeout=client.timeout, ssl=client.ssl,
        proxy=client.proxy, session=client.session,
        trust_env_in_session=client.trust_env_in_session, headers=dict(client.headers),
        team_id=client.default_params.get("team_id"), logger=client.logger,
        retry_handlers=list(client.retry_handlers), reach=reach)


def count_listener_calls(bolt: AsyncApp, *, reach: Reachability) -> None:
    """Make the client Bolt hands each listener count its calls too.

    Bolt builds a plain AsyncWebClient per request (after authorizing it); this global
    middleware swaps in a counted copy before any listener runs.
    """
    async def swap_client(context: AsyncBoltContext,
                          next: Callable[[], Awaitable[BoltResponse]]) -> BoltResponse:
        client = context.get("client")
        if isinstance(client, AsyncWebClient) and not isinstance(client, CountedWebClient):
            context["client"] = counted_copy(client, reach=reach)
        return await next()

    bolt.middleware(swap_client)
