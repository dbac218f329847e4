"""POST /api/messages over real HTTP: who may call it, what bad input gets, and dedupe."""

from __future__ import annotations

import base64
import json
import logging
from pathlib import Path

import pytest

pytest.importorskip("microsoft_agents.hosting.aiohttp", reason="needs the teams extra")

from bot.settings import Settings
from handlers.msteams.inbound_body import MAX_BODY_BYTES
from tests.msteams_harness import ANONYMOUS, TeamsBot, running_teams_bot

JWT_MODE = Settings(microsoft_app_id="0f8a2c1e-0000-4000-8000-0000000000a1",
                    microsoft_app_password="not-a-real-secret",
                    microsoft_app_tenant_id="72f988bf-0000-4000-8000-00000000f00d")
NO_TEAMS_CREDENTIALS = Settings()


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def assert_nothing_stored(bot: TeamsBot) -> None:
    """No inbox row, no item, no conversation and no outbound call."""
    assert bot.store.inbox_pending() == []
    assert bot.store.list_items() == []
    assert bot.store.list_conversations(platform="msteams", include_removed=True) == []
    assert bot.connector.calls == []


# --- who may call -------------------------------------------------------------------------


async def test_without_app_id_or_anonymous_switch_every_request_gets_401(tmp_path: Path) -> None:
    async with running_teams_bot(tmp_path, settings=NO_TEAMS_CREDENTIALS) as bot:
        status, body = await bot.post(bot.personal("The refund button does nothing"))

        assert status == 401
        assert "MICROSOFT_APP_ID" in body["error"]
        assert_nothing_stored(bot)


def test_anonymous_needs_the_switch_and_no_app_id() -> None:
    env = {"FEEDBACKBOT_TEAMS_ANONYMOUS": "1"}
    assert Settings.from_env(env).teams_auth_mode == "anonymous"
    # A deployment with an app id never falls back to anonymous, switch or not.
    assert Settings.from_env({**env, "MICROSOFT_APP_ID": "abc"}).teams_auth_mode == "jwt"
    assert Settings.from_env({"FEEDBACKBOT_TEAMS_ANONYMOUS": "true"}).teams_auth_mode == \
        "refuse"
    assert Settings.from_env({}).teams_auth_mode == "refuse"


def test_anonymous_mode_is_logged_as_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    from handlers.msteams.auth import log_mode

    with caplog.at_level(logging.INFO, logger="handlers.msteams.auth"):
        log_mode(ANONYMOUS)
    assert [record.levelname for record in caplog.records] == ["WARNING"]
    assert "WITHOUT a token" in caplog.records[0].getMessage()


async def test_jwt_mode_refuses_a_request_without_a_token(tmp_path: Path) -> None:
    async with running_teams_bot(tmp_path, settings=JWT_MODE) as bot:
        status, _ = await bot.post(bot.personal("The refund button does nothing"))

        assert status == 401
        assert_nothing_stored(bot)


@pytest.mark.parametrize("token", [
    "Bearer not.a.jwt",
    "Basic c2FtOnNlY3JldA==",
    "Bearer",
    # Well-formed, but its header names no signing key: the SDK raises KeyError for it.
    "Bearer " + _b64({"alg": "RS256", "typ": "JWT"}) + "." + _b64({"aud": "x"}) + ".c2ln",
])
async def test_jwt_mode_refuses_a_bad_token_with_401(tmp_path: Path, token: str) -> None:
    async with running_teams_bot(tmp_path, settings=JWT_MODE) as bot:
        status, _ = await bot.post(bot.personal("The refund button does nothing"),
                                   token=token)

        assert status == 401
        assert_nothing_stored(bot)


class _LocalKeys:
    """Stands in for the SDK's JWKS download (the only network step of its token check)."""

    def __init__(self, public_key: object) -> None:
        self.public_key = public_key
        self.asked: list[str] = []

    async def get_signing_key(self, jwks_uri: str, header: dict) -> object:
        from jwt import PyJWK

        self.asked.append(jwks_uri)
        return PyJWK.from_dict({**json.loads(
            __import__("jwt").algorithms.RSAAlgorithm.to_jwk(self.public_key)),
            "kid": header["kid"], "alg": "RS256"})


