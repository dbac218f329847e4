"""How long cards wait through a Slack outage with a restart, and whether any is doubled.

    python bench/outbox_outage.py [--items 20] [--outage 10]

Everything runs on loopback: the fake Slack answers 500 to every call for `--outage`
seconds; feedback arrives during the outage, the bot is restarted in the middle of it,
then Slack recovers. Prints, per card, how long after forwarding and after recovery it
was posted, and the number of duplicate cards (the target is 0).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

from aiohttp import web
from report import record_section

from bot.config import load_config
from bot.settings import Settings
from handlers.slack.app import FeedbackApp, create_app
from handlers.slack.http import base_url, serve
from handlers.slack.port import METADATA_EVENT
from handlers.slack.standin.payloads import SignedSlackClient, event_callback, message_event
from handlers.slack.standin.slack_server import FakeSlack
from handlers.slack.standin.workspace import seed_workspace

SECRET = "bench-secret"
ROOT = Path(__file__).resolve().parent.parent


async def _start(slack: FakeSlack, db: Path) -> tuple[FeedbackApp, web.AppRunner, str]:
    loaded = load_config(ROOT / "examples" / "feedbackbot.yml")
    assert loaded.config is not None
    bot = create_app(Settings(bot_token="xoxb-bench", signing_secret=SECRET,
                              api_url=slack.api_url, database_url=f"sqlite:///{db}"),
                     config=loaded.config)
    runner = await serve(bot, signing_secret=SECRET, host="127.0.0.1", port=0, scheduler=False)
    return bot, runner, base_url(runner)


def _cards(slack: FakeSlack) -> dict[int, list[float]]:
    """When each item's card(s) landed, from the recorded successful posts."""
    landed: dict[int, list[float]] = {}
    for call in slack.calls_to("chat.postMessage"):
        metadata = call.args.get("metadata") or {}
        if metadata.get("event_type") == METADATA_EVENT and call.args.get("channel") in (
                "C0PAYMENTS", "C0MOBILE", "C0TRIAGE"):
            item = int(metadata["event_payload"]["item"])
            landed.setdefault(item, []).append(call.at)
    return landed


async def run(items: int, outage: float) -> int:
    """Run the scenario and print the figures; return an exit code."""
    with tempfile.TemporaryDirectory() as temp:
        db = Path(temp) / "bench.db"
        async with FakeSlack(team_id="T0DEMO") as slack:
            seed_workspace(slack)
            bot, runner, url = await _start(slack, db)
            await bot.wait_ready()
            # The people forwarding are known from earlier, as in a running deployment.
            for user in ("U0SUPPORT", "U0SUPPORT2"):
                await bot.port.user_info(bot.workspace or "", user)
            slack.set_outage(True)
            outage_began = time.time()
            sent: dict[str, float] = {}
            async with SignedSlackClient(url, SECRET) as client:
                for index in range(items):
                    text = f"refund problem {index}"
                    user = ("U0SUPPORT", "U0SUPPORT2")[index % 2]
                    sent[text] = time.time()
                    await client.send_event(event_callback(message_event(
                        channel="C0INTAKE", user=user, text=text)))
                    print(f"\rsent {index + 1}/{items} during the outage", end="",
                          file=sys.stderr, flush=True)
            print(file=sys.stderr)
            await asyncio.sleep(outage / 2)
            await bot.stop()
            await runner.cleanup()
            print("restarted the bot in the middle of the outage", file=sys.stderr)
            bot, runner, url = await _start(slack, db)
            await asyncio.sleep(max(outage - (time.time() - outage_began), 0))
            slack.set_outage(False)
            recovered = time.time()
            await bot.wait_ready(timeout=120)
            deadline = time.time() + 300
            while len(_cards(slack)) < items and time.time() < deadline:
                await asyncio.sleep(0.1)
            items_by_id = {item.id: item for item in bot.store.list_items()}
            await bot.stop()
            await runner.cleanup()
    landed = _cards(slack)
    after_recovery = [min(times) - recovered for times in landed.values()]
    waited = [min(times) - items_by_id[item].forwarded_at.timestamp()
              for item, times in landed.items()]
    duplicates = sum(len(times) - 1 for times in landed.values())
    table = "\n".join([
        "| items | outage (s) | cards | duplicates (target 0) | wait after forwarding:"
        " median / max (s) | after recovery: median / max (s) |",
        "|---|---|---|---|---|---|",
        f"| {items} | {outage:.0f} | {len(landed)} | {duplicates} |"
        f" {statistics.median(waited):.1f} / {max(waited):.1f} |"
        f" {statistics.median(after_recovery):.1f} / {max(after_recovery):.1f} |"])
    print("\n" + table)
    notes = ("\n\nSlack answers 500 to every call during the outage; the bot restarts in its"
             " middle. The outbox backs off the failing workspace as a whole (up to 5 min"
             " between tries, with jitter), so the cards land at its first try after"
             " recovery.")
    record_section("outbox_outage", "Cards through a Slack outage with a restart",
                   table + notes, command=" ".join(["python bench/outbox_outage.py",
                                                    *sys.argv[1:]]))
    return 0 if len(landed) == items and duplicates == 0 else 1


def main() -> int:
    """Parse arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=20)
    parser.add_argument("--outage", type=float, default=10.0, help="seconds of 500s")
    args = parser.parse_args()
    return asyncio.run(run(args.items, args.outage))


if __name__ == "__main__":
    raise SystemExit(main())
