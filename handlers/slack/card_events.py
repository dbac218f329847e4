"""Responses on routed cards that arrive as events: ack emoji, thread replies, edits.

These listeners are registered before the intake listeners and match only events
about cards, because Bolt runs just the first listener that matches.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.lifecycle import Lifecycle
from handlers.slack.context import workspace_from_body
from handlers.slack.deps import Deps, SlackCall, tracked
from handlers.slack.messages import file_names
from handlers.slack.mrkdwn import mentioned_users, slack_to_plain

log = logging.getLogger(__name__)

# A reply "marked for support" starts with a quote; Slack sends ">" escaped.
_MARKS = ("&gt; ", "> ", "&gt;", ">")


def _team_channels(deps: Deps, body: dict[str, Any]) -> set[str]:
    teams = deps.config_for(workspace_from_body(body)).teams
    return {team.channel for team in teams.values() if team.channel is not None}


def _event(body: dict[str, Any]) -> dict[str, Any]:
    event = body.get("event")
    return event if isinstance(event, dict) else {}


def is_card_reaction(deps: Deps, body: dict[str, Any]) -> bool:
    """An ack emoji added to a message in a team channel."""
    event = _event(body)
    item = event.get("item") or {}
    return (event.get("type") == "reaction_added"
            and event.get("reaction")
            in deps.config_for(workspace_from_body(body)).acknowledge.reactions
            and item.get("channel") in _team_channels(deps, body))


def is_card_thread_event(deps: Deps, body: dict[str, Any]) -> bool:
    """A reply, edit or deletion inside a thread in a team channel."""
    event = _event(body)
    if event.get("type") != "message" or event.get("channel") not in _team_channels(deps, body):
        return False
    subtype = event.get("subtype")
    if subtype in ("message_changed", "message_deleted"):
        previous = event.get("previous_message") or {}
        message = event.get("message") or {}
        thread = previous.get("thread_ts") or message.get("thread_ts")
        ts = previous.get("ts") or message.get("ts") or event.get("deleted_ts")
        return bool(thread and thread != ts)
    thread_ts = event.get("thread_ts")
    return bool(thread_ts and thread_ts != event.get("ts"))


def split_mark(text: str) -> tuple[str, bool]:
    """Return the reply without its "> " mark, and whether it was marked for support."""
    stripped = text.lstrip()
    for mark in _MARKS:
        if stripped.startswith(mark):
            return stripped[len(mark):], True
    return text, False


async def plain_reply(deps: Deps, workspace: str, text: str) -> str:
    """A reply's words with mentions turned into names, so relays ping nobody."""
    names = {user: await deps.port.display_name(workspace, user)
             for user in mentioned_users(text)}
    return slack_to_plain(text, names=names)


def _is_bot(deps: Deps, message: dict[str, Any]) -> bool:
    return bool(message.get("bot_id") or message.get("subtype") == "bot_message"
                or (deps.bot_user_id and message.get("user") == deps.bot_user_id))


def register(app: AsyncApp, deps: Deps, lifecycle: Lifecycle) -> None:
    """Add the card reaction and card thread listeners (before intake's)."""

    async def on_card_reaction(call: SlackCall) -> None:
        event = _event(call.body)
        user = str(event.get("user") or "")
        if not user or user == deps.bot_user_id:
            return  # the bot's own reactions never count
        item_ref = event.get("item") or {}
        await lifecycle.acknowledge_card(workspace=call.workspace,
                                         conversation=str(item_ref.get("channel")),
                                         message=str(item_ref.get("ts")), user=user,
                                         kind="reaction")

    async def on_card_thread(call: SlackCall) -> None:
        event = _event(call.body)
        channel = str(event.get("channel"))
        subtype = event.get("subtype")
        if subtype == "message_changed":
            message = event.get("message") or {}
            previous = event.get("previous_message")
            if _is_bot(deps, message):
                return
            if isinstance(previous, dict) and previous.get("text") == message.get("text"):
                return  # an unfurl, a pin or a reaction summary: the words did not change
            text, _ = split_mark(str(message.get("text") or ""))
            await lifecycle.reply_changed(
                workspace=call.workspace, card_channel=channel,
                thread_ts=str(message.get("thread_ts")), reply_ts=str(message.get("ts")),
                text=await plain_reply(deps, call.workspace, text))
            return
        if subtype == "message_deleted":
            previous = event.get("previous_message") or {}
            await lifecycle.reply_changed(
                workspace=call.workspace, card_channel=channel,
                thread_ts=str(previous.get("thread_ts")),
                reply_ts=str(previous.get("ts") or event.get("deleted_ts")), text=None)
            return
        if subtype not in (None, "file_share", "me_message", "thread_broadcast") or _is_bot(
                deps, event):
            return
        user = str(event.get("user") or "")
        if not user:
            return
        text, marked = split_mark(str(event.get("text") or ""))
        if not text.strip():
            # A screenshot or log file alone: say what was shared rather than nothing.
            text = "(shared files: " + (", ".join(file_names(event)) or "a file") + ")"
        await lifecycle.reply(
            workspace=call.workspace, card_channel=channel,
            thread_ts=str(event.get("thread_ts")), user=user,
            text=await plain_reply(deps, call.workspace, text),
            reply_ts=str(event.get("ts")), marked=marked)

    async def card_reaction(body: dict[str, Any]) -> bool:
        return is_card_reaction(deps, body)

    async def card_thread(body: dict[str, Any]) -> bool:
        return is_card_thread_event(deps, body)

    app.event("reaction_added", matchers=[card_reaction])(
        tracked(deps, on_card_reaction))
    app.event("message", matchers=[card_thread])(tracked(deps, on_card_thread))
