"""`feedbackbot demo` on Slack: the neutral script, acted out against a local stand-in.

Everything runs in this process on loopback: a fake Slack workspace, the real bot
serving HTTP, and a stage that turns each step of `bot.demo.script` into the signed
requests Slack would send. Both the bot and the fake workspace run on the script's
simulated clock, so message timestamps, cards and the digest tell the story's times.
Another platform plays the same script with its own `bot.demo.play.Stage`.
"""

from __future__ import annotations

import asyncio
import html
import logging
import re
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.closed_loop import offering_notices
from bot.config import load_config
from bot.demo.clock import SimulatedClock
from bot.demo.history import with_weekly_themes
from bot.demo.play import play
from bot.demo.report import end_the_day, print_the_digest
from bot.demo.script import (
    CUSTOMER_PEOPLE,
    SCRIPT,
    STAFF,
    Digest,
    Forward,
    Respond,
    Says,
    at,
)
from bot.demo.transcript import Transcript, who
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
from handlers.slack.told_blocks import TOLD_CUSTOMER_ACTION

SIGNING_SECRET = "demo-signing-secret"
DEMO_CONFIG = Path(__file__).resolve().parent / "feedbackbot.yml"
# The script's people and places, as the demo workspace names them.
SLACK_USERS = {label.split(" ")[0]: user_id for user_id, label in PEOPLE.items()}
SLACK_USERS.update({name: CUSTOMER for name in CUSTOMER_PEOPLE})
SLACK_CHANNELS = {"shared-acme": "C0ACMESHARED", "shared-globex": "C0GLOBEXSHARED",
                  "customer-feedback": "C0INTAKE", "general": "C0GENERAL"}
CHANNEL_NAMES = {
    "C0MANAGERS": "#eng-managers",
    "C0PAYMENTS": "#payments-dev", "C0MOBILE": "#mobile-dev", "C0TRIAGE": "#triage",
    "C0INTAKE": "#customer-feedback", "C0ACMESHARED": "#shared-acme",
    "C0GLOBEXSHARED": "#shared-globex", "C0GENERAL": "#general",
}
TEAM_CHANNELS = ("C0PAYMENTS", "C0MOBILE", "C0TRIAGE")
CARD_BUTTONS = {"acknowledge": "fb_ack", "resolve": "fb_resolve", "reassign": "fb_reassign"}


def _name(user: str) -> str:
    label = PEOPLE.get(user)
    return "@" + label.split(" ")[0] if label else user


def _slack_words(text: str) -> str:
    # Typed in Slack, "@channel" reaches the bot as the special mention <!channel>.
    return text.replace("@channel", "<!channel>")


