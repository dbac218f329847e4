"""The fake Slack's network latency and trouble modes, which the reliability suite relies on."""

from __future__ import annotations

import time

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from handlers.slack.standin.slack_server import FakeSlack


async def _post(client: AsyncWebClient, text: str) -> int:
    """Post into C0GEN; return the HTTP status Slack answered."""
    try:
        return (await client.chat_postMessage(channel="C0GEN", text=text)).status_code
    except SlackApiError as error:
        return int(error.response.status_code)


async def test_every_answer_takes_the_latency():
    async with FakeSlack(latency=0.05) as slack:
        slack.add_channel("C0GEN", "general")
        client = AsyncWebClient(base_url=slack.api_url, token="xoxb-test")
        started = time.monotonic()
        await client.auth_test()
        assert time.monotonic() - started >= 0.05


async def test_a_troubled_slack_answers_429_500_500_after_applying_and_200_in_turn():
    async with FakeSlack() as slack:
        slack.add_channel("C0GEN", "general")
        client = AsyncWebClient(base_url=slack.api_url, token="xoxb-test", retry_handlers=[])
        slack.set_troubled(True, retry_after=7)
        statuses = [await _post(client, f"message {n}") for n in range(4)]
        assert statuses == [429, 500, 500, 200]
        [limited] = [c for c in slack.calls if c.status == 429]
        assert limited.error == "ratelimited"
        # The third call was applied although it was answered 500.
        assert [m["text"] for m in slack.messages("C0GEN")] == ["message 2", "message 3"]
        slack.set_troubled(False)
        assert await _post(client, "after") == 200


@pytest.mark.parametrize("applied", [False, True])
async def test_fail_next_may_apply_the_call_first(applied):
    async with FakeSlack() as slack:
        slack.add_channel("C0GEN", "general")
        client = AsyncWebClient(base_url=slack.api_url, token="xoxb-test", retry_handlers=[])
        slack.fail_next("chat.postMessage", status=500, applied=applied)
        assert await _post(client, "hello") == 500
        assert len(slack.messages("C0GEN")) == (1 if applied else 0)
