"""Small helpers for reading Slack request context."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import parse_qs

# Interaction payloads name the person acting; Bolt and the listeners rely on it.
_INTERACTIONS = frozenset(
    {
        "block_actions",
        "block_suggestion",
        "message_action",
        "shortcut",
        "view_submission",
        "view_closed",
        "interactive_message",
        "dialog_submission",
        "dialog_suggestion",
    }
)

# Event fields that Bolt and the listeners read as text (ids, timestamps, words).
# (`user` is left out: user_change and team_join carry a whole user object there.)
_EVENT_TEXT_FIELDS = ("type", "subtype", "channel", "ts", "thread_ts", "text", "event_ts")


def workspace_key(*, team_id: str | None, enterprise_id: str | None) -> str:
    """Key rows by workspace: the team ID, or "enterprise:team" on Enterprise Grid."""
    if enterprise_id:
        return f"{enterprise_id}:{team_id or ''}"
    return team_id or ""


def team_and_enterprise(body: dict[str, Any]) -> tuple[str | None, str | None]:
    """The (team ID, enterprise ID) a raw payload names, before authorization has run."""
    team = body.get("team_id")
    if not team and isinstance(body.get("team"), dict):
        team = body["team"].get("id")
    if not team:
        authorizations = body.get("authorizations") or []
        if authorizations and isinstance(authorizations[0], dict):
            team = authorizations[0].get("team_id")
    enterprise = body.get("enterprise_id")
    if isinstance(body.get("enterprise"), dict):
        enterprise = body["enterprise"].get("id")
    return (str(team) if team else None), (str(enterprise) if enterprise else None)


def workspace_from_body(body: dict[str, Any]) -> str:
    """Best-effort workspace key from a raw payload, before authorization has run."""
    team, enterprise = team_and_enterprise(body)
    return workspace_key(team_id=team, enterprise_id=enterprise)


def dedupe_key(body: dict[str, Any]) -> str | None:
    """The key that makes a redelivered event or repeated interaction a no-op."""
    if body.get("event_id"):
        return f"event:{body['event_id']}"
    kind = body.get("type")
    if kind == "view_submission" and isinstance(body.get("view"), dict):
        view = body["view"]
        return f"view:{view.get('id')}:{view.get('hash', '')}"
    if kind == "block_actions":
        actions = body.get("actions") or [{}]
        first = actions[0] if isinstance(actions[0], dict) else {}
        user = (body.get("user") or {}).get("id", "")
        return f"action:{user}:{first.get('action_id')}:{first.get('action_ts')}"
    if body.get("trigger_id"):
        return f"trigger:{body['trigger_id']}"
    return None


def shape_problem(body: dict[str, Any]) -> str | None:
    """Say what makes a payload one that no listener could handle, or return None.

    Such a payload is answered 400 (or, in Socket Mode, acknowledged and dropped) and
    never stored, so it can neither crash a listener nor be replayed forever.
    """
    if "command" in body:
        for key in ("command", "team_id", "user_id", "trigger_id"):
            if not isinstance(body.get(key), str) or not body[key]:
                return f"a slash command needs {key}"
        return None
    kind = body.get("type")
    if not isinstance(kind, str) or not kind:
        return "the payload has no type"
    if kind == "event_callback":
        event = body.get("event")
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            return "an event_callback needs an event with a type"
        if not isinstance(body.get("event_id"), str) or not body["event_id"]:
            return "an event_callback needs an event_id"
        for key in _EVENT_TEXT_FIELDS:
            if event.get(key) is not None and not isinstance(event[key], str):
                return f"an event's {key} must be text"
    elif kind in _INTERACTIONS:
        user = body.get("user")
        if not isinstance(user, dict) or not isinstance(user.get("id"), str):
            return f"a {kind} payload needs a user"
        if kind in ("view_submission", "view_closed"):
            problem = _view_problem(body.get("view"))
            if problem:
                return f"a {kind} payload needs {problem}"
        elif "view" in body and body["view"] is not None:
            problem = _view_problem(body["view"])
            if problem:
                return f"a {kind} payload's view needs {problem}"
        actions = body.get("actions")
        if kind == "block_actions" and not (
            isinstance(actions, list)
            and actions
            and all(isinstance(action, dict) for action in actions)
        ):
            return "a block_actions payload needs actions"
    return None


def _view_problem(view: Any) -> str | None:
    """Say what a view lacks that Bolt and the listeners read, or return None.

    Slack's shape: {"type": "modal", "state": {"values": {block_id: {action_id: {...}}}}}.
    """
    if not isinstance(view, dict):
        return "a view"
    if not isinstance(view.get("type"), str) or not view["type"]:
        return "a view with a type"
    for key in ("callback_id", "private_metadata"):
        if key in view and not isinstance(view[key], str | None):
            return f"a view whose {key} is text"
    state = view.get("state")
    if state is None:
        return None
    values = state.get("values") if isinstance(state, dict) else None
    if not isinstance(state, dict) or not isinstance(values, dict | None):
        return "a view whose state.values maps blocks to inputs"
    for inputs in (values or {}).values():
        if not isinstance(inputs, dict) or not all(
                isinstance(value, dict) for value in inputs.values()):
            return "a view whose state.values maps blocks to inputs"
    return None


def body_for_bolt(body: str, headers: Mapping[str, str | Sequence[str]]
                  ) -> tuple[str, dict[str, str | Sequence[str]]]:
    """A form body (a slash command) re-encoded as JSON, so Bolt reads it as Slack sent it.

    Bolt reads any form body that merely contains the word "payload" as an interactive
    payload, and finds nothing: "/feedback the payload page is blank" would be dropped.
    Interactive payloads (a `payload` field) and JSON bodies pass through unchanged.
    """
    content_type = str(_header(headers, "content-type")).lower()
    if content_type.startswith("application/json"):
        return body, dict(headers)
    form = parse_qs(body, keep_blank_values=True)
    if "payload" in form or not form:
        return body, dict(headers)
    fields = {key: values[-1] for key, values in form.items()}
    changed = {key: value for key, value in headers.items() if key.lower() != "content-type"}
    changed["content-type"] = "application/json"
    return json.dumps(fields), changed


def _header(headers: Mapping[str, str | Sequence[str]], name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name:
            return value if isinstance(value, str) else (value[0] if value else "")
    return ""
