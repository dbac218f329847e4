"""Small helpers for reading Slack request context."""

from __future__ import annotations

from typing import Any


def workspace_key(*, team_id: str | None, enterprise_id: str | None) -> str:
    """Key rows by workspace: the team ID, or "enterprise:team" on Enterprise Grid."""
    if enterprise_id:
        return f"{enterprise_id}:{team_id or ''}"
    return team_id or ""


def workspace_from_body(body: dict[str, Any]) -> str:
    """Best-effort workspace key from a raw payload, before authorization has run."""
    team = body.get("team_id")
    if not team and isinstance(body.get("team"), dict):
        team = body["team"].get("id")
    enterprise = body.get("enterprise_id")
    if isinstance(body.get("enterprise"), dict):
        enterprise = body["enterprise"].get("id")
    if not team:
        authorizations = body.get("authorizations") or []
        if authorizations and isinstance(authorizations[0], dict):
            team = authorizations[0].get("team_id")
    return workspace_key(team_id=str(team) if team else None,
                         enterprise_id=str(enterprise) if enterprise else None)


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
