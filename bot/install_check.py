"""Which configured Teams channels the bot has not been added to yet (for check-config)."""

from __future__ import annotations

from bot.config import Config
from bot.conversations import ConversationBook
from bot.store import Store


def configured_teams_channels(config: Config) -> list[tuple[str, str]]:
    """(config key, channel id) for every Teams channel the config names, in file order,
    workspace sections included; each channel once, at the first key naming it."""
    found: dict[str, str] = {}
    for prefix, each in config.every_workspace_config():
        for name, team in each.teams.items():
            if team.msteams is not None:
                found.setdefault(team.msteams.channel, f"{prefix}teams.{name}.msteams.channel")
        for index, channel in enumerate(each.intake.msteams_channels):
            found.setdefault(channel, f"{prefix}intake.msteams_channels[{index}]")
        for index, digest in enumerate(each.digests):
            if digest.msteams_channel is not None:
                found.setdefault(digest.msteams_channel,
                                 f"{prefix}digests[{index}].msteams_channel")
    return [(key, channel) for channel, key in found.items()]


def missing_installs(config: Config, store: Store | None) -> list[str]:
    """One line per configured Teams channel the bot was never added to (or was removed from).

    Without a store nothing is known yet, so every configured channel is listed.
    """
    configured = configured_teams_channels(config)
    if store is None:
        missing = {channel for _, channel in configured}
    else:
        book = ConversationBook(store=store, platform="msteams")
        missing = set(book.not_joined(channel for _, channel in configured))
    return [f"warning: {key}: the bot is not in Teams channel {channel} yet; add the app to"
            " that channel's team (docs/teams.md, step 6), then run check-config again"
            for key, channel in configured if channel in missing]
