"""The app manifest matches the listeners registered on the Bolt app, and Slack's schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from bot.cli import main
from bot.settings import Settings
from handlers.slack.app import create_app
from handlers.slack.manifest import build_manifest
from tests.slack_harness import example_config

SCHEMA = (
    Path(__file__).resolve().parent.parent.parent
    / "shared"
    / "slack"
    / ("manifest.schema.1.0.0.json")
)


def _printed_manifest(capsys, *args: str) -> dict:
    assert main(["manifest", *args]) == 0
    return YAML(typ="safe").load(capsys.readouterr().out)


@pytest.mark.parametrize("args", [(), ("--url", "https://feedback.example.com/"),
                                  ("--url", "https://feedback.example.com/", "--oauth")])
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


def test_manifest_for_oauth_names_the_redirect_and_allows_org_wide_installs(capsys):
    plain = _printed_manifest(capsys, "--url", "https://feedback.example.com/")
    manifest = _printed_manifest(capsys, "--url", "https://feedback.example.com/", "--oauth")
    assert manifest["oauth_config"]["redirect_urls"] == [
        "https://feedback.example.com/slack/oauth_redirect"]
    assert manifest["settings"]["org_deploy_enabled"] is True
    assert "redirect_urls" not in plain["oauth_config"]
    assert plain["settings"]["org_deploy_enabled"] is False


def test_manifest_without_url_uses_socket_mode(capsys):
    manifest = _printed_manifest(capsys)
    assert manifest["settings"]["socket_mode_enabled"] is True
    assert "request_url" not in manifest["settings"]["event_subscriptions"]


# --- the manifest against the listeners registered on the Bolt app ----------------------
#
# Each manifest entry becomes the minimal body Slack would send for it, and is offered to
# the primary (Bolt-built) matcher of every listener the app registered, as Bolt does when
# it dispatches. The catch-all listeners, which acknowledge anything, are left out: they
# would answer for a declared event that no feature handles.

_PROBE = "fb_probe_nothing_handles_this"
_MESSAGE_CHANNEL_TYPES = {"channels": "channel", "groups": "group", "im": "im", "mpim": "mpim"}


def _event_body(subscription: str) -> dict[str, Any]:
    """The event_callback Slack sends for a bot event subscription ("message.im" etc.)."""
    event: dict[str, Any] = {"type": subscription, "event_ts": "1.0"}
    if subscription.startswith("message."):
        kind = subscription.removeprefix("message.")
        event = {"type": "message", "channel_type": _MESSAGE_CHANNEL_TYPES[kind],
                 "channel": "C0PROBE", "user": "U0PROBE", "text": "hi", "ts": "1.0"}
    return {"type": "event_callback", "team_id": "T0DEMO", "api_app_id": "A0PROBE",
            "event_id": "Ev0PROBE", "event_time": 1, "event": event}


def _command_body(command: str) -> dict[str, Any]:
    """The form a slash command posts, as a dict."""
    return {"command": command, "text": "", "team_id": "T0DEMO", "user_id": "U0PROBE",
            "channel_id": "C0PROBE", "trigger_id": "1.1", "response_url": "https://x.invalid"}


def _shortcut_body(callback_id: str, kind: str = "message") -> dict[str, Any]:
    """A message or global shortcut's payload."""
    return {"type": "message_action" if kind == "message" else "shortcut",
            "callback_id": callback_id, "trigger_id": "1.1", "team": {"id": "T0DEMO"},
            "user": {"id": "U0PROBE"}, "channel": {"id": "C0PROBE"},
            "message": {"ts": "1.0", "text": "hi"}}


def _builtin(listener: Any) -> Any:
    """The function Bolt built for the listener's primary matcher (event, command, ...)."""
    cells = listener.matchers[0].func.__closure__ or ()
    funcs = [cell.cell_contents for cell in cells
             if getattr(cell.cell_contents, "__qualname__", "").endswith(".<locals>.func")]
    assert len(funcs) == 1, f"cannot tell what {listener} listens to"
    return funcs[0]


def _kind(listener: Any) -> str:
    """Which Bolt registration made the listener: "event", "command", "shortcut", ..."""
    return str(_builtin(listener).__qualname__.split(".")[0])


def _describe(kind: str, listener: Any) -> str:
    """"event member_joined_channel": the kind and the name the listener was registered for."""
    cells = _builtin(listener).__closure__ or ()
    names = [str(getattr(cell.cell_contents, "pattern", cell.cell_contents)) for cell in cells]
    return f"{kind} {' '.join(names)}"


