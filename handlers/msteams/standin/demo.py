"""`feedbackbot demo --platform msteams`: the neutral script, acted out on a Teams stand-in.

Everything runs in this process on loopback: a fake Bot Connector (the Teams service the
bot sends to), the real bot (the runtime with Teams attached, anonymous mode) serving
/api/messages, and a stage that turns each step of `bot.demo.script` into the activities
Teams would post. The whole organisation is on Teams; the script's Slack-only ways in
are played with their Teams counterparts (see `TeamsStage.forward`). The bot, the
activities' timestamps and the forwarded messages' times follow the simulated clock.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from bot.config import load_config
from bot.demo.clock import SimulatedClock
from bot.demo.history import with_weekly_themes
from bot.demo.play import play
from bot.demo.report import end_the_day, print_the_digest
from bot.demo.script import CUSTOMER_PEOPLE, SCRIPT, Digest, Forward, Respond, Says, at
from bot.demo.transcript import Transcript, who
from bot.models import Item
from bot.runtime import Runtime
from bot.settings import Settings
from handlers.msteams.adapter import TeamsAdapter
from handlers.msteams.connector_fake import TENANT_ID, FakeConnector
from handlers.msteams.standin.activities import TeamsSender, new_id
from handlers.msteams.standin.narrate import describe, describe_answer, form_fields
from handlers.msteams.standin.org import (
    BOT_ID,
    BOT_NAME,
    CHANNEL_IDS,
    CHANNELS,
    CUSTOMERS,
    DEMO_CONFIG,
    ENGINEERING,
    INTAKE,
    PEOPLE,
    TEAM_OF_CHANNEL,
    seed_organisation,
)
from handlers.msteams.told_customer import VERB_TOLD_CUSTOMER
from storage import open_store

# The customer each shared channel belongs to: support names it in the forwarding form.
CUSTOMER_OF_PLACE = {"shared-acme": "Acme", "shared-globex": "Globex"}


class TeamsStage:
    """Acts the script's steps out as Teams activities, against the real bot."""

    def __init__(self, *, connector: FakeConnector, session: aiohttp.ClientSession,
                 url: str, runtime: Runtime, adapter: TeamsAdapter, clock: SimulatedClock,
                 transcript: Transcript) -> None:
        self.connector = connector
        self.session = session
        self.url = url
        self.runtime = runtime
        self.adapter = adapter
        self.clock = clock
        self.out = transcript
        self.senders = {team: TeamsSender(service_url=connector.url, tenant=TENANT_ID,
                                          bot_id=BOT_ID, bot_name=BOT_NAME, team_id=team,
                                          clock=clock.now)
                        for team in (ENGINEERING, CUSTOMERS)}
        self.messages: dict[str, tuple[Says, str]] = {}  # key -> (step, Teams message id)

    def _sender(self, channel: str) -> TeamsSender:
        return self.senders[TEAM_OF_CHANNEL[channel]]

    async def post(self, activity: dict[str, Any]) -> Any:
        """POST an activity to /api/messages as Teams does; the bot's answer body (or None)."""
        async with self.session.post(self.url + "/api/messages", json=activity) as response:
            if response.status >= 300 and response.status != 202:
                raise RuntimeError(f"/api/messages answered {response.status}")
            try:
                return await response.json(content_type=None)
            except ValueError:
                return None

    async def settle(self) -> None:
        """Wait until the bot has finished every activity and sent what it had to."""
        store = self.runtime.store
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            await self.adapter.inbound.drain()
            if not (store.inbox_pending() or store.outbox_due(now=self.clock.now())):
                return
            self.runtime.outbox.wake()
            await asyncio.sleep(0.02)
        raise TimeoutError("the bot did not settle within 10 s")

    async def narrate(self, before: int, answer: Any = None, clicker: str = "") -> int:
        """Print what the bot did since connector call `before`; return how many lines."""
        lines = [describe_answer(answer, clicker)] if answer is not None else []
        await self.settle()
        lines += [describe(call) for call in self.connector.calls[before:]]
        shown = [line for line in lines if line]
        for line in shown:
            self.out.detail(line)
        return len(shown)

    def _item(self, number: int) -> Item:
        return {item.id: item for item in self.runtime.store.list_items()}[number]

    async def _plus_one(self, step: Respond, person: Any, item: Item) -> Any:
        """Click "+1" on the offer card the bot sent for `item`; return the invoke answer."""
        action = next(
            action for call in self.connector.calls
            if call.operation == "send_to_conversation" and isinstance(call.body, dict)
            for attachment in call.body.get("attachments") or []
            for action in (attachment.get("content") or {}).get("actions") or []
            if action.get("verb") == "plusOne"
            and (action.get("data") or {}).get("item") == item.id)
        self.out.step(step.at, f"@{step.by} clicks *{action['title']}* on the offer for"
                      f" feedback #{item.id}.")
        return await self.post(self._sender(INTAKE).card_click(
            "plusOne", item.id, channel=INTAKE, card_message=new_id(), sender=person,
            match=action["data"]["match"]))

    # ---- the steps ----------------------------------------------------------------------

    async def says(self, step: Says) -> None:
        # A message in a channel the bot is not in: Teams tells the bot nothing of it.
        self.messages[step.key] = (step, new_id())
        where = CHANNELS[CHANNEL_IDS[step.place]] + (f" ({step.aside})" if step.aside else "")
        self.out.step(step.at, f"In {where}, {who(step.by)} writes: “{step.text}”")

    async def forward(self, step: Forward) -> None:
        """Slack's ways in, on Teams: a reaction or a shared message becomes the message
        action (*Send to developers*), the slash command a 1:1 message to the bot."""
        before = len(self.connector.calls)
        person = PEOPLE[step.by]
        if step.how in ("reaction", "shortcut", "share") and step.message:
            answer = await self._message_action(step)
        elif step.how == "intake_post":
            self.out.step(step.at, f"@{step.by} posts in {CHANNELS[INTAKE]}, @mentioning"
                          f" @{BOT_NAME}: “{step.text}”")
            activity = self._sender(INTAKE).channel_post(str(step.text), channel=INTAKE,
                                                         sender=person)
            answer = await self.post(activity)
        elif step.how == "command":
            self.out.step(step.at, f"@{step.by} writes to @{BOT_NAME} in a 1:1 chat:"
                          f" “{step.text}” (Slack's `/feedback …` command)")
            answer = await self.post(self._sender(ENGINEERING).personal(str(step.text),
                                                                         sender=person))
        else:
            raise ValueError(f"the Teams stage cannot forward {step!r}")
        if not await self.narrate(before, answer, step.by) and step.aside:
            self.out.detail(f"→ ignored: {step.aside}.")
        if step.delivered_twice and step.how == "intake_post":
            again = len(self.connector.calls)
            await self.post(activity)
            await self.settle()
            new = [call.operation for call in self.connector.calls[again:]]
            self.out.detail("Teams re-sends the same activity (same id), as it does when a"
                            " bot answers slowly → "
                            + ("nothing new." if not new else f"it called {', '.join(new)}!"))

    async def _message_action(self, step: Forward) -> Any:
        said, message_id = self.messages[str(step.message)]
        channel = CHANNEL_IDS[said.place]
        sender = self._sender(channel)

        def action(name: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
            return sender.message_action(name, html=f"<p>{said.text}</p>", channel=channel,
                                         sender=PEOPLE[step.by], author=PEOPLE[said.by],
                                         created=said.at, message_id=message_id, data=data)

        instead = {"reaction": " (Slack's :inbox_tray: reaction)",
                   "share": " (Slack's *Forward message* into the intake channel)"}
        whose = "their own message" if step.by in CUSTOMER_PEOPLE else \
            f"“{said.text}” in {CHANNELS[channel]}"
        self.out.step(step.at, f"{who(step.by)} uses *Send to developers* on {whose}"
                      + instead.get(step.how, "") + ".")
        opened = await self.post(action("composeExtension/fetchTask"))
        if not (isinstance(opened, dict) and opened["task"]["type"] == "continue"):
            return opened
        fields = form_fields(opened)
        suggested = fields.get("customer")
        customer = suggested or CUSTOMER_OF_PLACE.get(said.place, "")
        fields.update(customer=customer, severity=step.severity or fields.get("severity")
                      or "normal", note=step.note or step.text or "")
        self.out.detail(f"→ a form opens: team “{fields['team']}”"
                        + (f" and customer “{customer}” suggested; @{step.by} sets"
                           if suggested else
                           f" suggested; @{step.by} sets customer “{customer}”,")
                        + f" severity {fields['severity']}"
                        + (f", note “{fields['note']}”" if fields["note"] else "")
                        + " and sends.")
        return await self.post(action("composeExtension/submitAction", data=dict(fields)))

    async def respond(self, step: Respond) -> None:
        before = len(self.connector.calls)
        person = PEOPLE[step.by]
        item = self._item(step.item)
        if step.how == "plus_one":
            await self.narrate(before, await self._plus_one(step, person, item), step.by)
            return
        channel, card = str(item.card_channel), str(item.card_ts)
        sender = self._sender(channel)
        aside = f": {step.aside}" if step.aside else ""

        async def click(verb: str, **inputs: Any) -> Any:
            return await self.post(sender.card_click(verb, item.id, channel=channel,
                                                     card_message=card, sender=person,
                                                     **inputs))

        if step.how in ("acknowledge", "react"):
            instead = " (Slack's :eyes: on the card)" if step.how == "react" else ""
            self.out.step(step.at, f"@{step.by} clicks *Acknowledge* on the card for"
                          f" feedback #{item.id}{instead}.")
            answer = await click("acknowledge")
        elif step.how == "reply":
            self.out.step(step.at, f"@{step.by} replies in the thread of feedback"
                          f" #{item.id}'s card: “{step.text}”")
            answer = await self.post(sender.channel_post(
                f"<p>{step.text}</p>", channel=channel, sender=person, mention=False,
                root=card))
        elif step.how == "resolve":
            note = f" with the note “{step.text}”" if step.text else ""
            self.out.step(step.at, f"{who(step.by)} clicks *Resolve* on feedback"
                          f" #{item.id}{note}{aside}.")
            answer = await click("resolve", note=step.text or "")
        elif step.how in ("source_reply", "told_customer"):
            if step.how == "source_reply":
                # The bot is in no customer channel here: Teams never shows it the reply.
                self.out.step(step.at, f"{who(step.by)} answers the customer in their own"
                              " thread. The bot is in no customer channel on Teams, so it"
                              f" can't see that: @{step.by} clicks *Told the customer* on the"
                              f" notice about feedback #{item.id}.")
            else:
                self.out.step(step.at, f"{who(step.by)} clicks *Told the customer* on the"
                              f" notice about feedback #{item.id}{aside}.")
            answer = await click(VERB_TOLD_CUSTOMER)
        else:
            self.out.step(step.at, f"{who(step.by)} picks {step.team} and clicks *Reassign*"
                          f" on feedback #{item.id}{aside}.")
            answer = await click("reassign", team=step.team)
        await self.narrate(before, answer, step.by)

    async def digest(self, step: Digest) -> None:
        """End the day with the per-team table and the managers' digest card."""
        before = len(self.connector.calls)
        day = end_the_day(self.runtime, now=self.clock.now(), out=self.out, step=step)
        await self.narrate(before)
        print_the_digest(self.runtime, day, now=self.clock.now(), out=self.out)


async def _install(stage: TeamsStage) -> None:
    """The app is added to the Engineering team, and by support in their 1:1 chats."""
    lena = PEOPLE["lena"]
    stage.out.write("\nBefore nine: @lena adds the app to the Engineering team; Teams tells"
                    " the bot (conversationUpdate in #General), which learns its channels.")
    await stage.post(stage.senders[ENGINEERING].bot_added_to_team(sender=lena,
                                                                 team_name="Engineering"))
    for name in ("sam", "priya"):
        sender = stage.senders[ENGINEERING]
        chat = sender.personal("", sender=PEOPLE[name])
        await stage.post({**chat, "type": "installationUpdate", "action": "add",
                          "text": None})
    stage.out.write("@sam and @priya (support) add the app for themselves (installationUpdate"
                    " in their 1:1 chats).")
    await stage.settle()


async def run_demo(*, db_path: str | None, write: Callable[[str], None] = print) -> int:
    """Run the Teams demo; keep its database at `db_path` when given. Returns an exit code."""
    from handlers.msteams.plugin import PLATFORM

    logging.getLogger().setLevel(logging.WARNING)
    # The SDK logs every connector call, and warns about anonymous mode, which the
    # demo's header states instead.
    for name in ("microsoft_agents", "handlers.msteams.auth"):
        logging.getLogger(name).setLevel(logging.ERROR)
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
    clock = SimulatedClock(at("08:55"))
    write("feedbackbot demo on Microsoft Teams: a half-day of customer feedback in a local"
          " stand-in for Teams")
    write("(no network, no Microsoft account: a fake Bot Connector stands in for Teams; every"
          " activity is posted to /api/messages over HTTP as Teams posts it, to the bot in"
          " anonymous mode, for local use only; the story runs on a simulated clock)")
    write("The whole organisation is on Teams. Slack's ways in become Teams' own: a reaction"
          " or a shared message becomes the *Send to developers* message action, the"
          " `/feedback` command a 1:1 message to the bot, an emoji on a card the card's"
          " *Acknowledge* button.")
    runtime = Runtime(config=config, store=open_store(f"sqlite:///{db_path}"),
                      clock=clock.now)
    adapter = PLATFORM.attach(runtime, Settings(teams_anonymous=True))
    assert isinstance(adapter, TeamsAdapter)
    runner = web.AppRunner(runtime.web_app(), access_log=None)
    try:
        async with FakeConnector() as connector, aiohttp.ClientSession() as session:
            seed_organisation(connector)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            await runtime.start(outbox=True, scheduler=False)
            stage = TeamsStage(connector=connector, session=session,
                               url=f"http://127.0.0.1:{port}", runtime=runtime,
                               adapter=adapter, clock=clock, transcript=Transcript(write))
            await _install(stage)
            await play(SCRIPT, stage=stage, clock=clock)
    finally:
        await runner.cleanup()
        await runtime.stop()
    if temp is not None:
        temp.cleanup()
    else:
        write(f"\nThe database is kept at {db_path}; try `feedbackbot export`"
              f" with DATABASE_URL=sqlite:///{db_path}")
    return 0


