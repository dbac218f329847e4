"""The Teams ChatPort against a fake Bot Connector over real HTTP on loopback.

Assertions are on the connector calls the fake recorded and on the store.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest
from aiohttp import web

pytest.importorskip("microsoft_agents.hosting.core", reason="needs the teams extra")

from bot.config_loader import parse_config_text
from bot.conversations import ConversationBook
from bot.models import Status
from bot.ports import ChatError, Notice
from bot.settings import Settings
from handlers.msteams.charts import ChartShelf
from handlers.msteams.connector import ConnectorAccess, retry_after_seconds, token_provider
from handlers.msteams.connector_fake import TENANT_ID, FakeConnector
from handlers.msteams.port import TeamsChatPort, create_teams_port
from storage import open_store
from tests.msteams_world import (
    CAROL,
    CHANNEL,
    CONFIG,
    DAVE,
    DIGESTS,
    EVE,
    GINA,
    NOW,
    OTHER_TENANT,
    TEAM,
    TOKEN,
    UNKNOWN,
    WORKSPACE,
    FixedToken,
    card_item,
    install,
    install_team,
    teams_config,
)
from tests.test_digest import build


class Clock:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def teams() -> AsyncIterator[SimpleNamespace]:
    """A fake connector with one installed team (General, a card channel, a digest channel)."""
    store = open_store("sqlite:///:memory:")
    async with FakeConnector() as fake:
        install_team(store, fake)
        clock = Clock()
        shelf = ChartShelf(base_url="https://bot.example.com/", clock=clock)
        connector = ConnectorAccess(tokens=FixedToken())
        book = ConversationBook(store=store, platform="msteams", clock=lambda: NOW)
        port = TeamsChatPort(config=teams_config(), conversations=book, connector=connector,
                             tenant_id=TENANT_ID, charts=shelf, clock=lambda: NOW)
        yield SimpleNamespace(fake=fake, store=store, port=port, shelf=shelf, clock=clock)
        await port.close()
    store.close()


async def test_a_card_goes_to_the_team_channel_mentioning_owners_looked_up_by_email(teams):
    posted = await teams.port.post_card(item=card_item(), mentions=["carol@example.com"],
                                        outbox_key="card:12")

    (lookup,) = [c for c in teams.fake.calls_to("get_conversation_member")
                 if c.path.endswith("carol@example.com")]
    assert lookup.path == f"/v3/conversations/{TEAM}/members/carol@example.com"
    (send,) = teams.fake.calls_to("send_to_conversation")
    assert (send.method, send.path) == ("POST", f"/v3/conversations/{CHANNEL}/activities")
    assert send.authorization == f"Bearer {TOKEN}"
    card = send.body["attachments"][0]["content"]
    assert card["msteams"]["entities"] == [{
        "type": "mention", "text": "<at>Carol Ng</at>",
        "mentioned": {"id": CAROL, "name": "Carol Ng"}}]
    assert "<at>Carol Ng</at>" in str(card["body"])
    assert posted.conversation == CHANNEL
    assert posted.message in teams.fake.activities[CHANNEL]


async def test_people_are_looked_up_once_even_when_asked_at_the_same_time(teams):
    lookups = [teams.port.is_internal_user(workspace=WORKSPACE, user="carol@example.com")
               for _ in range(5)]
    assert await asyncio.gather(*lookups) == [True] * 5
    await teams.port.post_card(item=card_item(), mentions=["carol@example.com"],
                               outbox_key="card:12")
    carol = [c for c in teams.fake.calls_to("get_conversation_member")
             if c.path.endswith("carol@example.com")]
    assert len(carol) == 1


async def test_an_update_puts_the_same_activity_with_the_new_card(teams):
    posted = await teams.port.post_card(item=card_item(), mentions=["carol@example.com"],
                                        outbox_key="card:12")
    resolved = card_item(card_channel=posted.conversation, card_ts=posted.message,
                          status=Status.RESOLVED.value, resolved_by="carol@example.com",
                          resolved_at=NOW, resolution_note="fixed in 2.3")

    await teams.port.update_card(item=resolved)

    (put,) = teams.fake.calls_to("update_activity")
    assert (put.method, put.path) == (
        "PUT", f"/v3/conversations/{CHANNEL}/activities/{posted.message}")
    shown = str(teams.fake.activities[CHANNEL][posted.message]["attachments"])
    assert "Resolved by Carol Ng: fixed in 2\\\\.3" in shown


async def test_a_notice_opens_a_1on1_chat_once_and_reuses_it(teams):
    item = card_item()
    notice = Notice(kind="acknowledged", user="dave@example.com",
                    data={"by": "carol@example.com"})

    first = await teams.port.send_notice(workspace=WORKSPACE, item=item, notice=notice,
                                         outbox_key="n:1")
    (create,) = teams.fake.calls_to("create_conversation")
    assert create.body["isGroup"] is False
    assert create.body["members"] == [{"id": DAVE}]
    assert create.body["tenantId"] == TENANT_ID
    assert create.body["bot"] == {"id": "28:bot-app-id"}
    chat = teams.store.personal_conversation(platform="msteams", user="dave@example.com")
    assert chat is not None and chat.kind == "personal"
    assert chat.conversation_id == first.conversation
    assert chat.service_url.rstrip("/") == teams.fake.url.rstrip("/")

    second = await teams.port.send_notice(workspace=WORKSPACE, item=item, notice=replace(
        notice, kind="resolved", data={"by": "carol@example.com", "note": "done"}),
        outbox_key="n:2")
    assert len(teams.fake.calls_to("create_conversation")) == 1
    sends = teams.fake.calls_to("send_to_conversation")
    assert [s.path for s in sends] == [f"/v3/conversations/{chat.conversation_id}/activities"] * 2
    assert second.conversation == first.conversation
    assert "Carol Ng" in str(sends[0].body) and "was resolved by" in str(sends[1].body)


async def test_a_notice_to_someone_known_by_entra_id_reaches_them(teams):
    notice = Notice(kind="relay", user=DAVE, data={"by": CAROL, "text": "<at>x</at> *hi*"})
    await teams.port.send_notice(workspace=WORKSPACE, item=card_item(), notice=notice,
                                 outbox_key="n:3")
    (create,) = teams.fake.calls_to("create_conversation")
    assert create.body["members"] == [{"id": DAVE}]
    (send,) = teams.fake.calls_to("send_to_conversation")
    text = send.body["attachments"][0]["content"]["body"][0]["text"]
    assert "\\<at\\>x\\</at\\> \\*hi\\*" in text  # customer-side words never mention
    assert send.body["attachments"][0]["content"]["msteams"]["entities"] == []


async def test_a_notice_in_an_intake_thread_is_a_reply_in_that_thread(teams):
    await teams.port.send_notice(
        workspace=WORKSPACE, item=card_item(), outbox_key="n:4",
        notice=Notice(kind="routed", user="dave@example.com", conversation=CHANNEL,
                      thread="1700000000000", data={"assignees": ["carol@example.com"]}))
    (send,) = teams.fake.calls_to("send_to_conversation")
    assert send.path == f"/v3/conversations/{CHANNEL};messageid=1700000000000/activities"
    assert not teams.fake.calls_to("create_conversation")


async def test_a_reminder_in_the_card_thread_mentions_the_owners(teams):
    posted = await teams.port.post_card(item=card_item(), mentions=["carol@example.com"],
                                        outbox_key="card:12")
    notice = Notice(kind="reminder", user="carol@example.com", platform="msteams",
                    conversation=posted.conversation, thread=posted.message,
                    data={"mentions": ["carol@example.com"], "waited": "9h", "sla": "8h",
                          "severity": "normal"})
    await teams.port.send_notice(workspace=WORKSPACE, item=card_item(), notice=notice,
                                 outbox_key="r:12")
    reminder = teams.fake.calls_to("send_to_conversation")[-1]
    assert reminder.path == (f"/v3/conversations/{CHANNEL};messageid={posted.message}"
                             "/activities")
    card = reminder.body["attachments"][0]["content"]
    assert card["msteams"]["entities"] == [{
        "type": "mention", "text": "<at>Carol Ng</at>",
        "mentioned": {"id": CAROL, "name": "Carol Ng"}}]
    assert card["body"][0]["text"].startswith("⏰ <at>Carol Ng</at> feedback #12 has waited 9h")


async def test_a_rate_limit_gives_its_retry_after_and_is_not_retried(teams):
    teams.fake.rate_limit_next("send_to_conversation", retry_after=7)
    with pytest.raises(ChatError) as raised:
        await teams.port.post_card(item=card_item(), mentions=[], outbox_key="card:12")
    assert raised.value.retry_after == 7
    assert len(teams.fake.calls_to("send_to_conversation")) == 1

    later = datetime.now(UTC) + timedelta(seconds=120)
    teams.fake.rate_limit_next("send_to_conversation", retry_after=format_datetime(
        later, usegmt=True))
    with pytest.raises(ChatError) as raised:
        await teams.port.post_card(item=card_item(), mentions=[], outbox_key="card:12")
    assert 100 < (raised.value.retry_after or 0) <= 120


def test_retry_after_reads_seconds_and_http_dates():
    now = datetime(2024, 5, 6, 9, 0, tzinfo=UTC)
    assert retry_after_seconds("3") == 3
    assert retry_after_seconds("Mon, 06 May 2024 09:00:30 GMT", now=now) == 30
    assert retry_after_seconds("soon") == 1
    assert retry_after_seconds(None) == 1


async def test_a_server_error_is_transient_and_not_retried(teams):
    teams.fake.fail_next("send_to_conversation", status=500)
    with pytest.raises(ChatError) as raised:
        await teams.port.post_card(item=card_item(), mentions=[], outbox_key="card:12")
    error = raised.value
    assert not (error.permanent or error.workspace_gone or error.unknown_fate)
    assert error.retry_after is None
    assert len(teams.fake.calls_to("send_to_conversation")) == 1


async def test_a_timeout_after_sending_leaves_the_post_of_unknown_fate(teams):
    teams.port.connector.timeout = aiohttp.ClientTimeout(total=0.3)
    teams.fake.delay("send_to_conversation", 2)
    with pytest.raises(ChatError) as raised:
        await teams.port.post_card(item=card_item(), mentions=[], outbox_key="card:12")
    assert raised.value.unknown_fate and not raised.value.permanent
    assert await teams.port.find_post(workspace=WORKSPACE, conversation=CHANNEL, user=None,
                                      outbox_key="card:12") is None


async def test_a_missing_activity_is_a_permanent_error(teams):
    with pytest.raises(ChatError) as raised:
        await teams.port.update_card(item=card_item(card_channel=CHANNEL, card_ts="404404"))
    assert raised.value.permanent and "404" in raised.value.reason


async def test_a_channel_the_app_was_never_added_to_is_a_permanent_error(teams):
    teams.port.config = parse_config_text(CONFIG.replace(CHANNEL, UNKNOWN)).config
    with pytest.raises(ChatError) as raised:
        await teams.port.post_card(item=card_item(), mentions=[], outbox_key="card:12")
    assert raised.value.permanent
    assert "isn't installed" in raised.value.reason
    assert not teams.fake.calls_to("send_to_conversation")


async def test_guests_strangers_and_people_of_other_tenants_are_not_internal(teams):
    teams.fake.add_member(TEAM, entra_id=GINA, name="Gina Guest", email="gina@customer.com",
                          guest=True)
    teams.fake.add_member(TEAM, entra_id=EVE, name="Eve Else", email="eve@other.com",
                          tenant=OTHER_TENANT)

    async def internal(user: str) -> bool:
        return await teams.port.is_internal_user(workspace=WORKSPACE, user=user)

    assert await internal("dave@example.com") is True
    assert await internal(CAROL) is True
    assert await internal("gina@customer.com") is False
    assert await internal("eve@other.com") is False
    assert await internal("nobody@example.com") is False
    teams.fake.fail_next("get_conversation_member", status=503)
    with pytest.raises(ChatError):
        await internal("someone-new@example.com")


async def test_conversations_with_guests_count_as_shared_and_unknown_ones_are_refused(teams):
    install(teams.store, teams.fake, "19:withguest@thread.tacv2", team=None, kind="groupChat")
    teams.fake.add_member("19:withguest@thread.tacv2", entra_id=GINA, name="Gina Guest",
                          guest=True)
    install(teams.store, teams.fake, "19:sharedchannel@thread.tacv2",
             channelData={"channel": {"id": "19:sharedchannel@thread.tacv2",
                                      "membershipType": "shared"}})
    for conversation in ("19:internal@thread.tacv2", "19:down@thread.tacv2"):
        install(teams.store, teams.fake, conversation, team=None, kind="groupChat")
        teams.fake.add_member(conversation, entra_id=DAVE, name="Dave Support")

    async def shared(conversation: str) -> bool:
        return await teams.port.is_shared_conversation(workspace=WORKSPACE,
                                                       conversation=conversation)

    assert await shared("19:internal@thread.tacv2") is False
    assert await shared("19:withguest@thread.tacv2") is True
    assert await shared("19:sharedchannel@thread.tacv2") is True
    with pytest.raises(ChatError) as raised:
        await shared(UNKNOWN)
    assert raised.value.permanent and "isn't installed" in raised.value.reason
    teams.fake.fail_next("get_conversation_paged_members", status=502)
    with pytest.raises(ChatError) as raised:  # the core treats it as shared
        await shared("19:down@thread.tacv2")
    assert not raised.value.permanent
    assert await shared("19:down@thread.tacv2") is False  # the failure was not cached


async def test_a_refused_token_means_the_workspace_is_gone(teams):
    assert await teams.port.token_refusal(workspace=WORKSPACE) is None
    teams.port.connector.tokens = FixedToken("a-revoked-token")
    reason = await teams.port.token_refusal(workspace=WORKSPACE)
    assert reason and "401" in reason
    with pytest.raises(ChatError) as raised:
        await teams.port.post_card(item=card_item(), mentions=[], outbox_key="card:12")
    assert raised.value.workspace_gone


async def test_anonymous_mode_sends_no_token():
    store = open_store("sqlite:///:memory:")
    async with FakeConnector() as fake:
        install(store, fake, CHANNEL)
        port = create_teams_port(config=teams_config(), store=store,
                                 settings=Settings.from_env({"FEEDBACKBOT_TEAMS_ANONYMOUS": "1"}))
        await port.post_card(item=card_item(), mentions=[], outbox_key="card:12")
        await port.close()
    (send,) = fake.calls_to("send_to_conversation")
    assert send.authorization is None
    assert port.charts is None
    store.close()


def test_an_app_id_gets_tokens_from_entra_through_msal():
    from microsoft_agents.authentication.msal import MsalAuth

    settings = Settings.from_env({
        "MICROSOFT_APP_ID": "app-id", "MICROSOFT_APP_PASSWORD": "secret",
        "MICROSOFT_APP_TENANT_ID": TENANT_ID,
        "FEEDBACKBOT_PUBLIC_URL": "https://feedback.example.com"})
    store = open_store("sqlite:///:memory:")
    port = create_teams_port(config=teams_config(), store=store, settings=settings)
    store.close()
    assert isinstance(port.connector.tokens, MsalAuth)
    assert port.connector.tokens.configuration.CLIENT_ID == "app-id"
    assert port.charts is not None and port.charts.base_url == "https://feedback.example.com"
    assert isinstance(token_provider(app_id="app-id", password="secret",
                                     tenant_id=TENANT_ID), MsalAuth)


def test_the_public_url_comes_from_the_environment():
    settings = Settings.from_env({"FEEDBACKBOT_PUBLIC_URL": " https://feedback.example.com/ "})
    assert settings.public_url == "https://feedback.example.com"
    assert Settings.from_env({}).public_url is None


def _chart_image(body: dict[str, Any]) -> dict[str, Any]:
    (image,) = [part for part in body["attachments"][0]["content"]["body"]
                if part["type"] == "Image"]
    return image


async def test_a_small_chart_is_inlined_and_a_big_one_served_at_an_expiring_url(teams):
    small = (b"\x89PNG\r\n\x1a\n" + b"\0" * 2000)
    big = (b"\x89PNG\r\n\x1a\n" + os.urandom(40_000))
    await teams.port.post_digest(workspace=WORKSPACE, data=build(), chart_png=small,
                                 outbox_key="d:1", existing=None, conversation=DIGESTS)
    await teams.port.post_digest(workspace=WORKSPACE, data=build(), chart_png=big,
                                 outbox_key="d:2", existing=None, conversation=DIGESTS)

    inline, served = (_chart_image(c.body) for c in teams.fake.calls_to("send_to_conversation"))
    assert inline["url"].startswith("data:image/png;base64,")
    assert served["url"].startswith("https://bot.example.com/msteams/charts/")
    path = served["url"].removeprefix("https://bot.example.com")

    app = web.Application()
    teams.shelf.add_routes(app)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        async with aiohttp.ClientSession(f"http://127.0.0.1:{port}") as http:
            async with http.get(path) as answer:
                assert answer.status == 200 and answer.content_type == "image/png"
                assert await answer.read() == big
            async with http.get("/msteams/charts/guessed-token.png") as answer:
                assert answer.status == 404
            teams.clock.now += teams.shelf.ttl_seconds + 1
            async with http.get(path) as answer:
                assert answer.status == 404
    finally:
        await runner.cleanup()
