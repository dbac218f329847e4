"""Ack latency at a fixed arrival rate, each server in its own process (`--rate` of ack_latency).

    python bench/ack_latency.py --rate 200 [--seconds 10] [--latency-ms 20] [--database-url URL]

Open loop: requests leave at `--rate` per second whatever the answers do, and each one's
latency counts from when it was due to leave, so a server that falls behind is charged
for the wait. Four processes besides this one, all on 127.0.0.1:

- a fake Slack (handlers/slack/standin) answering every Web API call after `--latency-ms`;
- a bare slack_bolt AsyncApp (the baseline: signature check, fixed `authorize=`, listeners
  that only ack), served by Bolt's aiohttp adapter;
- `feedbackbot serve --no-worker` with `feedbackbot worker` beside it (split mode), then
  `feedbackbot serve` alone (one-command mode), each on a fresh database.

Kinds: `/feedback <text>` commands, Acknowledge-button clicks on a card (block_actions),
and Slack's echoes of the bot's own posts. Targets (issue 10): p99 within 1.3x bare Bolt
for commands and clicks, echoes faster than bare Bolt.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import math
import os
import re
import signal
import socket
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from handlers.slack.standin.payloads import (
    block_actions,
    encode_command,
    encode_event,
    encode_interaction,
    event_callback,
    message_event,
    sign,
    slash_command,
)

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "examples" / "feedbackbot.yml"
SECRET = "bench-signing-secret"
TEAM = "T0DEMO"
TEXTS = ("refund not received for order {n}", "iOS app crashes on login, build {n}",
         "question about data retention, ticket {n}")
TARGET_RATIO = 1.3
Request = tuple[bytes, str]

_counter = itertools.count(1)


def command(n: int, card: dict[str, Any]) -> Request:
    """`/feedback <text>` from support: routed, answered, then forwarded."""
    form = slash_command(text=TEXTS[n % 3].format(n=n), user_id="U0SUPPORT",
                         channel_id="C0GENERAL", team_id=TEAM)
    return encode_command(form), "application/x-www-form-urlencoded"


def click(n: int, card: dict[str, Any]) -> Request:
    """A developer clicks the card's Acknowledge button (Slack's block_actions shape)."""
    payload = block_actions(user_id="U0ALICE", action_id="fb_ack", value=str(card["item"]),
                            channel_id=card["channel"], message_ts=card["ts"], team_id=TEAM)
    payload["actions"][0]["action_ts"] = f"{int(time.time())}.{next(_counter):06d}"
    return encode_interaction(payload), "application/x-www-form-urlencoded"


def own_echo(n: int, card: dict[str, Any]) -> Request:
    """Slack's echo of one of the bot's own posts."""
    ts = f"{int(time.time())}.{next(_counter):06d}"
    event = message_event(channel="C0INTAKE", user="U0BOT", text=f"Feedback #{n} went", ts=ts)
    event["bot_id"] = "B0BOT"
    return encode_event(event_callback(event, team_id=TEAM)), "application/json"


KINDS = {"command": command, "interaction": click, "own echo": own_echo}


@dataclass
class Run:
    """One case and kind at the fixed rate."""

    case: str
    kind: str
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    failures: int = 0
    late_sends: int = 0  # requests this generator sent more than 5 ms after they were due
    drain_s: float | None = None

    def p(self, q: float) -> float:
        ordered = sorted(self.latencies)
        if not ordered:
            return math.nan
        return ordered[max(1, math.ceil(q / 100 * len(ordered))) - 1] * 1000

    @property
    def errors(self) -> int:
        return self.failures + sum(n for status, n in self.statuses.items() if status != 200)


async def post_for_status(session: aiohttp.ClientSession, url: str, body: bytes,
                          headers: dict[str, str]) -> int | None:
    """POST `body`; return the HTTP status, or None when no answer came (timeout, refused)."""
    try:
        async with session.post(url, data=body, headers=headers) as response:
            await response.read()
            return response.status
    except (aiohttp.ClientError, TimeoutError):
        return None


async def open_loop(session: aiohttp.ClientSession, url: str, kind: str, *, rate: float,
                    seconds: float, card: dict[str, Any], run: Run | None,
                    progress: Any = None) -> None:
    """Send `rate` requests a second for `seconds`, each on time, not waiting for answers."""
    factory = KINDS[kind]
    total = max(1, int(rate * seconds))
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.05

    async def one(i: int) -> None:
        due = start + i / rate
        await asyncio.sleep(max(0.0, due - loop.time()))
        body, content_type = factory(i, card)
        headers = {"Content-Type": content_type, **sign(SECRET, body)}
        if run is not None and loop.time() - due > 0.005:
            run.late_sends += 1
        status = await post_for_status(session, url, body, headers)
        if progress is not None:
            progress.tick()
        if run is None:
            return
        if status is None:
            run.failures += 1
        else:
            run.latencies.append(loop.time() - due)
            run.statuses[status] += 1

    await asyncio.gather(*(one(i) for i in range(total)))


# ---- the servers, each its own process --------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def run_fake_slack(port: int, latency: float) -> None:
    """Serve the fake Slack on `port`, answering each Web API call after `latency` s."""
    from handlers.slack.standin.slack_server import FakeSlack
    from handlers.slack.standin.workspace import seed_workspace

    class SlowSlack(FakeSlack):
        async def _answer(self, *args: Any, **kwargs: Any) -> Any:
            await asyncio.sleep(latency)
            return await super()._answer(*args, **kwargs)

    fake = SlowSlack(team_id=TEAM)
    seed_workspace(fake)
    await fake.start(port=port)
    print("ready", flush=True)
    await asyncio.Event().wait()


async def run_baseline(port: int) -> None:
    """Serve a bare Bolt app on `port`: verification on, listeners that only ack."""
    from aiohttp import web
    from slack_bolt.async_app import AsyncApp
    from slack_bolt.authorization import AuthorizeResult

    fixed = AuthorizeResult(enterprise_id=None, team_id=TEAM, bot_token="xoxb-baseline",
                            bot_user_id="U0BOT", bot_id="B0BOT")

    async def authorize(**_: Any) -> AuthorizeResult:
        return fixed

    app = AsyncApp(signing_secret=SECRET, authorize=authorize)

    @app.event("message")
    async def on_message() -> None:
        return None

    @app.command("/feedback")
    async def on_feedback(ack: Any) -> None:
        await ack()

    @app.action("fb_ack")
    async def on_ack(ack: Any) -> None:
        await ack()

    runner = web.AppRunner(app.web_app(path="/slack/events"), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    print("ready", flush=True)
    await asyncio.Event().wait()


class Processes:
    """Child processes, stopped (SIGTERM, then SIGKILL) in reverse order."""

    def __init__(self) -> None:
        self.children: list[asyncio.subprocess.Process] = []

    async def start(self, *argv: str, env: dict[str, str] | None = None,
                    wait_for: str | None = "ready") -> asyncio.subprocess.Process:
        child = await asyncio.create_subprocess_exec(
            sys.executable, *argv, env={**os.environ, **(env or {})}, cwd=ROOT,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
        self.children.append(child)
        if wait_for:
            assert child.stdout is not None
            line = await asyncio.wait_for(child.stdout.readline(), 60)
            if wait_for not in line.decode():
                raise RuntimeError(f"{argv} did not start: {line!r}")
        return child

    async def stop(self, child: asyncio.subprocess.Process) -> None:
        if child.returncode is None:
            child.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(child.wait(), 15)
            except TimeoutError:
                child.kill()
                await child.wait()
        self.children.remove(child)

    async def stop_all(self) -> None:
        for child in reversed(list(self.children)):
            await self.stop(child)


def bench_config_file() -> Path:
    """The example config with +1 offers off, written next to the bench's databases.

    The bench repeats one text per team, so with offers on every card after the first
    would wait out its hold (minutes) and the backlog would never drain in time.
    """
    path = Path(tempfile.gettempdir()) / f"feedbackbot-bench-{os.getpid()}.yml"
    text = re.sub(r"^offer_hold_minutes:.*$", "", CONFIG.read_text(encoding="utf-8"),
                  flags=re.MULTILINE)
    path.write_text(text + "\noffer_hold_minutes: 0\n", encoding="utf-8")
    return path


def bot_env(api_url: str, database_url: str) -> dict[str, str]:
    return {"SLACK_BOT_TOKEN": "xoxb-bench", "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": api_url, "DATABASE_URL": database_url,
            "FEEDBACKBOT_CONFIG": str(bench_config_file()), "PYTHONPATH": str(ROOT)}


async def wait_healthy(session: aiohttp.ClientSession, base: str) -> None:
    for _ in range(600):
        try:
            async with session.get(f"{base}/healthz") as response:
                if response.status == 200 and (await response.json()).get("connected"):
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.05)
    raise RuntimeError(f"{base} did not become healthy")


async def settle(store: Any, *, timeout: float) -> float:
    """Wait until every stored request is done and the outbox is empty; return the wait."""
    started = time.perf_counter()
    while store.inbox_pending() or store.outbox_pending_count():
        if time.perf_counter() - started > timeout:
            raise TimeoutError(f"the backlog did not drain within {timeout:.0f} s")
        await asyncio.sleep(0.05)
    return time.perf_counter() - started


async def make_card(session: aiohttp.ClientSession, url: str, store: Any) -> dict[str, Any]:
    """Forward one item and wait for its card; return where the card is."""
    await open_loop(session, url, "command", rate=10, seconds=0.1, card={}, run=None)
    for _ in range(600):
        items = [item for item in store.list_items() if item.card_ts]
        if items:
            return {"item": items[0].id, "channel": items[0].card_channel, "ts": items[0].card_ts}
        await asyncio.sleep(0.05)
    raise RuntimeError("no card was posted")


def database_for(args: argparse.Namespace, tmp: Path, case: str) -> str:
    if args.database_url:
        return args.database_url  # emptied by the caller's choice; several cases share it
    return f"sqlite:///{tmp / (case.replace(' ', '-') + '.db')}"


async def measure_case(session: aiohttp.ClientSession, args: argparse.Namespace, case: str,
                       url: str, store: Any | None, progress_cls: Any) -> list[Run]:
    runs = []
    card: dict[str, Any] = {"item": 1, "channel": "C0PAYMENTS", "ts": "1.000001"}
    if store is not None:
        card = await make_card(session, url, store)
    for kind in KINDS:
        await open_loop(session, url, kind, rate=args.rate, seconds=args.warmup_seconds,
                        card=card, run=None)
        if store is not None:
            await settle(store, timeout=args.drain_timeout)
        run = Run(case=case, kind=kind)
        progress = progress_cls(f"{case}: {kind}", max(1, int(args.rate * args.seconds)))
        await open_loop(session, url, kind, rate=args.rate, seconds=args.seconds, card=card,
                        run=run, progress=progress)
        if store is not None:
            run.drain_s = await settle(store, timeout=args.drain_timeout)
        progress.finish(f"p99 {run.p(99):.1f} ms" + (
            f", backlog drained {run.drain_s:.1f} s after the last request"
            if run.drain_s is not None else ""))
        runs.append(run)
    return runs


async def main_async(args: argparse.Namespace) -> list[Run]:
    from report import Progress

    from storage import open_store

    processes = Processes()
    timeout = aiohttp.ClientTimeout(total=30)
    connector = aiohttp.TCPConnector(limit=0)
    runs: list[Run] = []
    me = str(Path(__file__).resolve())
    try:
        async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
            slack_port = free_port()
            await processes.start(me, "--fake-slack", str(slack_port),
                                  "--latency-ms", str(args.latency_ms))
            api_url = f"http://127.0.0.1:{slack_port}/api/"
            port = free_port()
            baseline = await processes.start(me, "--baseline", str(port))
            runs += await measure_case(session, args, "bare Bolt",
                                       f"http://127.0.0.1:{port}/slack/events", None, Progress)
            await processes.stop(baseline)
            with tempfile.TemporaryDirectory(prefix="ack-open-loop-") as tmp:
                cases = [("split: serve --no-worker + worker", True, "split"),
                         ("one command: serve", False, "one")]
                for case, split, short in cases:
                    if short not in args.cases.split(","):
                        continue
                    database_url = database_for(args, Path(tmp), case.split(":")[0])
                    port = free_port()
                    env = bot_env(api_url, database_url)
                    serve_argv = ["-m", "bot.cli", "serve", "--host", "127.0.0.1", "--port",
                                  str(port), "--no-scheduler"]
                    serve = await processes.start(
                        *serve_argv, *(["--no-worker"] if split else []), env=env,
                        wait_for="feedbackbot serving")
                    worker = None
                    if split:
                        worker = await processes.start("-m", "bot.cli", "worker", env=env,
                                                       wait_for="feedbackbot worker")
                    base = f"http://127.0.0.1:{port}"
                    await wait_healthy(session, base)
                    store = open_store(database_url)
                    try:
                        runs += await measure_case(session, args, case,
                                                   f"{base}/slack/events", store, Progress)
                    finally:
                        store.close()
                        if worker is not None:
                            await processes.stop(worker)
                        await processes.stop(serve)
    finally:
        await processes.stop_all()
    return runs


def table(runs: list[Run], args: argparse.Namespace) -> str:
    base = {run.kind: run for run in runs if run.case == "bare Bolt"}
    lines = ["| case | kind | requests | p50 ms | p99 ms | max ms | errors | sent late"
             " | backlog drained s | p99 / bare Bolt | target | met |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|"]
    for run in runs:
        ratio = run.p(99) / base[run.kind].p(99) if run.case != "bare Bolt" else math.nan
        if run.case == "bare Bolt":
            target, met = "baseline", ""
        elif run.kind == "own echo":
            target, met = "< 1.0x", "yes" if ratio < 1.0 else "**no**"
        else:
            target, met = f"<= {TARGET_RATIO}x", "yes" if ratio <= TARGET_RATIO else "**no**"
        drain = "" if run.drain_s is None else f"{run.drain_s:.1f}"
        lines.append(
            f"| {run.case} | {run.kind} | {len(run.latencies)} | {run.p(50):.2f} "
            f"| {run.p(99):.2f} | {run.p(100):.2f} | {run.errors} | {run.late_sends} | {drain} "
            f"| {'' if math.isnan(ratio) else f'{ratio:.2f}x'} | {target} | {met} |")
    lines += ["", f"Open loop at {args.rate:g} requests/s for {args.seconds:g} s per kind"
              f" (after {args.warmup_seconds:g} s of warm-up), fake Slack answering every"
              f" Web API call after {args.latency_ms:g} ms; latency counts from when each"
              " request was due. \"Sent late\": requests the load generator itself sent"
              " more than 5 ms late (a busy machine). \"Backlog drained\": how long after the"
              " last request the work (items, cards, answers) was all done."]
    return "\n".join(lines)


def main(args: argparse.Namespace) -> int:
    """Run the open-loop comparison, print and record it; 0 when every request got a 200."""
    from report import record_section

    runs = asyncio.run(main_async(args))
    body = table(runs, args)
    print(body)
    command_line = " ".join(["python bench/ack_latency.py", *args.argv])
    record_section("ack-open-loop", "Acks at a fixed rate: feedbackbot against bare Bolt",
                   body, command=command_line)
    return 0 if all(run.errors == 0 for run in runs) else 1


def child_main(argv: list[str]) -> int:
    """The child processes: `--fake-slack PORT --latency-ms MS` or `--baseline PORT`."""
    if argv[0] == "--fake-slack":
        latency = float(argv[argv.index("--latency-ms") + 1]) / 1000
        asyncio.run(run_fake_slack(int(argv[1]), latency))
    elif argv[0] == "--baseline":
        asyncio.run(run_baseline(int(argv[1])))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    raise SystemExit(child_main(sys.argv[1:]))

