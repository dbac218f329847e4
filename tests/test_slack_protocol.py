"""Slack's request protocol at /slack/events: signatures, parsing, retries, health."""

from __future__ import annotations

import asyncio
import json
import time

import aiohttp
import pytest

from handlers.slack.standin.payloads import (
    encode_command,
    encode_event,
    event_callback,
    message_event,
    sign,
    slash_command,
)
from tests.slack_harness import (
    SIGNING_SECRET,
    inbox_count,
    make_fake_slack,
    posts,
    running_bot,
)
from tests.store_backends import table_rows

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"


def intake_post(text: str = "Acme: the refund never arrived") -> dict:
    return event_callback(message_event(channel="C0INTAKE", user="U0SUPPORT", text=text))


async def assert_nothing_stored(running, slack) -> None:
    await running.settle()
    assert inbox_count(running) == 0
    assert running.store.list_items() == []
    assert slack.calls_to("chat.postMessage") == []


async def test_forged_signature_is_refused_and_nothing_is_stored(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        body = encode_event(intake_post())
        forged = sign("not-the-secret", body)
        response = await running.slack.send_raw(body, content_type=JSON, headers=forged)
        assert response.status == 401
        await assert_nothing_stored(running, slack)


async def test_body_changed_after_signing_is_refused(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        body = encode_event(intake_post())
        headers = sign(SIGNING_SECRET, body)
        tampered = body.replace(b"refund", b"r3fund")
        response = await running.slack.send_raw(tampered, content_type=JSON, headers=headers)
        assert response.status == 401
        await assert_nothing_stored(running, slack)


@pytest.mark.parametrize(
    "headers",
    [
        {},  # no signature headers at all
        {"X-Slack-Request-Timestamp": "soon", "X-Slack-Signature": "v0=00"},
        {"X-Slack-Request-Timestamp": "", "X-Slack-Signature": ""},
    ],
    ids=["unsigned", "timestamp-not-a-number", "empty-headers"],
)
async def test_missing_or_garbled_signature_headers_are_401_not_500(tmp_path, headers):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        response = await running.slack.send_raw(
            encode_event(intake_post()), content_type=JSON, headers=headers, sign=False
        )
        assert response.status == 401
        await assert_nothing_stored(running, slack)


async def test_stale_timestamp_is_refused_even_when_correctly_signed(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        stale = int(time.time()) - 6 * 60
        response = await running.slack.send_raw(
            encode_event(intake_post()), content_type=JSON, timestamp=stale
        )
        assert response.status == 401
        await assert_nothing_stored(running, slack)


async def test_recent_timestamp_within_five_minutes_is_accepted(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        response = await running.slack.send_raw(
            encode_event(intake_post()), content_type=JSON, timestamp=int(time.time()) - 200
        )
        assert response.status == 200
        await running.settle()
        assert len(running.store.list_items()) == 1


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[]",
        b"null",
        b"",
        b"\xff\xfe{}",  # not UTF-8
        b"[" * 50_000,  # nested too deep for the parser
        b'{"type": "event_callback", "event": "message"}',
        b'{"type": "event_callback", "event_id": "Ev1"}',
        b'{"type": "event_callback", "event": {"type": "message"}}',  # no event_id
    ],
    ids=[
        "broken",
        "list",
        "null",
        "empty",
        "not-utf8",
        "deep",
        "event-not-object",
        "no-event",
        "no-event-id",
    ],
)
async def test_signed_but_malformed_json_is_400_and_nothing_is_stored(tmp_path, body):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        response = await running.slack.send_raw(body, content_type=JSON)
        assert response.status == 400
        assert isinstance(response.json, dict) and response.json.get("error")
        await assert_nothing_stored(running, slack)


@pytest.mark.parametrize(
    "body",
    [
        b"payload=%7Bbroken",
        b"payload=%5B1%2C2%5D",
        b"payload=" + json.dumps({"type": "view_submission"}).encode().replace(b'"', b"%22"),
        b"payload="
        + json.dumps({"type": "message_action", "callback_id": "forward_feedback"})
        .encode()
        .replace(b'"', b"%22"),
        b"no-equals-sign",
        encode_command({"command": "/feedback", "text": "hello"}),  # no team, user or trigger
    ],
    ids=[
        "broken-json",
        "not-object",
        "view-without-user",
        "shortcut-without-user",
        "garbage",
        "command-without-ids",
    ],
)
async def test_signed_but_malformed_form_is_400_and_nothing_is_stored(tmp_path, body):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        response = await running.slack.send_raw(body, content_type=FORM)
        assert response.status == 400
        await assert_nothing_stored(running, slack)
        assert slack.calls_to("views.open") == []


async def test_url_verification_echoes_the_challenge(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        challenge = "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
        payload = {"token": "unused", "challenge": challenge, "type": "url_verification"}
        response = await running.slack.send_raw(encode_event(payload), content_type=JSON)
        assert response.status == 200
        assert response.json == {"challenge": payload["challenge"]}
        await assert_nothing_stored(running, slack)


async def test_url_verification_needs_a_valid_signature_too(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        body = encode_event({"type": "url_verification", "challenge": "abc"})
        response = await running.slack.send_raw(
            body, content_type=JSON, headers=sign("wrong", body)
        )
        assert response.status == 401
        assert "abc" not in response.body


async def test_retried_event_is_200_and_changes_nothing(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        payload = intake_post()
        first = await running.slack.send_event(payload)
        assert first.status == 200
        await running.settle()
        retry = await running.slack.send_event(payload, retry_num=1, retry_reason="http_timeout")
        again = await running.slack.send_event(payload, retry_num=2, retry_reason="http_error")
        assert (retry.status, again.status) == (200, 200)
        await running.settle()
        assert len(running.store.list_items()) == 1
        assert inbox_count(running) == 1
        assert len(posts(slack, "C0PAYMENTS")) == 1
        assert len(posts(slack, "C0INTAKE")) == 1


async def test_retry_racing_the_first_delivery_still_gives_one_item(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        payload = intake_post()
        responses = await asyncio.gather(
            running.slack.send_event(payload),
            running.slack.send_event(payload, retry_num=1),
        )
        assert [r.status for r in responses] == [200, 200]
        await running.settle()
        assert len(running.store.list_items()) == 1
        assert len(posts(slack, "C0PAYMENTS")) == 1


async def test_a_different_event_id_for_the_same_message_still_gives_one_item(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        event = message_event(channel="C0INTAKE", user="U0SUPPORT", text="Invoice is wrong")
        for _ in range(2):
            response = await running.slack.send_event(event_callback(event))
            assert response.status == 200
        await running.settle()
        assert len(running.store.list_items()) == 1
        assert inbox_count(running) == 2
        assert len(posts(slack, "C0PAYMENTS")) == 1


async def test_healthz_answers_json(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{running.url}/healthz") as response,
        ):
            assert response.status == 200
            assert response.content_type == "application/json"
            health = await response.json()
        assert health["ok"] is True
        assert health["connected"] is True
        assert health["outbox_pending"] == 0


async def test_slash_command_is_signed_over_the_form_body(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        body = encode_command(
            slash_command(text="refund please", user_id="U0SUPPORT", channel_id="C0GENERAL")
        )
        response = await running.slack.send_raw(
            body, content_type=FORM, headers=sign("wrong", body)
        )
        assert response.status == 401
        await assert_nothing_stored(running, slack)


async def test_app_rate_limited_notice_is_answered_200_and_not_stored(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        payload = {
            "token": "unused",
            "type": "app_rate_limited",
            "team_id": "T0DEMO",
            "minute_rate_limited": 1518467820,
            "api_app_id": "A0DEMO",
        }
        response = await running.slack.send_raw(encode_event(payload), content_type=JSON)
        assert response.status == 200
        await assert_nothing_stored(running, slack)


async def test_ssl_check_is_answered_200_and_not_stored(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        response = await running.slack.send_raw(b"ssl_check=1&token=unused", content_type=FORM)
        assert response.status == 200
        await assert_nothing_stored(running, slack)


async def test_request_is_stored_before_slack_gets_its_200(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        payload = intake_post()
        response = await running.slack.send_event(payload)
        assert response.status == 200
        rows = table_rows(running.store, "inbox")
        assert len(rows) == 1
        assert rows[0]["dedupe_key"] == f"event:{payload['event_id']}"
        assert json.loads(rows[0]["body"])["event"]["text"] == payload["event"]["text"]
        await running.settle()


async def test_a_request_from_a_workspace_this_deployment_does_not_serve_forwards_nothing(
    tmp_path,
):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        form = slash_command(
            text="refund missing",
            user_id="U0SUPPORT",
            channel_id="C0GENERAL",
            team_id="T0OTHER",
            response_url=slack.response_url("other"),
        )
        response = await running.slack.send_command(form)
        assert response.status < 500
        await running.settle()
        assert running.store.list_items() == []
        assert slack.calls_to("chat.postMessage") == []


async def test_the_bots_own_echoed_posts_are_answered_without_being_stored(tmp_path):
    from handlers.slack.standin.payloads import event_callback, message_event
    from tests.slack_harness import make_fake_slack, running_bot

    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "b.db") as running:
        deps = running.bot.deps
        assert deps.bot_id and deps.bot_user_id
        own = message_event(channel="C0INTAKE", user=deps.bot_user_id, text="Feedback #1 went")
        own["bot_id"] = deps.bot_id
        response = await running.slack.send_event(event_callback(own))
        assert response.status == 200
        someone = await running.slack.send_event(event_callback(message_event(
            channel="C0RANDOM", user="U0SUPPORT", text="lunch?")))
        assert someone.status == 200
        with running.store.database.read() as tx:  # type: ignore[attr-defined]
            kinds = [row["kind"] for row in tx.all("SELECT kind FROM inbox")]
        assert kinds == ["event_callback"]  # only the other person's message was stored