class _BotTokens:
    """Stands in for MSAL's token request (the bot's own token for its outbound calls)."""

    def __init__(self) -> None:
        self.failing: Exception | None = None

    async def get_access_token(self, *args: object, **kwargs: object) -> str:
        if self.failing is not None:
            raise self.failing
        return "token-for-the-bot"


@pytest.fixture
def bot_tokens(monkeypatch: pytest.MonkeyPatch) -> _BotTokens:
    """The bot's outbound token, without asking Entra over the network."""
    from microsoft_agents.authentication.msal import MsalAuth

    tokens = _BotTokens()
    monkeypatch.setattr(MsalAuth, "get_access_token",
                        lambda self, *args, **kwargs: tokens.get_access_token())
    return tokens


@pytest.fixture
def signing_key(monkeypatch: pytest.MonkeyPatch,
                bot_tokens: _BotTokens):  # type: ignore[no-untyped-def]
    """An RSA key whose public half the SDK's token check trusts for this test."""
    from cryptography.hazmat.primitives.asymmetric import rsa
    from microsoft_agents.hosting.core.authorization.jwt.jwt_token_validator import (
        JwtTokenValidator,
    )

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    keys = _LocalKeys(key.public_key())
    monkeypatch.setattr(JwtTokenValidator, "_jwk_client_manager", keys)
    return key


def _token(key: object, *, audience: str, service_url: str) -> str:
    import time

    import jwt

    now = int(time.time())
    return "Bearer " + jwt.encode(
        {"iss": "https://api.botframework.com", "aud": audience, "iat": now, "nbf": now,
         "exp": now + 600, "serviceurl": service_url},
        key, algorithm="RS256", headers={"kid": "test-key"})  # type: ignore[arg-type]


async def test_jwt_mode_accepts_a_token_signed_for_this_app(tmp_path: Path,
                                                            signing_key: object) -> None:
    async with running_teams_bot(tmp_path, settings=JWT_MODE) as bot:
        token = _token(signing_key, audience=str(JWT_MODE.microsoft_app_id),
                       service_url=bot.connector.url)

        status, _ = await bot.post(bot.personal("The refund button does nothing"),
                                   token=token)

        assert status == 202
        [item] = bot.store.list_items()
        assert item.forwarded_by == "sam@example.com"
        # The bot's own call went out with a token of its own, not the caller's.
        [lookup] = bot.connector.calls_to("get_conversation_member")
        assert lookup.authorization == "Bearer token-for-the-bot"


async def test_when_the_bot_cannot_get_its_own_token_the_request_waits(
        tmp_path: Path, signing_key: object, bot_tokens: _BotTokens) -> None:
    async with running_teams_bot(tmp_path, settings=JWT_MODE) as bot:
        bot_tokens.failing = OSError("login.microsoftonline.com unreachable")
        token = _token(signing_key, audience=str(JWT_MODE.microsoft_app_id),
                       service_url=bot.connector.url)

        status, _ = await bot.post(bot.personal("The refund button does nothing"),
                                   token=token)

        assert status == 202  # stored: Teams must not send it again
        assert bot.store.list_items() == []
        [row] = bot.store.inbox_pending()
        assert row.attempts == 1

        bot_tokens.failing = None
        await bot.inbound.finish(row)  # tried again later (replay)

        assert len(bot.store.list_items()) == 1


async def test_jwt_mode_refuses_a_token_for_another_app(tmp_path: Path,
                                                        signing_key: object) -> None:
    async with running_teams_bot(tmp_path, settings=JWT_MODE) as bot:
        token = _token(signing_key, audience="some-other-app",
                       service_url=bot.connector.url)

        status, _ = await bot.post(bot.personal("The refund button does nothing"),
                                   token=token)

        assert status == 401
        assert_nothing_stored(bot)


# --- bad input ------------------------------------------------------------------------------


