"""Real `feedbackbot` processes on loopback, started and stopped as an operator would."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.serving import came_up
from tests.slack_harness import EXAMPLE_CONFIG, SIGNING_SECRET, without_offers


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class BotProcess:
    """One running `feedbackbot` command, its port (for serve) and its log file."""

    process: asyncio.subprocess.Process
    log: Path
    port: int | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def kill(self) -> None:
        """kill -9: no shutdown of any kind."""
        self.process.send_signal(signal.SIGKILL)

    async def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, as systemd and Procfile runners stop it; return its exit code."""
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return await asyncio.wait_for(self.process.wait(), timeout)
        except TimeoutError:
            self.process.kill()
            return await self.process.wait()


def bot_env(*, api_url: str, database_url: str, config: Path | None = None,
            clock_rate: float | None = None) -> dict[str, str]:
    """The environment a deployment gives feedbackbot, pointed at a fake Slack.

    The config is the example's, without +1 offers: every burst item needs its own card.
    """
    config = config if config is not None else without_offers(EXAMPLE_CONFIG)
    env = {
        **os.environ,
        "SLACK_BOT_TOKEN": "xoxb-test",
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": api_url,
        "DATABASE_URL": database_url,
        "FEEDBACKBOT_CONFIG": str(config),
    }
    env.pop("FEEDBACKBOT_CLOCK_RATE", None)
    if clock_rate is not None:
        env["FEEDBACKBOT_CLOCK_RATE"] = str(clock_rate)
    return env


async def start_command(args: list[str], env: dict[str, str], log: Path) -> BotProcess:
    """Start `python -m bot.cli ARGS` with its output in `log`."""
    with log.open("ab") as out:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", *args, env=env, stdout=out, stderr=out)
    return BotProcess(process=process, log=log)


async def start_serve(env: dict[str, str], log: Path, *, port: int | None = None,
                      extra: tuple[str, ...] = ()) -> BotProcess:
    """Start `feedbackbot serve` and wait until /healthz says it is connected to Slack."""
    port = port or free_port()
    bot = await start_command(["serve", "--host", "127.0.0.1", "--port", str(port), *extra],
                              env, log)
    bot.port = port
    if await came_up(bot.process, bot.url, tries=600):
        return bot
    await bot.stop()
    raise AssertionError(f"serve did not come up; its log:\n{log.read_text()[-3000:]}")
