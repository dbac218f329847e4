"""The bot's token over the real protocol: refused at start-up, revoked, and working again."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.models import utcnow
from bot.revocation import RECHECK_FIRST
from bot.settings import Settings
from handlers.slack.app import create_app
from handlers.slack.http import base_url, serve
from handlers.slack.socket import connect_socket_mode
from handlers.slack.standin.payloads import (
    SignedSlackClient,
    app_uninstalled_event,
    event_callback,
    message_event,
    slash_command,
    tokens_revoked_event,
)
from handlers.slack.standin.slack_server import FakeSlack
from tests.slack_harness import (
    SIGNING_SECRET,
    RunningBot,
    database_url_for,
    example_config,
    make_fake_slack,
    posts,
    running_bot,
    wait_until,
)

QUICK_RETRY = (0.2, 0.2)  # seconds before a refused token is tried again, in these tests


class MovableClock:
    """The wall clock, which a test can move forward to make a re-check due."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return utcnow() + self.offset


def settings_for(slack: FakeSlack, db: Path, **changes: Any) -> Settings:
    """Settings pointing the bot at `slack`, with a database at `db`."""
    return Settings(bot_token="xoxb-test", signing_secret=SIGNING_SECRET, api_url=slack.api_url,
                    database_url=database_url_for(db), **changes)


@asynccontextmanager
async def bot_retrying_quickly(slack: FakeSlack, db: Path) -> AsyncIterator[RunningBot]:
    """Serve the bot over HTTP, trying a refused token again every 0.2 s; don't wait for it."""
    bot = create_app(settings_for(slack, db), config=example_config())
    bot.refused_token_retry = QUICK_RETRY
    runner = await serve(bot, signing_secret=SIGNING_SECRET, host="127.0.0.1", port=0,
                         scheduler=False)
    url = base_url(runner)
    client = SignedSlackClient(url, SIGNING_SECRET)
    try:
        yield RunningBot(bot=bot, url=url, slack=client, runner=runner)
    finally:
        await client.close()
        await bot.stop()
        await runner.cleanup()


async def healthz(running: RunningBot) -> tuple[int, dict[str, Any]]:
    """GET /healthz: its status and JSON body."""
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{running.url}/healthz") as response,
    ):
        return response.status, await response.json()


def token_errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    """ERROR lines that say Slack refuses the bot token."""
    return [record.getMessage() for record in caplog.records
            if record.levelno >= logging.ERROR and "SLACK_BOT_TOKEN" in record.getMessage()]


def intake(text: str, *, user: str = "U0SUPPORT") -> dict[str, Any]:
    """A message posted in the intake channel."""
    return event_callback(message_event(channel="C0INTAKE", user=user, text=text))


# --- a refused token at start-up ----------------------------------------------------------