async def test_malformed_json_gets_400_and_nothing_is_stored(tmp_path: Path) -> None:
    async with running_teams_bot(tmp_path) as bot:
        status, body = await bot.post(None, raw=b'{"type": "message", "id": ',
                                      headers={"Content-Type": "application/json"})

        assert status == 400
        assert body["error"] == "the body is not JSON"
        assert_nothing_stored(bot)


@pytest.mark.parametrize("activity, missing", [
    ([1, 2, 3], "not an activity"),
    ({"text": "hello"}, "type, id, conversation.id, from.id, serviceUrl"),
    ({"type": "message", "id": "1", "from": {"id": "29:1"}, "conversation": {"id": "a:1"},
      "serviceUrl": "javascript:alert(1)"}, "serviceUrl"),
])
async def test_json_that_is_not_an_activity_gets_400(tmp_path: Path, activity: object,
                                                     missing: str) -> None:
    async with running_teams_bot(tmp_path) as bot:
        status, body = await bot.post(activity)

        assert status == 400
        assert missing in body["error"]
        assert_nothing_stored(bot)


async def test_an_activity_the_sdk_cannot_read_gets_400(tmp_path: Path) -> None:
    async with running_teams_bot(tmp_path) as bot:
        activity = bot.personal("hello")
        activity["attachments"] = "not a list"

        status, body = await bot.post(activity)

        assert status == 400
        assert "attachments" in body["error"]
        assert_nothing_stored(bot)


async def test_a_huge_body_is_refused_with_413(tmp_path: Path) -> None:
    async with running_teams_bot(tmp_path) as bot:
        activity = bot.personal("x" * (MAX_BODY_BYTES + 10))

        status, _ = await bot.post(activity)

        assert status == 413
        assert_nothing_stored(bot)


async def test_a_body_declared_too_big_is_refused_before_it_is_read() -> None:
    from aiohttp.test_utils import make_mocked_request

    from handlers.msteams.inbound_body import BodyReader, Refused

    class Unreadable:
        def iter_any(self):  # type: ignore[no-untyped-def]
            raise AssertionError("the body was read")

    request = make_mocked_request("POST", "/api/messages", payload=Unreadable(),
                                  headers={"Content-Length": str(MAX_BODY_BYTES + 1)})
    reader = BodyReader()

    with pytest.raises(Refused) as refused:
        await reader.read(request)

    assert refused.value.response.status == 413
    assert reader.in_flight == 0


async def test_a_huge_chunked_body_is_refused_with_413(tmp_path: Path) -> None:
    async with running_teams_bot(tmp_path) as bot:
        payload = json.dumps(bot.personal("x" * (MAX_BODY_BYTES + 10))).encode()

        async def chunks():  # no Content-Length: the size is only known while reading
            for start in range(0, len(payload), 65536):
                yield payload[start:start + 65536]

        async with bot.session.post(bot.url + "/api/messages", data=chunks()) as response:
            status = response.status

        assert status == 413
        assert_nothing_stored(bot)


# --- stored before answering, once per activity id -------------------------------------------


async def test_a_message_is_stored_and_answered_202(tmp_path: Path) -> None:
    async with running_teams_bot(tmp_path) as bot:
        activity = bot.personal("The refund button does nothing")

        status, _ = await bot.post(activity)

        assert status == 202
        rows = bot.store.inbox_pending(max_attempts=99)
        assert rows == []  # handled after the answer, then marked done
        [item] = bot.store.list_items()
        assert item.intake_key == f"msteams:{activity['id']}"


async def test_the_same_activity_twice_makes_one_item_and_one_inbox_row(
        tmp_path: Path) -> None:
    async with running_teams_bot(tmp_path) as bot:
        activity = bot.personal("The refund button does nothing")

        first, _ = await bot.post(activity)
        again, _ = await bot.post(activity)  # Teams re-sends when the answer was slow

        assert (first, again) == (202, 202)
        assert len(bot.store.list_items()) == 1
        # The redelivery was refused by the inbox's dedupe key, so it ran no turn.
        assert len(bot.connector.calls_to("get_conversation_member")) == 1
        inbox = bot.store.inbox_add(workspace="w", kind="message",
                                    dedupe_key=f"msteams:{activity['id']}", body="{}",
                                    headers={}, received_at=bot.clock(), platform="msteams")
        assert inbox is None


