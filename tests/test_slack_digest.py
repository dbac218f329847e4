"""Digests over Slack's protocol: posted once per period, with the chart in the thread."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import UTC, datetime, timedelta

from handlers.slack.standin.payloads import block_actions
from tests.fakes import FrozenClock
from tests.slack_harness import (
    EXAMPLE_CONFIG,
    database_url_for,
    forward_via_intake_channel,
    make_fake_slack,
    running_bot,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Monday 2026-11-30 09:00 in Berlin: the example digest's scheduled run.
MONDAY_RUN = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


def _digest_posts(slack):
    return [
        call
        for call in slack.calls_to("chat.postMessage")
        if call.args.get("channel") == "C0MANAGERS"
    ]


async def test_a_due_digest_is_posted_once_with_its_chart_in_the_thread(tmp_path):
    clock = FrozenClock(MONDAY_RUN - timedelta(hours=3))
    async with (
        make_fake_slack() as slack,
        running_bot(slack, tmp_path / "b.db", clock=clock) as running,
    ):
        item_id, channel, card_ts = await forward_via_intake_channel(
            slack, running, "refund never arrived <!channel>"
        )
        clock.advance(timedelta(minutes=30))
        await running.slack.send_interaction(
            block_actions(
                user_id="U0ALICE",
                action_id="fb_ack",
                value=str(item_id),
                channel_id=channel,
                message_ts=card_ts,
            )
        )
        await forward_via_intake_channel(slack, running, "app crashes on login")
        await running.settle()

        clock.advance(MONDAY_RUN - clock() - timedelta(minutes=1))
        await running.bot.scheduler.tick()
        await running.settle()
        assert _digest_posts(slack) == []  # not due before 09:00 Berlin

        clock.advance(timedelta(minutes=1))
        await running.bot.scheduler.tick()
        await running.bot.scheduler.tick()  # a second wake-up changes nothing
        await running.settle(timeout=20)
        (post,) = _digest_posts(slack)
        blocks = str(post.args["blocks"])
        assert "payments" in blocks and "mobile" in blocks
        assert "<!channel>" not in blocks
        uploads = slack.calls_to("files.completeUploadExternal")
        assert len(uploads) == 1 and uploads[0].args.get("thread_ts") == post.response["ts"]
        (upload,) = slack.uploads.values()
        assert upload["content"].startswith(PNG_SIGNATURE)

    # A restart the same morning does not post it again.
    async with (
        make_fake_slack() as slack,
        running_bot(slack, tmp_path / "b.db", clock=clock) as running,
    ):
        clock.advance(timedelta(hours=2))
        await running.bot.scheduler.tick()
        await running.settle()
        assert _digest_posts(slack) == []


async def test_a_digest_missed_while_down_is_posted_late_the_same_day(tmp_path):
    clock = FrozenClock(MONDAY_RUN + timedelta(hours=5))
    async with (
        make_fake_slack() as slack,
        running_bot(slack, tmp_path / "b.db", clock=clock) as running,
    ):
        await running.bot.scheduler.tick()
        await running.settle(timeout=20)
        (post,) = _digest_posts(slack)
        assert "late" in str(post.args["blocks"]).lower()
        clock.advance(timedelta(days=1, hours=-10))  # Tuesday 04:00 Berlin
        await running.bot.scheduler.tick()
        await running.settle()
        assert len(_digest_posts(slack)) == 1  # Monday's is not replayed on Tuesday


async def test_two_digest_post_runs_at_the_same_moment_post_once(tmp_path):
    db = tmp_path / "b.db"
    # Every day is a digest day here, so the test means the same on a weekend.
    config = tmp_path / "feedbackbot.yml"
    config.write_text(
        EXAMPLE_CONFIG.read_text().replace(
            "days: [mon, tue, wed, thu, fri]\n    # teams",
            "days: [mon, tue, wed, thu, fri, sat, sun]\n    # teams",
        )
    )
    assert "sat, sun]" in config.read_text()
    async with make_fake_slack() as slack:
        env = {
            **os.environ,
            "SLACK_BOT_TOKEN": "xoxb-test",
            "SLACK_API_URL": slack.api_url,
            "DATABASE_URL": database_url_for(db),
            "FEEDBACKBOT_CONFIG": str(config),
        }
        runs = [
            await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot.cli",
                "digest",
                "--post",
                env=env,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            for _ in range(2)
        ]
        outputs = [await asyncio.wait_for(run.communicate(), 120) for run in runs]
        assert [run.returncode for run in runs] == [0, 0], outputs
        texts = [out.decode() for out, _ in outputs]
        assert sum("Posted the digest" in text for text in texts) == 1, texts
        assert sum("Nothing to post" in text for text in texts) == 1, texts
        assert len(_digest_posts(slack)) == 1
        forced = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot.cli",
            "digest",
            "--post",
            "--force",
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        _, err = await asyncio.wait_for(forced.communicate(), 120)
        assert forced.returncode == 0, err
        assert len(_digest_posts(slack)) == 2


async def test_a_chart_upload_that_timed_out_but_landed_is_not_uploaded_twice(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "b.db",
                                                        api_timeout=1) as running:
        # The upload's last step lands, but its answer comes after the client gave up.
        slack.delay_next("files.completeUploadExternal", seconds=2)
        claimed = running.bot.digests.claim_window(
            workspace="T0DEMO", index=0, start=datetime.now(UTC) - timedelta(days=1))
        assert claimed is not None
        running.bot.outbox.wake()
        await running.settle(timeout=30)
        (post,) = _digest_posts(slack)
        replies = [message for message in slack.messages("C0MANAGERS")
                   if message.get("thread_ts") == post.response["ts"]
                   and message["ts"] != post.response["ts"]]
        assert [len(message.get("files") or []) for message in replies] == [1]
        timed_out = [call for call in slack.calls_to("files.completeUploadExternal",
                                                     include_failed=True)]
        assert len(timed_out) == 1  # the retry looked in the thread instead
