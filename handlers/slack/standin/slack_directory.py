"""Fake Web API methods about who and where: auth, team, users, bots, groups, channels."""

from __future__ import annotations

import copy
from typing import Any

from handlers.slack.standin.slack_args import (
    Args,
    Method,
    flag,
    registrar,
    required,
)
from handlers.slack.standin.slack_state import SlackError, Workspace

METHODS: dict[str, Method] = {}
method = registrar(METHODS)


# ---- auth, team, users, bots ------------------------------------------------------------


@method("auth.test")
def auth_test(ws: Workspace, args: Args) -> dict[str, Any]:
    """Who the token belongs to."""
    result: dict[str, Any] = {
        "url": f"https://{ws.domain}.slack.com/",
        "team": ws.team_name,
        "user": ws.users[ws.bot_user_id]["name"],
        "team_id": ws.team_id,
        "user_id": ws.bot_user_id,
        "bot_id": ws.bot_id,
        "is_enterprise_install": False,
    }
    if ws.enterprise_id:
        result["enterprise_id"] = ws.enterprise_id
    return result


@method("team.info")
def team_info(ws: Workspace, args: Args) -> dict[str, Any]:
    """Our workspace, or a connected one by `team`."""
    team = ws.teams.get(args.get("team") or ws.team_id)
    if team is None:
        raise SlackError("team_not_found")
    return {"team": copy.deepcopy(team)}


@method("users.info")
def users_info(ws: Workspace, args: Args) -> dict[str, Any]:
    """One user object."""
    return {"user": copy.deepcopy(ws.user(required(args, "user", "user_not_found")))}


@method("users.list")
def users_list(ws: Workspace, args: Args) -> dict[str, Any]:
    """Every user (no paging: the fake workspace is small)."""
    members = [copy.deepcopy(u) for u in ws.users.values()]
    return {"members": members, "response_metadata": {"next_cursor": ""}}


@method("users.lookupByEmail")
def users_lookup_by_email(ws: Workspace, args: Args) -> dict[str, Any]:
    """The user with this profile email."""
    email = str(required(args, "email", "users_not_found")).lower()
    for user in ws.users.values():
        if user["profile"].get("email", "").lower() == email:
            return {"user": copy.deepcopy(user)}
    raise SlackError("users_not_found")


@method("bots.info")
def bots_info(ws: Workspace, args: Args) -> dict[str, Any]:
    """One bot object by bot id."""
    bot = ws.bots.get(args.get("bot") or "")
    if bot is None:
        raise SlackError("bot_not_found")
    return {"bot": copy.deepcopy(bot)}


@method("usergroups.users.list")
def usergroups_users_list(ws: Workspace, args: Args) -> dict[str, Any]:
    """The member ids of a user group."""
    group = ws.usergroups.get(args.get("usergroup") or "")
    if group is None:
        raise SlackError("no_such_subteam")
    return {"users": list(group["users"])}


@method("usergroups.list")
def usergroups_list(ws: Workspace, args: Args) -> dict[str, Any]:
    """Every user group, with members when include_users is set."""
    groups = []
    for group in ws.usergroups.values():
        rendered = copy.deepcopy(group)
        if not flag(args.get("include_users")):
            rendered.pop("users")
        groups.append(rendered)
    return {"usergroups": groups}


# ---- conversations ----------------------------------------------------------------------


@method("conversations.info")
def conversations_info(ws: Workspace, args: Args) -> dict[str, Any]:
    """One channel object."""
    return {"channel": ws.channel_object(ws.visible_channel(args.get("channel")))}


@method("conversations.list")
def conversations_list(ws: Workspace, args: Args) -> dict[str, Any]:
    """The channels the bot can see, filtered by `types` and `exclude_archived`."""
    types = set(str(args.get("types") or "public_channel").split(","))
    picked = []
    for channel_id, channel in ws.channels.items():
        if channel["is_im"]:
            kind = "im"
        elif channel["is_private"]:
            kind = "private_channel"
        else:
            kind = "public_channel"
        if kind not in types or (channel["is_private"] and not ws.is_member(channel_id)):
            continue
        if channel["is_archived"] and flag(args.get("exclude_archived")):
            continue
        picked.append(ws.channel_object(channel_id))
    return {"channels": picked, "response_metadata": {"next_cursor": ""}}


@method("conversations.members")
def conversations_members(ws: Workspace, args: Args) -> dict[str, Any]:
    """Member ids of a channel."""
    channel_id = ws.visible_channel(args.get("channel"))
    return {"members": list(ws.members[channel_id]), "response_metadata": {"next_cursor": ""}}


@method("conversations.open")
def conversations_open(ws: Workspace, args: Args) -> dict[str, Any]:
    """Open (or find) the bot's DM with one user."""
    if args.get("channel"):
        channel_id = ws.visible_channel(args["channel"])
        return {"no_op": True, "already_open": True, "channel": {"id": channel_id}}
    users = [u for u in str(required(args, "users", "users_list_not_supplied")).split(",") if u]
    if len(users) != 1:
        # Group DMs are not modelled; say so rather than answer wrongly.
        raise SlackError("not_supported_by_fake_slack")
    ws.user(users[0])
    existed = users[0] in ws.dms
    channel_id = ws.open_dm(users[0])
    return {"no_op": existed, "already_open": existed, "channel": {"id": channel_id}}


@method("conversations.join")
def conversations_join(ws: Workspace, args: Args) -> dict[str, Any]:
    """Add the bot to a public channel."""
    channel_id = ws.visible_channel(args.get("channel"))
    channel = ws.channels[channel_id]
    if channel["is_private"] or channel["is_im"]:
        raise SlackError("method_not_supported_for_channel_type")
    if channel["is_archived"]:
        raise SlackError("is_archived")
    if not ws.is_member(channel_id):
        ws.members[channel_id].append(ws.bot_user_id)
    return {"channel": ws.channel_object(channel_id)}
