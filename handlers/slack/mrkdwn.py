"""Turn Slack's message markup into plain words that can be shown anywhere safely."""

from __future__ import annotations

import html
import re
from collections.abc import Mapping

_TOKEN = re.compile(r"<([^<>]*)>")
_SPECIAL = {"here": "@here", "channel": "@channel", "everyone": "@everyone"}


def _replace(token: str, names: Mapping[str, str]) -> str:
    target, _, label = token.partition("|")
    if target.startswith("@"):
        user = target[1:]
        return "@" + (label or names.get(user) or user)
    if target.startswith("#"):
        return "#" + (label or target[1:])
    if target.startswith("!subteam^"):
        return label or "@" + target.removeprefix("!subteam^")
    if target.startswith("!date^"):
        return label or target
    if target.startswith("!"):
        return _SPECIAL.get(target[1:], "@" + target[1:])
    return f"{label} ({target})" if label and label != target else target


def slack_to_plain(text: str, *, names: Mapping[str, str] | None = None) -> str:
    """Plain text for Slack markup: mentions become "@name", links "label (url)".

    Slack escapes &, < and > in message text; they are unescaped here, so the result
    must be escaped again wherever it is shown in Slack.
    """
    names = names or {}
    replaced = _TOKEN.sub(lambda match: _replace(match.group(1), names), text)
    return html.unescape(replaced) if "&" in replaced else replaced


def mentioned_users(text: str) -> list[str]:
    """User IDs mentioned in Slack markup, in order, without repeats."""
    seen: dict[str, None] = {}
    for match in re.finditer(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>", text):
        seen.setdefault(match.group(1), None)
    return list(seen)
