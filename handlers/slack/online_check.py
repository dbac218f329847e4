"""`check-config --online`: ask Slack whether the config's channels and people are right."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import Config
from bot.config_ids import SLACK_USER_ID
from bot.settings import Settings
from handlers.slack.context import workspace_key


class TokenRejected(Exception):
    """Slack refused the bot token, so nothing else can be checked."""


@dataclass(frozen=True)
class OnlineProblem:
    """One thing Slack says is wrong with the config."""

    key: str
    message: str
    severity: str = "error"

    def __str__(self) -> str:
        return f"{self.key}: {self.severity}: {self.message}"


def _channels_to_check(config: Config) -> list[tuple[str, str]]:
    # Only Slack's own fields: Teams channels are checked by the Teams side.
    channels = [(f"teams.{name}.channel", team.channel) for name, team in config.teams.items()
                if team.channel is not None]
    channels += [(f"intake.channels[{index}]", channel)
                 for index, channel in enumerate(config.intake.channels)]
    channels += [(f"digests[{index}].channel", digest.channel)
                 for index, digest in enumerate(config.digests) if digest.channel is not None]
    return channels


def _where_written(config: Config, workspace: str) -> Callable[[str], str]:
    """Maps a setting's key ("teams.x.channel") to where the workspace's value is written:
    under its section when the section gives that setting, else at the top level."""
    section = config.section_key(workspace)
    own = set(config.workspaces[section].overrides()) if section is not None else set()

    def where(key: str) -> str:
        setting = key.split(".", 1)[0].split("[", 1)[0]
        return f"workspaces.{section}.{key}" if setting in own else key

    return where


async def check_online(config: Config, client: AsyncWebClient) -> list[OnlineProblem]:
    """Check that the bot is in every channel it needs and that none is shared.

    Also checks that owners, admins and user groups exist. Raises SlackApiError only
    when the token itself is bad (auth.test fails).
    """
    auth = await client.auth_test()
    # The token's workspace is checked with the settings it uses (its section, if any).
    workspace = workspace_key(team_id=auth.get("team_id"),
                              enterprise_id=auth.get("enterprise_id"))
    where = _where_written(config, workspace)
    config = config.for_workspace(workspace)
    problems: list[OnlineProblem] = []
    for key, channel in _channels_to_check(config):
        key = where(key)
        try:
            info = (await client.conversations_info(channel=channel)).get("channel") or {}
        except SlackApiError as error:
            problems.append(OnlineProblem(key, f"channel {channel}: "
                                          f"{error.response.get('error')}"))
            continue
        if info.get("is_ext_shared") or info.get("is_pending_ext_shared"):
            problems.append(OnlineProblem(key, f"channel {channel} (#{info.get('name')}) is"
                                          " shared with another organisation; the bot never"
                                          " posts there, so it can't be used here"))
        if not info.get("is_member"):
            problems.append(OnlineProblem(key, f"the bot is not a member of #{info.get('name')}"
                                          f" ({channel}); invite it with /invite"))
        if info.get("is_archived"):
            problems.append(OnlineProblem(key, f"channel #{info.get('name')} is archived"))
    people = [(f"teams.{name}.owners", owner) for name, team in config.teams.items()
              for owner in team.owners]
    # Admins given as emails or Entra object ids are admins on Teams, not Slack users.
    people += [("admins", admin) for admin in config.admins if SLACK_USER_ID.match(admin)]
    people += [(f"teams.{name}.escalate_to", team.escalate_to)
               for name, team in config.teams.items() if team.escalate_to]
    for key, ident in people:
        key = where(key)
        try:
            if ident.startswith("S"):
                await client.usergroups_users_list(usergroup=ident)
            else:
                await client.users_info(user=ident)
        except SlackApiError as error:
            problems.append(OnlineProblem(key, f"{ident}: {error.response.get('error')}"))
    return problems


async def run_online_check(config: Config, settings: Settings) -> list[OnlineProblem]:
    """Run `check_online` with a client built from settings.

    Raises TokenRejected when auth.test fails.
    """
    client = AsyncWebClient(token=settings.bot_token, base_url=settings.api_url)
    try:
        await client.auth_test()
    except SlackApiError as error:
        raise TokenRejected(f"Slack rejected the token: {error.response.get('error')}") from None
    return await check_online(config, client)