async def test_a_refused_token_at_start_up_is_loud_and_requests_finish_once_it_works(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    async with make_fake_slack() as slack:
        slack.fail_next("auth.test", count=10_000, status=200, error="invalid_auth")
        async with bot_retrying_quickly(slack, tmp_path / "b.db") as running:
            await wait_until(lambda: bool(token_errors(caplog)), what="an ERROR line")
            assert "invalid_auth" in token_errors(caplog)[0]

            status, health = await healthz(running)
            assert status == 503
            assert health["ok"] is False and health["connected"] is False
            assert health["error"] == "invalid_auth"

            response = await running.slack.send_command(slash_command(
                text="refund never arrived", user_id="U0SUPPORT", channel_id="C0GENERAL"))
            assert response.status == 200
            assert "saved" in response.body and "token" in response.body
            assert running.store.list_items() == []
            # Still refused, and still tried: slowly, not given up.
            refusals = len(slack.calls_to("auth.test", include_failed=True))
            await wait_until(
                lambda: len(slack.calls_to("auth.test", include_failed=True)) > refusals + 1,
                what="another auth.test")

            slack.clear_faults()  # the token is fixed in Slack
            await running.bot.wait_ready(timeout=10)
            await running.settle(timeout=10)
            (item,) = running.store.list_items()
            assert item.text == "refund never arrived" and item.card_ts
            told = posts(slack, "U0SUPPORT")
            assert len(told) == 1 and "went to" in told[0].args["text"]
            status, health = await healthz(running)
            assert (status, health["ok"], health["connected"], health["error"]) == (
                200, True, True, None)


async def test_healthz_tells_slack_unreachable_apart_from_a_refused_token(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    async with make_fake_slack() as slack:
        slack.set_outage(True)
        async with running_bot(slack, tmp_path / "b.db", wait=False) as running:
            await wait_until(lambda: bool(slack.calls_to("auth.test", include_failed=True)),
                             what="a first auth.test")
            status, health = await healthz(running)
            # Still connecting: healthy, storing requests, and no refusal to report.
            assert status == 200
            assert health["ok"] is True and health["connected"] is False
            assert health["error"] is None
            assert token_errors(caplog) == []
            slack.set_outage(False)
            await running.bot.wait_ready(timeout=20)


async def test_socket_mode_says_loudly_that_the_token_is_refused(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    async with make_fake_slack() as slack:
        slack.fail_next("auth.test", count=10_000, status=200, error="token_revoked")
        bot = create_app(settings_for(slack, tmp_path / "b.db", app_token="xapp-test"),
                         config=example_config())
        bot.refused_token_retry = QUICK_RETRY
        client = await connect_socket_mode(bot, app_token="xapp-test")
        try:
            await slack.wait_for_socket()
            await wait_until(lambda: bool(token_errors(caplog)), what="an ERROR line")
            assert "token_revoked" in token_errors(caplog)[0]
            slack.clear_faults()
            await bot.wait_ready(timeout=10)
            assert bot.auth_refused is None
        finally:
            await client.close()
            await bot.stop()


# --- a revoked mark is not forever --------------------------------------------------------


async def test_after_an_uninstall_a_restart_with_a_working_token_delivers_what_waited(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    db = tmp_path / "b.db"
    async with make_fake_slack() as slack:
        async with running_bot(slack, db) as running:
            await running.bot.port.user_info("T0DEMO", "U0SUPPORT")  # Sam is known from before
            slack.revoked = True  # uninstalling revokes the token
            await running.slack.send_event(event_callback(app_uninstalled_event()))
            await running.settle(due_only=True)
            assert running.store.is_workspace_revoked(workspace="T0DEMO")
            await running.slack.send_event(intake("refund missing after uninstall"))
            await running.slack.send_event(intake("what is SSO", user="U0SUPPORT2"))
            await wait_until(lambda: any("deferred" in record.getMessage()
                                         for record in caplog.records),
                             what="Priya's post to be deferred")
            await wait_until(lambda: running.bot.deps.in_flight == 0
                             and not running.store.outbox_due(now=running.bot.clock()),
                             what="quiet")
            (item,) = running.store.list_items()
            assert item.card_ts is None
            # Priya can't be checked with a refused token: her post waits in the inbox,
            # not counted as a failure that could get it dropped.
            (waiting,) = running.store.inbox_pending()
            assert waiting.attempts == 0
            assert posts(slack, "C0PAYMENTS") == []
        slack.revoked = False  # reinstalled; the bot restarts with a token that works
        async with running_bot(slack, db) as running:
            await running.settle(timeout=20)
            assert not running.store.is_workspace_revoked(workspace="T0DEMO")
            items = running.store.list_items()
            assert len(items) == 2 and all(item.card_ts for item in items)
            assert len(posts(slack, "C0PAYMENTS")) == 1


async def test_a_restart_with_a_working_token_clears_the_revoked_mark(tmp_path: Path) -> None:
    db = tmp_path / "b.db"
    async with make_fake_slack() as slack:
        async with running_bot(slack, db) as running:
            slack.revoked = True
            await running.slack.send_event(event_callback(app_uninstalled_event()))
            await running.settle()
            assert running.store.is_workspace_revoked(workspace="T0DEMO")
            # The event is checked against Slack at once, and /healthz tells the truth.
            await wait_until(lambda: len(slack.calls_to("auth.test", include_failed=True)) == 2,
                             what="the token to be checked")
            await wait_until(lambda: running.bot.outbox.tokens.reason("T0DEMO") == "token_revoked",
                             what="the check's answer")
            status, health = await healthz(running)
            assert status == 503 and health["error"] == "token_revoked"
        slack.revoked = False  # a new install: a new token, and a restart
        async with running_bot(slack, db) as running:
            # Cleared by the start-up auth.test, before anything needs sending.
            assert not running.store.is_workspace_revoked(workspace="T0DEMO")
            await running.slack.send_event(intake("refund after reinstall"))
            await running.settle()
            assert len(posts(slack, "C0PAYMENTS")) == 1


async def test_one_post_refused_while_the_token_works_is_retried_and_delivered(
        tmp_path: Path) -> None:
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "b.db") as running:
        slack.fail_next("chat.postMessage", status=200, error="invalid_auth")
        await running.slack.send_event(intake("refund glitch"))
        await running.settle(timeout=10)
        assert not running.store.is_workspace_revoked(workspace="T0DEMO")
        (item,) = running.store.list_items()
        assert item.card_ts and item.failed is None
        refused = [call for call in slack.calls_to("chat.postMessage", include_failed=True)
                   if call.error == "invalid_auth"]
        assert len(refused) == 1
        assert len(slack.calls_to("auth.test")) == 2  # start-up, then the re-check


async def test_a_revoked_mark_is_cleared_by_a_periodic_check_and_sending_resumes(
        tmp_path: Path) -> None:
    clock = MovableClock()
    async with (
        make_fake_slack() as slack,
        running_bot(slack, tmp_path / "b.db", clock=clock) as running,
    ):
        await running.bot.port.user_info("T0DEMO", "U0SUPPORT")
        slack.revoked = True
        await running.slack.send_event(intake("refund while revoked"))
        await wait_until(lambda: running.store.is_workspace_revoked(workspace="T0DEMO"),
                         what="the workspace to be marked revoked")
        status, health = await healthz(running)
        assert status == 503 and health["error"] == "token_revoked"

        slack.revoked = False  # the token works again, with no restart
        clock.offset += RECHECK_FIRST + timedelta(seconds=1)
        await running.settle(timeout=10)
        assert not running.store.is_workspace_revoked(workspace="T0DEMO")
        (item,) = running.store.list_items()
        assert item.card_ts
        assert len(posts(slack, "C0PAYMENTS")) == 1
        status, health = await healthz(running)
        assert status == 200 and health["ok"] is True


# --- tokens_revoked counts only the bot's own token -----------------------------------------


@pytest.mark.parametrize("tokens", [
    {"oauth": ["U0ALICE"]},
    {"oauth": ["U0ALICE"], "bot": []},
], ids=["no bot key", "empty bot list"])
async def test_revoking_only_user_tokens_leaves_the_bot_sending(
        tmp_path: Path, tokens: dict[str, list[str]]) -> None:
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "b.db") as running:
        event = {"type": "tokens_revoked", "tokens": tokens, "event_ts": "1714986000.000100"}
        await running.slack.send_event(event_callback(event))
        await running.settle()
        assert not running.store.is_workspace_revoked(workspace="T0DEMO")
        await running.slack.send_event(intake("refund after a user left"))
        await running.settle()
        assert len(posts(slack, "C0PAYMENTS")) == 1
        assert slack.calls_to("auth.test") and len(slack.calls_to("auth.test")) == 1


async def test_revoking_the_bots_own_token_stops_sending(tmp_path: Path) -> None:
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "b.db") as running:
        await running.bot.port.user_info("T0DEMO", "U0SUPPORT")
        slack.revoked = True
        await running.slack.send_event(event_callback(
            tokens_revoked_event([slack.bot_user_id], oauth_ids=["U0ALICE"])))
        await running.settle()
        assert running.store.is_workspace_revoked(workspace="T0DEMO")
        await running.slack.send_event(intake("refund after revocation"))
        await running.settle(due_only=True)
        assert len(running.store.list_items()) == 1
        assert posts(slack, "C0PAYMENTS") == []
