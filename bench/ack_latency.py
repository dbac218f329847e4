"""Ack latency: how long Slack waits for feedbackbot's HTTP answer, against bare Bolt.

    python bench/ack_latency.py [--requests N] [--concurrency C]
    python bench/ack_latency.py --rate 200 [--seconds 10] [--latency-ms 20]

With `--rate`, the open-loop comparison of bench/ack_open_loop.py runs instead: a fixed
arrival rate, every server in its own process (bare Bolt, `serve --no-worker` with a
`feedbackbot worker`, and `serve` alone), a fake Slack with Web API latency, commands,
card clicks and own echoes, recorded in docs/benchmarks.md next to the targets.

Slack gives an app 3 s to answer a request. feedbackbot stores every request in a SQLite
inbox (one insert) before it answers, and `/feedback <text>` also routes and stores the
item before its ack. This script measures, in one process and one session, the time from
sending a signed request to receiving the HTTP answer for:

1. baseline: a bare slack_bolt AsyncApp (signature verification on, a fixed `authorize=`,
   a no-op `message` listener and a `/feedback` listener that only acks), served by Bolt's
   own aiohttp adapter on 127.0.0.1;
2. feedbackbot: the real app (`create_app` + `build_web_app`) on 127.0.0.1, against the
   in-process fake Slack, with a file-backed SQLite database (WAL) in a temp dir and the
   outbox worker running, so the cards are really posted while requests keep arriving.

Each case sends message events in the intake channel (each one unique, so each creates an
item and a card) and `/feedback <text>` commands. Absolute numbers depend on the machine;
compare the feedbackbot/baseline ratios, measured in the same session. The client, both
servers and the fake Slack share one event loop, so the load generator's own cost is in
every number, equally for both cases. It is not part of the pytest suite on purpose.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import logging
import math
import os
import platform
import resource
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from importlib.metadata import version
from pathlib import Path
from typing import Any

import aiohttp
from ack_open_loop import post_for_status
from aiohttp import web
from report import Progress
from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult

from bot.config import Config, load_config
from bot.settings import Settings
from handlers.slack.app import FeedbackApp, create_app
from handlers.slack.http import build_web_app
from handlers.slack.standin.payloads import (
    encode_command,
    encode_event,
    event_callback,
    message_event,
    sign,
    slash_command,
)
from handlers.slack.standin.slack_server import FakeSlack
from handlers.slack.standin.workspace import seed_workspace

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_CONFIG = ROOT / "examples" / "feedbackbot.yml"
SECRET = "bench-signing-secret"
TEAM = "T0DEMO"
INTAKE_CHANNEL = "C0INTAKE"
SUPPORT = "U0SUPPORT"
SLACK_LIMIT_S = 3.0
# One text per team in the example config, so the routing does real work for every team.
TEXTS = (
    "refund not received for order {n}",
    "iOS app crashes on login, build {n}",
    "question about data retention, ticket {n}",
)

Request = tuple[bytes, str]  # body, content type
RequestFactory = Callable[[int], Request]


# ---- requests -----------------------------------------------------------------------------

_ts_counter = itertools.count(1)


def intake_message(i: int) -> Request:
    """A unique top-level message in the intake channel: one new item and card each."""
    ts = f"{int(time.time())}.{next(_ts_counter):06d}"
    text = TEXTS[i % len(TEXTS)].format(n=i)
    event = message_event(channel=INTAKE_CHANNEL, user=SUPPORT, text=text, ts=ts)
    return encode_event(event_callback(event, team_id=TEAM)), "application/json"


def feedback_command(i: int) -> Request:
    """`/feedback <text>` from support in #general: routed and stored before the ack."""
    text = TEXTS[i % len(TEXTS)].format(n=i)
    form = slash_command(text=text, user_id=SUPPORT, channel_id="C0GENERAL", team_id=TEAM)
    return encode_command(form), "application/x-www-form-urlencoded"


