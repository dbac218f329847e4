"""The core services the Teams handlers call, and the few facts about an activity they share."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.closed_loop import ClosedLoop
from bot.config import Config
from bot.conversations import ConversationBook
from bot.intake import IntakeService
from bot.lifecycle import Lifecycle
from bot.links import Links
from bot.views import Views

CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
_SLACK_BOLD = re.compile(r"(?<![\\*])\*([^*\n]+)\*(?!\*)")


@dataclass
class TeamsServices:
    """The core services Teams handlers call, and the workspace items live under."""

    config: Config
    intake: IntakeService
    lifecycle: Lifecycle
    views: Views
    conversations: ConversationBook
    clock: Callable[[], datetime]
    # Given this platform's key for an organisation, the key in use (another platform
    # may have set it first: items of one deployment share one workspace).
    claim_workspace: Callable[[str], str] = field(default=lambda key: key)
    render_card: Callable[[Any], dict[str, Any]] | None = None
    closed_loop: ClosedLoop | None = None  # Told the customer, and source-thread replies
    links: Links | None = None  # "+1" offers and unlinking (bot/links.py)

    def workspace_for(self, activity: dict[str, Any]) -> str:
        """The workspace key items of this activity's organisation live under."""
        return self.claim_workspace(f"msteams:{tenant_of(activity) or 'unknown'}")

    def config_for(self, activity: dict[str, Any]) -> Config:
        """The config this activity's workspace uses (its section over the top level)."""
        return self.config.for_workspace(self.workspace_for(activity))


def as_dict(value: Any) -> dict[str, Any]:
    """`value` when it is a JSON object, else {} (payload fields may be null)."""
    return value if isinstance(value, dict) else {}


def channel_data(activity: dict[str, Any]) -> dict[str, Any]:
    """Teams' channelData, or {}."""
    data = activity.get("channelData")
    return data if isinstance(data, dict) else {}


def _id_of(value: Any) -> str | None:
    if isinstance(value, dict) and isinstance(value.get("id"), str) and value["id"]:
        return str(value["id"])
    return None


def tenant_of(activity: dict[str, Any]) -> str | None:
    """The tenant (organisation) the activity comes from."""
    conversation = activity.get("conversation") or {}
    return _id_of(channel_data(activity).get("tenant")) or conversation.get("tenantId") or None


def team_of(activity: dict[str, Any]) -> str | None:
    """The team id (== its General channel's id), for activities in a team."""
    return _id_of(channel_data(activity).get("team"))


def channel_of(activity: dict[str, Any]) -> str | None:
    """The channel id of a channel activity (without the thread's `;messageid=`)."""
    found = _id_of(channel_data(activity).get("channel"))
    if found:
        return found
    if conversation_type(activity) == "channel":
        return str((activity.get("conversation") or {}).get("id", "")).split(";")[0] or None
    return None


def conversation_type(activity: dict[str, Any]) -> str:
    """personal, groupChat or channel."""
    conversation = activity.get("conversation") or {}
    kind = conversation.get("conversationType")
    if isinstance(kind, str) and kind:
        return kind
    return "groupChat" if conversation.get("isGroup") else "personal"


def thread_root(activity: dict[str, Any]) -> str | None:
    """The id of the channel post a message belongs to (its own id for a new post)."""
    conversation_id = str((activity.get("conversation") or {}).get("id", ""))
    _, _, root = conversation_id.partition(";messageid=")
    return root or activity.get("replyToId") or activity.get("id")


def teams_markdown(text: str) -> str:
    """The core's words (Slack-style `*bold*`) in Teams markdown (`**bold**`)."""
    return _SLACK_BOLD.sub(r"**\1**", text)
