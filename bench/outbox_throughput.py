"""How many cards a second the outbox sends, and whether one workspace's 429s slow the others.

    python bench/outbox_throughput.py [--cards 3000] [--rate 200] [--outage 60]
                                      [--latency 0.02] [--concurrency 64]

Everything runs on loopback. A second process serves 5 fake Slack workspaces (the
tests' FakeSlack), each answering every Web API call after `--latency` seconds; each
workspace has 4 team channels, so cards go to 20 channels. The bot's Slack port picks a
workspace's server by the outbox row's workspace key (T0WS0..T0WS4), as a deployment
serving several workspaces would pick its token.

1. Throughput: `--cards` items are stored with their card entries (as intake leaves
   them), then one outbox worker sends them. Each card is followed by its forwarder's
   confirmation in the intake thread. Reports cards a second, lost and doubled cards.
2. Outage: items arrive at `--rate` a second, spread over the 5 workspaces. After
   `--outage` seconds of normal sending, workspace T0WS0 answers every call with 429
   (Retry-After `--retry-after`) for `--outage` seconds. Reports the other workspaces'
   cards a second before and during the outage, and that T0WS0's cards all land once
   it recovers.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import logging
import multiprocessing
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from report import Progress, fresh_postgres_database, record_section
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import Config, load_config
from bot.models import Event, Item, Status, utcnow
from bot.outbox import OutboxWorker
from bot.outbox_kinds import CARD
from bot.store import NewOutbox, Store
from handlers.slack.port import METADATA_EVENT, SlackChatPort
from handlers.slack.standin.slack_server import FakeSlack
from handlers.slack.standin.workspace import seed_workspace
from storage import open_store

WORKSPACES = [f"T0WS{n}" for n in range(5)]
CHANNELS_PER_WORKSPACE = 4
LIMITED = WORKSPACES[0]


def team_name(workspace: int, channel: int) -> str:
    return f"team{workspace}{channel}"


def team_channel(workspace: int, channel: int) -> str:
    return f"C0TEAM{workspace}{channel}"


# --- the fake workspaces, in their own process ------------------------------------------

class SlowSlack(FakeSlack):
    """A FakeSlack that answers after `latency` seconds, or 429 while `limited` is set."""

    def __init__(self, *, latency: float, retry_after: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.latency = latency
        self.retry_after = retry_after
        self.limited = False
        self.refused = 0

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(self.latency)
        if self.limited:
            self.refused += 1
            return web.json_response({"ok": False, "error": "ratelimited"}, status=429,
                                     headers={"Retry-After": str(self.retry_after)})
        return await super()._handle_api(request)


def posted_cards(slack: FakeSlack) -> list[tuple[int, float, bool]]:
    """(item id, when, whether a card) for each successful post stamped by the outbox."""
    found = []
    for call in slack.calls_to("chat.postMessage"):
        metadata = call.args.get("metadata") or {}
        if metadata.get("event_type") != METADATA_EVENT:
            continue
        item = int(metadata["event_payload"]["item"])
        found.append((item, call.at, str(call.args.get("channel", "")).startswith("C0TEAM")))
    return found


async def serve_workspaces(pipe: Connection, latency: float, retry_after: int) -> None:
    fakes = []
    for index, team_id in enumerate(WORKSPACES):
        fake = SlowSlack(team_id=team_id, domain=f"ws{index}", latency=latency,
                         retry_after=retry_after)
        seed_workspace(fake)
        for channel in range(CHANNELS_PER_WORKSPACE):
            fake.add_channel(team_channel(index, channel), f"team-{index}-{channel}",
                             members=["U0ALICE", "U0BOB", "U0SUPPORT"])
        await fake.start()
        fakes.append(fake)
    pipe.send([fake.api_url for fake in fakes])
    while True:
        while not pipe.poll():
            await asyncio.sleep(0.01)
        command, argument = pipe.recv()
        if command == "limit":
            fakes[0].limited = bool(argument)
            pipe.send(True)
        elif command == "posts":
            pipe.send([posted_cards(fake) for fake in fakes])
        elif command == "refused":
            pipe.send([fake.refused for fake in fakes])
        elif command == "stop":
            for fake in fakes:
                await fake.stop()
            pipe.send(True)
            return


def workspaces_process(pipe: Connection, latency: float, retry_after: int) -> None:
    asyncio.run(serve_workspaces(pipe, latency, retry_after))


class Workspaces:
    """The other process's fake workspaces, driven through a pipe."""

    def __init__(self, latency: float, retry_after: int) -> None:
        self._pipe, child = multiprocessing.Pipe()
        self._process = multiprocessing.get_context("spawn").Process(
            target=workspaces_process, args=(child, latency, retry_after), daemon=True)
        self._process.start()
        self.urls: list[str] = self._pipe.recv()

    def ask(self, command: str, argument: Any = None) -> Any:
        self._pipe.send((command, argument))
        return self._pipe.recv()

    def close(self) -> None:
        self.ask("stop")
        self._process.join(10)