def own_echo(i: int) -> Request:
    """Slack's echo of one of the bot's own posts: nothing acts on it."""
    ts = f"{int(time.time())}.{next(_ts_counter):06d}"
    event = message_event(channel=INTAKE_CHANNEL, user="U0BOT", text=f"Feedback #{i} went",
                          ts=ts)
    event["bot_id"] = "B0BOT"
    return encode_event(event_callback(event, team_id=TEAM)), "application/json"


KINDS: dict[str, RequestFactory] = {"message": intake_message, "command": feedback_command,
                                    "own echo": own_echo}


# ---- measuring ----------------------------------------------------------------------------


@dataclass
class CaseResult:
    case: str
    kind: str
    latencies: list[float] = field(default_factory=list)  # seconds
    statuses: Counter[int] = field(default_factory=Counter)
    failures: int = 0  # no HTTP answer at all (timeout, connection error)
    elapsed: float = 0.0
    rss_growth_kib: int = 0
    drain_s: float | None = None
    note: str = ""

    def percentile(self, p: float) -> float:
        """Nearest-rank percentile in milliseconds."""
        ordered = sorted(self.latencies)
        if not ordered:
            return math.nan
        rank = max(1, math.ceil(p / 100 * len(ordered)))
        return ordered[rank - 1] * 1000

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.elapsed if self.elapsed else math.nan

    @property
    def errors(self) -> int:
        return self.failures + sum(n for status, n in self.statuses.items() if status != 200)

    @property
    def over_limit(self) -> int:
        return sum(1 for latency in self.latencies if latency > SLACK_LIMIT_S)


def peak_rss_kib() -> int:
    """The process's peak resident set size so far (KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


async def send_many(
    session: aiohttp.ClientSession,
    url: str,
    factory: RequestFactory,
    *,
    count: int,
    concurrency: int,
    result: CaseResult | None,
    progress: Progress | None,
) -> None:
    """Send `count` signed requests from `concurrency` closed-loop workers."""
    numbers = iter(range(count))

    async def worker() -> None:
        for i in numbers:
            body, content_type = factory(i)
            headers = {"Content-Type": content_type, "User-Agent": "Slackbot 1.0"}
            headers.update(sign(SECRET, body))
            started = time.perf_counter()
            status = await post_for_status(session, url, body, headers)
            if progress is not None:
                progress.tick()
            if result is None:
                continue
            if status is None:
                result.failures += 1
            else:
                result.latencies.append(time.perf_counter() - started)
                result.statuses[status] += 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))


class Probe:
    """Hooks around a case's timed part; this one does nothing (the bare Bolt baseline)."""

    drains = False

    async def settle(self) -> None:
        """Wait until the work the requests caused is done."""

    def start(self) -> None:
        """The timed requests begin."""

    def finish(self, result: CaseResult) -> None:
        """The timed requests and their backlog are done; note what was done."""


async def measure(
    session: aiohttp.ClientSession,
    url: str,
    *,
    case: str,
    kind: str,
    count: int,
    warmup: int,
    concurrency: int,
    probe: Probe,
) -> CaseResult:
    """Warm up, then time `count` requests of `kind` and wait for their backlog."""
    factory = KINDS[kind]
    await send_many(
        session, url, factory, count=warmup, concurrency=concurrency, result=None, progress=None
    )
    await probe.settle()
    gc.collect()
    result = CaseResult(case=case, kind=kind)
    progress = Progress(f"{case} {kind}", count)
    rss_before = peak_rss_kib()
    probe.start()
    started = time.perf_counter()
    await send_many(
        session,
        url,
        factory,
        count=count,
        concurrency=concurrency,
        result=result,
        progress=progress,
    )
    result.elapsed = time.perf_counter() - started
    if probe.drains:
        drain_started = time.perf_counter()
        await probe.settle()
        result.drain_s = time.perf_counter() - drain_started
    result.rss_growth_kib = peak_rss_kib() - rss_before
    probe.finish(result)
    drained = "" if result.drain_s is None else f" (backlog drained in {result.drain_s:.1f} s)"
    progress.finish(f"{result.throughput:7.0f} req/s{drained}")
    return result


# ---- the two servers ----------------------------------------------------------------------


