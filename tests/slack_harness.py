"""A running bot wired to a fake Slack over real HTTP, for end-to-end tests."""

from __future__ import annotations

import asyncio
import os
import re
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.config import Config, load_config
from bot.models import utcnow
from bot.settings import Settings
from bot.store import Store
from handlers.slack.app import FeedbackApp, create_app
from handlers.slack.body import BodyReader
from handlers.slack.http import base_url, serve
from handlers.slack.standin.payloads import SignedSlackClient
from handlers.slack.standin.slack_calls import RecordedCall
from handlers.slack.standin.slack_server import FakeSlack
from handlers.slack.standin.workspace import seed_workspace
from tests.store_backends import BackendChooser, count_rows

SIGNING_SECRET = "test-signing-secret"
REPO = Path(__file__).resolve().parent.parent
EXAMPLE_CONFIG = REPO / "examples" / "feedbackbot.yml"

# Which backend running_bot opens; tests/conftest.py sets it for each test.
BACKEND: BackendChooser | None = None


def database_url_for(db_path: Path | str) -> str:
    """The DATABASE_URL of the store a test names `db_path`, on this test's backend."""
    return BACKEND.url_for(db_path) if BACKEND is not None else f"sqlite:///{db_path}"


def without_offers(config: Path = EXAMPLE_CONFIG) -> Path:
    """A copy of a config file with the +1 offer off (`offer_hold_minutes: 0`).

    For bursts of near-identical test feedback in which every forward needs its own card.
    """
    folder = Path(tempfile.gettempdir()) / f"feedbackbot-tests-{os.getpid()}"
    folder.mkdir(exist_ok=True)
    path = folder / f"no-offers-{config.stem}.yml"
    text, found = re.subn(r"^offer_hold_minutes:.*$", "offer_hold_minutes: 0",
                          config.read_text(encoding="utf-8"), flags=re.MULTILINE)
    path.write_text(text if found else text + "\noffer_hold_minutes: 0\n", encoding="utf-8")
    return path


def example_config() -> Config:
    """The example config, which must load without errors."""
    loaded = load_config(EXAMPLE_CONFIG)
    assert loaded.config is not None, loaded.problems
    return loaded.config


