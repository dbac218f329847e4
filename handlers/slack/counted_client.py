"""The Slack Web API client, counting each call and its failures for /metrics and /healthz."""

from __future__ import annotations

from typing import Any

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
