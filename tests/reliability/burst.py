"""Requests as Slack sends them, delivered in bursts, and a census of what came of them."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import aiohttp

from bot.models import utcnow
from handlers.slack.port import METADATA_EVENT
from handlers.slack.standin.payloads import (
    SignedSlackClient,
    event_callback,
    message_event,
    slash_command,
)
from handlers.slack.standin.slack_server import FakeSlack
from storage import open_store
from tests.slack_harness import SIGNING_SECRET
from tests.store_backends import table_rows

TEAM_CHANNELS = ("C0PAYMENTS", "C0MOBILE", "C0TRIAGE")
ROWS: list[Census] = []  # every scenario's figures, printed at the end of the run


@dataclass
class Source:
    """One piece of customer feedback forwarded once: its own text, its own request."""

    text: str
    kind: str  # "event" (a message in the intake channel) or "command" (/feedback)
    payload: dict[str, Any]
    acknowledged: bool = False
    deliveries: int = 0


def sources(fake: FakeSlack, tag: str, count: int, *, commands: bool = True) -> list[Source]:
    """`count` requests, every other one a /feedback command when `commands`, each its own."""
    second = int(time.time()) - 60
    made: list[Source] = []
    for index in range(count):
        text = f"refund problem {tag}-{index}"
        if commands and index % 2:
            form = slash_command(text=text, user_id="U0SUPPORT", channel_id="C0GENERAL",
                                 response_url=fake.response_url(f"{tag}-{index}"))
            made.append(Source(text=text, kind="command", payload=form))
        else:
            # A ts of its own: a message ts names its source for good. The message is in
            # the channel's history too, as in Slack, so replies to it can be looked up.
            ts = f"{second + index // 1_000_000}.{index % 1_000_000:06d}"
            fake.add_message("C0INTAKE", user="U0SUPPORT", text=text, ts=ts)
            event = message_event(channel="C0INTAKE", user="U0SUPPORT", text=text, ts=ts)
            made.append(Source(text=text, kind="event", payload=event_callback(event)))
    return made


async def deliver(client: SignedSlackClient, source: Source, *,
                  retry_num: int | None = None, retry_reason: str = "http_error") -> bool:
    """Send one request, signed now; True when the bot answered 200."""
    source.deliveries += 1
    try:
        if source.kind == "command":
            response = await client.send_command(source.payload)
        else:
            response = await client.send_event(source.payload, retry_num=retry_num,
                                               retry_reason=retry_reason)
    except (aiohttp.ClientError, TimeoutError):
        return False  # no answer: Slack counts it as not delivered
    if response.status == 200:
        source.acknowledged = True
    return response.status == 200


async def send_all(base_url: str, batch: Iterable[Source], *, concurrency: int = 32,
                   retry_num: int | None = None, retry_reason: str = "http_error") -> int:
    """Deliver every source, `concurrency` at a time; return how many got a 200."""
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        client = SignedSlackClient(base_url, SIGNING_SECRET, session=session)
        slots = asyncio.Semaphore(concurrency)

        async def one(source: Source) -> bool:
            async with slots:
                return await deliver(client, source, retry_num=retry_num,
                                     retry_reason=retry_reason)

        return sum(await asyncio.gather(*(one(source) for source in batch)))


def cards_per_item(fake: FakeSlack) -> Counter[int]:
    """How many cards each item has in the team channels, read from the fake workspace.

    What landed counts, whatever Slack answered when it was posted.
    """
    counts: Counter[int] = Counter()
    for channel in TEAM_CHANNELS:
        for message in fake.workspace.all_messages(channel):  # live: cheap to poll
            metadata = message.get("metadata") or {}
            top_level = message.get("thread_ts") in (None, message["ts"])  # a thread's parent too
            if metadata.get("event_type") == METADATA_EVENT and top_level:
                counts[int(metadata["event_payload"]["item"])] += 1
    return counts


def outbox_rows(database_url: str) -> list[dict[str, Any]]:
    """Every outbox row of the store, sent or not."""
    store = open_store(database_url)
    try:
        return table_rows(store, "outbox")
    finally:
        store.close()


def store_is_idle(database_url: str) -> bool:
    """True when the inbox has nothing left to finish and the outbox nothing to send."""
    store = open_store(database_url)
    try:
        return (not store.inbox_pending()
                and not store.outbox_due(now=utcnow() + timedelta(days=30)))
    finally:
        store.close()


async def drain(fake: FakeSlack, database_url: str, expected: int, *,
                timeout: float = 300.0) -> float:
    """Wait until `expected` items have a card and the store is idle; return the seconds."""
    started = time.monotonic()
    loop_deadline = started + timeout
    while time.monotonic() < loop_deadline:
        if len(cards_per_item(fake)) >= expected and store_is_idle(database_url):
            return time.monotonic() - started
        await asyncio.sleep(0.5)
    return float("inf")


@dataclass
class Census:
    """What came of one scenario's requests."""

    scenario: str
    sent: int
    stored: int
    cards: int
    duplicates: int
    lost: int
    drain_seconds: float
    notes: list[str] = field(default_factory=list)


