"""Learn where the bot was added or removed, so proactive sends work after a restart.

Teams tells the bot a conversation's serviceUrl only in activities from it; the install
activity of a team arrives in its General channel (whose id is the team id), so the
team's other channels are read from the connector's channel list.
"""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
from microsoft_agents.hosting.core import TurnContext

from bot.store import Conversation
from handlers.msteams.people import Sender, connector_of
from handlers.msteams.services import (
    TeamsServices,
    channel_data,
    conversation_type,
    team_of,
    tenant_of,
)

log = logging.getLogger(__name__)

PLATFORM = "msteams"
_TEAM_GONE = {"teamDeleted", "teamArchived", "teamHardDeleted"}


def _reference(activity: dict[str, Any], conversation_id: str) -> dict[str, Any]:
    """A ConversationReference (as Teams/the SDK spell it) for sending to `conversation_id`."""
    conversation = {**(activity.get("conversation") or {}), "id": conversation_id}
    reference: dict[str, Any] = {
        "bot": activity.get("recipient") or {},
        "conversation": conversation,
        "channelId": activity.get("channelId") or PLATFORM,
        "serviceUrl": activity.get("serviceUrl"),
        "locale": activity.get("locale"),
    }
    if conversation_type(activity) == "personal":
        reference["user"] = activity.get("from") or {}
    return {key: value for key, value in reference.items() if value is not None}


def _bot_among(members: Any, activity: dict[str, Any]) -> bool:
    bot_id = (activity.get("recipient") or {}).get("id")
    return isinstance(members, list) and any(
        isinstance(member, dict) and member.get("id") == bot_id for member in members)


def install_change(activity: dict[str, Any]) -> str | None:
    """"added", "removed", a channel event name, or None when nothing about the bot changed."""
    kind = activity.get("type")
    if kind == "installationUpdate":
        action = str(activity.get("action") or "")
        if action.startswith("add"):
            return "added"
        if action.startswith("remove"):
            return "removed"
        return None
    if kind != "conversationUpdate":
        return None
    event = channel_data(activity).get("eventType")
    if event in ("channelCreated", "channelRenamed", "channelRestored"):
        return "channel_added"
    if event == "channelDeleted":
        return "channel_removed"
    if event in _TEAM_GONE:
        return "removed"
    if _bot_among(activity.get("membersAdded"), activity):
        return "added"
    if _bot_among(activity.get("membersRemoved"), activity):
        return "removed"
    return None


async def learn(services: TeamsServices, context: TurnContext, activity: dict[str, Any],
                sender: Sender | None) -> str | None:
    """Save or remove the conversations an install activity is about; returns the change."""
    change = install_change(activity)
    if change is None:
        return None
    book = services.conversations
    workspace = services.workspace_for(activity)
    team = team_of(activity)
    kind = conversation_type(activity)
    conversation_id = str(activity["conversation"]["id"]).split(";")[0]

    def save(conversation: str, conversation_kind: str, user: str | None = None) -> None:
        book.remember(Conversation(
            platform=PLATFORM, conversation_id=conversation, workspace=workspace,
            kind=conversation_kind, service_url=str(activity["serviceUrl"]),
            reference=_reference(activity, conversation), tenant=tenant_of(activity),
            team_id=team, user=user))

    if change == "channel_added":
        channel = channel_data(activity).get("channel") or {}
        if channel.get("id"):
            save(str(channel["id"]), "channel")
        return change
    if change == "channel_removed":
        channel = channel_data(activity).get("channel") or {}
        if channel.get("id"):
            book.forget(str(channel["id"]))
        return change
    if change == "removed":
        if kind == "channel" and team:
            for known in book.current(kind="channel"):
                if known.team_id == team:
                    book.forget(known.conversation_id)
        book.forget(team or conversation_id)
        log.info("Teams: removed from %s %s", kind, team or conversation_id)
        return change
    if kind == "channel" and team:
        save(team, "channel")  # the General channel's id is the team id
        for channel_id in await _team_channels(context, team):
            save(channel_id, "channel")
    elif kind == "personal":
        save(conversation_id, "personal", user=sender.key if sender else None)
    else:
        save(conversation_id, kind)
    log.info("Teams: added to %s %s", kind, team or conversation_id)
    return change


async def _team_channels(context: TurnContext, team: str) -> list[str]:
    """The team's channel ids from the connector, or [] when it can't be read now."""
    connector = connector_of(context)
    fetch = getattr(connector, "fetch_channel_list", None)
    if fetch is None:
        return []
    try:
        channels = await fetch(team)
    except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as error:
        # The General channel is saved; other channels are learnt when they speak.
        log.warning("Teams: could not read the channels of team %s (%s)", team,
                    type(error).__name__)
        return []
    return [channel.id for channel in channels if getattr(channel, "id", None)]
