"""Forwarding on Teams, three ways: the message action, an @mention in an intake channel, a 1:1.

Each gives at most one item: per original message (channel, message id), and per
activity id for redeliveries. Only internal users forward; the core decides that from
the sender lookup of the turn.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, cast

from bot.intake import IntakeRejected, IntakeResult
from bot.models import IntakeKind, IntakeRequest, SourceMessage, parse_iso
from bot.ports import ChatPort
from handlers.msteams.html_text import html_to_text
from handlers.msteams.message_action import (
    LINK_PREFIX,
    NEW_CHOICE,
    SAME_INPUT,
    ForwardedMessage,
    form_data,
)
from handlers.msteams.people import Sender
from handlers.msteams.services import TeamsServices, channel_of, thread_root
from handlers.msteams.text import clean

log = logging.getLogger(__name__)

PLATFORM = "msteams"


class _TurnLookup:
    """Answers the core's "is this person internal?" from the turn's member lookup."""

    def __init__(self, sender: Sender) -> None:
        self.sender = sender

    async def is_internal_user(self, *, workspace: str, user: str) -> bool:
        return user == self.sender.key and self.sender.internal


def intake_channels(services: TeamsServices,
                    activity: dict[str, Any] | None = None) -> list[str]:
    """The configured Teams intake channels (`intake.msteams_channels`) of the
    activity's workspace (the top level's without one)."""
    config = services.config if activity is None else services.config_for(activity)
    return list(config.intake.msteams_channels)


def sent_at(activity: dict[str, Any], fallback: datetime) -> datetime:
    """When the activity's message was written (its timestamp), else `fallback`."""
    try:
        return parse_iso(activity.get("timestamp")) or fallback
    except (TypeError, ValueError):
        return fallback


async def _forward(services: TeamsServices, request: IntakeRequest,
                   sender: Sender) -> IntakeResult:
    # Only `is_internal_user` is asked of the port while forwarding.
    port = cast(ChatPort, _TurnLookup(sender))
    return await services.intake.forward(request, port=port)


# Candidates scoring below this say too little in common to be worth listing.
CANDIDATE_FLOOR = 0.2


def candidate_choices(services: TeamsServices, activity: dict[str, Any], *, text: str,
                      team: str) -> list[tuple[int, str]]:
    """Items the message may be a +1 of, as (id, "Same as #123 (mobile, acme): …")."""
    if services.links is None or not text.strip():
        return []
    try:
        found = services.links.candidates(workspace=services.workspace_for(activity),
                                          text=text, team=team, floor=CANDIDATE_FLOOR)
    except Exception:  # the form opens without them rather than not at all
        log.exception("could not list similar items for the form")
        return []
    return [(item.id, f"Same as #{item.id} ({item.team}"
                      f"{', ' + item.customer if item.customer else ''}):"
                      f" {' '.join(item.text.split())}"[:120]) for item in found]


def _chosen(data: dict[str, str]) -> tuple[int | None, bool]:
    """(item to +1, "it's new") from the form's choice; raises IntakeRejected when forged."""
    same = data.get(SAME_INPUT) or ""
    if not same.startswith(LINK_PREFIX):
        return None, same == NEW_CHOICE
    number = same[len(LINK_PREFIX):]
    if not number.isdigit() or not 0 < int(number) < 2**63:
        raise IntakeRejected("Choose one of the items listed.", code="no_such_item",
                             data={"item": number[:20]})
    return int(number), False


async def forward_message_action(services: TeamsServices, activity: dict[str, Any],
                                 sender: Sender, message: ForwardedMessage) -> IntakeResult:
    """Forward the message the action was used on; raises IntakeRejected with the reason."""
    data = form_data(activity.get("value"))
    link_to, as_new = _chosen(data)
    now = services.clock()
    conversation = str(activity["conversation"]["id"])
    request = IntakeRequest(
        workspace=services.workspace_for(activity), kind=IntakeKind.SHORTCUT,
        text=message.text, forwarded_by=sender.key,
        received_at=message.created_at or now, forwarded_at=now,
        source=SourceMessage(channel=channel_of(activity) or conversation.split(";")[0],
                             ts=message.message_id, author=message.author,
                             permalink=message.link),
        note=data.get("note") or None, team=data.get("team") or None,
        customer=data.get("customer") or None, severity=data.get("severity") or None,
        intake_key=f"{PLATFORM}:{activity['id']}", platform=PLATFORM,
        link_to=link_to, as_new=as_new)
    return await _forward(services, request, sender)


def mention_text(activity: dict[str, Any]) -> str:
    """The message's words without the bot's @mention, as plain text."""
    text = str(activity.get("text") or "")
    bot_id = (activity.get("recipient") or {}).get("id")
    for entity in activity.get("entities") or []:
        if isinstance(entity, dict) and entity.get("type") == "mention" and \
                (entity.get("mentioned") or {}).get("id") == bot_id and entity.get("text"):
            text = text.replace(str(entity["text"]), " ")
    return clean(html_to_text(text)).strip()


def mentions_bot(activity: dict[str, Any]) -> bool:
    """True when the message @mentions the bot."""
    bot_id = (activity.get("recipient") or {}).get("id")
    return any(isinstance(entity, dict) and entity.get("type") == "mention"
               and (entity.get("mentioned") or {}).get("id") == bot_id
               for entity in activity.get("entities") or [])


async def forward_mention(services: TeamsServices, activity: dict[str, Any],
                          sender: Sender) -> IntakeResult:
    """Forward an intake-channel message that @mentions the bot; confirmations go in its thread."""
    now = services.clock()
    channel = channel_of(activity) or ""
    request = IntakeRequest(
        workspace=services.workspace_for(activity), kind=IntakeKind.CHANNEL,
        text=mention_text(activity), forwarded_by=sender.key,
        received_at=sent_at(activity, now), forwarded_at=now,
        source=SourceMessage(channel=channel, ts=str(activity["id"]), author=sender.key),
        reply_channel=channel, reply_thread_ts=thread_root(activity),
        intake_key=f"{PLATFORM}:{activity['id']}", platform=PLATFORM)
    return await _forward(services, request, sender)


async def forward_direct(services: TeamsServices, activity: dict[str, Any],
                         sender: Sender) -> IntakeResult:
    """Forward a 1:1 message to the bot; notices come back in that chat."""
    now = services.clock()
    text = str(activity.get("text") or "")
    if str(activity.get("textFormat") or "plain") != "plain" or "<" in text:
        text = html_to_text(text)
    request = IntakeRequest(
        workspace=services.workspace_for(activity), kind=IntakeKind.DIRECT,
        text=clean(text).strip(), forwarded_by=sender.key,
        received_at=sent_at(activity, now), forwarded_at=now,
        source=SourceMessage(channel=str(activity["conversation"]["id"]),
                             ts=str(activity["id"]), author=sender.key),
        intake_key=f"{PLATFORM}:{activity['id']}", platform=PLATFORM)
    return await _forward(services, request, sender)


def confirmation(result: IntakeResult) -> str:
    """What the forwarder reads at once."""
    item = result.item
    if not result.created:
        return f"That was already forwarded as feedback #{item.id} ({item.team})."
    return f"Thanks! Forwarded as feedback #{item.id} to **{item.team}**."
