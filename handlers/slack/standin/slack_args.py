"""Shared helpers for the fake Web API methods: argument parsing, cursors, validation.

Each method takes the workspace and the call's arguments (query, form and JSON merged,
with JSON-valued fields decoded) and returns the response fields besides `ok`; it raises
`SlackError` for an `{"ok": false, "error": ...}` answer.
"""

from __future__ import annotations

import base64
import copy
from collections.abc import Callable
from typing import Any

from handlers.slack.standin.slack_state import SlackError, Workspace

Args = dict[str, Any]
Method = Callable[[Workspace, Args], dict[str, Any]]


def registrar(table: dict[str, Method]) -> Callable[[str], Callable[[Method], Method]]:
    """A decorator factory that files Web API methods in `table` under their Slack names."""

    def method(name: str) -> Callable[[Method], Method]:
        def register(func: Method) -> Method:
            table[name] = func
            return func

        return register

    return method


def flag(value: Any) -> bool:
    """Read a boolean argument the way Slack does: true/1 from JSON, forms or query strings."""
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes")
    return bool(value)


def int_arg(args: Args, key: str, default: int) -> int:
    try:
        return int(args.get(key) or default)
    except (TypeError, ValueError):
        raise SlackError("invalid_arguments") from None


def required(args: Args, key: str, error: str = "invalid_arguments") -> Any:
    value = args.get(key)
    if value in (None, ""):
        raise SlackError(error)
    return value


def encode_cursor(ts: str) -> str:
    return base64.b64encode(f"next_ts:{ts}".encode()).decode() if ts else ""


def decode_cursor(cursor: str | None) -> str | None:
    if not cursor:
        return None
    try:
        text = base64.b64decode(cursor).decode()
    except ValueError:
        raise SlackError("invalid_cursor") from None
    if not text.startswith("next_ts:"):
        raise SlackError("invalid_cursor")
    return text.removeprefix("next_ts:")


def render(message: dict[str, Any], *, with_metadata: bool) -> dict[str, Any]:
    # Slack returns `metadata` from history/replies only with include_all_metadata=true.
    rendered = copy.deepcopy(message)
    if not with_metadata:
        rendered.pop("metadata", None)
    return rendered


def check_metadata(metadata: Any) -> None:
    if metadata is None:
        return
    if (
        not isinstance(metadata, dict)
        or not isinstance(metadata.get("event_type"), str)
        or not isinstance(metadata.get("event_payload", {}), dict)
    ):
        raise SlackError("invalid_metadata_format")


def check_blocks(args: Args) -> None:
    if "blocks" in args and args["blocks"] is not None and not isinstance(args["blocks"], list):
        raise SlackError("invalid_blocks_format")
    if args.get("attachments") is not None and not isinstance(args["attachments"], list):
        raise SlackError("invalid_attachments")


def use_trigger(ws: Workspace, args: Args) -> None:
    trigger_id = required(args, "trigger_id")
    if ws.expire_triggers:
        raise SlackError("expired_trigger_id")
    # A trigger opens one view; Slack refuses a second use.
    if trigger_id in ws.used_triggers:
        raise SlackError("exchanged_trigger_id")
    ws.used_triggers.add(trigger_id)


def bot_message(ws: Workspace, args: Args) -> dict[str, Any]:
    """A new message from the bot, carrying the call's text, blocks, attachments, metadata."""
    message: dict[str, Any] = {
        "type": "message",
        "user": ws.bot_user_id,
        "bot_id": ws.bot_id,
        "app_id": ws.app_id,
        "team": ws.team_id,
        "text": args.get("text") or "",
        "bot_profile": {"id": ws.bot_id, "app_id": ws.app_id, "name": "feedbackbot"},
    }
    for key in ("blocks", "attachments", "metadata"):
        if args.get(key) is not None:
            message[key] = copy.deepcopy(args[key])
    return message