# --- the bot's side ------------------------------------------------------------------

def bench_config(directory: Path) -> Config:
    """Twenty teams, four per workspace, each with its own channel."""
    lines = ["teams:"]
    for workspace in range(len(WORKSPACES)):
        for channel in range(CHANNELS_PER_WORKSPACE):
            lines += [f"  {team_name(workspace, channel)}:",
                      f"    channel: {team_channel(workspace, channel)}",
                      "    owners: [U0ALICE, U0BOB]"]
    lines += ["fallback: team00", "intake:", "  channels: [C0INTAKE]"]
    path = directory / "feedbackbot.yml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    loaded = load_config(path)
    if loaded.config is None:
        raise SystemExit(f"bench config is invalid: {loaded}")
    return loaded.config


_ts = iter(range(1, 10**9))


def store_items(store: Store, count: int, *, first: int = 0) -> list[Item]:
    """Store `count` items as intake leaves them (a card entry each), round-robin over teams."""
    stored = []
    for n in range(first, first + count):
        workspace = n % len(WORKSPACES)
        channel = (n // len(WORKSPACES)) % CHANNELS_PER_WORKSPACE
        ts = f"1714980000.{next(_ts):06d}"
        now = utcnow()
        item = Item(workspace=WORKSPACES[workspace], id=0, team=team_name(workspace, channel),
                    status=Status.RECEIVED.value, text=f"refund problem {n}", customer=None,
                    severity="normal", source_channel="C0INTAKE", source_ts=ts,
                    forwarded_by="U0SUPPORT", received_at=now - timedelta(minutes=5),
                    forwarded_at=now, reply_channel="C0INTAKE", reply_thread_ts=ts)
        stored.append(store.create_item(
            item=item, event=Event(item_id=0, kind="received", actor="U0SUPPORT", at=now),
            outbox=[NewOutbox(kind=CARD)]))
    return stored


@dataclass
class Bot:
    store: Store
    worker: OutboxWorker
    sessions: list[aiohttp.ClientSession]


async def start_bot(directory: Path, urls: list[str], database_url: str,
                    concurrency: int, session_per_call: bool = False) -> Bot:
    if database_url.startswith("postgres"):
        fresh_postgres_database(database_url)  # each phase starts from an empty outbox
    store = open_store(database_url)
    config = bench_config(directory)
    sessions = [aiohttp.ClientSession() for _ in urls]
    # One HTTP session per workspace, reused; `--session-per-call` leaves the client
    # without one, so slack_sdk opens a new session (and connection) for every call.
    clients = {workspace: AsyncWebClient(token=f"xoxb-{workspace.lower()}", base_url=url,
                                         session=None if session_per_call else session,
                                         retry_handlers=[])
               for workspace, url, session in zip(WORKSPACES, urls, sessions, strict=True)}
    port = SlackChatPort(client_for=clients.__getitem__, store=store,
                         team_channels={name: team.channel for name, team in
                                        config.teams.items() if team.channel})
    for index, workspace in enumerate(WORKSPACES):
        port.remember_url(workspace=workspace, url=f"https://ws{index}.slack.com/")
    worker = OutboxWorker(store=store, port=port, config=config, concurrency=concurrency)
    return Bot(store=store, worker=worker, sessions=sessions)


def check_posts(posts: list[list[tuple[int, float, bool]]],
                items: list[Item]) -> tuple[int, int, int]:
    """(lost, doubled cards, doubled confirmations) for `items`."""
    cards = Counter(item for found in posts for item, _, card in found if card)
    notices = Counter(item for found in posts for item, _, card in found if not card)
    wanted = {item.id for item in items}
    lost = len([item for item in wanted if cards[item] == 0 or notices[item] == 0])
    return (lost, sum(n - 1 for n in cards.values() if n > 1),
            sum(n - 1 for n in notices.values() if n > 1))


async def wait_for_cards(workspaces: Workspaces, count: int, progress: Progress,
                         timeout: float, since: float) -> list[list[tuple[int, float, bool]]]:
    """Wait for `count` cards and confirmations posted after `since`; return those posts."""
    deadline = time.monotonic() + timeout
    while True:
        posts = [[post for post in found if post[1] >= since]
                 for found in workspaces.ask("posts")]
        cards = sum(1 for found in posts for _, _, card in found if card)
        notices = sum(1 for found in posts for _, _, card in found if not card)
        progress.done = 0
        progress.tick(min(cards, notices))
        if (cards >= count and notices >= count) or time.monotonic() > deadline:
            progress.finish()
            return posts
        await asyncio.sleep(0.25)


async def throughput(workspaces: Workspaces, directory: Path, database_url: str,
                     cards: int, concurrency: int, session_per_call: bool) -> dict[str, Any]:
    bot = await start_bot(directory, workspaces.urls, database_url, concurrency,
                          session_per_call)
    seeding = Progress("storing items", cards)
    items = []
    for start in range(0, cards, 500):
        items += store_items(bot.store, min(500, cards - start), first=start)
        seeding.tick(min(500, cards - start))
    seeding.finish()
    stop = asyncio.Event()
    began = time.time()
    running = asyncio.create_task(bot.worker.run(stop, idle=0.05))
    posts = await wait_for_cards(workspaces, cards, Progress("cards + confirmations", cards),
                                 timeout=cards / 5 + 60, since=began)
    stop.set()
    await running
    card_times = sorted(at for found in posts for _, at, card in found if card)
    done_times = sorted(at for found in posts for _, at, _ in found)
    # Sustained: the middle 80% of the cards, away from the start and the tail.
    low, high = card_times[len(card_times) // 10], card_times[len(card_times) * 9 // 10]
    lost, twice_cards, twice_notices = check_posts(posts, items)
    for session in bot.sessions:
        await session.close()
    bot.store.close()
    marks = bot.worker.marks
    return {"marks_per_batch": marks.marks / max(marks.batches, 1),
            "cards": cards, "sustained": (len(card_times) * 0.8) / max(high - low, 1e-9),
            "overall": len(card_times) / max(card_times[-1] - began, 1e-9),
            "drain": done_times[-1] - began, "lost": lost, "twice": twice_cards + twice_notices}


async def outage(workspaces: Workspaces, directory: Path, database_url: str, rate: float,
                 seconds: float, concurrency: int) -> dict[str, Any]:
    bot = await start_bot(directory, workspaces.urls, database_url, concurrency)
    stop = asyncio.Event()
    running = asyncio.create_task(bot.worker.run(stop, idle=0.05))
    items: list[Item] = []
    began = time.time()
    limited_from = began + seconds
    limited_until = began + 2 * seconds
    progress = Progress("outage phase, items stored", int(rate * 2 * seconds))
    produced = 0
    limited = False
    while time.time() < limited_until:
        now = time.time()
        if not limited and now >= limited_from:
            workspaces.ask("limit", True)
            limited = True
        due = int((now - began) * rate) - produced
        if due > 0:
            items += store_items(bot.store, due, first=10**6 + produced)
            produced += due
            bot.worker.wake()
            progress.tick(due)
        await asyncio.sleep(0.02)
    workspaces.ask("limit", False)
    progress.finish()
    recovered = time.time()
    posts = await wait_for_cards(workspaces, produced, Progress("draining", produced),
                                 timeout=300, since=began)
    stop.set()
    await running
    ids = {item.id for item in items}
    workspace_of = {item.id: item.workspace for item in items}
    others = [at for found in posts for item, at, card in found
              if card and item in ids and workspace_of[item] != LIMITED]
    before = len([at for at in others if began + 1 <= at < limited_from]) / (seconds - 1)
    during = len([at for at in others if limited_from + 1 <= at < limited_until]) / (seconds - 1)
    limited_cards = sorted(at for found in posts for item, at, card in found
                           if card and item in ids and workspace_of[item] == LIMITED)
    lost, twice_cards, twice_notices = check_posts(posts, items)
    refused = workspaces.ask("refused")
    for session in bot.sessions:
        await session.close()
    bot.store.close()
    return {"before": before, "during": during, "offered": rate * 4 / 5,
            "lost": lost, "twice": twice_cards + twice_notices,
            "limited_last": (limited_cards[-1] - recovered) if limited_cards else float("nan"),
            "refused": refused[0]}


def table(result: dict[str, Any], outage_result: dict[str, Any], args: argparse.Namespace,
          ) -> str:
    ratio = outage_result["during"] / outage_result["before"] if outage_result["before"] else 0
    rows = [
        "| figure | measured | target |", "|---|---|---|",
        f"| cards a second, sustained ({result['cards']} cards, 20 channels, 5 workspaces,"
        f" {args.latency * 1000:.0f} ms per call) | {result['sustained']:.0f}"
        f" (overall {result['overall']:.0f}) | ≥ 200 |",
        f"| time to drain {result['cards']} cards and their confirmations"
        f" | {result['drain']:.1f} s | |",
        f"| lost / sent twice | {result['lost']} / {result['twice']} | 0 / 0 |",
        f"| other workspaces' cards a second, offered {outage_result['offered']:.0f}/s:"
        f" before / during T0WS0's {args.outage:.0f} s of 429s"
        f" | {outage_result['before']:.0f} / {outage_result['during']:.0f}"
        f" (×{ratio:.2f}) | same pace (×1.00) |",
        f"| T0WS0: calls answered 429 / its last card after recovery"
        f" | {outage_result['refused']} / {outage_result['limited_last']:.1f} s"
        f" (Retry-After {args.retry_after} s) | |",
        f"| outage phase: lost / sent twice | {outage_result['lost']} /"
        f" {outage_result['twice']} | 0 / 0 |",
    ]
    return "\n".join(rows)


async def run(args: argparse.Namespace) -> int:
    # Each 429 is logged by the worker as a warning; thousands of them would hide the table.
    logging.getLogger("bot.outbox").setLevel(logging.ERROR)
    workspaces = Workspaces(args.latency, args.retry_after)
    try:
        with tempfile.TemporaryDirectory() as temp:
            directory = Path(temp)
            url = args.database_url or f"sqlite:///{directory / 'throughput.db'}"
            profiler = cProfile.Profile() if args.profile else None
            if profiler is not None:
                profiler.enable()
            result = await throughput(workspaces, directory, url, args.cards, args.concurrency,
                                      args.session_per_call)
            if profiler is not None:
                profiler.disable()
                profiler.dump_stats(args.profile)
                print(f"profile of the throughput phase written to {args.profile}",
                      file=sys.stderr)
            url = args.database_url or f"sqlite:///{directory / 'outage.db'}"
            outage_result = await outage(workspaces, directory, url, args.rate, args.outage,
                                         args.concurrency)
    finally:
        workspaces.close()
    body = table(result, outage_result, args)
    print(body)
    backend = "PostgreSQL" if args.database_url else "SQLite"
    sessions = ("a new HTTP session per call" if args.session_per_call
                else "one reused HTTP session per workspace")
    notes = (f"\n\nOne outbox worker (concurrency {args.concurrency}) on {backend}, {sessions};"
             " the 5 fake workspaces (FakeSlack, one server each, told apart by the port's"
             " `client_for(workspace)`) run in a second process. Each card is followed by"
             " its confirmation in the intake thread: two chat.postMessage calls per item,"
             " no chat.getPermalink (links are built from the workspace URL), three commits"
             " per item (the card on the item; the card sent with the confirmation leased;"
             " the confirmation sent), made in threads so the loop keeps sending meanwhile."
             " Only the commits that lease an entry wait for the disk; the others ride on"
             " the next synced one. Sends that finish together are recorded in one"
             f" transaction: {result['marks_per_batch']:.1f} sent marks per transaction"
             " on average in the throughput phase."
             " In the outage phase items arrive at the offered rate while the worker runs;"
             " the other workspaces' pace is their cards posted a second, away from the"
             " phase's edges.")
    name = "outbox_throughput" + ("_postgres" if args.database_url else "")
    record_section(name, f"Outbox throughput and one workspace's rate limit ({backend})",
                   body + notes, command=" ".join(["python bench/outbox_throughput.py",
                                                   *sys.argv[1:]]))
    ok = (result["lost"] == 0 and result["twice"] == 0 and outage_result["lost"] == 0
          and outage_result["twice"] == 0)
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, default=3000, help="items in the throughput phase")
    parser.add_argument("--rate", type=float, default=200.0,
                        help="items a second arriving in the outage phase")
    parser.add_argument("--outage", type=float, default=60.0,
                        help="seconds of 429s (and of normal sending before them)")
    parser.add_argument("--retry-after", type=int, default=5, help="Retry-After of the 429s")
    parser.add_argument("--latency", type=float, default=0.02, help="seconds per Web API call")
    parser.add_argument("--concurrency", type=int, default=64, help="items sent at once")
    parser.add_argument("--session-per-call", action="store_true",
                        help="throughput phase: a new HTTP session per Web API call")
    parser.add_argument("--profile", default=None, metavar="PATH",
                        help="write a cProfile of the throughput phase (bot side) to PATH")
    parser.add_argument("--database-url", default=None,
                        help="a postgresql:// URL (default: a SQLite file)")
    return asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    raise SystemExit(main())