async def serve(app: web.Application) -> tuple[web.AppRunner, str]:
    """Serve `app` on an ephemeral loopback port; return the runner and /slack/events URL."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    return runner, f"http://{host}:{port}/slack/events"


def baseline_app() -> AsyncApp:
    """A bare Bolt app: verification on, no Web API call, listeners that only ack."""
    fixed = AuthorizeResult(
        enterprise_id=None,
        team_id=TEAM,
        bot_token="xoxb-baseline",
        bot_user_id="U0BOT",
        bot_id="B0BOT",
    )

    async def authorize(**_: Any) -> AuthorizeResult:
        return fixed

    # AsyncApp never calls auth.test at construction (only the sync App has
    # `token_verification_enabled`), and `authorize=` answers without a Web API call.
    app = AsyncApp(
        signing_secret=SECRET,
        authorize=authorize,
        request_verification_enabled=True,
    )

    @app.event("message")
    async def on_message() -> None:
        return None

    @app.command("/feedback")
    async def on_feedback(ack: Any) -> None:
        await ack()

    return app


async def run_baseline(
    session: aiohttp.ClientSession, args: argparse.Namespace
) -> list[CaseResult]:
    runner, url = await serve(baseline_app().web_app(path="/slack/events"))
    try:
        return [
            await measure(
                session,
                url,
                case="bolt baseline",
                kind=kind,
                count=args.requests,
                warmup=args.warmup,
                concurrency=args.concurrency,
                probe=Probe(),
            )
            for kind in KINDS
        ]
    finally:
        await runner.cleanup()


def example_config() -> Config:
    """The example config with +1 offers off: the bench repeats one text per team, and each
    forward needs its own card now, not after an offer's hold."""
    loaded = load_config(EXAMPLE_CONFIG)
    if loaded.config is None:
        raise SystemExit(f"{EXAMPLE_CONFIG} has errors: {loaded.problems}")
    return loaded.config.model_copy(update={"offer_hold_minutes": 0})


