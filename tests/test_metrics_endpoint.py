"""GET /metrics counts what the bot did, over Slack's real protocol and the fake Slack."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from handlers.slack.standin.payload_interactions import slash_command
from handlers.slack.standin.payloads import block_actions, event_callback, message_event
from tests.fakes import FrozenClock
from tests.slack_harness import (
    RunningBot,
    click_and_submit,
    forward_via_intake_channel,
    make_fake_slack,
    running_bot,
)

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(running: RunningBot) -> tuple[str, Samples]:
    """GET /metrics: its content type, and every sample by name and labels."""
    async with aiohttp.ClientSession() as session, \
            session.get(f"{running.url}/metrics") as response:
        assert response.status == 200
        text = await response.text()
        content_type = response.headers["Content-Type"]
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return content_type, samples


def moved(before: Samples, after: Samples, name: str, **labels: str) -> float:
    """How much the sample `name` with exactly `labels` grew between two scrapes."""
    key = (name, frozenset(labels.items()))
    return after.get(key, 0.0) - before.get(key, 0.0)


def moved_any(before: Samples, after: Samples, name: str, **labels: str) -> float:
    """How much every sample `name` whose labels include `labels` grew, added up."""
    wanted = set(labels.items())
    return sum(value - before.get(key, 0.0) for key, value in after.items()
               if key[0] == name and wanted <= key[1])


async def test_metrics_count_an_item_from_intake_to_resolution(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "b.db") as running:
        content_type, before = await scrape(running)
        assert content_type.startswith("text/plain")
        calls_before = len(slack.calls)
        item_id, channel, card_ts = await forward_via_intake_channel(
            slack, running, "refund missing for acme")
        team = running.store.get_item(workspace="T0DEMO", item_id=item_id).team
        form = slash_command(text="the app crashes on login", user_id="U0SUPPORT",
                             channel_id="C0GENERAL")
        assert (await running.slack.send_command(form)).status == 200
        await running.settle()
        click = block_actions(user_id="U0ALICE", action_id="fb_ack", value=str(item_id),
                              channel_id=channel, message_ts=card_ts)
        assert (await running.slack.send_interaction(click)).status == 200
        await running.settle()
        await click_and_submit(
            slack, running, user="U0BOB", action="fb_resolve", item_id=item_id,
            channel=channel, card_ts=card_ts,
            values={"note": {"value": {"type": "plain_text_input", "value": "fixed"}}})
        await running.settle()
        _, after = await scrape(running)
        calls = slack.calls[calls_before:]

    slack_items = {"team": team, "platform": "slack"}
    assert moved(before, after, "feedbackbot_items_received_total", **slack_items) == 1
    assert moved(before, after, "feedbackbot_items_routed_total", **slack_items) == 1
    assert moved(before, after, "feedbackbot_items_responded_total", **slack_items) == 1
    assert moved(before, after, "feedbackbot_items_resolved_total", **slack_items) == 1
    assert moved_any(before, after, "feedbackbot_items_received_total") == 2
    assert moved_any(before, after, "feedbackbot_items_routed_total") == 2
    # One message event, one command, and three interactions: "on it", resolve, its form.
    assert moved(before, after, "feedbackbot_ack_seconds_count",
                 platform="slack", kind="event") == 1
    assert moved(before, after, "feedbackbot_ack_seconds_count",
                 platform="slack", kind="command") == 1
    assert moved(before, after, "feedbackbot_ack_seconds_count",
                 platform="slack", kind="interaction") == 3
    assert moved(before, after, "feedbackbot_ack_seconds_bucket",
                 platform="slack", kind="command", le="+Inf") == 1
    # Every Web API call is counted, the listeners' own (opening the form) included.
    for method in {call.method for call in calls}:
        made = sum(call.method == method for call in calls)
        assert moved(before, after, "feedbackbot_api_calls_total",
                     platform="slack", method=method) == made, method
    assert moved_any(before, after, "feedbackbot_api_calls_total") == len(calls)
    assert {"chat.postMessage", "views.open"} <= {call.method for call in calls}
    assert moved_any(before, after, "feedbackbot_api_errors_total") == 0
    assert after[("feedbackbot_outbox_pending", frozenset())] == 0


async def test_metrics_count_failed_calls_and_show_the_waiting_outbox(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "b.db") as running:
        _, before = await scrape(running)
        # Slack answers 500 to every card post from now on.
        slack.fail_next("chat.postMessage", count=1000)
        await running.slack.send_event(event_callback(message_event(
            channel="C0INTAKE", user="U0SUPPORT", text="the export button is gone")))
        for _ in range(250):  # the failure is counted once its answer is read
            _, during = await scrape(running)
            if moved_any(before, during, "feedbackbot_api_errors_total"):
                break
            await asyncio.sleep(0.02)
        slack.clear_faults()

    failed = [call for call in slack.calls_to("chat.postMessage", include_failed=True)
              if call.status == 500]
    errors = moved(before, during, "feedbackbot_api_errors_total", platform="slack",
                   method="chat.postMessage", error=failed[0].error or "")
    assert 1 <= errors <= len(failed)
    assert moved_any(before, during, "feedbackbot_api_errors_total") == errors
    assert during[("feedbackbot_outbox_pending", frozenset())] >= 1
    assert during[("feedbackbot_outbox_oldest_pending_seconds", frozenset())] > 0


async def test_metrics_count_digest_runs_and_failures(tmp_path):
    # Monday 2026-11-30 09:00 in Berlin: the example digest's scheduled run.
    monday_run = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
    clock = FrozenClock(monday_run - timedelta(hours=1))
    async with make_fake_slack() as slack, \
            running_bot(slack, tmp_path / "b.db", clock=clock) as running:
        await forward_via_intake_channel(slack, running, "app crashes on login")
        _, before = await scrape(running)
        slack.set_outage(True)  # the digest's first tries fail
        clock.advance(monday_run - clock())
        await running.bot.scheduler.tick()
        for _ in range(250):
            _, during = await scrape(running)
            if moved(before, during, "feedbackbot_digest_failures_total", platform="slack"):
                break
            running.bot.outbox.wake()
            await asyncio.sleep(0.02)
        slack.set_outage(False)
        clock.advance(timedelta(hours=1))  # past every retry's backoff
        await running.settle(timeout=20)
        _, after = await scrape(running)

    posted = [call for call in slack.calls_to("chat.postMessage")
              if call.args.get("channel") == "C0MANAGERS"]
    assert len(posted) == 1
    assert moved(before, during, "feedbackbot_digest_runs_total", platform="slack") == 0
    assert moved(before, after, "feedbackbot_digest_failures_total", platform="slack") >= 1
    assert moved(before, after, "feedbackbot_digest_runs_total", platform="slack") == 1
