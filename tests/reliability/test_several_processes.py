"""Two `serve` and one `clock` on one PostgreSQL database: every piece of work done once.

A burst is split between the two serves (each also runs the scheduler, as `serve` does
by default, so three processes race for every digest and reminder): one item per
source, one card per item, one digest per period, one reminder and one escalation per
item, and no message posted twice.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from handlers.slack.port import METADATA_EVENT
from storage import open_store
from tests.reliability.burst import cards_per_item, drain, send_all, sources, take_census
from tests.reliability.processes import bot_env, start_command, start_serve
from tests.reliability.test_reliability import assert_exactly_once, fake_slack
from tests.store_backends import PostgresDatabases, table_rows

pytestmark = pytest.mark.reliability

BURST = 400
SLA = 5  # seconds: every item is overdue, then past twice its target, within a minute


def config_file(folder: Path) -> Path:
    """A config whose SLA runs out in seconds and whose digest is due since a minute ago."""
    now = datetime.now(UTC)
    due = max(now - timedelta(minutes=1), now.replace(hour=0, minute=0))
    path = folder / "feedbackbot.yml"
    path.write_text(f"""\
offer_hold_minutes: 0  # each of the burst's near-identical items gets a card
admins: [U0LEAD]
teams:
  payments:
    channel: C0PAYMENTS
    owners: [U0ALICE, U0BOB]
    keywords: [refund]
  triage:
    channel: C0TRIAGE
    owners: [U0DAN]
fallback: triage
intake:
  channels: [C0INTAKE]
sla: {{urgent: 30m, high: 2h, normal: {SLA}s, low: 3d}}
digests:
  - channel: C0MANAGERS
    at: "{due:%H:%M}"
    timezone: UTC
    days: [mon, tue, wed, thu, fri, sat, sun]
""")
    return path


def events_per_item(database_url: str, kind: str) -> Counter[int]:
    store = open_store(database_url)
    try:
        return Counter(row["item_id"] for row in table_rows(store, "events")
                       if row["kind"] == kind)
    finally:
        store.close()


async def test_two_serves_and_a_clock_on_postgresql_do_everything_once(
        tmp_path: Path, postgres_databases: PostgresDatabases) -> None:
    database_url = postgres_databases.take()
    config = config_file(tmp_path)
    async with fake_slack() as slack:
        env = bot_env(api_url=slack.api_url, database_url=database_url, config=config)
        serves = [await start_serve(env, tmp_path / f"serve{n}.log") for n in (1, 2)]
        clock = await start_command(["clock"], env, tmp_path / "clock.log")
        try:
            batch = sources(slack, "multi", BURST)
            await asyncio.gather(send_all(serves[0].url, batch[0::2]),
                                 send_all(serves[1].url, batch[1::2]))
            seconds = await drain(slack, database_url, BURST, timeout=300)
            # Reminders are checked once a minute in each of the three processes.
            deadline = time.monotonic() + 150
            while time.monotonic() < deadline:
                if (len(events_per_item(database_url, "reminded")) == BURST
                        and len(events_per_item(database_url, "escalated")) == BURST):
                    break
                await asyncio.sleep(1)
            await drain(slack, database_url, BURST, timeout=120)
            await asyncio.sleep(3)  # a second copy of anything would be posted by now
        finally:
            codes = [await bot.stop() for bot in (*serves, clock)]
    census = take_census("2 serve + clock (PostgreSQL)", batch, slack, database_url, seconds)
    assert_exactly_once(census)
    assert codes == [0, 0, 0]
    reminded = events_per_item(database_url, "reminded")
    escalated = events_per_item(database_url, "escalated")
    assert len(reminded) == BURST and set(reminded.values()) == {1}
    assert len(escalated) == BURST and set(escalated.values()) == {1}
    digests = [m for m in slack.messages("C0MANAGERS")
               if m.get("thread_ts") in (None, m["ts"])]
    assert len(digests) == 1, digests
    posted = Counter(
        (m.get("metadata") or {}).get("event_payload", {}).get("outbox")
        for channel in slack.workspace.channels for m in slack.workspace.all_messages(channel)
        if (m.get("metadata") or {}).get("event_type") == METADATA_EVENT)
    assert [key for key, n in posted.items() if n > 1] == []
    census.notes.append(f"{sum(reminded.values())} reminders, {sum(escalated.values())}"
                        f" escalations, {len(digests)} digest; {len(cards_per_item(slack))}"
                        " items with a card")
