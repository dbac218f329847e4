"""While another process holds the database, Slack still gets an answer within its 3 s.

The answer is 503, so Slack delivers the request again; nothing is lost and nothing is
stored twice. /healthz answers too, saying the store is busy.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import aiohttp

from handlers.slack.standin.payloads import event_callback, message_event
from tests.slack_harness import database_url_for, make_fake_slack, running_bot

LOCK_SECONDS = 6.0


@contextmanager
def database_locked_elsewhere(url: str) -> Iterator[threading.Event]:
    """Hold the database's write lock (SQLite) or the inbox's table lock (PostgreSQL)
    from another connection, in a thread, until the returned event is set."""
    release = threading.Event()
    held = threading.Event()

    def hold() -> None:
        if url.startswith("sqlite:///"):
            conn = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
            conn.execute("BEGIN EXCLUSIVE")
        else:
            import psycopg

            conn = psycopg.connect(url)
            conn.execute("LOCK TABLE inbox IN ACCESS EXCLUSIVE MODE")
        held.set()
        release.wait(LOCK_SECONDS)
        conn.rollback() if not url.startswith("sqlite") else conn.execute("ROLLBACK")
        conn.close()

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    held.wait(10)
    try:
        yield release
    finally:
        release.set()
        thread.join(15)


async def test_a_locked_store_gets_503_fast_and_the_redelivery_makes_one_item(tmp_path):
    db = tmp_path / "bot.db"
    async with make_fake_slack() as slack, running_bot(slack, db) as running:
        payload = event_callback(message_event(channel="C0INTAKE", user="U0SUPPORT",
                                               text="Acme's refund never arrived"))
        loop = asyncio.get_running_loop()
        with database_locked_elsewhere(database_url_for(db)) as release:
            started = loop.time()
            first = await running.slack.send_event(payload)
            answered_in = loop.time() - started
            assert first.status == 503
            assert answered_in < 3.0  # Slack's limit; the lock lasts LOCK_SECONDS
            started = loop.time()
            async with aiohttp.ClientSession() as session, session.get(
                    f"{running.url}/healthz") as response:
                health = await response.json()
            assert loop.time() - started < 1.5
            assert health["store"] == "busy"
            release.set()
        # Slack's redelivery, once the lock is gone.
        again = await running.slack.send_event(payload, retry_num=1)
        assert again.status == 200
        await slack.wait_for("chat.postMessage",
                             where=lambda call: call.args.get("channel") == "C0PAYMENTS")
        await running.settle()
        assert len(running.store.list_items()) == 1
        assert len([call for call in slack.calls_to("chat.postMessage")
                    if call.args.get("channel") == "C0PAYMENTS"]) == 1
        async with aiohttp.ClientSession() as session, session.get(
                f"{running.url}/healthz") as response:
            assert (await response.json())["store"] == "ok"


async def test_a_request_stored_after_its_503_is_handled_without_a_redelivery(tmp_path):
    # Slack may give up retrying; the insert that landed late is not left waiting.
    db = tmp_path / "bot.db"
    async with make_fake_slack() as slack, running_bot(slack, db) as running:
        payload = event_callback(message_event(channel="C0INTAKE", user="U0SUPPORT",
                                               text="the invoice page is blank"))
        with database_locked_elsewhere(database_url_for(db)) as release:
            assert (await running.slack.send_event(payload)).status == 503
            await asyncio.sleep(0.5)
            release.set()
        await slack.wait_for("chat.postMessage", timeout=10,
                             where=lambda call: call.args.get("channel") == "C0PAYMENTS")
        [item] = running.store.list_items()
        assert item.text == "the invoice page is blank"