class SlackStage:
    """Acts the script's steps out in the fake workspace, against the real bot."""

    def __init__(self, slack: FakeSlack, client: SignedSlackClient, bot: Any,
                 clock: SimulatedClock, transcript: Transcript) -> None:
        self.slack = slack
        self.client = client
        self.bot = bot
        self.clock = clock
        self.out = transcript
        self.messages: dict[str, dict[str, Any]] = {}
        self.message_channels: dict[str, str] = {}
        self.views_opened = 0

    def _ts(self) -> str:
        return f"{self.clock.timestamp():.6f}"

    def _envelope(self, event: dict[str, Any]) -> dict[str, Any]:
        return event_callback(event, event_time=int(self.clock.timestamp()))

    async def settle(self) -> None:
        """Wait until the bot has processed everything and sent what it had to."""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            busy = (self.bot.store.inbox_pending() or self.bot.deps.in_flight
                    or self.bot.store.outbox_due(now=self.bot.clock()))
            if not busy:
                return
            self.bot.outbox.wake()
            await asyncio.sleep(0.02)

    async def _next_view(self) -> dict[str, Any]:
        self.views_opened += 1
        opened = await self.slack.wait_for("views.open", count=self.views_opened)
        return dict(opened[-1].args["view"])

    def _opened_views(self) -> int:
        return sum(1 for call in self.slack.calls if call.method == "views.open" and call.ok)

    # ---- the steps ----------------------------------------------------------------------

    async def says(self, step: Says) -> None:
        channel = SLACK_CHANNELS[step.place]
        self.messages[step.key] = self.slack.add_message(
            channel, user=SLACK_USERS[step.by], text=_slack_words(step.text), ts=self._ts())
        self.message_channels[step.key] = channel
        where = CHANNEL_NAMES[channel] + (f" ({step.aside})" if step.aside else "")
        self.out.step(step.at, f"In {where}, {who(step.by)} writes: “{step.text}”")

    async def forward(self, step: Forward) -> None:
        before = len(self.slack.calls)
        user = SLACK_USERS[step.by]
        channel = SLACK_CHANNELS[step.place]
        source = self.messages[step.message] if step.message else None
        event: dict[str, Any] | None = None
        if step.how == "reaction" and source is not None:
            reaction = str(self.bot.config.intake.reaction)
            whose = "their own message" if step.by in CUSTOMER_PEOPLE else "it"
            self.out.step(step.at, f"{who(step.by)} adds :{reaction}: to {whose}.")
            await self.client.send_event(self._envelope(reaction_added_event(
                user=user, reaction=reaction, channel=channel, ts=source["ts"],
                event_ts=self._ts())))
        elif step.how == "intake_post":
            self.out.step(step.at, f"@{step.by} posts in {CHANNEL_NAMES[channel]}:"
                          f" “{step.text}”")
            event = self._envelope(message_event(channel=channel, user=user,
                                                 text=str(step.text), ts=self._ts()))
            await self.client.send_event(event)
        elif step.how == "command":
            self.out.step(step.at, f"@{step.by} types `/feedback {step.text}`")
            await self.client.send_command(slash_command(
                text=str(step.text), user_id=user, channel_id=channel))
        elif step.how == "shortcut" and source is not None:
            await self._shortcut(step, user, channel, source)
        elif step.how == "share" and source is not None:
            origin = self.message_channels[str(step.message)]
            self.out.step(step.at, f"@{step.by} uses Slack's *Forward message* to share a"
                          f" message from {CHANNEL_NAMES[origin]} into"
                          f" {CHANNEL_NAMES[channel]}, adding “{step.text}”.")
            if step.aside:
                self.out.detail(step.aside[0].upper() + step.aside[1:] + " (`<!channel>`).")
            await self.client.send_event(self._envelope(forwarded_message_event(
                channel=channel, user=user, text=str(step.text or ""),
                original_text=source["text"], original_author=source["user"],
                original_ts=source["ts"], original_channel=origin, ts=self._ts())))
        else:
            raise ValueError(f"the Slack stage cannot forward {step!r}")
        if not await self.show_routing(before) and step.aside:
            self.out.detail(f"→ ignored: {step.aside}.")
        if step.delivered_twice and event is not None:
            await self._redeliver(event)

    async def _redeliver(self, event: dict[str, Any]) -> None:
        again = len(self.slack.calls)
        await self.client.send_event(event, retry_num=1, retry_reason="http_timeout")
        await self.settle()
        new = [call.method for call in self.slack.calls[again:] if call.ok]
        self.out.detail("Slack re-delivers the same event (X-Slack-Retry-Num: 1) → "
                        + ("nothing new." if not new else f"it called {', '.join(new)}!"))

    async def _shortcut(self, step: Forward, user: str, channel: str,
                        source: dict[str, Any]) -> None:
        self.out.step(step.at, f"@{step.by} uses *Forward to feedback* on a message in"
                      f" {CHANNEL_NAMES[channel]}.")
        await self.client.send_interaction(message_shortcut(
            callback_id="forward_feedback", user_id=user, channel_id=channel,
            message=source))
        view = await self._next_view()
        team, customer = _initial(view, "team"), _initial(view, "customer")
        self.out.detail(f"→ a form opens with the text prefilled, team “{team}” suggested,"
                        f" customer “{customer}”.")
        severity = step.severity or "normal"
        self.out.detail(f"@{step.by} sets severity to {severity}"
                        + (f", notes “{step.note}”" if step.note else "") + " and submits.")
        await self.client.send_interaction(view_submission(
            user_id=user, callback_id=view["callback_id"],
            private_metadata=view["private_metadata"], values={
                "text": {"value": {"type": "plain_text_input", "value": source["text"]}},
                "team": {"value": {"type": "static_select",
                                   "selected_option": {"value": team}}},
                "customer": {"value": {"type": "plain_text_input", "value": customer}},
                "severity": {"value": {"type": "static_select",
                                       "selected_option": {"value": severity}}},
                "note": {"value": {"type": "plain_text_input", "value": step.note or ""}},
            }))

    async def respond(self, step: Respond) -> None:
        before = len(self.slack.calls)
        user = SLACK_USERS[step.by]
        item = self._item(step.item)
        if step.how == "plus_one":
            await self._plus_one(step, user, item)
            await self.show_updates(before)
            return
        role = f" ({STAFF[step.by]})" if step.by in STAFF else ""
        aside = f": {step.aside}" if step.aside else ""
        if step.how == "acknowledge":
            self.out.step(step.at, f"@{step.by} clicks *Acknowledge* on feedback #{item.id}.")
            await self._click(user, "acknowledge", item)
        elif step.how == "reply":
            self.out.step(step.at, f"@{step.by} replies in the thread of feedback"
                          f" #{item.id}'s card: “{step.text}”")
            await self.client.send_event(self._envelope(message_event(
                channel=str(item.card_channel), user=user, text=str(step.text),
                thread_ts=item.card_ts, ts=self._ts())))
        elif step.how == "react":
            reaction = self.bot.config.acknowledge.reactions[0]
            self.out.step(step.at, f"@{step.by} adds :{reaction}: to the card for"
                          f" feedback #{item.id}.")
            await self.client.send_event(self._envelope(reaction_added_event(
                user=user, reaction=reaction, channel=str(item.card_channel),
                ts=str(item.card_ts), event_ts=self._ts())))
        elif step.how == "resolve":
            if step.text:
                self.out.step(step.at, f"@{step.by} resolves feedback #{item.id}:"
                              f" “{step.text}”.")
            else:
                self.out.step(step.at, f"@{step.by}{role} clicks *Resolve* on feedback"
                              f" #{item.id}{aside}.")
            await self._click(user, "resolve", item, values={"note": {"value": {
                "type": "plain_text_input", "value": step.text or ""}}})
        elif step.how == "reassign":
            self.out.step(step.at, f"@{step.by}{role} reassigns feedback #{item.id} to"
                          f" {step.team}{aside}.")
            await self._click(user, "reassign", item, values={"team": {"value": {
                "type": "static_select", "selected_option": {"value": step.team}}}})
        elif step.how == "source_reply":
            channel = str(item.source_channel)
            self.out.step(step.at, f"@{step.by} answers in the thread of the customer's"
                          f" message in {CHANNEL_NAMES.get(channel, channel)}{aside}:"
                          f" “{step.text}”")
            await self.client.send_event(self._envelope(message_event(
                channel=channel, user=user, text=str(step.text), thread_ts=item.source_ts,
                ts=self._ts())))
            await self.settle()
            self._say_heard_back(item)
        elif step.how == "told_customer":
            notice_channel, notice_ts = offering_notices(self.bot.store, item)[-1]
            self.out.step(step.at, f"@{step.by} clicks *Told the customer* on the notice"
                          f" about feedback #{item.id}{aside}.")
            await self.client.send_interaction(block_actions(
                user_id=user, action_id=TOLD_CUSTOMER_ACTION, value=str(item.id),
                channel_id=notice_channel, message_ts=notice_ts))
        await self.show_updates(before)

    def _say_heard_back(self, item: Item) -> None:
        """Narrate that the bot recorded the closed loop, which no message shows."""
        latest = self._item(item.id)
        if latest.customer_answered_at is not None:
            self.out.detail(f"→ recorded: the customer of feedback #{item.id} heard back"
                            f" ({latest.customer_answered_how})")

    def _item(self, number: int) -> Item:
        items = {item.id: item for item in self.bot.store.list_items()}
        return items[number]

    async def _plus_one(self, step: Respond, user: str, item: Item) -> None:
        """Click "+1" on the offer the bot made for `item`."""
        offer, button = next(
            (call, element) for call in self.slack.calls
            if call.method == "chat.postMessage" and call.ok
            for block in call.args.get("blocks") or [] if block.get("type") == "actions"
            for element in block["elements"]
            if element.get("action_id") == "fb_plus_one"
            and str(element.get("value", "")).startswith(f"{item.id}:"))
        self.out.step(step.at, f"@{step.by} clicks *{_plain(button['text']['text'])}* on the"
                      f" offer for feedback #{item.id}.")
        await self.client.send_interaction(block_actions(
            user_id=user, action_id="fb_plus_one", value=str(button["value"]),
            channel_id=str(offer.args["channel"]), message_ts=str((offer.response or {})["ts"])))
        await self.settle()

    async def _click(self, user: str, button: str, item: Item,
                     values: dict[str, Any] | None = None) -> None:
        """Click a card button; fill in and submit the form it opens, if it opens one."""
        await self.client.send_interaction(block_actions(
            user_id=user, action_id=CARD_BUTTONS[button], value=str(item.id),
            channel_id=item.card_channel, message_ts=item.card_ts))
        await self.settle()
        if values is None or self._opened_views() == self.views_opened:
            return
        view = await self._next_view()
        await self.client.send_interaction(view_submission(
            user_id=user, callback_id=view["callback_id"],
            private_metadata=view["private_metadata"], values=values))

    async def digest(self, step: Digest) -> None:
        """End the day with the per-team table and the managers' digest."""
        before = len(self.slack.calls)
        day = end_the_day(self.bot.runtime, now=self.clock.now(), out=self.out, step=step)
        await self.settle()
        for call in self.slack.calls[before:]:
            if call.method == "chat.postMessage" and call.ok:
                channel = str(call.args.get("channel"))
                self.out.detail(f"→ digest posted in {CHANNEL_NAMES.get(channel, channel)}")
            elif call.method == "files.completeUploadExternal" and call.ok:
                self.out.detail("→ the 14-day trend chart is uploaded into its thread")
        print_the_digest(self.bot.runtime, day, now=self.clock.now(), out=self.out)

    # ---- what the bot did, in words -----------------------------------------------------

    async def show_routing(self, before: int) -> int:
        """Print the cards and confirmations posted since call `before`; return how many."""
        await self.settle()
        shown = 0
        for call in self.slack.calls[before:]:
            if call.method != "chat.postMessage" or not call.ok:
                continue
            shown += 1
            channel = str(call.args.get("channel"))
            if channel in TEAM_CHANNELS:
                mentions = sorted(set(_mentions(call.args.get("blocks"))))
                self.out.detail(f"→ card in {CHANNEL_NAMES[channel]} for "
                                f"{', '.join(_name(user) for user in mentions) or 'the team'}")
                if "&lt;!channel&gt;" in str(call.args.get("blocks")):
                    self.out.detail("  (its text shows `<!channel>` escaped: nobody is pinged)")
            elif channel == "C0INTAKE":
                self.out.detail("→ confirmation in the intake thread: "
                                f"{_plain(call.args.get('text'))}")
            else:
                self.out.detail(f"→ DM to {_name(channel)}: {_plain(call.args.get('text'))}")
        return shown

    async def show_updates(self, before: int) -> None:
        """Print what the bot did since call number `before`, in words."""
        await self.settle()
        for call in self.slack.calls[before:]:
            if not call.ok:
                continue
            channel = str(call.args.get("channel", ""))
            if call.method == "chat.update" and channel == "C0INTAKE":
                text = _plain(call.args.get("text")).replace("\n", " ")
                self.out.detail(f"→ in the intake thread, the offer now says: {text}")
            elif call.method == "chat.update" and channel in CHANNEL_NAMES:
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
                if channel in TEAM_CHANNELS:
                    self.out.detail(f"→ new card in {CHANNEL_NAMES[channel]}")
                elif channel == "C0INTAKE":
                    self.out.detail(f"→ in the intake thread: {text}")
                else:
                    self.out.detail(f"→ DM to {_name(channel)}: {text}")


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
    loaded = load_config(DEMO_CONFIG)
    if loaded.config is None:
        for problem in loaded.problems:
            write(str(problem))
        return 1
    config = with_weekly_themes(loaded.config)
    temp = None
    if db_path is None:
        temp = tempfile.TemporaryDirectory(prefix="feedbackbot-demo-")
        db_path = str(Path(temp.name) / "demo.db")
    # The story starts at nine; its clock moves only from step to step.
    clock = SimulatedClock(at("09:00"))
    write("feedbackbot demo: a half-day of customer feedback in a local stand-in for Slack")
    write("(no network, no Slack account; every request is signed and sent over HTTP;"
          " the story runs on a simulated clock)")
    async with FakeSlack(team_id="T0DEMO", team_name="Demo Co", clock=clock.timestamp) as slack:
        seed_workspace(slack)
        settings = Settings(bot_token="xoxb-demo", signing_secret=SIGNING_SECRET,
                            api_url=slack.api_url, database_url=f"sqlite:///{db_path}")
        bot = create_app(settings, config=config, clock=clock.now)
        runner = await serve(bot, signing_secret=SIGNING_SECRET, host="127.0.0.1", port=0,
                             scheduler=False)
        await bot.wait_ready()
        client = SignedSlackClient(base_url(runner), SIGNING_SECRET)
        try:
            await play(SCRIPT, stage=SlackStage(slack, client, bot, clock, Transcript(write)),
                       clock=clock)
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
