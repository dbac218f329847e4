"""What every command needs: reporting failures, reading the config, opening the runtime."""

from __future__ import annotations

import logging
import signal
import sys
from typing import TYPE_CHECKING

from bot.clock_rate import clock_from_env
from bot.config import Config, load_config
from bot.settings import Settings
from bot.store import Store
from storage import open_store

if TYPE_CHECKING:
    import asyncio

    from aiohttp import web

    from bot.runtime import Runtime
    from bot.shutdown import Drained

log = logging.getLogger(__name__)

# Stores a second connection can't share: no side store, and `serve` keeps its work on
# the serving loop.
IN_MEMORY_URLS = ("sqlite:///", "sqlite:///:memory:")


def fail(message: str, code: int = 2) -> int:
    """Print `feedbackbot: message` on stderr; return `code`."""
    print(f"feedbackbot: {message}", file=sys.stderr)
    return code


def check_config_file(path: str) -> Config | None:
    """Print the config's problems on stderr; return the config, or None when it has errors."""
    loaded = load_config(path)
    for problem in loaded.problems:
        print(problem, file=sys.stderr)
    return loaded.config


def open_runtime(settings: Settings, config: Config) -> Runtime:
    """The runtime on the store DATABASE_URL names, with no platform plugged in yet.

    Raises ValueError (StoreUnavailable) when the database can't be opened.
    """
    # The runtime (HTTP, scheduler, outbox) loads only for the commands that run one.
    from bot.runtime import Runtime

    url = settings.database_url

    def open_side_store() -> Store:
        return open_store(url)

    # A second connection, so that a call stuck behind a lock holds up no other; an
    # in-memory database can't have one.
    in_memory = url in IN_MEMORY_URLS
    return Runtime(config=config, store=open_store(url), clock=clock_from_env(),
                   open_side_store=None if in_memory else open_side_store)


def stop_signals() -> asyncio.Event:
    """An event set when the process is asked to stop (SIGINT or SIGTERM).

    Install it before announcing readiness, so an early signal still stops cleanly.
    """
    import asyncio

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


def stop_grace_or_fail() -> float | None:
    """FEEDBACKBOT_SHUTDOWN_GRACE in seconds, or None (the problem printed) when it is wrong."""
    from bot.shutdown import shutdown_grace

    try:
        return shutdown_grace()
    except ValueError as error:
        fail(str(error))
        return None


async def stop_gracefully(runtime: Runtime, grace: float,
                          runner: web.AppRunner | None = None, *,
                          say: bool = True) -> Drained:
    """Refuse new requests, let those under way finish within `grace` seconds, then stop.

    The HTTP site (`runner`) stops accepting first and its running handlers finish;
    then the work they started, and the outbox sends under way, get what is left.
    """
    import asyncio

    loop = asyncio.get_running_loop()
    deadline = loop.time() + grace
    log.info("asked to stop: finishing the work under way (up to %.0fs)", grace)
    runtime.begin_stopping()
    if runner is not None:
        await runner.cleanup()
    return await runtime.stop(grace=max(0.0, deadline - loop.time()), say=say)