async def test_a_crash_in_the_turn_never_reaches_the_chat_and_keeps_the_request(
        tmp_path: Path) -> None:
    async with running_teams_bot(tmp_path) as bot:
        bot.connector.fail_next("get_conversation_member", status=500)
        activity = bot.personal("The refund button does nothing")

        status, _ = await bot.post(activity)

        assert status == 202
        assert bot.store.list_items() == []
        # Nothing was said to the user (no "Exception caught"), and the request waits.
        assert bot.connector.calls_to("send_to_conversation") == []
        assert bot.connector.calls_to("reply_to_activity") == []
        [row] = bot.store.inbox_pending()
        assert row.platform == "msteams" and row.attempts == 1

        await bot.inbound.finish(row)  # replayed, as at start-up

        assert len(bot.store.list_items()) == 1
        assert bot.store.inbox_pending() == []


async def test_the_sdk_error_handler_logs_and_posts_nothing(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from microsoft_agents.activity import Activity
    from microsoft_agents.hosting.core import TurnContext

    async with running_teams_bot(tmp_path) as bot:
        adapter = bot.inbound.adapter
        context = TurnContext(adapter, Activity.model_validate(bot.personal("hello")))
        sent: list[object] = []

        async def record(ctx, activities, next_send):  # type: ignore[no-untyped-def]
            sent.extend(activities)
            return []

        context.on_send_activities(record)

        async def broken(ctx):  # type: ignore[no-untyped-def]
            raise RuntimeError("secret internals")

        with caplog.at_level(logging.ERROR):
            await adapter.run_pipeline(context, broken)

        # The SDK's default would post "Exception caught : secret internals" here.
        assert sent == []
        assert "RuntimeError" in caplog.text


# --- the runtime: restarts and health -----------------------------------------------------------


async def test_an_activity_stored_before_a_crash_is_finished_at_start(tmp_path: Path) -> None:
    def stored_but_not_handled(bot: TeamsBot) -> None:
        activity = bot.personal("The refund button does nothing")
        bot.store.inbox_add(workspace="msteams:any", kind="message",
                            dedupe_key=f"msteams:{activity['id']}", body=json.dumps(activity),
                            headers={"x-feedbackbot-claims": "{}"}, received_at=bot.clock(),
                            platform="msteams")

    async with running_teams_bot(tmp_path, before_start=stored_but_not_handled) as bot:
        [item] = bot.store.list_items()
        assert (item.platform, item.forwarded_by) == ("msteams", "sam@example.com")
        assert bot.store.inbox_pending() == []


async def test_healthz_says_how_teams_callers_are_checked(tmp_path: Path) -> None:
    async with running_teams_bot(tmp_path) as bot:
        async with bot.session.get(bot.url + "/healthz") as response:
            body = await response.json()

        assert response.status == 200
        assert body["msteams"] == {"ok": True, "auth": "anonymous"}


async def test_a_locked_store_gets_503_and_teams_resending_makes_one_item(
        tmp_path: Path) -> None:
    from tests.test_slack_store_locked import database_locked_elsewhere

    async with running_teams_bot(tmp_path) as bot:
        activity = bot.personal("The refund button does nothing")

        with database_locked_elsewhere(f"sqlite:///{tmp_path / 'teams.db'}"):
            status, body = await bot.post(activity)

        assert status == 503
        assert body == {"error": "busy; please retry"}
        # Teams sends it again; whether the first insert landed late or not, the
        # activity is stored once and forwarded once.
        again, _ = await bot.post(activity)
        assert again == 202
        await bot.settle()
        assert len(bot.store.list_items()) == 1
        assert len(bot.connector.calls_to("get_conversation_member")) == 1
