"""The Slack app manifest that matches the listeners exactly, with the least scopes."""

from __future__ import annotations

from typing import Any

from handlers.slack.card_actions import REPLY_TO_SUPPORT_CALLBACK
from handlers.slack.intake_command import COMMAND
from handlers.slack.intake_modal import SHORTCUT_CALLBACK
from handlers.slack.workspace_events import SUBSCRIBED_EVENTS

# Each scope and the handler that needs it.
BOT_SCOPES = {
    "commands": "the /feedback command and the message shortcut",
    "chat:write": "routed cards, confirmations and relays",
    "channels:history": "posts in public intake channels; reading a message given the emoji",
    "groups:history": "the same, in private channels",
    "im:history": "finding a confirmation of unknown fate in a DM before re-sending it",
    "im:write": "opening the DM a confirmation goes to",
    "reactions:read": "the intake emoji (reaction_added)",
    "channels:read": "telling whether a channel is shared with customers",
    "groups:read": "the same, for private channels",
    "users:read": "telling members of the workspace from customers and guests",
    "usergroups:read": "mentioning the members of an owning user group",
    "files:write": "the digest's trend chart, uploaded into the digest's thread",
}


def build_manifest(*, url: str | None, name: str = "feedbackbot",
                   oauth: bool = False) -> dict[str, Any]:
    """Return the manifest; with `url`, request URLs go under it, else Socket Mode is used.

    With `oauth` (and `url`), installs come back to `url`/slack/oauth_redirect and Grid
    orgs may install it org-wide.
    """
    base = url.rstrip("/") if url else None
    events_url = f"{base}/slack/events" if base else None
    command: dict[str, Any] = {
        "command": COMMAND,
        "description": "Forward a customer's words to the team that owns them",
        "usage_hint": "[the customer's words] | help",
        "should_escape": False,
    }
    if events_url:
        command["url"] = events_url
    interactivity: dict[str, Any] = {"is_enabled": True}
    if events_url:
        interactivity["request_url"] = events_url
    event_subscriptions: dict[str, Any] = {"bot_events": list(SUBSCRIBED_EVENTS)}
    if events_url:
        event_subscriptions["request_url"] = events_url
    return {
        "_metadata": {"major_version": 1, "minor_version": 1},
        "display_information": {
            "name": name,
            "description": "Routes customer feedback straight to the developers who own it.",
            "background_color": "#2c2d30",
        },
        "features": {
            "app_home": {"home_tab_enabled": True, "messages_tab_enabled": True,
                         "messages_tab_read_only_enabled": True},
            "bot_user": {"display_name": name, "always_online": True},
            "shortcuts": [{
                "name": "Forward to feedback",
                "type": "message",
                "callback_id": SHORTCUT_CALLBACK,
                "description": "Send this message to the team that owns it",
            }, {
                "name": "Reply to support",
                "type": "message",
                "callback_id": REPLY_TO_SUPPORT_CALLBACK,
                "description": "Relay this reply in a feedback card's thread to support",
            }],
            "slash_commands": [command],
        },
        "oauth_config": {"scopes": {"bot": sorted(BOT_SCOPES)},
                         **({"redirect_urls": [f"{base}/slack/oauth_redirect"]}
                            if oauth and base else {})},
        "settings": {
            "event_subscriptions": event_subscriptions,
            "interactivity": interactivity,
            "org_deploy_enabled": bool(oauth and base),
            "socket_mode_enabled": base is None,
            "token_rotation_enabled": False,
        },
    }


def manifest_yaml(*, url: str | None, oauth: bool = False) -> str:
    """Render the manifest as YAML, ready to paste into Slack's app settings."""
    import io

    from ruamel.yaml import YAML

    yaml = YAML()
    yaml.default_flow_style = False
    buffer = io.StringIO()
    yaml.dump(build_manifest(url=url, oauth=oauth), buffer)
    return buffer.getvalue()
