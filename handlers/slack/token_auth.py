"""Single-token mode: who the bot is comes from an auth.test made at start-up."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp
from slack_bolt.authorization import AuthorizeResult
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.outbox import OutboxWorker
from bot.runtime import Runtime
from bot.settings import Settings
from handlers.slack.context import workspace_key
from handlers.slack.deps import Deps
from handlers.slack.port import SlackChatPort

log = logging.getLogger(__name__)


class TokenAuthentication:
    """auth.test with SLACK_BOT_TOKEN until Slack answers; part of FeedbackApp."""

    client: AsyncWebClient
    settings: Settings
    auth: AuthorizeResult | None
    auth_refused: str | None
    refused_token_retry: tuple[float, float]
    deps: Deps
    port: SlackChatPort
    runtime: Runtime
    outbox: OutboxWorker

    async def authenticate(self, *, attempts: int | None = None) -> AuthorizeResult:
        """Call auth.test until it answers, and clear a revoked mark once the token works.

        Retries with backoff while Slack is unreachable. A token Slack refuses is logged
        as an ERROR and tried again slowly (`refused_token_retry`): it can be fixed in
        Slack meanwhile, and requests are stored until then. With `attempts`, raises
        ConnectionError after that many tries, or at once for a refused token.
        """
        delay = 1.0
        refused_delay = self.refused_token_retry[0]
        attempt = 0
        while True:
            attempt += 1
            try:
                response = await self.client.auth_test()
            except SlackApiError as error:
                status = error.response.status_code
                failure: str = str(error.response.get("error") or status)
                if status < 500 and status != 429:
                    if attempts is not None:
                        raise ConnectionError(
                            f"Slack refuses SLACK_BOT_TOKEN ({failure}): check that the app is"
                            " installed and that the token is its Bot User OAuth Token"
                        ) from None
                    self._token_refused(failure, retry_in=refused_delay)
                    await asyncio.sleep(refused_delay)
                    refused_delay = min(refused_delay * 2, self.refused_token_retry[1])
                    continue
            except (TimeoutError, OSError, aiohttp.ClientError) as error:
                failure = str(error) or type(error).__name__
            else:
                return self._connected(response)
            if attempts is not None and attempt >= attempts:
                raise ConnectionError(f"Slack's auth.test failed: {failure}")
            log.warning("auth.test failed (%s); retrying in %.0fs", failure, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 60)

    def _token_refused(self, reason: str, *, retry_in: float) -> None:
        """Remember Slack's refusal (for /healthz) and say it loudly."""
        self.auth_refused = reason
        log.error("Slack refuses SLACK_BOT_TOKEN (%s): feedbackbot can neither read nor send"
                  " anything until that is fixed. Check that the app is installed and that"
                  " SLACK_BOT_TOKEN is its Bot User OAuth Token (xoxb-...). Requests are"
                  " stored meanwhile and handled once Slack accepts the token; trying again"
                  " in %.0fs.", reason, retry_in)

    def _connected(self, response: Any) -> AuthorizeResult:
        """Take auth.test's answer: who the bot is, and that its workspace accepts it again."""
        self.auth = AuthorizeResult.from_auth_test_response(
            auth_test_response=response, bot_token=self.settings.bot_token)
        workspace = workspace_key(team_id=self.auth.team_id,
                                  enterprise_id=self.auth.enterprise_id)
        self.deps.bot_user_id = self.auth.bot_user_id
        self.deps.bot_id = self.auth.bot_id
        self.deps.team_url = str(response.get("url") or "") or None
        if self.deps.team_url:
            self.port.remember_url(workspace=workspace, url=self.deps.team_url)
        self.runtime.claim_workspace(workspace)
        if self.auth_refused:
            log.warning("Slack accepts SLACK_BOT_TOKEN now (it refused it before: %s)",
                        self.auth_refused)
            self.auth_refused = None
        if self.outbox.tokens.accepted(workspace):
            # Marked after an uninstall or a revoked token; a reinstall (a new token and a
            # restart) or a token fixed in Slack ends that.
            log.warning("workspace %s had refused the app's token and accepts it again:"
                        " sending resumes, and everything queued meanwhile is delivered",
                        workspace)
        log.info("connected to workspace %s as %s", workspace, self.auth.bot_user_id)
        return self.auth