async def settle(bot: FeedbackApp, *, timeout: float) -> None:
    """Wait until every stored request is processed and every queued post is sent."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        due = bot.store.outbox_due(now=bot.clock() + timedelta(days=1), limit=1)
        if not bot.store.inbox_pending() and not due and bot.deps.in_flight == 0:
            return
        if loop.time() > deadline:
            raise TimeoutError(f"the bot did not settle within {timeout:.0f} s")
        bot.outbox.wake()
        await asyncio.sleep(0.05)


class FeedbackbotProbe(Probe):
    """Drains the bot's backlog, counts items and posts, and times two steps of the ack path.

    The steps are the inbox insert (persist before ack) and Bolt's dispatch (up to the
    ack); whatever else a request's latency holds is HTTP, parsing, and waiting for the
    event loop, which the post-ack work (listeners, outbox, the fake Slack) shares.
    """

    drains = True

    def __init__(self, bot: FeedbackApp, fake: FakeSlack, *, timeout: float) -> None:
        self.bot, self.fake, self.timeout = bot, fake, timeout
        self.inserts: list[float] = []
        self.dispatches: list[float] = []
        self._items = self._posts = 0
        # Wrap this instance's methods; the HTTP handler looks them up on every request.
        # The ack path stores through the off-loop store: time it whole, fallback included.
        insert, dispatch = bot.off_loop.add_to_inbox, bot.dispatch

        async def timed_insert(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return await insert(*args, **kwargs)
            finally:
                self.inserts.append(time.perf_counter() - started)

        async def timed_dispatch(**kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return await dispatch(**kwargs)
            finally:
                if not kwargs.get("replay"):
                    self.dispatches.append(time.perf_counter() - started)

        bot.off_loop.add_to_inbox = timed_insert  # type: ignore[method-assign]
        bot.dispatch = timed_dispatch  # type: ignore[method-assign]

    def _counts(self) -> tuple[int, int]:
        items = self.bot.store.database.db["items"].count  # sqlite-utils, on the bench's SQLite
        return items, len(self.fake.calls_to("chat.postMessage"))

    async def settle(self) -> None:
        await settle(self.bot, timeout=self.timeout)

    def start(self) -> None:
        self._items, self._posts = self._counts()
        self.inserts.clear()
        self.dispatches.clear()

    def finish(self, result: CaseResult) -> None:
        items, posts = self._counts()
        inserts = CaseResult(case="", kind="", latencies=self.inserts)
        dispatches = CaseResult(case="", kind="", latencies=self.dispatches)
        result.note = (
            f"{items - self._items} items, {posts - self._posts} posts;"
            f" inbox insert p50/p99 {fmt(inserts.percentile(50), 2)}"
            f"/{fmt(inserts.percentile(99), 2)} ms;"
            f" Bolt dispatch p50/p99 {fmt(dispatches.percentile(50), 2)}"
            f"/{fmt(dispatches.percentile(99), 2)} ms"
        )


async def run_feedbackbot(
    session: aiohttp.ClientSession, args: argparse.Namespace, db_dir: Path
) -> tuple[list[CaseResult], dict[str, Any]]:
    fake = FakeSlack(team_id=TEAM)
    seed_workspace(fake)
    await fake.start()
    db_path = db_dir / "ack-bench.db"
    settings = Settings(
        bot_token="xoxb-bench",
        signing_secret=SECRET,
        api_url=fake.api_url,
        database_url=f"sqlite:///{db_path}",
    )
    bot = create_app(settings, config=example_config())
    runner, url = await serve(build_web_app(bot, signing_secret=SECRET))
    # The outbox worker runs (cards are really posted); the scheduler stays off so that a
    # digest due at the wall-clock time of the run does not add unrelated load.
    await bot.start(scheduler=False)
    try:
        await bot.wait_ready()
        store_info = sqlite_info(bot, db_path)
        probe = FeedbackbotProbe(bot, fake, timeout=args.drain_timeout)
        results = [
            await measure(
                session,
                url,
                case="feedbackbot",
                kind=kind,
                count=args.requests,
                warmup=args.warmup,
                concurrency=args.concurrency,
                probe=probe,
            )
            for kind in KINDS
        ]
        failed = bot.store.database.db.execute(
            "SELECT COUNT(*) FROM inbox WHERE error IS NOT NULL"
        ).fetchone()[0]
        store_info["inbox rows with an error"] = failed
        return results, store_info
    finally:
        await bot.stop()
        await runner.cleanup()
        await fake.stop()


def sqlite_info(bot: FeedbackApp, db_path: Path) -> dict[str, Any]:
    """The journal and sync modes of the store's own connection, and where the file is."""
    db = bot.store.database.db  # type: ignore[attr-defined]
    journal = db.execute("PRAGMA journal_mode").fetchone()[0]
    level = db.execute("PRAGMA synchronous").fetchone()[0]
    return {
        "sqlite": sqlite3.sqlite_version,
        "journal_mode": journal,
        "synchronous": {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}.get(level, level),
        "db filesystem": filesystem_of(db_path),
    }


def filesystem_of(path: Path) -> str:
    """The mount point and type holding `path`, from /proc/mounts (best effort)."""
    try:
        mounts = [line.split()[:3] for line in Path("/proc/mounts").read_text().splitlines()]
    except OSError:
        return "unknown"
    resolved = str(path.resolve())
    best = max(
        (m for m in mounts if resolved == m[1] or resolved.startswith(m[1].rstrip("/") + "/")),
        key=lambda m: len(m[1]),
        default=None,
    )
    return f"{best[2]} at {best[1]}" if best else "unknown"


# ---- report -------------------------------------------------------------------------------


def machine_info() -> dict[str, Any]:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cpus (nproc)": cpus,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "slack_bolt": version("slack_bolt"),
        "aiohttp": version("aiohttp"),
    }


def fmt(value: float, digits: int = 1) -> str:
    return "n/a" if math.isnan(value) else f"{value:.{digits}f}"