@dataclass
class RunningBot:
    """The bot under test, its HTTP address, and a client that signs like Slack."""

    bot: FeedbackApp
    url: str
    slack: SignedSlackClient
    runner: web.AppRunner

    @property
    def store(self) -> Store:
        return self.bot.store

    async def settle(self, *, timeout: float = 5.0, due_only: bool = False) -> None:
        """Wait until the inbox is processed and the outbox is empty.

        With `due_only`, entries scheduled for later (say, for a stopped workspace)
        don't count.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            pending_inbox = self.bot.store.inbox_pending()
            if due_only:
                due = self.bot.store.outbox_due(now=self.bot.clock())
            else:
                due = self.bot.store.outbox_due(now=self.bot.clock() + timedelta(days=1))
            if not pending_inbox and not due and self.bot.deps.in_flight == 0:
                return
            if loop.time() > deadline:
                raise TimeoutError(f"not settled: inbox={pending_inbox} outbox={due}")
            self.bot.outbox.wake()
            await asyncio.sleep(0.02)


def make_fake_slack() -> FakeSlack:
    """A fake workspace seeded with the demo company."""
    slack = FakeSlack(team_id="T0DEMO")
    seed_workspace(slack)
    return slack


@asynccontextmanager
async def running_bot(
    fake: FakeSlack,
    db_path: Path | str,
    *,
    config: Config | None = None,
    wait: bool = True,
    api_timeout: float = 10.0,
    scheduler: bool = False,
    clock: Callable[[], datetime] = utcnow,
    bodies: BodyReader | None = None,
    worker_elsewhere: bool = False,
) -> AsyncIterator[RunningBot]:
    """Start the bot against `fake` on an ephemeral loopback port; stop it afterwards.

    With `worker_elsewhere`, it runs as `serve --no-worker` (see `running_worker`).
    """
    settings = Settings(
        bot_token="xoxb-test",
        signing_secret=SIGNING_SECRET,
        api_url=fake.api_url,
        database_url=database_url_for(db_path),
    )
    bot = create_app(
        settings, config=config or example_config(), api_timeout=api_timeout, clock=clock
    )
    # The scheduler stays off unless asked for: digests due at the wall-clock time the
    # tests run would otherwise post into them.
    runner = await serve(bot, signing_secret=SIGNING_SECRET, host="127.0.0.1", port=0,
                         scheduler=scheduler, bodies=bodies,
                         worker_elsewhere=worker_elsewhere)
    url = base_url(runner)
    if wait:
        await bot.wait_ready()
    client = SignedSlackClient(url, SIGNING_SECRET)
    try:
        yield RunningBot(bot=bot, url=url, slack=client, runner=runner)
    finally:
        await client.close()
        await bot.stop()
        await runner.cleanup()


@asynccontextmanager
async def running_worker(fake: FakeSlack, db_path: Path | str, *,
                         config: Config | None = None,
                         clock: Callable[[], datetime] = utcnow) -> AsyncIterator[FeedbackApp]:
    """Run what `feedbackbot worker` runs, on the store `db_path` names; stop it afterwards."""
    settings = Settings(bot_token="xoxb-test", signing_secret=SIGNING_SECRET,
                        api_url=fake.api_url, database_url=database_url_for(db_path))
    bot = create_app(settings, config=config or example_config(), clock=clock)
    await bot.start(scheduler=False, worker=True)
    await bot.wait_ready()
    try:
        yield bot
    finally:
        await bot.stop()


# --- helpers for the Slack end-to-end tests ---------------------------------------------

INTERNAL_TEAM = "T0DEMO"


def config_with(config: Config | None = None, **intake: object) -> Config:
    """The example config (or `config`) with some `intake:` settings changed."""
    base = config or example_config()
    return base.model_copy(update={"intake": base.intake.model_copy(update=intake)})


def past_ts(seconds_ago: float) -> str:
    """A Slack ts `seconds_ago` seconds before now."""
    return f"{time.time() - seconds_ago:.6f}"


def inbox_count(running: RunningBot) -> int:
    """Every inbox row, processed or not."""
    return count_rows(running.store, "inbox")


def posts(fake: FakeSlack, channel: str) -> list[RecordedCall]:
    """Successful chat.postMessage calls into `channel` (a user id also matches their DM)."""
    targets = {channel}
    if channel[:1] in "UW" and channel in fake.workspace.users:
        targets.add(fake.dm_channel(channel))
    return [
        c
        for c in fake.calls_to("chat.postMessage")
        if c.args.get("channel") in targets or (c.response or {}).get("channel") in targets
    ]


def posts_anywhere_in(fake: FakeSlack, channel: str) -> list[RecordedCall]:
    """Every call (even failed ones) that tried to write into `channel`."""
    writers = (
        "chat.postMessage",
        "chat.postEphemeral",
        "chat.update",
        "chat.scheduleMessage",
        "files.completeUploadExternal",
        "reactions.add",
    )
    return [
        c
        for c in fake.calls
        if c.method in writers
        and channel in (c.args.get("channel"), c.args.get("channel_id"), c.args.get("channels"))
    ]


async def wait_for_post(
    fake: FakeSlack, channel: str, *, count: int = 1, timeout: float = 5.0
) -> list[RecordedCall]:
    """Wait for `count` posts into `channel` (a user id also matches their DM)."""
    targets = {channel}
    if channel[:1] in "UW" and channel in fake.workspace.users:
        targets.add(fake.dm_channel(channel))
    return await fake.wait_for(
        "chat.postMessage",
        count=count,
        timeout=timeout,
        where=lambda c: (
            c.args.get("channel") in targets or (c.response or {}).get("channel") in targets
        ),
    )


def block_texts(blocks: list[dict[str, Any]]) -> list[str]:
    """Every mrkdwn/plain text in section, field and context blocks."""
    texts: list[str] = []
    for block in blocks:
        if isinstance(block.get("text"), dict):
            texts.append(str(block["text"].get("text", "")))
        for part in [*(block.get("fields") or []), *(block.get("elements") or [])]:
            if isinstance(part, dict) and part.get("type") in ("mrkdwn", "plain_text"):
                texts.append(str(part.get("text", "")))
    return texts


def card_header(call: RecordedCall) -> str:
    """The first section of a routed card: the title and the mentions."""
    return str(call.args["blocks"][0]["text"]["text"])


def modal_values(
    *,
    text: str,
    team: str | None = None,
    customer: str | None = None,
    severity: str | None = None,
    note: str | None = None,
) -> dict[str, Any]:
    """The state.values Slack sends when the forwarding modal is submitted."""

    def typed(value: str | None) -> dict[str, Any]:
        return {"value": {"type": "plain_text_input", "value": value}}

    def selected(value: str | None) -> dict[str, Any]:
        option = (
            None
            if value is None
            else {"text": {"type": "plain_text", "text": value, "emoji": True}, "value": value}
        )
        return {"value": {"type": "static_select", "selected_option": option}}

    return {
        "text": typed(text),
        "team": selected(team),
        "customer": typed(customer),
        "severity": selected(severity),
        "note": typed(note),
    }


def opened_view(call: RecordedCall) -> dict[str, Any]:
    """The view a recorded views.open call created, with the id Slack gave it."""
    assert call.response is not None and call.response.get("ok"), call.response
    return dict(call.response["view"])


def view_block(view: dict[str, Any], block_id: str) -> dict[str, Any]:
    """One block of a view by block_id."""
    return next(block for block in view["blocks"] if block.get("block_id") == block_id)


async def forward_via_intake_channel(
    fake: FakeSlack, running: RunningBot, text: str, *, user: str = "U0SUPPORT"
) -> tuple[int, str, str]:
    """Post `text` in the intake channel; return (item id, card channel, card ts)."""
    from handlers.slack.standin.payloads import event_callback, message_event

    before = {item.id for item in running.bot.store.list_items()}
    await running.slack.send_event(
        event_callback(message_event(channel="C0INTAKE", user=user, text=text))
    )
    await running.settle()
    items = [item for item in running.bot.store.list_items() if item.id not in before]
    assert len(items) == 1, items
    item = items[0]
    assert item.card_channel and item.card_ts, item
    return item.id, item.card_channel, item.card_ts


async def wait_until(
    condition: Callable[[], bool], *, timeout: float = 5.0, what: str = "condition"
) -> None:
    """Poll `condition` (cheap, synchronous) until it holds; fail after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise TimeoutError(f"waited {timeout}s for {what}")
        await asyncio.sleep(0.01)


async def click_and_submit(fake: FakeSlack, running: RunningBot, *, user: str, action: str,
                           item_id: int, channel: str, card_ts: str,
                           values: dict[str, Any]) -> None:
    """Click a card button that opens a modal, then submit that modal with `values`."""
    from handlers.slack.standin.payloads import block_actions, view_submission

    opened_before = len(fake.calls_to("views.open"))
    await running.slack.send_interaction(block_actions(
        user_id=user, action_id=action, value=str(item_id), channel_id=channel,
        message_ts=card_ts))
    opened = await fake.wait_for("views.open", count=opened_before + 1)
    view = opened[-1].args["view"]
    await running.slack.send_interaction(view_submission(
        user_id=user, callback_id=view["callback_id"],
        private_metadata=view["private_metadata"], values=values))
    await running.settle()
