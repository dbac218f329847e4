"""What Slack and Teams ids look like, so the config can say which platform an id belongs to."""

from __future__ import annotations

import re

SLACK_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
SLACK_USER_OR_GROUP_ID = re.compile(r"^[UWS][A-Z0-9]{2,}$")
_SLACK_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{2,}$")
# Channel (and team: a team's id is its General channel's) conversation ids.
TEAMS_CHANNEL_ID = re.compile(r"^19:[^\s@]+@thread\.(?:tacv2|skype)$")
_TEAMS_CONVERSATION = re.compile(r"^(?:19|8|28|29|a):\S+$")
EMAIL = re.compile(r"^[^@\s:]+@[^@\s]+\.[^@\s.]+$")
ENTRA_OBJECT_ID = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)

SLACK_PERSON = "a Slack user ID (U…, W…) or user group ID (S…)"
SLACK_CHANNEL = "a Slack channel ID (C…)"
TEAMS_PERSON = "an email/UPN or an Entra object ID (a GUID)"
TEAMS_CHANNEL = "a Teams channel ID (19:…@thread.tacv2)"


def looks_like(value: str) -> str | None:
    """Name the kind of id `value` looks like, with its platform; None when it looks like none."""
    if SLACK_USER_ID.match(value):
        return "a Slack user ID"
    if SLACK_USER_OR_GROUP_ID.match(value):
        return "a Slack user group ID"
    if _SLACK_CHANNEL_ID.match(value):
        return "a Slack channel ID"
    if value.startswith("29:") and _TEAMS_CONVERSATION.match(value):
        return "a Teams chat user ID; use the person's email or Entra object ID"
    if _TEAMS_CONVERSATION.match(value):
        return "a Teams conversation ID"
    if EMAIL.match(value):
        return "an email, which names a person on Teams"
    if ENTRA_OBJECT_ID.match(value):
        return "an Entra object ID, which names a person on Teams"
    return None


def is_teams_person(value: str) -> bool:
    """True for an email/UPN or an Entra object id."""
    return bool(EMAIL.match(value) or ENTRA_OBJECT_ID.match(value))


def is_teams_id(value: str) -> bool:
    """True for anything that looks like a Teams person or conversation, never a Slack id."""
    return is_teams_person(value) or bool(_TEAMS_CONVERSATION.match(value))


def not_a(value: str, expected: str) -> str:
    """The message for `value` in a field that wants `expected`, saying what it looks like."""
    message = f"{value!r} is not {expected}"
    seen = looks_like(value)
    return f"{message}; it looks like {seen}" if seen else message