async def _matches(listener: Any, body: dict[str, Any]) -> bool:
    """True when the listener's primary matcher accepts the body, as in Bolt's dispatch."""
    request = AsyncBoltRequest(body=body, mode="socket_mode")
    return bool(await listener.matchers[0].async_matches(request, BoltResponse(status=404)))


async def _feature_listeners(bolt: Any) -> list[tuple[str, Any]]:
    """(kind, listener) for every listener except the catch-alls."""
    probes = {"event": _event_body(_PROBE), "command": _command_body(f"/{_PROBE}"),
              "shortcut": _shortcut_body(_PROBE), "message_shortcut": _shortcut_body(_PROBE),
              "global_shortcut": _shortcut_body(_PROBE, "global")}
    found = []
    for listener in bolt._async_listeners:
        kind = _kind(listener)
        if kind in probes and await _matches(listener, probes[kind]):
            continue  # a catch-all
        found.append((kind, listener))
    return found


def _manifest_bodies(manifest: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(kind, name, body) for each event, command and shortcut the manifest declares."""
    features = manifest["features"]
    bodies = [("event", name, _event_body(name))
              for name in manifest["settings"]["event_subscriptions"]["bot_events"]]
    bodies += [("command", entry["command"], _command_body(entry["command"]))
               for entry in features.get("slash_commands", [])]
    bodies += [("shortcut", entry["callback_id"],
                _shortcut_body(entry["callback_id"], entry["type"]))
               for entry in features.get("shortcuts", [])]
    return bodies


_SHORTCUT_KINDS = {"shortcut", "message_shortcut", "global_shortcut"}


async def _unmatched(bolt: Any, manifest: dict[str, Any]) -> tuple[list[str], list[str]]:
    """Manifest entries no feature listener handles; event/command/shortcut listeners it lacks."""
    listeners = await _feature_listeners(bolt)
    declared = _manifest_bodies(manifest)
    unhandled = []
    for kind, name, body in declared:
        wanted = _SHORTCUT_KINDS if kind == "shortcut" else {kind}
        if not [1 for k, listener in listeners if k in wanted and await _matches(listener, body)]:
            unhandled.append(f"{kind} {name}")
    undeclared = []
    for kind, listener in listeners:
        group = "shortcut" if kind in _SHORTCUT_KINDS else kind
        if group not in ("event", "command", "shortcut"):
            continue  # actions and views are not declared in a manifest
        if not [1 for k, _, body in declared if k == group and await _matches(listener, body)]:
            undeclared.append(_describe(kind, listener))
    return unhandled, undeclared


@pytest.fixture
def bolt_app() -> Any:
    """The Bolt app exactly as `serve` builds it, on the example config."""
    settings = Settings(bot_token="xoxb-test", signing_secret="secret",
                        api_url="http://127.0.0.1:9/api/", database_url="sqlite:///:memory:")
    return create_app(settings, config=example_config()).bolt


@pytest.mark.parametrize("url", [None, "https://feedback.example.com/"])
async def test_manifest_and_registered_listeners_agree(bolt_app, url):
    manifest = build_manifest(url=url)
    unhandled, undeclared = await _unmatched(bolt_app, manifest)
    assert unhandled == [], "declared in the manifest but no listener handles it"
    assert undeclared == [], "handled by a listener but not declared in the manifest"
    # The entries really were checked: every kind is present in both.
    kinds = {kind for kind, _ in await _feature_listeners(bolt_app)}
    assert {"event", "command"} <= kinds and kinds & _SHORTCUT_KINDS
    assert {kind for kind, _, _ in _manifest_bodies(manifest)} == {"event", "command",
                                                                    "shortcut"}


async def test_an_entry_without_a_listener_and_a_listener_without_an_entry_are_caught(
        bolt_app):
    manifest = build_manifest(url=None)
    manifest["settings"]["event_subscriptions"]["bot_events"].append("member_joined_channel")
    manifest["features"]["slash_commands"].append({"command": "/feedback-admin"})
    manifest["features"]["shortcuts"].pop(0)
    unhandled, undeclared = await _unmatched(bolt_app, manifest)
    assert unhandled == ["event member_joined_channel", "command /feedback-admin"]
    assert undeclared == ["shortcut forward_feedback"]


def test_manifest_names_and_least_scopes():
    manifest = build_manifest(url=None)
    assert manifest["features"]["slash_commands"][0]["command"] == "/feedback"
    scopes = manifest["oauth_config"]["scopes"]["bot"]
    # Reading the message an emoji was added to needs reactions:read and history scopes.
    assert {"reactions:read", "channels:history", "groups:history"} <= set(scopes)
    assert "chat:write.public" not in scopes and "admin" not in " ".join(scopes)
