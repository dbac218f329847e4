"""Check every id in a config against the shape of its platform's ids (Slack or Teams)."""

from __future__ import annotations

from typing import Literal

from bot.config import Config, TeamConfig
from bot.config_ids import (
    SLACK_CHANNEL,
    SLACK_PERSON,
    SLACK_USER_ID,
    SLACK_USER_OR_GROUP_ID,
    TEAMS_CHANNEL,
    TEAMS_CHANNEL_ID,
    TEAMS_PERSON,
    is_teams_id,
    is_teams_person,
    not_a,
)

Loc = tuple[str | int, ...]
Found = tuple[Loc, str, Literal["error", "warning"]]

_ADMIN = "a Slack user ID (U…, W…), an email/UPN or an Entra object ID"


def id_checks(config: Config) -> list[Found]:
    """Errors for ids that don't fit their field's platform, saying which platform they fit."""
    found: list[Found] = []
    for index, admin in enumerate(config.admins):
        if not (SLACK_USER_ID.match(admin) or is_teams_person(admin)):
            found.append((("admins", index), not_a(admin, _ADMIN), "error"))
    for name, team in config.teams.items():
        found += _team_checks(("teams", name), team)
    for channel in config.customer_channels:
        found += _slack_channel(("customer_channels", channel), channel, "")
    for index, channel in enumerate(config.intake.channels):
        found += _slack_channel(("intake", "channels", index), channel,
                                "; Teams channels go under `intake.msteams_channels`")
    for index, channel in enumerate(config.intake.msteams_channels):
        found += _teams_channel(("intake", "msteams_channels", index), channel)
    for index, digest in enumerate(config.digests):
        if digest.channel is not None:
            found += _slack_channel(("digests", index, "channel"), digest.channel,
                                    "; a Teams channel goes in `msteams_channel`")
        if digest.msteams_channel is not None:
            found += _teams_channel(("digests", index, "msteams_channel"),
                                    digest.msteams_channel)
    return found


def _team_checks(here: Loc, team: TeamConfig) -> list[Found]:
    """One team's Slack and Teams ids."""
    found: list[Found] = []
    if team.channel is not None:
        found += _slack_channel((*here, "channel"), team.channel,
                                "; a Teams channel goes under `msteams.channel`")
    for index, owner in enumerate(team.owners):
        if not SLACK_USER_OR_GROUP_ID.match(owner):
            hint = "; Teams owners go under `msteams.owners`" if is_teams_id(owner) else ""
            found.append(((*here, "owners", index), not_a(owner, SLACK_PERSON) + hint, "error"))
    if team.escalate_to is not None:
        if not SLACK_USER_OR_GROUP_ID.match(team.escalate_to):
            found.append(((*here, "escalate_to"), not_a(team.escalate_to, SLACK_PERSON),
                          "error"))
        elif team.channel is None:
            message = "`escalate_to` works on Slack only, and this team has no Slack channel"
            found.append(((*here, "escalate_to"), message, "error"))
    if team.msteams is not None:
        found += _teams_channel((*here, "msteams", "channel"), team.msteams.channel)
        for index, owner in enumerate(team.msteams.owners):
            if not is_teams_person(owner):
                found.append(((*here, "msteams", "owners", index), not_a(owner, TEAMS_PERSON),
                              "error"))
    return found


def _slack_channel(loc: Loc, channel: str, hint: str) -> list[Found]:
    """A Teams id where a Slack channel belongs is an error; other shapes are left to Slack."""
    if is_teams_id(channel):
        return [(loc, not_a(channel, SLACK_CHANNEL) + hint, "error")]
    return []


def _teams_channel(loc: Loc, channel: str) -> list[Found]:
    """A Teams channel field must hold a Teams channel conversation id."""
    if TEAMS_CHANNEL_ID.match(channel):
        return []
    return [(loc, not_a(channel, TEAMS_CHANNEL), "error")]
