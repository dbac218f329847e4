"""/healthz: ok, degraded (200) while Slack is unreachable, down (503) when the store is."""

from __future__ import annotations

from typing import Any

import aiohttp

from handlers.slack.standin.payloads import event_callback, message_event
from tests.slack_harness import RunningBot, make_fake_slack, running_bot, wait_until
from tests.test_metrics_endpoint import scrape


async def healthz(running: RunningBot) -> tuple[int, dict[str, Any]]:
    """GET /healthz: its status and JSON body."""
    async with aiohttp.ClientSession() as session, \
            session.get(f"{running.url}/healthz") as response:
        return response.status, await response.json()


async def test_a_slack_outage_is_degraded_not_dead(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "b.db") as running:
        status, health = await healthz(running)
        assert (status, health["status"], health["store"]) == (200, "ok", "ok")
        assert health["slack"]["reachable"] is True

        slack.set_outage(True)
        await running.slack.send_event(event_callback(message_event(
            channel="C0INTAKE", user="U0SUPPORT", text="the export button is gone")))
        await wait_until(lambda: running.bot.reach.reachable is False,
                         what="a call failing during the outage")
        status, health = await healthz(running)
        assert status == 200 and health["ok"] is True
        assert health["status"] == "degraded"
        assert health["slack"]["reachable"] is False
        assert health["slack"]["unreachable_because"] == "HTTP 500"
        assert health["store"] == "ok"

        slack.set_outage(False)
        # The deferred request waits for its retry; the next one finds Slack answering.
        await running.slack.send_event(event_callback(message_event(
            channel="C0INTAKE", user="U0SUPPORT", text="and the import one")))
        await wait_until(lambda: running.bot.reach.reachable is True,
                         what="Slack answering again")
        status, health = await healthz(running)
        assert (status, health["status"], health["slack"]["reachable"]) == (200, "ok", True)


async def test_a_store_that_does_not_answer_is_down(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "b.db") as running:
        # The store fails every read of the outbox, as it does when the database is gone.
        rename(running, "outbox", "outbox_away")
        try:
            status, health = await healthz(running)
            _, metrics = await scrape(running)
        finally:
            rename(running, "outbox_away", "outbox")
        assert status == 503 and health["ok"] is False
        assert (health["status"], health["store"]) == ("down", "down")
        assert health["outbox_pending"] is None
        assert metrics[("feedbackbot_store_up", frozenset())] == 0
        status, health = await healthz(running)
        assert (status, health["status"], health["store"]) == (200, "ok", "ok")
        _, metrics = await scrape(running)
        assert metrics[("feedbackbot_store_up", frozenset())] == 1


def rename(running: RunningBot, table: str, to: str) -> None:
    """Rename a table of the bot's database, behind the store's back."""
    with running.store.database.write() as tx:  # type: ignore[attr-defined]
        tx.execute(f"ALTER TABLE {table} RENAME TO {to}", ())
