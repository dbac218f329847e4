"""`feedbackbot demo`: a scripted half-day of feedback against a local stand-in for Slack.

Everything runs in this process on loopback: a fake Slack workspace, the real bot
serving HTTP, and a script that sends signed requests exactly as Slack would.
"""

from __future__ import annotations

import html
import logging
import re
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from bot.config import load_config
from bot.models import Item
from bot.settings import Settings
from handlers.slack.standin.payloads import (
    SignedSlackClient,
    block_actions,
    event_callback,
    forwarded_message_event,
    message_event,
    message_shortcut,
    reaction_added_event,
    slash_command,
    view_submission,
)
from handlers.slack.standin.slack_server import FakeSlack
from handlers.slack.standin.workspace import CUSTOMER, PEOPLE, seed_workspace

SIGNING_SECRET = "demo-signing-secret"
EXAMPLE_CONFIG = Path(__file__).resolve().parent / "feedbackbot.yml"
CHANNEL_NAMES = {
    "C0MANAGERS": "#eng-managers",
    "C0PAYMENTS": "#payments-dev", "C0MOBILE": "#mobile-dev", "C0TRIAGE": "#triage",
    "C0INTAKE": "#customer-feedback", "C0ACMESHARED": "#shared-acme",
    "C0GLOBEXSHARED": "#shared-globex", "C0GENERAL": "#general",
}


def _name(user: str) -> str:
    label = PEOPLE.get(user)
    return "@" + label.split(" ")[0] if label else user


def _ago_ts(minutes: float) -> str:
    return f"{time.time() - minutes * 60:.6f}"


class Transcript:
    """Prints the demo's story as it happens."""

    def __init__(self, write: Callable[[str], None]) -> None:
        self.write = write
        self.started = time.monotonic()

    def step(self, clock: str, text: str) -> None:
        self.write(f"\n{clock}  {text}")

    def detail(self, text: str) -> None:
        self.write(f"         {text}")


