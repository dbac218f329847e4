"""The fake Slack Web API server and the signed inbound payloads, checked against slack_sdk/Bolt."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from slack_bolt.app.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from handlers.slack.standin import payloads
from handlers.slack.standin.slack_server import FakeSlack

SECRET = "test-signing-secret"


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    server = FakeSlack()
    await server.start()
    server.add_user("U0ALICE", "alice", real_name="Alice Archer", email="alice@demo.example")
    server.add_user("U0BOB", "bob")
    server.add_channel("C0GEN", "general", members=["U0ALICE", "U0BOB"])
    yield server
    await server.stop()


@pytest.fixture
def client(fake: FakeSlack) -> AsyncWebClient:
    return AsyncWebClient(base_url=fake.api_url, token="xoxb-test")


async def raw_call(fake: FakeSlack, method: str, **kwargs: Any) -> dict[str, Any]:
    """Call the fake with aiohttp directly, for the encodings slack_sdk does not choose."""
    async with (
        aiohttp.ClientSession() as session,
        session.request(kwargs.pop("verb", "POST"), fake.api_url + method, **kwargs) as resp,
    ):
        return {"status": resp.status, **await resp.json()}


# ---- lifecycle and slack_sdk compatibility ----------------------------------------------


async def test_messages_are_stamped_by_the_clock_it_is_given() -> None:
    # The demo runs the fake on its simulated clock, so posts carry the story's times.
    story_time = 1_773_130_000.0
    server = FakeSlack(clock=lambda: story_time)
    await server.start()
    try:
        server.add_user("U0ALICE", "alice")
        server.add_channel("C0GEN", "general", members=["U0ALICE"])
        slack = AsyncWebClient(base_url=server.api_url, token="xoxb-test")
        first = await slack.chat_postMessage(channel="C0GEN", text="one")
        second = await slack.chat_postMessage(channel="C0GEN", text="two")
    finally:
        await server.stop()
    assert first["ts"] == "1773130000.000000"
    # Still unique while the clock stands still.
    assert second["ts"] == "1773130000.000001"


async def test_listens_on_an_ephemeral_loopback_port_until_stopped() -> None:
    server = FakeSlack()
    await server.start()
    assert server.api_url.startswith("http://127.0.0.1:")
    assert server.api_url.endswith("/api/")
    assert not server.api_url.endswith(":0/api/")
    assert (await raw_call(server, "auth.test", headers={"Authorization": "Bearer xoxb-1"}))["ok"]
    await server.stop()
    with pytest.raises(aiohttp.ClientConnectionError):
        await raw_call(server, "auth.test")


async def test_slack_sdk_client_speaks_to_the_fake(fake: FakeSlack, client: AsyncWebClient) -> None:
    fake.add_usergroup("S0PAY", "payments-devs", ["U0ALICE", "U0BOB"])

    auth = await client.auth_test()
    assert (auth["team_id"], auth["user_id"], auth["bot_id"]) == ("T0DEMO", "U0BOT", "B0BOT")
    assert auth["is_enterprise_install"] is False and "enterprise_id" not in auth.data

    metadata = {"event_type": "outbox_entry", "event_payload": {"outbox_id": 42}}
    posted = await client.chat_postMessage(
        channel="C0GEN", text="card", blocks=[{"type": "divider"}], metadata=metadata
    )
    assert posted["channel"] == "C0GEN" and posted["message"]["bot_id"] == "B0BOT"
    [call] = fake.calls_to("chat.postMessage")
    assert call.token == "xoxb-test" and call.args["metadata"] == metadata

    info = await client.conversations_info(channel="C0GEN")
    assert info["channel"]["is_member"] is True and info["channel"]["is_ext_shared"] is False
    user = await client.users_info(user="U0ALICE")
    assert user["user"]["profile"]["real_name"] == "Alice Archer"
    group = await client.usergroups_users_list(usergroup="S0PAY")
    assert group["users"] == ["U0ALICE", "U0BOB"]
    link = await client.chat_getPermalink(channel="C0GEN", message_ts=posted["ts"])
    assert (
        link["permalink"]
        == f"https://demo.slack.com/archives/C0GEN/p{posted['ts'].replace('.', '')}"
    )

    opened = await client.views_open(
        trigger_id="1.2.abc", view={"type": "modal", "callback_id": "fwd", "blocks": []}
    )
    assert opened["view"]["id"].startswith("V") and opened["view"]["hash"]
    assert fake.views[opened["view"]["id"]]["callback_id"] == "fwd"

    with_meta = await client.conversations_history(channel="C0GEN", include_all_metadata=True)
    assert with_meta["messages"][0]["metadata"] == metadata
    without = await client.conversations_history(channel="C0GEN")
    assert "metadata" not in without["messages"][0]


async def test_files_upload_v2_stores_the_bytes_and_shares_them(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    chart = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
    result = await client.files_upload_v2(
        channel="C0GEN", content=chart, filename="chart.png", title="Weekly", initial_comment="hi"
    )
    file_id = result["file"]["id"]
    assert fake.uploads[file_id]["content"] == chart
    assert fake.uploads[file_id]["title"] == "Weekly"
    [shared] = [m for m in fake.messages("C0GEN") if m.get("files")]
    assert shared["files"][0]["id"] == file_id and shared["text"] == "hi"


async def test_form_encoded_and_get_calls_are_understood(fake: FakeSlack) -> None:
    form = await raw_call(
        fake,
        "chat.postMessage",
        data={"token": "xoxb-form", "channel": "C0GEN", "text": "hello", "blocks": "[]"},
    )
    got = await raw_call(
        fake,
        "conversations.history",
        verb="GET",
        params={"channel": "C0GEN", "limit": "1"},
        headers={"Authorization": "Bearer xoxb-get"},
    )
    assert form["ok"] and got["messages"][0]["ts"] == form["ts"]
    assert [c.token for c in fake.calls] == ["xoxb-form", "xoxb-get"]
    assert fake.calls[0].args["blocks"] == [] and "token" not in fake.calls[0].args
    assert (await raw_call(fake, "auth.test"))["error"] == "not_authed"


# ---- workspace behaviour ----------------------------------------------------------------


async def test_posting_to_a_user_id_lands_in_a_stable_dm(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    posted = await client.chat_postMessage(channel="U0ALICE", text="your item was routed")
    opened = await client.conversations_open(users="U0ALICE")
    assert posted["channel"].startswith("D") and opened["channel"]["id"] == posted["channel"]
    assert [m["text"] for m in fake.messages("U0ALICE")] == ["your item was routed"]
    assert (await client.conversations_info(channel=posted["channel"]))["channel"]["is_im"]


@pytest.mark.parametrize(
    ("channel", "error"),
    [
        ("C0NOPE", "channel_not_found"),
        ("U0NOBODY", "channel_not_found"),
        ("C0OUTSIDE", "not_in_channel"),
        ("C0SECRET", "channel_not_found"),
        ("C0OLD", "is_archived"),
    ],
)
async def test_posts_the_bot_may_not_make_are_refused(
    fake: FakeSlack, client: AsyncWebClient, channel: str, error: str
) -> None:
    fake.add_channel("C0OUTSIDE", "outside", bot_member=False)
    fake.add_channel("C0SECRET", "secret", is_private=True, bot_member=False)
    fake.add_channel("C0OLD", "old", is_archived=True)
    with pytest.raises(SlackApiError) as raised:
        await client.chat_postMessage(channel=channel, text="x")
    assert raised.value.response["error"] == error
    assert raised.value.response.status_code == 200
    assert fake.calls_to("chat.postMessage") == []
    assert len(fake.calls_to("chat.postMessage", include_failed=True)) == 1


async def test_threads_updates_and_deletes(fake: FakeSlack, client: AsyncWebClient) -> None:
    seeded = fake.add_message(
        "C0GEN", user="U0ALICE", text="customer says hi", ts="1700000000.000100"
    )
    reply = await client.chat_postMessage(channel="C0GEN", text="on it", thread_ts=seeded["ts"])
    parent = fake.message("C0GEN", seeded["ts"])
    assert parent is not None and parent["reply_count"] == 1 and parent["reply_users"] == ["U0BOT"]
    thread = await client.conversations_replies(channel="C0GEN", ts=seeded["ts"])
    assert [m["ts"] for m in thread["messages"]] == [seeded["ts"], reply["ts"]]
    history = await client.conversations_history(channel="C0GEN")
    assert [m["ts"] for m in history["messages"]] == [seeded["ts"]]

    await client.chat_update(channel="C0GEN", ts=reply["ts"], text="done")
    assert fake.message("C0GEN", reply["ts"])["text"] == "done"  # type: ignore[index]
    with pytest.raises(SlackApiError, match="cant_update_message"):
        await client.chat_update(channel="C0GEN", ts=seeded["ts"], text="hijack")
    with pytest.raises(SlackApiError, match="message_not_found"):
        await client.chat_update(channel="C0GEN", ts="1.000001", text="x")
    await client.chat_delete(channel="C0GEN", ts=reply["ts"])
    assert fake.message("C0GEN", seeded["ts"])["reply_count"] == 0  # type: ignore[index]


async def test_ts_values_strictly_increase(fake: FakeSlack, client: AsyncWebClient) -> None:
    fake.add_message("C0GEN", user="U0ALICE", text="from the future", ts=f"{time.time() + 60:.6f}")
    stamps = [
        (await client.chat_postMessage(channel="C0GEN", text=str(i)))["ts"] for i in range(20)
    ]
    assert all(float(a) < float(b) for a, b in itertools.pairwise(stamps))
    assert float(stamps[0]) > time.time() + 59


async def test_history_pages_with_cursor_and_bounds(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    for n in range(1, 6):
        fake.add_message("C0GEN", user="U0ALICE", text=str(n), ts=f"1700000000.00000{n}")
    first = await client.conversations_history(channel="C0GEN", limit=2)
    assert [m["text"] for m in first["messages"]] == ["5", "4"] and first["has_more"]
    cursor = first["response_metadata"]["next_cursor"]
    second = await client.conversations_history(channel="C0GEN", limit=2, cursor=cursor)
    assert [m["text"] for m in second["messages"]] == ["3", "2"]
    bounded = await client.conversations_history(
        channel="C0GEN", oldest="1700000000.000002", latest="1700000000.000004", inclusive=True
    )
    assert [m["text"] for m in bounded["messages"]] == ["4", "3", "2"]


async def test_unknown_things_get_slacks_errors(fake: FakeSlack, client: AsyncWebClient) -> None:
    for call, error in [
        (client.users_info(user="U0GHOST"), "user_not_found"),
        (client.usergroups_users_list(usergroup="S0GHOST"), "no_such_subteam"),
        (client.conversations_info(channel="C0GHOST"), "channel_not_found"),
        (client.bots_info(bot="B0GHOST"), "bot_not_found"),
        (client.api_call("feedback.frobnicate"), "unknown_method"),
    ]:
        with pytest.raises(SlackApiError) as raised:
            await call
        assert raised.value.response["error"] == error
    assert fake.calls[-1].method == "feedback.frobnicate" and not fake.calls[-1].ok


async def test_malformed_calls_get_clear_errors_and_are_recorded(fake: FakeSlack) -> None:
    auth = {"Authorization": "Bearer xoxb-test"}
    answers = [
        await raw_call(fake, "chat.postMessage", data=b"{oops", headers=auth | JSON),
        await raw_call(fake, "chat.postMessage", json={"channel": 7, "text": "x"}, headers=auth),
        await raw_call(fake, "chat.postMessage", json=NO_FORMAT, headers=auth),
        await raw_call(fake, "conversations.history", params=BAD_TS, headers=auth),
    ]
    errors = ["invalid_json", "channel_not_found", "invalid_metadata_format", "invalid_ts_latest"]
    assert [a["error"] for a in answers] == errors
    assert [c.error for c in fake.calls] == errors and fake.messages("C0GEN") == []


JSON = {"Content-Type": "application/json"}
NO_FORMAT = {"channel": "C0GEN", "text": "x", "metadata": {"event_payload": {}}}
BAD_TS = {"channel": "C0GEN", "latest": "yesterday"}


async def test_enterprise_install_reports_its_enterprise() -> None:
    async with FakeSlack(enterprise_id="E0GRID") as grid:
        client = AsyncWebClient(base_url=grid.api_url, token="xoxb-test")
        assert (await client.auth_test())["enterprise_id"] == "E0GRID"


# ---- fault injection --------------------------------------------------------------------


async def test_server_error_then_recovery(fake: FakeSlack, client: AsyncWebClient) -> None:
    fake.fail_next("chat.postMessage", status=500)
    with pytest.raises(SlackApiError) as raised:
        await client.chat_postMessage(channel="C0GEN", text="first try")
    assert raised.value.response.status_code == 500
    assert fake.messages("C0GEN") == []
    await client.chat_postMessage(channel="C0GEN", text="second try")
    assert [m["text"] for m in fake.messages("C0GEN")] == ["second try"]
    assert [c.status for c in fake.calls] == [500, 200]


async def test_rate_limit_shows_retry_after(fake: FakeSlack, client: AsyncWebClient) -> None:
    fake.rate_limit_next(retry_after=7)
    with pytest.raises(SlackApiError) as raised:
        await client.conversations_info(channel="C0GEN")
    assert raised.value.response.status_code == 429
    assert raised.value.response.headers["Retry-After"] == "7"
    assert raised.value.response["error"] == "ratelimited"
    assert (await client.conversations_info(channel="C0GEN"))["ok"]


async def test_outage_refuses_everything_until_cleared(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    fake.set_outage(True, status=503)
    for call in (client.auth_test(), client.chat_postMessage(channel="C0GEN", text="x")):
        with pytest.raises(SlackApiError) as raised:
            await call
        assert raised.value.response.status_code == 503
    assert fake.messages("C0GEN") == []
    fake.set_outage(False)
    assert (await client.chat_postMessage(channel="C0GEN", text="back"))["ok"]


async def test_delayed_answer_still_applies_the_call(fake: FakeSlack) -> None:
    fake.delay_next("chat.postMessage", seconds=2)
    with pytest.raises(asyncio.TimeoutError):
        await raw_call(
            fake,
            "chat.postMessage",
            json={"channel": "C0GEN", "text": "fate unknown"},
            headers={"Authorization": "Bearer xoxb-test"},
            timeout=aiohttp.ClientTimeout(total=0.2),
        )
    assert [m["text"] for m in fake.messages("C0GEN")] == ["fate unknown"]


async def test_revoked_token_and_expired_or_reused_triggers(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    view = {"type": "modal", "title": {"type": "plain_text", "text": "x"}, "blocks": []}
    await client.views_open(trigger_id="t-1", view=view)
    with pytest.raises(SlackApiError, match="exchanged_trigger_id"):
        await client.views_open(trigger_id="t-1", view=view)
    fake.expire_triggers = True
    with pytest.raises(SlackApiError, match="expired_trigger_id"):
        await client.views_open(trigger_id="t-2", view=view)
    fake.revoked = True
    with pytest.raises(SlackApiError, match="token_revoked"):
        await client.auth_test()


async def test_wait_for_wakes_on_the_call_and_filters(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    waiter = asyncio.create_task(
        fake.wait_for("chat.postMessage", where=lambda c: c.args.get("text") == "two")
    )
    await client.chat_postMessage(channel="C0GEN", text="one")
    await asyncio.sleep(0)
    assert not waiter.done()
    await client.chat_postMessage(channel="C0GEN", text="two")
    [call] = await asyncio.wait_for(waiter, 1)
    assert call.response is not None and call.response["message"]["text"] == "two"


async def test_wait_for_times_out_naming_what_was_seen(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    fake.fail_next("chat.postMessage")
    with pytest.raises(SlackApiError):
        await client.chat_postMessage(channel="C0GEN", text="x")
    await client.auth_test()
    started = time.monotonic()
    with pytest.raises(asyncio.TimeoutError) as raised:
        await fake.wait_for("chat.postMessage", timeout=0.1)
    assert time.monotonic() - started < 1
    assert "auth.test x1" in str(raised.value)
    assert "chat.postMessage [internal_error] x1" in str(raised.value)


# ---- inbound payloads -------------------------------------------------------------------


def test_signature_matches_slack_sdk_verifier() -> None:
    body = payloads.encode_event(payloads.event_callback({"type": "app_uninstalled"}))
    headers = payloads.sign(SECRET, body, timestamp=int(time.time()))
    verifier = SignatureVerifier(SECRET)
    ts, sig = headers["X-Slack-Request-Timestamp"], headers["X-Slack-Signature"]
    assert verifier.is_valid(body, ts, sig)
    assert not verifier.is_valid(body + b" ", ts, sig)
    assert not SignatureVerifier("other").is_valid(body, ts, sig)


def test_forwarded_message_carries_the_original_in_a_share_attachment() -> None:
    event = payloads.forwarded_message_event(
        channel="C0INTAKE",
        user="U0BOB",
        text="",
        original_text="refund please",
        original_author="U0CUST",
        original_ts="1700000000.000200",
        original_channel="C0ACME",
    )
    [share] = event["attachments"]
    assert share["is_share"] and share["is_msg_unfurl"]
    assert (share["ts"], share["author_id"], share["channel_id"]) == (
        "1700000000.000200",
        "U0CUST",
        "C0ACME",
    )
    assert share["text"] == "refund please"
    assert share["from_url"].endswith("/archives/C0ACME/p1700000000000200")


async def echo_app() -> tuple[web.AppRunner, str, list[dict[str, Any]]]:
    """A tiny app that records what arrives, to check the client's headers and bodies."""
    seen: list[dict[str, Any]] = []

    async def handle(request: web.Request) -> web.Response:
        seen.append({"headers": dict(request.headers), "body": await request.read()})
        return web.json_response({"seen": len(seen)})

    app = web.Application()
    app.router.add_post("/slack/events", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    return runner, f"http://{host}:{port}", seen


async def test_signed_client_sends_retry_headers_and_unsigned_raw() -> None:
    runner, url, seen = await echo_app()
    try:
        async with payloads.SignedSlackClient(url, SECRET) as slack:
            reply = await slack.send_event({"type": "event_callback"}, retry_num=2)
            unsigned = await slack.send_raw(b"{}", content_type="application/json", sign=False)
        assert reply.status == 200 and reply.json == {"seen": 1}
        assert reply.headers["content-type"].startswith("application/json")
        first, second = seen
        assert first["headers"]["X-Slack-Retry-Num"] == "2"
        assert first["headers"]["X-Slack-Retry-Reason"] == "http_timeout"
        verifier = SignatureVerifier(SECRET)
        assert verifier.is_valid_request(first["body"], first["headers"])
        assert "X-Slack-Signature" not in second["headers"] and unsigned.json == {"seen": 2}
    finally:
        await runner.cleanup()


async def test_bolt_accepts_every_payload_kind(fake: FakeSlack) -> None:
    """Slack's own framework verifies, parses and dispatches what the builders make."""
    got: dict[str, Any] = {}
    all_arrived = asyncio.Event()
    bolt = AsyncApp(
        signing_secret=SECRET, client=AsyncWebClient(base_url=fake.api_url, token="xoxb-test")
    )

    def keep(kind: str) -> Any:
        async def listener(body: dict[str, Any], ack: Any) -> None:
            await ack()
            got[kind] = body
            if len(got) == 6:
                all_arrived.set()

        return listener

    bolt.event("message")(keep("message"))
    bolt.event("reaction_added")(keep("reaction"))
    bolt.command("/feedback")(keep("command"))
    bolt.shortcut("forward")(keep("shortcut"))
    bolt.action("ack")(keep("action"))
    bolt.view("submit")(keep("view"))

    runner = web.AppRunner(bolt.web_app())
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    message = payloads.message_event(channel="C0GEN", user="U0ALICE", text="app crashes")
    reaction = payloads.reaction_added_event(
        user="U0BOB", reaction="inbox_tray", channel="C0GEN", ts=message["ts"]
    )
    command = payloads.slash_command(
        text="mine keeps crashing", user_id="U0ALICE", channel_id="C0GEN"
    )
    shortcut = payloads.message_shortcut(
        callback_id="forward", user_id="U0BOB", channel_id="C0GEN", message=message
    )
    action = payloads.block_actions(
        user_id="U0ALICE",
        action_id="ack",
        value="item-1",
        channel_id="C0GEN",
        message_ts=message["ts"],
    )
    pick = {"type": "static_select", "selected_option": {"value": "payments"}}
    submission = payloads.view_submission(
        user_id="U0BOB", callback_id="submit", values={"team": {"pick": pick}}
    )
    try:
        async with payloads.SignedSlackClient(f"http://{host}:{port}", SECRET) as slack:
            sent = [
                await slack.send_event(payloads.event_callback(message)),
                await slack.send_event(payloads.event_callback(reaction)),
                await slack.send_command(command),
                await slack.send_interaction(shortcut),
                await slack.send_interaction(action),
                await slack.send_interaction(submission),
            ]
            forged = await slack.send_raw(
                payloads.encode_event(payloads.event_callback(message)),
                content_type="application/json",
                sign=False,
            )
            # Bolt runs event listeners after it has answered, so wait for them to finish.
            await asyncio.wait_for(all_arrived.wait(), 5)
    finally:
        await runner.cleanup()
    assert [r.status for r in sent] == [200] * 6 and forged.status == 401
    assert got["message"]["event"]["text"] == "app crashes"
    assert got["reaction"]["event"]["item"]["ts"] == message["ts"]
    assert got["command"]["text"] == "mine keeps crashing"
    assert got["shortcut"]["type"] == "message_action"
    assert got["shortcut"]["message"]["ts"] == message["ts"]
    assert got["action"]["actions"][0]["value"] == "item-1"
    values = got["view"]["view"]["state"]["values"]
    assert values["team"]["pick"]["selected_option"]["value"] == "payments"
    assert fake.calls_to("auth.test"), "Bolt authorizes through the fake's auth.test"
