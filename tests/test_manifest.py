"""The app manifest matches the handlers and validates against Slack's schema."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from bot.cli import main
from handlers.slack.manifest import BOT_SCOPES, build_manifest
from handlers.slack.workspace_events import SUBSCRIBED_EVENTS

SCHEMA = (
    Path(__file__).resolve().parent.parent.parent
    / "shared"
    / "slack"
    / ("manifest.schema.1.0.0.json")
)


def _printed_manifest(capsys, *args: str) -> dict:
    assert main(["manifest", *args]) == 0
    return YAML(typ="safe").load(capsys.readouterr().out)


@pytest.mark.parametrize("args", [(), ("--url", "https://feedback.example.com/")])
def test_manifest_validates_against_slacks_schema(capsys, args):
    if not SCHEMA.exists():
        pytest.skip(f"Slack's manifest schema is not at {SCHEMA} on this machine")
    import jsonschema

    schema = json.loads(SCHEMA.read_text())
    jsonschema.validate(_printed_manifest(capsys, *args), schema)


def test_manifest_with_url_points_every_request_at_slack_events(capsys):
    manifest = _printed_manifest(capsys, "--url", "https://feedback.example.com/")
    url = "https://feedback.example.com/slack/events"
    assert manifest["settings"]["event_subscriptions"]["request_url"] == url
    assert manifest["settings"]["interactivity"]["request_url"] == url
    assert manifest["features"]["slash_commands"][0]["url"] == url
    assert manifest["settings"]["socket_mode_enabled"] is False


def test_manifest_without_url_uses_socket_mode(capsys):
    manifest = _printed_manifest(capsys)
    assert manifest["settings"]["socket_mode_enabled"] is True
    assert "request_url" not in manifest["settings"]["event_subscriptions"]


def test_manifest_matches_the_listeners():
    manifest = build_manifest(url=None)
    assert manifest["features"]["slash_commands"][0]["command"] == "/feedback"
    assert manifest["features"]["shortcuts"][0]["callback_id"] == "forward_feedback"
    assert manifest["features"]["shortcuts"][0]["type"] == "message"
    assert manifest["settings"]["event_subscriptions"]["bot_events"] == list(SUBSCRIBED_EVENTS)
    scopes = manifest["oauth_config"]["scopes"]["bot"]
    # Reading the message an emoji was added to needs reactions:read and history scopes.
    assert {"reactions:read", "channels:history", "groups:history"} <= set(scopes)
    assert set(scopes) == set(BOT_SCOPES)
    assert "chat:write.public" not in scopes and "admin" not in " ".join(scopes)