def markdown(results: list[CaseResult]) -> str:
    lines = [
        "| case | kind | requests | p50 ms | p90 ms | p99 ms | max ms | req/s | errors "
        "| > 3 s | peak RSS growth MiB | backlog drain s | work done |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        drain = "" if r.drain_s is None else f"{r.drain_s:.1f}"
        lines.append(
            f"| {r.case} | {r.kind} | {len(r.latencies)} | {fmt(r.percentile(50), 2)} "
            f"| {fmt(r.percentile(90), 2)} | {fmt(r.percentile(99), 2)} "
            f"| {fmt(r.percentile(100), 2)} | {fmt(r.throughput, 0)} | {r.errors} "
            f"| {r.over_limit} | {r.rss_growth_kib / 1024:.1f} | {drain} | {r.note} |"
        )
    lines += ["", "| kind | p50 ratio (feedbackbot / baseline) | p99 ratio | req/s ratio |"]
    lines.append("|---|---:|---:|---:|")
    by_case = {(r.case, r.kind): r for r in results}
    for kind in KINDS:
        base, ours = by_case[("bolt baseline", kind)], by_case[("feedbackbot", kind)]
        lines.append(
            f"| {kind} | {fmt(ours.percentile(50) / base.percentile(50), 2)}x "
            f"| {fmt(ours.percentile(99) / base.percentile(99), 2)}x "
            f"| {fmt(ours.throughput / base.throughput, 2)}x |"
        )
    return "\n".join(lines)


async def main_async(args: argparse.Namespace) -> int:
    info = machine_info()
    print(
        f"# ack latency: {args.requests} requests per case and kind, concurrency "
        f"{args.concurrency}, {args.warmup} warm-up requests each",
        file=sys.stderr,
    )
    timeout = aiohttp.ClientTimeout(total=args.request_timeout)
    connector = aiohttp.TCPConnector(limit=args.concurrency)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        results = await run_baseline(session, args)
        with tempfile.TemporaryDirectory(prefix="ack-bench-", dir=args.db_dir) as tmp:
            ours, store_info = await run_feedbackbot(session, args, Path(tmp))
        results += ours
    info.update(store_info)
    print()
    command = " ".join(["python bench/ack_latency.py", *args.argv])
    print(f"Command: `{command}`")
    print()
    for key, value in info.items():
        print(f"- {key}: {value}")
    print(f"- requests per case and kind: {args.requests}, concurrency: {args.concurrency}")
    print()
    print(markdown(results))
    return 0 if all(r.errors == 0 for r in results) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=800, help="timed requests per case")
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight")
    parser.add_argument("--warmup", type=int, default=50, help="untimed requests first")
    parser.add_argument(
        "--db-dir", default=None, help="where the temp SQLite database goes (default: $TMPDIR)"
    )
    parser.add_argument("--rate", type=float, default=None,
                        help="open loop: requests per second (see bench/ack_open_loop.py)")
    parser.add_argument("--seconds", type=float, default=10.0,
                        help="with --rate: timed seconds per case and kind")
    parser.add_argument("--warmup-seconds", type=float, default=2.0,
                        help="with --rate: untimed seconds first")
    parser.add_argument("--latency-ms", type=float, default=20.0,
                        help="with --rate: the fake Slack's latency per Web API call")
    parser.add_argument("--database-url", default=None,
                        help="with --rate: run feedbackbot on this (empty) database instead"
                        " of a temporary SQLite file")
    parser.add_argument("--cases", default="split,one",
                        help="with --rate: split (serve --no-worker + worker), one (serve"
                        " alone), or both, comma-separated")
    parser.add_argument("--request-timeout", type=float, default=30.0, help=argparse.SUPPRESS)
    parser.add_argument("--drain-timeout", type=float, default=120.0, help=argparse.SUPPRESS)
    argv = sys.argv[1:] if argv is None else argv
    args = parser.parse_args(argv)
    args.argv = argv
    if args.requests < 1 or args.concurrency < 1 or args.warmup < 0:
        parser.error("--requests and --concurrency must be at least 1, --warmup at least 0")
    if args.requests > 100_000:
        parser.error("--requests is capped at 100000 so a run stays bounded")
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    if args.rate is not None:
        if not 0 < args.rate <= 5000 or args.seconds <= 0:
            parser.error("--rate must be between 0 and 5000, --seconds above 0")
        import ack_open_loop

        return ack_open_loop.main(args)
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    raise SystemExit(main())
