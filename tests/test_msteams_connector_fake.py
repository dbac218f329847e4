"""The fake Bot Connector speaks what the Agents SDK's own connector client sends and reads."""

from __future__ import annotations

import aiohttp
import pytest

from handlers.msteams.cards import Person, item_card
from handlers.msteams.connector_fake import FakeConnector
from tests.fakes import make_item

pytest.importorskip("microsoft_agents.hosting.core", reason="needs the teams extra")

from microsoft_agents.activity import (
    Activity,
    Attachment,
    ChannelAccount,
    ConversationParameters,
)
from microsoft_agents.hosting.core.connector.client import ConnectorClient

CHANNEL = "19:5f0c2d8a1b3e4c6d9e7f@thread.tacv2"
TEAM = "19:team0general@thread.tacv2"
CAROL_ID = "a1b2c3d4-0000-4000-8000-000000000001"
CARD_TYPE = "application/vnd.microsoft.card.adaptive"


def _card_activity(text: str) -> Activity:
    card = item_card(make_item(id=5, text=text), owners=[Person(CAROL_ID, "Carol Ng")],
                     teams=["payments", "mobile"])
    return Activity(type="message", channel_id="msteams", attachments=[
        Attachment(content_type=CARD_TYPE, content=card)])


@pytest.fixture
async def connector():
    async with FakeConnector() as fake:
        client = ConnectorClient(fake.url, "token-from-entra")
        yield fake, client
        await client.close()


async def test_post_a_card_update_it_and_reply_in_its_thread(connector):
    fake, client = connector
    sent = await client.conversations.send_to_conversation(CHANNEL, _card_activity("crash"))
    assert sent.id and sent.id.isdigit()
    updated = await client.conversations.update_activity(
        CHANNEL, sent.id, _card_activity("crash (acknowledged)"))
    assert updated.id == sent.id
    thread = f"{CHANNEL};messageid={sent.id}"
    reply = await client.conversations.reply_to_activity(
        thread, sent.id, Activity(type="message", text="Carol acknowledged"))
    assert reply.id and reply.id != sent.id

    assert [c.operation for c in fake.calls] == [
        "send_to_conversation", "update_activity", "reply_to_activity"]
    post, put, answer = fake.calls
    assert (post.method, post.path) == ("POST", f"/v3/conversations/{CHANNEL}/activities")
    assert post.authorization == "Bearer token-from-entra"
    assert post.body["attachments"][0]["contentType"] == CARD_TYPE
    assert post.body["attachments"][0]["content"]["msteams"]["entities"][0]["mentioned"][
        "id"] == CAROL_ID
    assert (put.method, put.path) == ("PUT", f"/v3/conversations/{CHANNEL}/activities/{sent.id}")
    assert "crash \\\\(acknowledged\\\\)" in str(fake.activities[CHANNEL][sent.id])
    assert answer.path == f"/v3/conversations/{thread}/activities/{sent.id}"


async def test_members_are_found_by_email_or_entra_id_and_missing_ones_are_404(connector):
    fake, client = connector
    carol = fake.add_member(TEAM, entra_id=CAROL_ID, name="Carol Ng", email="carol@example.com")
    fake.add_member(TEAM, entra_id="a1b2c3d4-0000-4000-8000-000000000009", name="Gus Guest",
                    email="gus@partner.example", guest=True)
    by_email = await client.conversations.get_conversation_member(TEAM, "Carol@Example.com")
    by_entra = await client.conversations.get_conversation_member(TEAM, CAROL_ID)
    assert by_email.aad_object_id == by_entra.aad_object_id == CAROL_ID
    assert by_email.id == carol["id"] and by_email.name == "Carol Ng"
    everyone = await client.conversations.get_conversation_members(TEAM)
    assert sorted(member.name for member in everyone) == ["Carol Ng", "Gus Guest"]
    with pytest.raises(aiohttp.ClientResponseError) as missing:
        await client.conversations.get_conversation_member(TEAM, "nobody@example.com")
    assert missing.value.status == 404
    assert [c.path for c in fake.calls_to("get_conversation_member")] == [
        f"/v3/conversations/{TEAM}/members/Carol@Example.com",
        f"/v3/conversations/{TEAM}/members/{CAROL_ID}",
        f"/v3/conversations/{TEAM}/members/nobody@example.com"]


async def test_a_one_to_one_chat_is_created_with_its_first_message(connector):
    fake, client = connector
    carol = fake.add_member(TEAM, entra_id=CAROL_ID, name="Carol Ng", email="carol@example.com")
    created = await client.conversations.create_conversation(ConversationParameters(
        is_group=False, bot=ChannelAccount(id="28:bot"), members=[ChannelAccount(id=carol["id"])],
        tenant_id="72f988bf-0000-4000-8000-00000000f00d",
        activity=Activity(type="message", text="Your feedback went to payments.")))
    assert created.id.startswith("a:1") and created.activity_id
    (call,) = fake.calls_to("create_conversation")
    assert call.body["members"] == [{"id": carol["id"]}]
    assert fake.activities[created.id][created.activity_id]["text"] == (
        "Your feedback went to payments.")


async def test_429_carries_retry_after_and_5xx_fails_then_the_next_send_goes_through(connector):
    fake, client = connector
    fake.rate_limit_next("send_to_conversation", retry_after=7)
    with pytest.raises(aiohttp.ClientResponseError) as limited:
        await client.conversations.send_to_conversation(CHANNEL, _card_activity("one"))
    assert limited.value.status == 429
    assert limited.value.headers is not None and limited.value.headers["Retry-After"] == "7"
    fake.fail_next(status=503)
    with pytest.raises(aiohttp.ClientResponseError) as down:
        await client.conversations.update_activity(CHANNEL, "1", _card_activity("two"))
    assert down.value.status == 503
    # The SDK's client does not retry on its own: each fault is one recorded call.
    sent = await client.conversations.send_to_conversation(CHANNEL, _card_activity("three"))
    assert [(c.operation, c.status) for c in fake.calls] == [
        ("send_to_conversation", 429), ("update_activity", 503), ("send_to_conversation", 201)]
    assert list(fake.activities[CHANNEL]) == [sent.id]


async def test_updating_an_activity_that_was_never_posted_is_404(connector):
    fake, client = connector
    with pytest.raises(aiohttp.ClientResponseError) as missing:
        await client.conversations.update_activity(CHANNEL, "1700000000000",
                                                   _card_activity("x"))
    assert missing.value.status == 404
    assert fake.calls_to("update_activity")[0].status == 404
