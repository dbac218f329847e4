"""`serve` alone: requests answered on the serving loop, their work done on a worker thread.

Over Slack's real protocol: signed requests to the app over HTTP, a fake Slack on
loopback recording every Web API call, and the worker built and run as `serve` builds it
(`work_on_a_thread`), on a thread with its own event loop and store connections.
"""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

import bot.worker_thread
from bot.runtime import Runtime
from bot.settings import Settings
from bot.worker_thread import WorkerThread, work_on_a_thread
from handlers.slack.app import create_app
from handlers.slack.standin.payloads import block_actions, slash_command
from tests.slack_harness import (
    SIGNING_SECRET,
    database_url_for,
    example_config,
    make_fake_slack,
    posts,
    running_bot,
    wait_until,
)


def _cards(slack):
    return posts(slack, "C0PAYMENTS")


def _worker_build(slack, db, threads: list[str]):
    """What `serve` builds on the worker's thread: a Slack runtime on the same store."""

    def build() -> Runtime:
        threads.append(threading.current_thread().name)
        settings = Settings(bot_token="xoxb-test", signing_secret=SIGNING_SECRET,
                            api_url=slack.api_url, database_url=database_url_for(db))
        return create_app(settings, config=example_config()).runtime

    return build


async def test_serve_answers_and_the_worker_thread_forwards_and_acknowledges(
        tmp_path, monkeypatch):
    # Only a wake-up can make the worker look in time: it would poll once a minute.
    monkeypatch.setattr(bot.worker_thread, "WOKEN_POLL_SECONDS", 60.0)
    db = tmp_path / "bot.db"
    threads: list[str] = []
    async with make_fake_slack() as slack, running_bot(slack, db,
                                                       worker_elsewhere=True) as serve:
        worker = await work_on_a_thread(serve.bot.runtime, _worker_build(slack, db, threads))
        assert isinstance(worker, WorkerThread)
        assert threads == ["feedbackbot-worker"]
        assert serve.bot.runtime.finishes_requests is False
        answer = await serve.slack.send_command(slash_command(
            text="refund not received for order 12", user_id="U0SUPPORT",
            channel_id="C0GENERAL"))
        assert answer.status == 200 and "Forwarding to *payments*" in answer.body
        await wait_until(lambda: len(_cards(slack)) == 1 and not serve.store.inbox_pending(),
                         what="the worker thread to post the card")
        await wait_until(lambda: serve.store.list_items()[0].card_ts is not None,
                         what="the card recorded on its item")
        [item] = serve.store.list_items()
        assert item.team == "payments" and item.forwarded_by == "U0SUPPORT"

        click = block_actions(user_id="U0ALICE", action_id="fb_ack", value=str(item.id),
                              channel_id=item.card_channel, message_ts=item.card_ts)
        assert (await serve.slack.send_interaction(click)).status == 200
        await wait_until(lambda: serve.store.get_item(
            workspace="T0DEMO", item_id=item.id).first_response_by == "U0ALICE",
            what="the worker thread to record the acknowledgement")
        await wait_until(lambda: not serve.store.inbox_pending(), what="the click's row done")

        asked_to_stop = asyncio.Event()
        asked_to_stop.set()
        assert await worker.ended_before(asked_to_stop) is False  # a signal, as at SIGTERM
        drained = await worker.stop(5.0)
        assert drained.cut == 0 and drained.busy_left == 0
        await asyncio.wait_for(worker.ended(), 5.0)  # `serve` waits on this too
        # Each request once: one card, one item, nothing left leased.
        assert len(_cards(slack)) == 1 and len(serve.store.list_items()) == 1


async def test_a_request_stored_while_the_worker_was_down_is_finished_when_it_starts(tmp_path):
    db = tmp_path / "bot.db"
    async with make_fake_slack() as slack, running_bot(slack, db,
                                                       worker_elsewhere=True) as serve:
        await serve.slack.send_command(slash_command(
            text="invoice is wrong", user_id="U0SUPPORT", channel_id="C0GENERAL"))
        await wait_until(lambda: serve.bot.deps.in_flight == 0, what="serve to be idle")
        assert _cards(slack) == [] and len(serve.store.inbox_pending()) == 1
        worker = await work_on_a_thread(serve.bot.runtime, _worker_build(slack, db, []))
        assert isinstance(worker, WorkerThread)
        await wait_until(lambda: len(_cards(slack)) == 1 and not serve.store.inbox_pending(),
                         what="the card of the request stored before")
        await worker.stop(5.0)


@pytest.mark.parametrize("build, said", [
    (lambda: "Slack needs SLACK_SIGNING_SECRET too", "Slack needs SLACK_SIGNING_SECRET too"),
    (lambda: 1 / 0, "the worker could not start: division by zero"),
])
async def test_a_worker_that_cannot_start_says_why_and_serve_keeps_its_requests(
        tmp_path, build, said):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db",
                                                       worker_elsewhere=False) as serve:
        worker = WorkerThread(build)
        assert await worker.start() == said
        # `serve` stops too, with an error: nothing would finish what it answers.
        assert await asyncio.wait_for(worker.ended_before(asyncio.Event()), 5.0) is True
        assert await work_on_a_thread(serve.bot.runtime, build) == said
        # Nothing was handed over: this runtime still finishes its own requests.
        assert serve.bot.runtime.finishes_requests is True
        assert serve.bot.runtime.wake_worker is None


async def test_a_worker_given_up_on_while_starting_stops_once_started(tmp_path, monkeypatch):
    monkeypatch.setattr(bot.worker_thread, "STARTUP_TIMEOUT_SECONDS", 0.2)
    db = tmp_path / "bot.db"
    threads: list[str] = []
    async with make_fake_slack() as slack:
        build = _worker_build(slack, db, threads)

        def slow_build() -> Runtime:
            time.sleep(1.0)  # a database that takes long to answer
            return build()

        serving = create_app(Settings(bot_token="xoxb-test", signing_secret=SIGNING_SECRET,
                                      api_url=slack.api_url, database_url=database_url_for(db)),
                             config=example_config()).runtime
        started = await work_on_a_thread(serving, slow_build)
        assert started == "the worker did not start within 0.2 s"
        assert serving.finishes_requests is True
        # Nobody waits for it, yet it does not linger: it stops as soon as it has started.
        for _ in range(100):
            if threads and not any(each.name == "feedbackbot-worker"
                                   for each in threading.enumerate()):
                break
            await asyncio.sleep(0.05)
        assert threads == ["feedbackbot-worker"]
        assert not any(each.name == "feedbackbot-worker" for each in threading.enumerate())
        serving.store.close()
