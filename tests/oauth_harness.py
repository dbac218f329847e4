"""A bot in OAuth mode (many workspaces) against the fake Slack, and installing it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import aiohttp

from bot.config import Config
from bot.models import utcnow
from bot.settings import Settings
from handlers.slack.app import create_app
from handlers.slack.http import base_url, serve
from handlers.slack.standin.payloads import SignedSlackClient
from handlers.slack.standin.slack_oauth import Grant
from handlers.slack.standin.slack_server import FakeSlack
from handlers.slack.token_cipher import new_key
from tests.slack_harness import SIGNING_SECRET, RunningBot, database_url_for, example_config

SECRET_KEY = new_key()
STATE_COOKIE = "slack-app-oauth-state"


def oauth_settings(fake: FakeSlack, db_path: Path | str, **changes: object) -> Settings:
    """Settings of OAuth mode against `fake`: client id and secret, signing secret, key."""
    settings = Settings(signing_secret=SIGNING_SECRET, api_url=fake.api_url,
                        database_url=database_url_for(db_path),
                        slack_client_id=fake.oauth.client_id,
                        slack_client_secret=fake.oauth.client_secret, secret_key=SECRET_KEY)
    return settings.with_changes(**changes)


@asynccontextmanager
async def running_oauth_bot(fake: FakeSlack, db_path: Path | str, *,
                            config: Config | None = None, scheduler: bool = False,
                            clock: Callable[[], datetime] = utcnow,
                            worker_elsewhere: bool = False) -> AsyncIterator[RunningBot]:
    """`serve` in OAuth mode on an ephemeral loopback port; stopped afterwards.

    With `worker_elsewhere`, it runs as `serve --no-worker` (see `running_oauth_worker`).
    """
    bot = create_app(oauth_settings(fake, db_path), config=config or example_config(),
                     clock=clock)
    runner = await serve(bot, signing_secret=SIGNING_SECRET, host="127.0.0.1", port=0,
                         scheduler=scheduler, worker_elsewhere=worker_elsewhere)
    url = base_url(runner)
    await bot.wait_ready()
    client = SignedSlackClient(url, SIGNING_SECRET)
    try:
        yield RunningBot(bot=bot, url=url, slack=client, runner=runner)
    finally:
        await client.close()
        await bot.stop()
        await runner.cleanup()


@asynccontextmanager
async def running_oauth_worker(fake: FakeSlack, db_path: Path | str) -> AsyncIterator[None]:
    """What `feedbackbot worker` runs in OAuth mode, on the store `db_path` names."""
    bot = create_app(oauth_settings(fake, db_path), config=example_config())
    await bot.start(scheduler=False, worker=True)
    await bot.wait_ready()
    try:
        yield
    finally:
        await bot.stop()


@dataclass
class Started:
    """What GET /slack/install answered: where it sends the browser, and the state cookie."""

    status: int
    location: str
    state: str
    cookie: str


@dataclass
class Finished:
    """What GET /slack/oauth_redirect answered."""

    status: int
    page: str


async def start_install(url: str) -> Started:
    """GET /slack/install as a browser does (no redirect followed)."""
    async with aiohttp.ClientSession() as http, \
            http.get(f"{url}/slack/install", allow_redirects=False) as response:
        location = response.headers.get("Location", "")
        cookie = response.cookies.get(STATE_COOKIE)
        state = parse_qs(urlsplit(location).query).get("state", [""])[0]
        return Started(status=response.status, location=location, state=state,
                       cookie=cookie.value if cookie is not None else "")


async def finish_install(url: str, *, code: str, state: str, cookie: str | None) -> Finished:
    """GET /slack/oauth_redirect as the browser does when Slack sends it back."""
    headers = {"Cookie": f"{STATE_COOKIE}={cookie}"} if cookie else {}
    async with aiohttp.ClientSession() as http, \
            http.get(f"{url}/slack/oauth_redirect", params={"code": code, "state": state},
                     headers=headers, allow_redirects=False) as response:
        return Finished(status=response.status, page=await response.text())


async def install(fake: FakeSlack, url: str, **grant: object) -> Grant:
    """Install the app through the whole flow (as `fake.oauth.grant(**grant)` describes)."""
    code, made = fake.oauth.grant(**grant)  # type: ignore[arg-type]
    started = await start_install(url)
    finished = await finish_install(url, code=code, state=started.state, cookie=started.cookie)
    assert finished.status == 200, finished.page
    return made