def notices_posted_twice(fake: FakeSlack) -> dict[str, int]:
    """Outbox entries other than cards (confirmations, reminders...) that landed twice or more."""
    landed: Counter[str] = Counter()
    for channel in list(fake.workspace.channels):
        for message in fake.workspace.all_messages(channel):
            metadata = message.get("metadata") or {}
            is_card = (channel in TEAM_CHANNELS
                       and message.get("thread_ts") in (None, message["ts"]))
            if metadata.get("event_type") == METADATA_EVENT and not is_card:
                landed[str(metadata["event_payload"].get("outbox"))] += 1
    return {key: n for key, n in landed.items() if n > 1}


def take_census(scenario: str, batch: list[Source], fake: FakeSlack, database_url: str,
                drain_seconds: float) -> Census:
    """Count items per source and cards per item; record the row for the final table."""
    store = open_store(database_url)
    try:
        items = list(store.iter_items())
    finally:
        store.close()
    per_text = Counter(item.text for item in items)
    cards = cards_per_item(fake)
    wanted = {source.text for source in batch}
    notes: list[str] = []
    missing = [source.text for source in batch if per_text[source.text] == 0]
    uncarded = [item.id for item in items if cards[item.id] == 0]
    doubled_items = {text: n for text, n in per_text.items() if n > 1}
    doubled_cards = {item: n for item, n in cards.items() if n > 1}
    strangers = [text for text in per_text if text not in wanted]
    doubled_notices = notices_posted_twice(fake)
    if missing:
        notes.append(f"no item for {len(missing)} source(s), e.g. {missing[:3]}")
    if uncarded:
        notes.append(f"no card for {len(uncarded)} item(s), e.g. {uncarded[:3]}")
    if doubled_items:
        notes.append(f"several items for {len(doubled_items)} source(s)")
    if doubled_cards:
        notes.append(f"several cards for {len(doubled_cards)} item(s)")
    if doubled_notices:
        notes.append(f"{len(doubled_notices)} other message(s) posted more than once,"
                     f" e.g. {sorted(doubled_notices)[:3]}")
    if strangers:
        notes.append(f"{len(strangers)} item(s) from no source sent")
    census = Census(
        scenario=scenario, sent=len(batch), stored=len(items), cards=sum(cards.values()),
        duplicates=sum(n - 1 for n in doubled_items.values())
        + sum(n - 1 for n in doubled_cards.values()) + len(strangers)
        + sum(n - 1 for n in doubled_notices.values()),
        lost=len(missing) + len(uncarded), drain_seconds=drain_seconds, notes=notes)
    ROWS.append(census)
    return census


def table(rows: list[Census]) -> list[str]:
    """The census rows as a plain-text table."""
    header = ("scenario", "sent", "stored", "cards", "duplicates", "lost", "time to drain")
    lines = [header] + [
        (row.scenario, str(row.sent), str(row.stored), str(row.cards), str(row.duplicates),
         str(row.lost), "never" if row.drain_seconds == float("inf")
         else f"{row.drain_seconds:.1f} s")
        for row in rows]
    widths = [max(len(line[column]) for line in lines) for column in range(len(header))]
    rendered = ["  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True))
                for line in lines]
    return [rendered[0], "  ".join("-" * width for width in widths), *rendered[1:]]
