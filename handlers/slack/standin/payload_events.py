"""Events API payloads with Slack's shapes: the event_callback envelope and its events."""

from __future__ import annotations

import itertools
import time
import uuid
from typing import Any

_ids = itertools.count(1)


def unique_id(prefix: str) -> str:
    """A fresh id such as an event_id (`Ev…`), unique within this process."""
    return f"{prefix}{int(time.time())}{next(_ids):06d}"


def now_ts() -> str:
    """The current time as a Slack ts."""
    return f"{time.time():.6f}"


def new_trigger_id() -> str:
    """A fresh trigger_id in Slack's format."""
    return f"{next(_ids)}.{int(time.time())}.{uuid.uuid4().hex}"


def new_response_url(team_id: str) -> str:
    """A response_url in Slack's format (nothing listens there)."""
    return f"https://hooks.slack.com/actions/{team_id}/{next(_ids)}/{uuid.uuid4().hex[:24]}"


def team_domain(team_id: str) -> str:
    """The workspace domain the payloads name for a team id (FakeSlack's is `demo`)."""
    return "demo" if team_id == "T0DEMO" else team_id.lower()


def event_callback(
    event: dict[str, Any],
    *,
    team_id: str = "T0DEMO",
    api_app_id: str = "A0DEMO",
    event_id: str | None = None,
    event_time: int | None = None,
    enterprise_id: str | None = None,
    is_ext_shared_channel: bool = False,
    bot_user_id: str = "U0BOT",
) -> dict[str, Any]:
    """Wrap an event in Slack's event_callback envelope, authorizations included."""
    envelope: dict[str, Any] = {
        "token": "verification-token-unused",
        "team_id": team_id,
        "context_team_id": team_id,
        "context_enterprise_id": enterprise_id,
        "api_app_id": api_app_id,
        "event": event,
        "type": "event_callback",
        "event_id": event_id or unique_id("Ev"),
        "event_time": int(time.time()) if event_time is None else event_time,
        "authorizations": [
            {
                "enterprise_id": enterprise_id,
                "team_id": team_id,
                "user_id": bot_user_id,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": is_ext_shared_channel,
        "event_context": f"4-{uuid.uuid4().hex}",
    }
    if enterprise_id:
        envelope["enterprise_id"] = enterprise_id
    return envelope


def rich_text_blocks(text: str) -> list[dict[str, Any]]:
    """The rich_text blocks Slack's composer attaches to a person's message."""
    return [
        {
            "type": "rich_text",
            "block_id": uuid.uuid4().hex[:5],
            "elements": [
                {"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}
            ],
        }
    ]


def message_event(
    *,
    channel: str,
    user: str | None,
    text: str,
    ts: str | None = None,
    thread_ts: str | None = None,
    subtype: str | None = None,
    team: str = "T0DEMO",
    channel_type: str = "channel",
    attachments: list[dict[str, Any]] | None = None,
    files: list[dict[str, Any]] | None = None,
    bot_id: str | None = None,
    blocks: list[dict[str, Any]] | None = None,
    parent_user_id: str | None = None,
) -> dict[str, Any]:
    """A `message` event; a person's message gets client_msg_id and rich_text blocks."""
    ts = ts or now_ts()
    event: dict[str, Any] = {"type": "message", "text": text, "ts": ts, "team": team}
    if user is not None:
        event["user"] = user
    if subtype:
        event["subtype"] = subtype
    if bot_id:
        event["bot_id"] = bot_id
    if blocks is not None:
        event["blocks"] = blocks
    elif not bot_id and subtype in (None, "file_share", "thread_broadcast"):
        event["blocks"] = rich_text_blocks(text)
    if not bot_id and subtype is None:
        event["client_msg_id"] = str(uuid.uuid4())
    if thread_ts:
        event["thread_ts"] = thread_ts
        if parent_user_id:
            event["parent_user_id"] = parent_user_id
    if attachments is not None:
        event["attachments"] = attachments
    if files is not None:
        event["files"] = files
    if subtype == "file_share":
        event.update(upload=False, display_as_bot=False)
    event.update(channel=channel, event_ts=ts, channel_type=channel_type)
    return event


def forwarded_message_event(
    *,
    channel: str,
    user: str,
    text: str,
    original_text: str,
    original_author: str,
    original_ts: str,
    original_channel: str,
    team: str = "T0DEMO",
    domain: str = "demo",
    original_author_name: str | None = None,
    channel_type: str = "channel",
    ts: str | None = None,
) -> dict[str, Any]:
    """A message made with Slack's "Forward message": the original rides in `attachments`.

    `text` is the forwarder's own comment (often empty); the attachment carries both
    `is_share` and `is_msg_unfurl`, and its `ts` is the original message's ts. `ts` is the
    forwarding message's own (default: now).
    """
    url = f"https://{domain}.slack.com/archives/{original_channel}/p{original_ts.replace('.', '')}"
    name = original_author_name or original_author
    attachment = {
        "id": 1,
        "ts": original_ts,
        "author_id": original_author,
        "channel_id": original_channel,
        "channel_team": team,
        "is_msg_unfurl": True,
        "is_share": True,
        "message_blocks": [
            {
                "team": team,
                "channel": original_channel,
                "ts": original_ts,
                "message": {"blocks": rich_text_blocks(original_text)},
            }
        ],
        "private_channel_prompt": True,
        "color": "D0D0D0",
        "fallback": f"[{original_ts}] {name}: {original_text}",
        "text": original_text,
        "author_name": name,
        "author_link": f"https://{domain}.slack.com/team/{original_author}",
        "author_icon": "",
        "author_subname": name,
        "mrkdwn_in": ["text"],
        "footer": f"Posted in <#{original_channel}>",
        "from_url": url,
        "original_url": url,
    }
    return message_event(
        channel=channel,
        user=user,
        text=text,
        team=team,
        channel_type=channel_type,
        attachments=[attachment],
        ts=ts,
    )


def reaction_added_event(
    *,
    user: str,
    reaction: str,
    channel: str,
    ts: str,
    item_user: str | None = None,
    event_ts: str | None = None,
) -> dict[str, Any]:
    """A `reaction_added` event on a message; `event_ts` (when it was added) defaults to now."""
    event: dict[str, Any] = {
        "type": "reaction_added",
        "user": user,
        "reaction": reaction,
        "item": {"type": "message", "channel": channel, "ts": ts},
        "event_ts": event_ts or now_ts(),
    }
    if item_user:
        event["item_user"] = item_user
    return event


def channel_shared_event(*, channel: str, connected_team_id: str) -> dict[str, Any]:
    """A `channel_shared` event: the channel is now shared with another organization."""
    return {
        "type": "channel_shared",
        "connected_team_id": connected_team_id,
        "channel": channel,
        "event_ts": now_ts(),
    }


def channel_unshared_event(
    *, channel: str, previously_connected_team_id: str, is_ext_shared: bool = False
) -> dict[str, Any]:
    """A `channel_unshared` event; `is_ext_shared` says whether other orgs remain."""
    return {
        "type": "channel_unshared",
        "previously_connected_team_id": previously_connected_team_id,
        "channel": channel,
        "is_ext_shared": is_ext_shared,
        "event_ts": now_ts(),
    }


def app_uninstalled_event() -> dict[str, Any]:
    """An `app_uninstalled` event."""
    return {"type": "app_uninstalled", "event_ts": now_ts()}


def tokens_revoked_event(
    bot_ids: list[str], *, oauth_ids: list[str] | None = None
) -> dict[str, Any]:
    """A `tokens_revoked` event; Slack lists the ids the revoked tokens belonged to."""
    return {
        "type": "tokens_revoked",
        "tokens": {"oauth": list(oauth_ids or []), "bot": list(bot_ids)},
        "event_ts": now_ts(),
    }
