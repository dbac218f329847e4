"""How much memory concurrent large bodies cost the server, with and without the byte budget.

Starts the bot's HTTP server in a child process on loopback (against a local stand-in
for Slack), sends N signed 1.9 MB bodies at once, and reads the child's peak RSS
(VmHWM) before and after. Run it twice in one go, bounded (the default budget) and
unbounded, and print the growth of each:

    python bench/slow_clients.py --parallel 60
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import multiprocessing
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

SECRET = "bench-signing-secret"
BODY_BYTES = 1_900_000
UNBOUNDED = 1 << 40


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc: this benchmark needs Linux")


def _serve(port_queue: multiprocessing.Queue, max_in_flight: int, db: str) -> None:
    """Child process: the stand-in Slack and the bot's HTTP server until killed."""
    from bot.settings import Settings
    from handlers.slack.app import create_app
    from handlers.slack.body import BodyReader
    from handlers.slack.http import base_url, serve
    from handlers.slack.standin.slack_server import FakeSlack
    from handlers.slack.standin.workspace import seed_workspace
    from tests.slack_harness import example_config

    async def run() -> None:
        async with FakeSlack(team_id="T0DEMO") as slack:
            seed_workspace(slack)
            settings = Settings(bot_token="xoxb-bench", signing_secret=SECRET,
                                api_url=slack.api_url, database_url=f"sqlite:///{db}")
            bot = create_app(settings, config=example_config())
            runner = await serve(bot, signing_secret=SECRET, host="127.0.0.1", port=0,
                                 scheduler=False,
                                 bodies=BodyReader(max_in_flight=max_in_flight))
            await bot.wait_ready()
            port_queue.put(base_url(runner))
            await asyncio.Event().wait()

    asyncio.run(run())


def _signed(body: bytes) -> dict[str, str]:
    timestamp = str(int(time.time()))
    digest = hmac.new(SECRET.encode(), b"v0:" + timestamp.encode() + b":" + body,
                      hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": f"v0={digest}",
            "Content-Type": "application/json"}


async def _burst(url: str, parallel: int) -> dict[int, int]:
    # Signed, so each body is read in full; not JSON, so none is stored or handled.
    body = b"x" * BODY_BYTES
    statuses: dict[int, int] = {}
    async with aiohttp.ClientSession() as session:

        async def send() -> None:
            async with session.post(f"{url}/slack/events", data=body,
                                    headers=_signed(body)) as response:
                statuses[response.status] = statuses.get(response.status, 0) + 1

        await asyncio.gather(*(send() for _ in range(parallel)))
    return statuses


def measure(parallel: int, max_in_flight: int, label: str) -> float:
    """Peak RSS growth (MB) of a server taking `parallel` large bodies at once."""
    context = multiprocessing.get_context("spawn")
    ports: multiprocessing.Queue = context.Queue()
    with tempfile.TemporaryDirectory() as folder:
        child = context.Process(target=_serve, args=(ports, max_in_flight,
                                                     f"{folder}/bench.db"), daemon=True)
        child.start()
        try:
            url = ports.get(timeout=60)
            assert child.pid is not None
            before = _peak_rss_mb(child.pid)
            print(f"{label}: sending {parallel} bodies of {BODY_BYTES / 1e6:.1f} MB at once…",
                  file=sys.stderr, flush=True)
            statuses = asyncio.run(_burst(url, parallel))
            after = _peak_rss_mb(child.pid)
        finally:
            child.kill()
            child.join()
    print(f"{label}: peak RSS {before:.0f} MB -> {after:.0f} MB (+{after - before:.0f} MB);"
          f" answers {dict(sorted(statuses.items()))}", flush=True)
    return after - before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parallel", type=int, default=60)
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from handlers.slack.body import MAX_BYTES_IN_FLIGHT

    unbounded = measure(args.parallel, UNBOUNDED, "unbounded")
    bounded = measure(args.parallel, MAX_BYTES_IN_FLIGHT, "bounded  ")
    print(f"growth bounded / unbounded: {bounded / max(unbounded, 1):.2f}")


if __name__ == "__main__":
    main()
