"""The Slack side with a config that also has teams, admins and a digest on Teams."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from slack_sdk.web.async_client import AsyncWebClient

from bot.config import Config, parse_config_text
from handlers.slack.online_check import check_online
from handlers.slack.standin.payloads import event_callback, message_event
from tests.fakes import FrozenClock
from tests.slack_harness import (
    EXAMPLE_CONFIG,
    forward_via_intake_channel,
    make_fake_slack,
    running_bot,
)

TEAMS_DIGEST = "19:managers@thread.tacv2"
# Monday 2026-11-30 09:00 in Berlin: the example digest's scheduled run.
MONDAY_RUN = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


def mixed_config() -> Config:
    """The example config plus a Teams-only team, a Teams admin and a Teams digest."""
    text = (
        EXAMPLE_CONFIG.read_text()
        .replace("admins: [U0LEAD]", "admins: [U0LEAD, lead@example.com]")
        .replace("  triage:\n", "  web:\n    msteams:\n"
                 '      channel: "19:web@thread.tacv2"\n'
                 "      owners: [dan@example.com]\n    keywords: [checkout]\n  triage:\n")
    )
    text += f'  - msteams_channel: "{TEAMS_DIGEST}"\n    at: "09:00"\n'
    text += "    timezone: Europe/Berlin\n"
    loaded = parse_config_text(text)
    assert loaded.config is not None, loaded.problems
    assert loaded.config.teams["web"].platforms == ("msteams",)
    return loaded.config


async def test_slack_posts_only_its_own_digest_and_routes_as_before(tmp_path):
    clock = FrozenClock(MONDAY_RUN - timedelta(hours=1))
    async with (
        make_fake_slack() as slack,
        running_bot(slack, tmp_path / "b.db", config=mixed_config(), clock=clock) as running,
    ):
        _, channel, _ = await forward_via_intake_channel(slack, running, "refund late")
        assert channel == "C0PAYMENTS"
        clock.advance(timedelta(hours=1))
        await running.bot.scheduler.tick()
        await running.settle(timeout=20)
        targets = [call.args.get("channel") for call in slack.calls_to("chat.postMessage")]
        assert targets.count("C0MANAGERS") == 1
        assert TEAMS_DIGEST not in str(slack.calls)
        periods = running.bot.digests.current_periods()
        assert periods[0] is not None and periods[1] is None
        assert running.bot.store.outbox_pending_count() == 0


async def test_check_config_online_asks_slack_only_about_slack_ids(tmp_path):
    async with make_fake_slack() as slack:
        client = AsyncWebClient(token="xoxb-test", base_url=slack.api_url)
        problems = await check_online(mixed_config(), client)
        assert problems == []
        asked = str(slack.calls)
        assert "lead@example.com" not in asked and "dan@example.com" not in asked
        assert "19:" not in asked


async def test_feedback_for_a_team_only_on_teams_fails_with_a_reason_without_teams(tmp_path):
    # This process serves Slack alone, so a card for a Teams team can never go out.
    async with (
        make_fake_slack() as slack,
        running_bot(slack, tmp_path / "b.db", config=mixed_config()) as running,
    ):
        await running.slack.send_event(event_callback(
            message_event(channel="C0INTAKE", user="U0SUPPORT", text="checkout is broken")))
        await running.settle()
        (item,) = running.bot.store.list_items()
        assert (item.team, item.card_platform, item.card_ts) == ("web", "msteams", None)
        assert item.failed and "not connected to Microsoft Teams" in item.failed
        (told,) = [call for call in slack.calls_to("chat.postMessage")
                   if call.args.get("channel") == "C0INTAKE"]
        assert "feedback #1" in told.args["text"]
        assert "not connected to Microsoft Teams" in told.args["text"]
