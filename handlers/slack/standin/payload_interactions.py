"""Slash command and interaction payloads with Slack's shapes."""

from __future__ import annotations

import time
import uuid
from typing import Any

from handlers.slack.standin.payload_events import (
    new_response_url,
    new_trigger_id,
    now_ts,
    team_domain,
    unique_id,
)


def slash_command(
    *,
    text: str,
    user_id: str,
    channel_id: str,
    command: str = "/feedback",
    team_id: str = "T0DEMO",
    trigger_id: str | None = None,
    channel_name: str = "general",
    user_name: str | None = None,
    api_app_id: str = "A0DEMO",
    response_url: str | None = None,
    enterprise_id: str | None = None,
) -> dict[str, str]:
    """The form fields Slack POSTs for a slash command."""
    form = {
        "token": "verification-token-unused",
        "team_id": team_id,
        "team_domain": team_domain(team_id),
        "channel_id": channel_id,
        "channel_name": channel_name,
        "user_id": user_id,
        "user_name": user_name or user_id.lower(),
        "command": command,
        "text": text,
        "api_app_id": api_app_id,
        "is_enterprise_install": "false",
        "response_url": response_url or new_response_url(team_id).replace("actions", "commands"),
        "trigger_id": trigger_id or new_trigger_id(),
    }
    if enterprise_id:
        form.update(enterprise_id=enterprise_id, enterprise_name=f"{enterprise_id} Grid")
    return form


def _user(user_id: str, team_id: str) -> dict[str, str]:
    return {"id": user_id, "username": user_id.lower(), "name": user_id.lower(), "team_id": team_id}


def _team(team_id: str) -> dict[str, str]:
    return {"id": team_id, "domain": team_domain(team_id)}


def message_shortcut(
    *,
    callback_id: str,
    user_id: str,
    channel_id: str,
    message: dict[str, Any],
    team_id: str = "T0DEMO",
    trigger_id: str | None = None,
    channel_name: str = "general",
    response_url: str | None = None,
) -> dict[str, Any]:
    """A message shortcut (`message_action`) on `message`, which needs at least a ts."""
    source = {"type": "message", **message}
    return {
        "type": "message_action",
        "token": "verification-token-unused",
        "action_ts": now_ts(),
        "team": _team(team_id),
        "user": _user(user_id, team_id),
        "channel": {"id": channel_id, "name": channel_name},
        "is_enterprise_install": False,
        "enterprise": None,
        "callback_id": callback_id,
        "trigger_id": trigger_id or new_trigger_id(),
        "response_url": response_url or new_response_url(team_id),
        "message_ts": source["ts"],
        "message": source,
    }


def block_actions(
    *,
    user_id: str,
    action_id: str,
    value: str | None = None,
    channel_id: str | None = None,
    message_ts: str | None = None,
    team_id: str = "T0DEMO",
    trigger_id: str | None = None,
    block_id: str = "b",
    view: dict[str, Any] | None = None,
    container: dict[str, Any] | None = None,
    message: dict[str, Any] | None = None,
    action_type: str = "button",
    action_extra: dict[str, Any] | None = None,
    api_app_id: str = "A0DEMO",
    response_url: str | None = None,
) -> dict[str, Any]:
    """A `block_actions` payload: one action in a message (channel_id+message_ts) or a view."""
    action: dict[str, Any] = {
        "action_id": action_id,
        "block_id": block_id,
        "type": action_type,
        "action_ts": now_ts(),
    }
    if action_type == "button":
        action["text"] = {"type": "plain_text", "text": action_id, "emoji": True}
    if value is not None:
        action["value"] = value
    action.update(action_extra or {})
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": _user(user_id, team_id),
        "api_app_id": api_app_id,
        "token": "verification-token-unused",
        "trigger_id": trigger_id or new_trigger_id(),
        "team": _team(team_id),
        "enterprise": None,
        "is_enterprise_install": False,
        "state": {"values": {}},
        "actions": [action],
    }
    if view is not None:
        payload["view"] = view
        payload["container"] = container or {"type": "view", "view_id": view.get("id", "")}
        return payload
    if channel_id is None or message_ts is None:
        raise ValueError("block_actions needs channel_id and message_ts, or a view")
    payload["container"] = container or {
        "type": "message",
        "message_ts": message_ts,
        "channel_id": channel_id,
        "is_ephemeral": False,
    }
    payload["channel"] = {"id": channel_id, "name": channel_id.lower()}
    payload["message"] = message or {"type": "message", "ts": message_ts, "text": ""}
    payload["response_url"] = response_url or new_response_url(team_id)
    return payload


def view_submission(
    *,
    user_id: str,
    callback_id: str,
    values: dict[str, Any],
    private_metadata: str = "",
    view_id: str | None = None,
    team_id: str = "T0DEMO",
    api_app_id: str = "A0DEMO",
    blocks: list[dict[str, Any]] | None = None,
    trigger_id: str | None = None,
) -> dict[str, Any]:
    """A `view_submission` payload; `values` is Slack's state.values shape.

    That shape is {block_id: {action_id: {"type": ..., "value" | "selected_option" | ...}}}.
    """
    view_id = view_id or unique_id("V")
    return {
        "type": "view_submission",
        "team": _team(team_id),
        "user": _user(user_id, team_id),
        "api_app_id": api_app_id,
        "token": "verification-token-unused",
        "trigger_id": trigger_id or new_trigger_id(),
        "view": {
            "id": view_id,
            "team_id": team_id,
            "type": "modal",
            "blocks": blocks or [],
            "private_metadata": private_metadata,
            "callback_id": callback_id,
            "state": {"values": values},
            "hash": f"{int(time.time())}.{uuid.uuid4().hex[:8]}",
            "title": {"type": "plain_text", "text": "Feedback", "emoji": True},
            "clear_on_close": False,
            "notify_on_close": False,
            "close": None,
            "submit": {"type": "plain_text", "text": "Submit", "emoji": True},
            "previous_view_id": None,
            "root_view_id": view_id,
            "app_id": api_app_id,
            "external_id": "",
            "app_installed_team_id": team_id,
            "bot_id": "B0BOT",
        },
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": None,
    }
