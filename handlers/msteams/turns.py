"""What each Teams activity does: install events, messages, card clicks, the message action."""

from __future__ import annotations

import logging
from typing import Any

from microsoft_agents.activity import Activity
from microsoft_agents.hosting.core import TurnContext

from bot.intake import IntakeRejected
from bot.store import Conversation
from handlers.msteams import chat_answers, install, message_action
from handlers.msteams.card_invokes import card_action, thread_reply
from handlers.msteams.forward import (
    candidate_choices,
    confirmation,
    forward_direct,
    forward_mention,
    forward_message_action,
    intake_channels,
    mention_text,
    mentions_bot,
)
from handlers.msteams.people import People, Sender
from handlers.msteams.services import (
    TeamsServices,
    channel_of,
    conversation_type,
    team_of,
    teams_markdown,
    tenant_of,
)
from handlers.msteams.told_customer import source_thread_reply
from handlers.msteams.words import rejection_text

log = logging.getLogger(__name__)

NO_MESSAGE = ("Use **Send to developers** on a message: I couldn't read which message"
              " to forward.")
STAFF_ONLY = "Only members of this organisation can forward feedback."


class Turns:
    """Turns one activity into core calls; returns an invoke's answer body, else None."""

    def __init__(self, *, services: TeamsServices, people: People) -> None:
        self.services = services
        self.people = people

    async def on_turn(self, context: TurnContext, activity: dict[str, Any]) -> Any:
        """Handle one activity (already stored); raises when it should be tried again."""
        kind = activity.get("type")
        bot_id = (activity.get("recipient") or {}).get("id")
        if (activity.get("from") or {}).get("id") == bot_id:
            return None  # the bot's own message, echoed back
        if kind in ("conversationUpdate", "installationUpdate"):
            sender = None
            if conversation_type(activity) == "personal":
                sender = await self.people.sender(context, activity)
            await install.learn(self.services, context, activity, sender)
            return None
        if kind == "message":
            await self._message(context, activity)
            return None
        if kind == "invoke":
            return await self._invoke(context, activity)
        return None

    def _remember_channel(self, activity: dict[str, Any]) -> None:
        """Keep the serviceUrl of a channel the bot hears from but never saw installed."""
        channel = channel_of(activity)
        if not channel:
            return
        book = self.services.conversations
        known = book.find(channel)
        if known is not None and known.removed_at is None:
            return
        book.remember(Conversation(
            platform="msteams", conversation_id=channel,
            workspace=self.services.workspace_for(activity), kind="channel",
            service_url=str(activity["serviceUrl"]),
            reference=install._reference(activity, channel), tenant=tenant_of(activity),
            team_id=team_of(activity)))

    async def _invoke(self, context: TurnContext, activity: dict[str, Any]) -> Any:
        name = activity.get("name")
        if name == "adaptiveCard/action":
            sender = await self.people.sender(context, activity)
            return await card_action(self.services, activity, sender)
        if name in ("composeExtension/fetchTask", "composeExtension/submitAction"):
            if message_action.command_id(activity.get("value")) != message_action.COMMAND_ID:
                return message_action.task_message("That command is not one of this bot's.")
            sender = await self.people.sender(context, activity)
            if not sender.internal:
                return message_action.task_message(STAFF_ONLY)
            message = message_action.read_message(activity.get("value"))
            if message is None:
                return message_action.task_message(NO_MESSAGE)
            if name == "composeExtension/fetchTask":
                route, customer = self.services.intake.suggest(
                    text=message.text, channel=channel_of(activity),
                    workspace=self.services.workspace_for(activity))
                return message_action.forward_form(
                    self.services.config_for(activity), team=route.team, customer=customer,
                    message=message,
                    choices=candidate_choices(self.services, activity, text=message.text,
                                              team=route.team))
            try:
                result = await forward_message_action(self.services, activity, sender, message)
            except IntakeRejected as rejected:
                return message_action.task_message(rejection_text(rejected))
            return message_action.task_message(teams_markdown(confirmation(result)))
        log.info("ignored a Teams invoke %r", str(name)[:60])
        return None

    async def _message(self, context: TurnContext, activity: dict[str, Any]) -> None:
        kind = conversation_type(activity)
        if kind == "personal":
            await self._direct(context, activity)
            return
        if kind != "channel":
            return  # group chats: the message action works there; messages are chat
        self._remember_channel(activity)
        channel = channel_of(activity)
        is_reply = ";messageid=" in str(activity["conversation"]["id"]) and \
            str(activity["conversation"]["id"]).split(";messageid=")[1] != activity.get("id")
        if mentions_bot(activity) and channel in intake_channels(self.services, activity) \
                and not is_reply:
            sender = await self.people.sender(context, activity)
            if not sender.internal:
                return  # a guest's post forwards nothing, and gets no answer
            try:
                await forward_mention(self.services, activity, sender)
            except IntakeRejected as rejected:
                await context.send_activity(Activity(type="message",
                                                     text=rejection_text(rejected)))
            return
        if is_reply:
            sender = await self.people.sender(context, activity)
            replied = await thread_reply(self.services, activity, sender, mention_text(activity))
            if replied.item is None:  # no card's thread: perhaps a customer's post's
                await source_thread_reply(self.services, activity, sender)

    async def _direct(self, context: TurnContext, activity: dict[str, Any]) -> None:
        sender = await self.people.sender(context, activity)
        if not sender.internal:
            log.info("ignored a 1:1 message from someone outside the organisation")
            return  # no reply at all, no item
        text = str(activity.get("text") or "").strip()
        command = chat_answers.command_of(text, self.services.config_for(activity))
        if command is not None:
            answer = await self._command(command, text, sender, activity)
            await context.send_activity(Activity(type="message", text_format="markdown",
                                                 text=answer))
            return
        try:
            result = await forward_direct(self.services, activity, sender)
        except IntakeRejected as rejected:
            await context.send_activity(Activity(type="message",
                                                 text=rejection_text(rejected)))
            return
        if not result.created:
            await context.send_activity(Activity(type="message",
                                                 text=teams_markdown(confirmation(result))))

    async def _command(self, command: str, text: str, sender: Sender,
                       activity: dict[str, Any]) -> str:
        """The answer to `help`, `stats …` or `mine` (the same figures as on Slack)."""
        workspace = self.services.workspace_for(activity)
        if command == "help":
            return chat_answers.HELP
        if command == "mine":
            return await chat_answers.mine_text(views=self.services.views,
                                                workspace=workspace, user=sender.key)
        return await chat_answers.stats_text(views=self.services.views,
                                             config=self.services.config_for(activity),
                                             workspace=workspace, text=text)
