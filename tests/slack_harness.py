"""A running bot wired to a fake Slack over real HTTP, for end-to-end tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from bot.config import Config, load_config
from bot.demo.payloads import SignedSlackClient
from bot.demo.slack_server import FakeSlack
from bot.demo.workspace import seed_workspace
from bot.settings import Settings
from handlers.slack.app import FeedbackApp, create_app
from handlers.slack.http import build_web_app
from storage.sqlite import SqliteStore

SIGNING_SECRET = "test-signing-secret"
REPO = Path(__file__).resolve().parent.parent
EXAMPLE_CONFIG = REPO / "examples" / "feedbackbot.yml"


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
    def store(self) -> SqliteStore:
        assert isinstance(self.bot.store, SqliteStore)
        return self.bot.store

    async def settle(self, *, timeout: float = 5.0) -> None:
        """Wait until the inbox is processed and the outbox has nothing due."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            pending_inbox = self.bot.store.inbox_pending()
            due = self.bot.store.outbox_due(now=self.bot.clock())
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
async def running_bot(fake: FakeSlack, db_path: Path | str, *,
                      config: Config | None = None) -> AsyncIterator[RunningBot]:
    """Start the bot against `fake` on an ephemeral loopback port; stop it afterwards."""
    settings = Settings(bot_token="xoxb-test", signing_secret=SIGNING_SECRET,
                        api_url=fake.api_url, database_url=f"sqlite:///{db_path}")
    bot = create_app(settings, config=config or example_config())
    runner = web.AppRunner(build_web_app(bot, signing_secret=SIGNING_SECRET), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    url = f"http://{host}:{port}"
    await bot.start()
    await bot.wait_ready()
    client = SignedSlackClient(url, SIGNING_SECRET)
    try:
        yield RunningBot(bot=bot, url=url, slack=client, runner=runner)
    finally:
        await client.close()
        await bot.stop()
        await runner.cleanup()
