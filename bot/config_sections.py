"""Check the `workspaces:` sections: their keys, their joins, and each one's own settings."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from bot.config import Config
from bot.config_id_checks import Found, Loc

_SLACK_TEAM = re.compile(r"^T[A-Z0-9]{2,}$")
_ENTERPRISE = re.compile(r"^E[A-Z0-9]{2,}$")
_GRID_WORKSPACE = re.compile(r"^E[A-Z0-9]{2,}:T[A-Z0-9]{2,}$")
_TEAMS_TENANT = re.compile(r"^msteams:\S+$")

KEY_SHAPES = ("a Slack workspace ID (T…), an Enterprise Grid org (E…) or workspace "
              "(E…:T…), or a Teams tenant (msteams:<tenant id>)")

CrossChecks = Callable[[Config, Any], list[Found]]


def is_workspace_key(key: str) -> bool:
    """True for a key a workspace section may have."""
    return any(shape.match(key) for shape in
               (_SLACK_TEAM, _ENTERPRISE, _GRID_WORKSPACE, _TEAMS_TENANT))


def section_checks(config: Config, root: Any, cross_checks: CrossChecks) -> list[Found]:
    """Problems of every workspace section, located in the file.

    Each section with settings of its own is checked as the whole config that workspace
    uses (`cross_checks`): a problem in a setting the section gives is shown at that
    setting; one that comes from a top-level setting the section leaves out (a top-level
    `fallback` naming a team the section's `teams` lacks) is shown at the section, and
    says to give that setting in the section.
    """
    found: list[Found] = []
    top_level = {(loc, message) for loc, message, _severity in cross_checks(config, root)}
    nodes = root.get("workspaces") if isinstance(root, dict) else None
    for key, section in config.workspaces.items():
        here: Loc = ("workspaces", key)
        if not is_workspace_key(key):
            found.append((here, f"workspace key {key!r} is not {KEY_SHAPES}", "error"))
        if section.same_as is not None:
            found += _join_checks(config, here, section.same_as)
            continue
        node = nodes.get(key) if isinstance(nodes, dict) else None
        own = set(section.overrides())
        if key.startswith("msteams:"):
            found += _tenant_checks(config.for_workspace(key), here, own)
        seen: set[tuple[str, str]] = set()
        merged_root = {**root, **(node if isinstance(node, dict) else {})}
        for loc, message, severity in cross_checks(config.for_workspace(key), merged_root):
            setting = str(loc[0])
            if setting in own:
                found.append(((*here, *loc), message, severity))
            elif (loc, message) not in top_level and (setting, message) not in seen:
                seen.add((setting, message))
                found.append((here, f"{message}: the top-level `{setting}` applies to this "
                              f"workspace; give the section a `{setting}` of its own",
                              severity))
    return found


def _join_checks(config: Config, here: Loc, target: str) -> list[Found]:
    """A `same_as` must name a Slack workspace key that is not joined elsewhere itself."""
    if not (_SLACK_TEAM.match(target) or _GRID_WORKSPACE.match(target)):
        return [((*here, "same_as"), f"`same_as` must name a Slack workspace key (T… or "
                 f"E…:T…), got {target!r}", "error")]
    further = config.workspaces.get(target)
    if further is not None and further.same_as is not None:
        return [((*here, "same_as"), f"{target!r} is itself joined to {further.same_as!r}; "
                 f"join this key to {further.same_as!r} directly", "error")]
    return []


def _tenant_checks(config: Config, here: Loc, own: set[str]) -> list[Found]:
    """A Teams tenant's own section: Slack-only settings there can never take effect.

    Its items come from Teams and it is no Slack workspace (no Slack token), so a team
    without a Teams place gets no card, and Slack intake channels never see its messages.
    """
    found: list[Found] = []
    if "teams" in own:
        for name, team in config.teams.items():
            if team.msteams is None:
                found.append(((*here, "teams", name), "this team is on Slack only, and a "
                              "Teams tenant's cards can't go to Slack: give it an `msteams:` "
                              "place, or join the tenant to a Slack workspace with `same_as`",
                              "warning"))
    if "intake" in own and config.intake.channels:
        found.append(((*here, "intake", "channels"), "Slack intake channels never see a "
                      "Teams tenant's messages: list Teams channels under "
                      "`intake.msteams_channels`", "warning"))
    return found