class Demo:
    """The fake workspace, the bot, and the script that drives them."""

    def __init__(self, slack: FakeSlack, client: SignedSlackClient, bot: Any,
                 transcript: Transcript) -> None:
        self.slack = slack
        self.client = client
        self.bot = bot
        self.out = transcript

    async def settle(self) -> None:
        """Wait until the bot has processed everything and sent what it had to."""
        import asyncio

        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            busy = (self.bot.store.inbox_pending() or self.bot.deps.in_flight
                    or self.bot.store.outbox_due(now=self.bot.clock()))
            if not busy:
                return
            self.bot.outbox.wake()
            await asyncio.sleep(0.02)

    async def show_routing(self, before: int) -> None:
        """Print the cards and confirmations the bot posted since call number `before`."""
        await self.settle()
        for call in self.slack.calls[before:]:
            if call.method != "chat.postMessage" or not call.ok:
                continue
            channel = str(call.args.get("channel"))
            if channel in ("C0PAYMENTS", "C0MOBILE", "C0TRIAGE"):
                mentions = sorted(set(_mentions(call.args.get("blocks"))))
                self.out.detail(f"→ card in {CHANNEL_NAMES[channel]} for "
                                f"{', '.join(_name(user) for user in mentions) or 'the team'}")
            elif channel == "C0INTAKE":
                self.out.detail("→ confirmation in the intake thread: "
                                f"{_plain(call.args.get('text'))}")
            else:
                self.out.detail(f"→ DM to {_name(channel)}: {_plain(call.args.get('text'))}")

    async def run(self) -> None:
        """Play the script."""
        out = self.out
        slack = self.slack

        shared = slack.add_message("C0ACMESHARED", user=CUSTOMER, ts=_ago_ts(95),
                                   text="We were double charged on invoice 4411 this month!")
        out.step("09:05", "In #shared-acme (shared with Acme), the customer writes: "
                 f"“{shared['text']}”")
        before = len(slack.calls)
        await self.client.send_event(event_callback(reaction_added_event(
            user=CUSTOMER, reaction="inbox_tray", channel="C0ACMESHARED", ts=shared["ts"])))
        await self.settle()
        out.detail("The customer adds :inbox_tray: themself → ignored: intake is for staff only.")
        await self.client.send_event(event_callback(reaction_added_event(
            user="U0SUPPORT", reaction="inbox_tray", channel="C0ACMESHARED",
            ts=shared["ts"])))
        out.step("09:12", "@sam (support) adds :inbox_tray: to it.")
        await self.show_routing(before)

        before = len(slack.calls)
        event = event_callback(message_event(
            channel="C0INTAKE", user="U0SUPPORT2",
            text="Globex: the iOS app crashes on login since 5.2, every time."))
        await self.client.send_event(event)
        out.step("09:31", "@priya posts in #customer-feedback: "
                 "“Globex: the iOS app crashes on login since 5.2, every time.”")
        await self.show_routing(before)
        await self.client.send_event(event, retry_num=1, retry_reason="http_timeout")
        await self.settle()
        out.detail("Slack re-delivers the same event (X-Slack-Retry-Num: 1) → nothing new.")

        before = len(slack.calls)
        await self.client.send_command(slash_command(
            text="Customer asks whether the Enterprise plan includes SAML single sign-on",
            user_id="U0SUPPORT", channel_id="C0GENERAL"))
        out.step("09:48", "@sam types `/feedback Customer asks whether the Enterprise plan"
                 " includes SAML single sign-on`")
        await self.show_routing(before)

        globex = slack.add_message("C0GLOBEXSHARED", user="U0SUPPORT2", ts=_ago_ts(40),
                                   text="Globex reports the Android app logs them out hourly")
        before = len(slack.calls)
        await self.client.send_interaction(message_shortcut(
            callback_id="forward_feedback", user_id="U0SUPPORT2",
            channel_id="C0GLOBEXSHARED", message=globex))
        opened = await slack.wait_for("views.open")
        view = opened[-1].args["view"]
        out.step("10:20", "@priya uses *Forward to feedback* on a message in #shared-globex.")
        out.detail(f"→ a form opens with the text prefilled, team "
                   f"“{_initial(view, 'team')}” suggested, customer "
                   f"“{_initial(view, 'customer')}”.")
        out.detail("She sets severity to high and submits.")
        await self.client.send_interaction(view_submission(
            user_id="U0SUPPORT2", callback_id=view["callback_id"],
            private_metadata=view["private_metadata"], values={
                "text": {"value": {"type": "plain_text_input", "value": globex["text"]}},
                "team": {"value": {"type": "static_select",
                                   "selected_option": {"value": _initial(view, "team")}}},
                "customer": {"value": {"type": "plain_text_input", "value": "globex"}},
                "severity": {"value": {"type": "static_select",
                                       "selected_option": {"value": "high"}}},
                "note": {"value": {"type": "plain_text_input",
                                   "value": "Their admins are blocked"}},
            }))
        await self.show_routing(before)

        original = slack.add_message("C0ACMESHARED", user=CUSTOMER, ts=_ago_ts(30),
                                     text="Refunds page shows a 500 error <!channel>")
        before = len(slack.calls)
        await self.client.send_event(event_callback(forwarded_message_event(
            channel="C0INTAKE", user="U0SUPPORT", text="Second time this week",
            original_text=original["text"], original_author=CUSTOMER,
            original_ts=original["ts"], original_channel="C0ACMESHARED")))
        out.step("10:41", "@sam uses Slack's *Forward message* to share an Acme message"
                 " into #customer-feedback, adding “Second time this week”.")
        out.detail("The customer's text tries to ping `<!channel>`; the card shows it escaped.")
        await self.show_routing(before)

    async def respond(self) -> None:
        """Developers answer in their channels; support hears back."""
        out = self.out
        items = {item.id: item for item in self.bot.store.list_items()}

        before = len(self.slack.calls)
        await self._click("U0ALICE", "fb_ack", items[1])
        out.step("10:55", "@alice clicks *Acknowledge* on feedback #1.")
        await self.show_updates(before)

        before = len(self.slack.calls)
        await self._reply(items[2], "U0CAROL", "Reproduced. The fix ships in 5.2.1 today.")
        out.step("11:02", "@carol replies in the card's thread: “Reproduced. The fix ships"
                 " in 5.2.1 today.”")
        await self.show_updates(before)

        before = len(self.slack.calls)
        await self._click("U0CAROL", "fb_resolve", items[1])
        out.step("11:10", "@carol (mobile) tries to resolve feedback #1, which belongs to"
                 " payments.")
        await self.show_updates(before)

        before = len(self.slack.calls)
        await self._click("U0DAN", "fb_reassign", items[3])
        view = (await self.slack.wait_for("views.open", count=2))[-1].args["view"]
        await self.client.send_interaction(view_submission(
            user_id="U0DAN", callback_id=view["callback_id"],
            private_metadata=view["private_metadata"],
            values={"team": {"value": {"type": "static_select",
                                       "selected_option": {"value": "payments"}}}}))
        out.step("11:30", "@dan (triage) reassigns feedback #3 to payments: plans are theirs.")
        await self.show_updates(before)

        before = len(self.slack.calls)
        await self._react(items[5], "U0BOB", "eyes")
        out.step("11:45", "@bob adds :eyes: to the card for feedback #5.")
        await self.show_updates(before)

        before = len(self.slack.calls)
        await self._reply(items[4], "U0ERIN", "Found it: the token refresh races. Fix in review.")
        out.step("12:05", "@erin replies on feedback #4: “Found it: the token refresh races."
                 " Fix in review.”")
        await self.show_updates(before)

        before = len(self.slack.calls)
        await self._click("U0ALICE", "fb_resolve", items[1])
        view = (await self.slack.wait_for("views.open", count=3))[-1].args["view"]
        await self.client.send_interaction(view_submission(
            user_id="U0ALICE", callback_id=view["callback_id"],
            private_metadata=view["private_metadata"],
            values={"note": {"value": {"type": "plain_text_input",
                                       "value": "Refunded the duplicate; fixed in 2.4.1"}}}))
        out.step("12:30", "@alice resolves feedback #1: “Refunded the duplicate; fixed in"
                 " 2.4.1”.")
        await self.show_updates(before)

    async def _click(self, user: str, action: str, item: Item) -> None:
        latest = self.bot.store.get_item(workspace=item.workspace, item_id=item.id)
        await self.client.send_interaction(block_actions(
            user_id=user, action_id=action, value=str(item.id),
            channel_id=latest.card_channel, message_ts=latest.card_ts))

    async def _reply(self, item: Item, user: str, text: str) -> None:
        await self.client.send_event(event_callback(message_event(
            channel=str(item.card_channel), user=user, text=text, thread_ts=item.card_ts)))

    async def _react(self, item: Item, user: str, reaction: str) -> None:
        await self.client.send_event(event_callback(reaction_added_event(
            user=user, reaction=reaction, channel=str(item.card_channel),
            ts=str(item.card_ts))))

    async def show_updates(self, before: int) -> None:
        """Print what the bot did since call number `before`, in words."""
        await self.settle()
        for call in self.slack.calls[before:]:
            if not call.ok:
                continue
            channel = str(call.args.get("channel", ""))
            if call.method == "chat.update" and channel in CHANNEL_NAMES:
                blocks = str(call.args.get("blocks", ""))
                if "Moved to" in blocks:
                    self.out.detail(f"→ the old card in {CHANNEL_NAMES[channel]} is marked"
                                    " as moved, with a link to the new one")
                else:
                    self.out.detail(f"→ the card in {CHANNEL_NAMES[channel]} now shows: "
                                    f"{_status_line(call.args.get('blocks'))}")
            elif call.method == "chat.postEphemeral":
                self.out.detail(f"→ only {_name(str(call.args.get('user')))} sees: "
                                f"{_plain(call.args.get('text'))}")
            elif call.method == "chat.postMessage":
                text = _plain(call.args.get("text")).replace("\n", " ")
                if channel in ("C0PAYMENTS", "C0MOBILE", "C0TRIAGE"):
                    self.out.detail(f"→ new card in {CHANNEL_NAMES[channel]}")
                elif channel == "C0INTAKE":
                    self.out.detail(f"→ in the intake thread: {text}")
                else:
                    self.out.detail(f"→ DM to {_name(channel)}: {text}")

    async def digest(self) -> None:
        """End the day as a manager starts the next: with the digest."""
        from bot.digest_text import digest_table

        before = len(self.slack.calls)
        workspace = self.bot.workspace or ""
        start = self.bot.clock() - timedelta(days=1)
        claimed = self.bot.digests.claim_window(workspace=workspace, index=0, start=start)
        self.out.step("17:00", "The managers' digest goes out (it normally runs at 09:00).")
        await self.settle()
        for call in self.slack.calls[before:]:
            if call.method == "chat.postMessage" and call.ok:
                channel = str(call.args.get("channel"))
                self.out.detail(f"→ digest posted in {CHANNEL_NAMES.get(channel, channel)}")
            elif call.method == "files.completeUploadExternal" and call.ok:
                self.out.detail("→ the 14-day trend chart is uploaded into its thread")
        if claimed is not None:
            data = self.bot.digests.build(
                workspace=workspace, index=0, local_date=claimed.period.local_date,
                late=False, window_start=start, window_end=self.bot.clock())
            self.out.write("\n" + digest_table(data))

    def summary(self) -> list[Item]:
        """Print the per-team table; return the items."""
        items = self.bot.store.list_items()
        self.out.write("\nPer team")
        header = (f"  {'team':<10} {'items':>5} {'answered':>8} {'waiting':>7}"
                  f"  {'time to response':>16} {'forwarding lag':>14}")
        self.out.write(header)
        self.out.write("  " + "-" * (len(header) - 2))
        by_team: dict[str, list[Item]] = {}
        for item in items:
            by_team.setdefault(item.team, []).append(item)
        for team in self.bot.config.teams:
            team_items = by_team.get(team, [])
            answered = [item for item in team_items if item.first_response_at is not None]
            waiting = len(team_items) - len(answered)
            lags = sorted(item.forwarded_at - item.received_at for item in team_items)
            lag = _minutes(lags[len(lags) // 2]) if lags else "-"
            waits = sorted(item.first_response_at - item.received_at  # type: ignore[operator]
                           for item in answered)
            wait = _minutes(waits[len(waits) // 2]) if waits else "-"
            self.out.write(f"  {team:<10} {len(team_items):>5} {len(answered):>8} {waiting:>7}"
                           f"  {wait:>16} {lag:>14}")
        statuses = Counter(item.status for item in items)
        self.out.write(f"\n{len(items)} items: " + ", ".join(
            f"{count} {status}" for status, count in sorted(statuses.items())))
        return items


def _minutes(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes // 60}h {minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m"


def _mentions(blocks: Any) -> list[str]:
    # Only the card's first block names the people it is for.
    first = blocks[0]["text"]["text"] if blocks else ""
    return re.findall(r"<@(U[A-Z0-9]+)>", first)


def _plain(text: Any) -> str:
    cleaned = re.sub(r"<@(U[A-Z0-9]+)>", lambda match: _name(match.group(1)), str(text or ""))
    cleaned = re.sub(r"<[^|>]+\|([^>]+)>", r"\1", cleaned)
    return html.unescape(cleaned.replace("*", ""))


def _status_line(blocks: Any) -> str:
    for block in blocks or []:
        if block.get("type") == "context":
            text = str(block["elements"][0].get("text", ""))
            if text.startswith((":white_check_mark:", ":checkered_flag:")):
                return _plain(re.sub(r"<!date\^\d+\^[^|]*\|([^>]*)>", r"\1", text)
                              ).replace("\n", " / ")
    return "updated"


def _initial(view: dict[str, Any], block_id: str) -> str:
    for block in view.get("blocks", []):
        if block.get("block_id") == block_id:
            element = block.get("element", {})
            if "initial_option" in element:
                return str(element["initial_option"]["value"])
            return str(element.get("initial_value", ""))
    return ""


async def run_demo(*, db_path: str | None = None,
                   write: Callable[[str], None] = print) -> int:
    """Run the demo; keep its database at `db_path` when given. Returns an exit code."""
    from handlers.slack.app import create_app
    from handlers.slack.http import base_url, serve

    logging.getLogger().setLevel(logging.WARNING)
    loaded = load_config(EXAMPLE_CONFIG)
    if loaded.config is None:
        for problem in loaded.problems:
            write(str(problem))
        return 1
    temp = None
    if db_path is None:
        temp = tempfile.TemporaryDirectory(prefix="feedbackbot-demo-")
        db_path = str(Path(temp.name) / "demo.db")
    transcript = Transcript(write)
    write("feedbackbot demo: a half-day of customer feedback in a local stand-in for Slack")
    write("(no network, no Slack account; every request is signed and sent over HTTP)")
    async with FakeSlack(team_id="T0DEMO", team_name="Demo Co") as slack:
        seed_workspace(slack)
        settings = Settings(bot_token="xoxb-demo", signing_secret=SIGNING_SECRET,
                            api_url=slack.api_url, database_url=f"sqlite:///{db_path}")
        bot = create_app(settings, config=loaded.config)
        runner = await serve(bot, signing_secret=SIGNING_SECRET, host="127.0.0.1", port=0,
                             scheduler=False)
        await bot.wait_ready()
        client = SignedSlackClient(base_url(runner), SIGNING_SECRET)
        demo = Demo(slack, client, bot, transcript)
        try:
            await demo.run()
            await demo.respond()
            demo.summary()
            await demo.digest()
        finally:
            await client.close()
            await bot.stop()
            await runner.cleanup()
    if temp is not None:
        temp.cleanup()
    else:
        write(f"\nThe database is kept at {db_path}; try `feedbackbot export`"
              f" with DATABASE_URL=sqlite:///{db_path}")
    return 0
