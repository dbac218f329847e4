"""Fewer Web API calls per forwarded item, and rate limits that hold back only what Slack
limited, checked against fake Slack workspaces on loopback that record every call."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from types import SimpleNamespace

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.ports import CONVERSATION, WORKSPACE, ChatError, Notice
from handlers.slack.port import SlackChatPort
from handlers.slack.standin.slack_server import FakeSlack
from handlers.slack.standin.workspace import seed_workspace
from tests.fakes import make_item
from tests.slack_harness import forward_via_intake_channel, make_fake_slack, running_bot


async def test_a_forward_posts_its_card_and_confirmation_without_asking_for_permalinks(
        tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        item_id, card_channel, card_ts = await forward_via_intake_channel(
            slack, running, "Acme's refund never arrived")
        item = running.store.get_item(workspace="T0DEMO", item_id=item_id)
        assert item is not None and item.source_ts

        assert slack.calls_to("chat.getPermalink", include_failed=True) == []
        # The links are the ones Slack gives for top-level messages.
        (card,) = [call for call in slack.calls_to("chat.postMessage")
                   if call.args.get("channel") == card_channel]
        source_link = f"https://demo.slack.com/archives/C0INTAKE/p{item.source_ts.replace('.', '')}"
        assert source_link in json.dumps(card.args["blocks"])
        (confirmation,) = [call for call in slack.calls_to("chat.postMessage")
                           if call.args.get("thread_ts") == item.source_ts]
        card_link = f"https://demo.slack.com/archives/{card_channel}/p{card_ts.replace('.', '')}"
        assert card_link in confirmation.args["text"]
        # The workspace's URL is the one start-up's auth.test gave: nothing more is asked.
        await forward_via_intake_channel(slack, running, "Refund still missing")
        assert slack.calls_to("chat.getPermalink", include_failed=True) == []
        assert len(slack.calls_to("auth.test")) == 1


@pytest.fixture
async def workspaces() -> AsyncIterator[SimpleNamespace]:
    """Two fake workspaces on loopback and one Slack port serving both, by team id."""
    async with FakeSlack(team_id="T0DEMO", domain="demo") as demo, \
            FakeSlack(team_id="T0OTHER", domain="other") as other:
        seed_workspace(demo)
        seed_workspace(other)
        clients = {"T0DEMO": AsyncWebClient(token="xoxb-demo", base_url=demo.api_url,
                                            retry_handlers=[]),
                   "T0OTHER": AsyncWebClient(token="xoxb-other", base_url=other.api_url,
                                             retry_handlers=[])}
        port = SlackChatPort(client_for=clients.__getitem__, store=_NoStore(),
                             team_channels={"payments": "C0PAYMENTS"})
        yield SimpleNamespace(demo=demo, other=other, port=port)


class _NoStore:
    """The port's shared-channel cache is not used by these calls."""


async def _post(port: SlackChatPort, workspace: str, channel: str) -> None:
    await port.send_notice(workspace=workspace, item=None, outbox_key="fbo-1",
                           notice=Notice(kind="rejected", user="U0SUPPORT",
                                         conversation=channel, data={"reason": "test"}))


def _tries(slack: FakeSlack, method: str, channel: str | None = None) -> int:
    return len([call for call in slack.calls_to(method, include_failed=True)
                if channel is None or call.args.get("channel") == channel])


async def test_a_429_holds_only_the_channel_then_the_method_in_that_workspace(workspaces):
    demo, other, port = workspaces.demo, workspaces.other, workspaces.port
    demo.rate_limit_next("chat.postMessage", retry_after=30)
    with pytest.raises(ChatError) as first:
        await _post(port, "T0DEMO", "C0GENERAL")
    assert first.value.retry_after == 30 and first.value.limited == CONVERSATION

    # That channel waits without asking Slack again; the workspace's others don't.
    with pytest.raises(ChatError) as held:
        await _post(port, "T0DEMO", "C0GENERAL")
    assert held.value.limited == CONVERSATION and 0 < (held.value.retry_after or 0) <= 30
    assert _tries(demo, "chat.postMessage", "C0GENERAL") == 1
    await _post(port, "T0DEMO", "C0INTAKE")
    assert _tries(demo, "chat.postMessage", "C0INTAKE") == 1

    # A second channel limited too means the workspace's limit: the method waits there.
    demo.rate_limit_next("chat.postMessage", retry_after=30)
    with pytest.raises(ChatError) as second:
        await _post(port, "T0DEMO", "C0MANAGERS")
    assert second.value.limited == WORKSPACE
    with pytest.raises(ChatError):
        await _post(port, "T0DEMO", "C0INTAKE")
    assert _tries(demo, "chat.postMessage", "C0INTAKE") == 1

    # Other methods of that workspace, and the other workspace, carry on.
    await port.delete_message(workspace="T0DEMO", conversation="C0GENERAL", message="1.000001")
    assert _tries(demo, "chat.delete") == 1
    await _post(port, "T0OTHER", "C0GENERAL")
    await _post(port, "T0OTHER", "C0INTAKE")
    assert [call.ok for call in other.calls_to("chat.postMessage", include_failed=True)] == [
        True, True]


async def test_slack_failing_is_told_apart_from_a_refused_call(workspaces):
    workspaces.demo.fail_next("chat.postMessage", status=503)
    with pytest.raises(ChatError) as failing:
        await _post(workspaces.port, "T0DEMO", "C0GENERAL")
    assert failing.value.server_trouble and not failing.value.permanent
    workspaces.demo.fail_next("chat.postMessage", status=200, error="channel_not_found")
    with pytest.raises(ChatError) as refused:
        await _post(workspaces.port, "T0DEMO", "C0GENERAL")
    assert refused.value.permanent and not refused.value.server_trouble


async def test_permalinks_are_built_from_the_workspace_url(workspaces):
    demo, port = workspaces.demo, workspaces.port
    link = await port.permalink("T0DEMO", "C0PAYMENTS", "1714980000.000100")
    assert link == "https://demo.slack.com/archives/C0PAYMENTS/p1714980000000100"
    other = await port.permalink("T0OTHER", "C0PAYMENTS", "1714980000.000200")
    assert other == "https://other.slack.com/archives/C0PAYMENTS/p1714980000000200"
    assert _tries(demo, "chat.getPermalink") == 0


async def test_permalinks_are_asked_for_when_the_url_is_unknown(workspaces):
    demo, port = workspaces.demo, workspaces.port
    demo.fail_next("auth.test", status=500)
    link = await port.permalink("T0DEMO", "C0PAYMENTS", "1714980000.000100")
    assert link == "https://demo.slack.com/archives/C0PAYMENTS/p1714980000000100"
    assert _tries(demo, "chat.getPermalink") == 1


async def test_a_source_that_may_be_a_thread_reply_gets_its_link_from_slack(workspaces):
    demo, port = workspaces.demo, workspaces.port
    reply = make_item(workspace="T0DEMO", source_channel="C0GENERAL",
                      source_ts="1714980000.000300", reply_channel=None, reply_thread_ts=None)
    top_level = make_item(workspace="T0DEMO", source_channel="C0INTAKE",
                          source_ts="1714980000.000400", reply_channel="C0INTAKE",
                          reply_thread_ts="1714980000.000400")
    assert await port.source_link(top_level) == (
        "https://demo.slack.com/archives/C0INTAKE/p1714980000000400")
    assert _tries(demo, "chat.getPermalink") == 0
    assert await port.source_link(reply) is not None
    assert _tries(demo, "chat.getPermalink", "C0GENERAL") == 1
