"""The fake workspace's state: users, channels, user groups, messages, views and uploads.

This module knows nothing about HTTP; `slack_methods` turns Web API calls into these
operations and `slack_server` serves them.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from typing import Any


class SlackError(Exception):
    """A Web API method failed; `error` is Slack's error code (`channel_not_found`, ...)."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


def _ts_from_micros(micros: int) -> str:
    return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"


def _ts_to_micros(ts: str) -> int:
    seconds, _, fraction = ts.partition(".")
    return int(seconds) * 1_000_000 + int((fraction + "000000")[:6])


def _ts_key(message: dict[str, Any]) -> int:
    return _ts_to_micros(message["ts"])


def is_top_level(message: dict[str, Any]) -> bool:
    """Whether conversations.history lists the message (thread parents and broadcasts do)."""
    thread_ts = message.get("thread_ts")
    return (
        thread_ts is None
        or thread_ts == message["ts"]
        or message.get("subtype") == "thread_broadcast"
    )


class Workspace:
    """One fake Slack workspace; every mutation a Web API method makes goes through here."""

    def __init__(
        self,
        *,
        team_id: str,
        team_name: str,
        domain: str,
        bot_user_id: str,
        bot_id: str,
        app_id: str,
        enterprise_id: str | None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        # POSIX seconds; the demo passes its simulated clock so messages carry story times.
        self.clock = clock
        self.team_id = team_id
        self.team_name = team_name
        self.domain = domain
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.app_id = app_id
        self.enterprise_id = enterprise_id
        # Upload URLs point back at the server; it sets this once it knows its port.
        self.base_url = "http://127.0.0.1:0"
        self.expire_triggers = False
        self.users: dict[str, dict[str, Any]] = {}
        self.bots: dict[str, dict[str, Any]] = {}
        self.teams: dict[str, dict[str, Any]] = {}
        self.channels: dict[str, dict[str, Any]] = {}
        self.members: dict[str, list[str]] = {}
        self.usergroups: dict[str, dict[str, Any]] = {}
        self.views: dict[str, dict[str, Any]] = {}
        self.uploads: dict[str, dict[str, Any]] = {}
        self.ephemerals: list[dict[str, Any]] = []
        self.used_triggers: set[str] = set()
        self._messages: dict[str, dict[str, dict[str, Any]]] = {}
        self.dms: dict[str, str] = {}
        self._last_ts = 0
        self._seq = 0
        self.add_team(team_id, team_name, domain=domain)
        self.add_user(bot_user_id, "feedbackbot", is_bot=True, bot_id=bot_id)

    # ---- ids and timestamps -------------------------------------------------------------

    def next_id(self, prefix: str) -> str:
        """Return a new unique Slack-style id such as `V000000007`."""
        self._seq += 1
        return f"{prefix}{self._seq:09d}"

    def next_ts(self) -> str:
        """Return a message ts from the clock, strictly greater than every earlier one."""
        self._last_ts = max(int(self.clock() * 1_000_000), self._last_ts + 1)
        return _ts_from_micros(self._last_ts)

    def _note_ts(self, ts: str) -> None:
        # A seeded future ts must not be handed out again by next_ts.
        self._last_ts = max(self._last_ts, _ts_to_micros(ts))

    # ---- directory ----------------------------------------------------------------------

    def add_team(self, team_id: str, name: str, *, domain: str | None = None) -> dict[str, Any]:
        """Register a workspace (ours, or one a shared channel connects to)."""
        team: dict[str, Any] = {
            "id": team_id,
            "name": name,
            "domain": domain or name.lower().replace(" ", ""),
            "email_domain": "",
            "icon": {"image_default": True},
        }
        if team_id == self.team_id and self.enterprise_id:
            team["enterprise_id"] = self.enterprise_id
            team["enterprise_name"] = f"{self.team_name} Grid"
        self.teams[team_id] = team
        return copy.deepcopy(team)

    def add_user(
        self,
        user_id: str,
        name: str,
        *,
        real_name: str | None = None,
        team_id: str | None = None,
        is_bot: bool = False,
        bot_id: str | None = None,
        is_restricted: bool = False,
        is_ultra_restricted: bool = False,
        deleted: bool = False,
        email: str | None = None,
        is_admin: bool = False,
    ) -> dict[str, Any]:
        """Add (or replace) a user; a bot user with a `bot_id` is also listed by bots.info."""
        real = real_name if real_name is not None else name
        profile: dict[str, Any] = {
            "real_name": real,
            "real_name_normalized": real,
            "display_name": name,
            "display_name_normalized": name,
            "team": team_id or self.team_id,
        }
        if email:
            profile["email"] = email
        if bot_id:
            profile["bot_id"] = bot_id
        user = {
            "id": user_id,
            "team_id": team_id or self.team_id,
            "name": name,
            "real_name": real,
            "deleted": deleted,
            "is_bot": is_bot,
            "is_app_user": False,
            "is_admin": is_admin,
            "is_owner": False,
            "is_restricted": is_restricted,
            "is_ultra_restricted": is_ultra_restricted,
            "tz": "Europe/Berlin",
            "tz_label": "Central European Time",
            "tz_offset": 3600,
            "updated": int(self.clock()),
            "profile": profile,
        }
        self.users[user_id] = user
        if bot_id:
            self.bots[bot_id] = {
                "id": bot_id,
                "deleted": deleted,
                "name": name,
                "updated": int(self.clock()),
                "app_id": self.app_id if bot_id == self.bot_id else f"A{bot_id[1:]}",
                "user_id": user_id,
                "icons": {"image_36": "", "image_48": "", "image_72": ""},
            }
        return copy.deepcopy(user)

    def add_usergroup(self, group_id: str, handle: str, users: list[str]) -> dict[str, Any]:
        """Add (or replace) a user group whose members are `users`."""
        group = {
            "id": group_id,
            "team_id": self.team_id,
            "is_usergroup": True,
            "name": handle,
            "handle": handle,
            "description": "",
            "is_external": False,
            "date_delete": 0,
            "users": list(users),
            "user_count": len(users),
        }
        self.usergroups[group_id] = group
        return copy.deepcopy(group)

    def user(self, user_id: str) -> dict[str, Any]:
        """Return the user or raise user_not_found."""
        if user_id not in self.users:
            raise SlackError("user_not_found")
        return self.users[user_id]

    # ---- channels -----------------------------------------------------------------------

    def add_channel(
        self,
        channel_id: str,
        name: str,
        *,
        is_private: bool = False,
        is_ext_shared: bool = False,
        is_pending_ext_shared: bool = False,
        members: list[str] | tuple[str, ...] = (),
        bot_member: bool = True,
        is_archived: bool = False,
    ) -> dict[str, Any]:
        """Add (or replace) a channel; the bot is a member unless `bot_member` is false."""
        self.channels[channel_id] = {
            "id": channel_id,
            "name": name,
            "name_normalized": name,
            "is_channel": not is_private,
            "is_group": is_private,
            "is_im": False,
            "is_mpim": False,
            "is_private": is_private,
            "is_archived": is_archived,
            "is_general": name == "general",
            "is_ext_shared": is_ext_shared,
            "is_org_shared": False,
            "is_pending_ext_shared": is_pending_ext_shared,
            "is_shared": is_ext_shared,
            "context_team_id": self.team_id,
            "created": int(self.clock()),
            "creator": "",
        }
        member_list = [m for m in members if m != self.bot_user_id]
        if bot_member:
            member_list.append(self.bot_user_id)
        self.members[channel_id] = member_list
        self._messages.setdefault(channel_id, {})
        return self.channel_object(channel_id)

    def open_dm(self, user_id: str) -> str:
        """Return the stable D… id of the bot's DM with `user_id`, creating it on first use."""
        if user_id not in self.dms:
            dm_id = "D" + (user_id[1:] if user_id[:1] in "UW" else user_id)
            self.dms[user_id] = dm_id
            self.channels[dm_id] = {
                "id": dm_id,
                "is_im": True,
                "is_channel": False,
                "is_group": False,
                "is_mpim": False,
                "is_private": True,
                "is_archived": False,
                "is_ext_shared": False,
                "is_pending_ext_shared": False,
                "is_shared": False,
                "is_org_shared": False,
                "user": user_id,
                "context_team_id": self.team_id,
                "created": int(self.clock()),
            }
            self.members[dm_id] = [user_id, self.bot_user_id]
            self._messages.setdefault(dm_id, {})
        return self.dms[user_id]

    def is_member(self, channel_id: str) -> bool:
        """Whether the bot is in the channel."""
        return self.bot_user_id in self.members.get(channel_id, [])

    def channel_object(self, channel_id: str) -> dict[str, Any]:
        """Return the channel as conversations.info shows it (a copy)."""
        channel = copy.deepcopy(self.channels[channel_id])
        channel["is_member"] = self.is_member(channel_id)
        if not channel["is_im"]:
            channel["num_members"] = len(self.members[channel_id])
        return channel

    def visible_channel(self, channel_id: str | None) -> str:
        """Resolve an id the bot can see (a U… id means the DM with that user).

        Raises channel_not_found for unknown ids and for private channels the bot is not in,
        as Slack does: their existence is secret.
        """
        if not isinstance(channel_id, str) or not channel_id:
            raise SlackError("channel_not_found")
        if channel_id[:1] in "UW":
            if channel_id not in self.users:
                raise SlackError("channel_not_found")
            return self.open_dm(channel_id)
        channel = self.channels.get(channel_id)
        if channel is None or (channel["is_private"] and not self.is_member(channel_id)):
            raise SlackError("channel_not_found")
        return channel_id

    def writable_channel(self, channel_id: str | None) -> str:
        """Resolve a channel the bot may post into, or raise Slack's error for why not."""
        resolved = self.visible_channel(channel_id)
        if not self.is_member(resolved):
            raise SlackError("not_in_channel")
        if self.channels[resolved]["is_archived"]:
            raise SlackError("is_archived")
        return resolved

    # ---- messages -----------------------------------------------------------------------

    def insert_message(self, channel_id: str, message: dict[str, Any]) -> dict[str, Any]:
        """Store a message (seeded or posted), keeping its thread parent's reply fields."""
        if not message.get("ts"):
            message["ts"] = self.next_ts()
        self._note_ts(message["ts"])
        box = self._messages.setdefault(channel_id, {})
        box[message["ts"]] = message
        thread_ts = message.get("thread_ts")
        parent = box.get(thread_ts) if thread_ts and thread_ts != message["ts"] else None
        if parent is not None:
            parent["thread_ts"] = thread_ts
            parent["reply_count"] = parent.get("reply_count", 0) + 1
            author = message.get("user") or message.get("bot_id")
            reply_users = parent.setdefault("reply_users", [])
            if author and author not in reply_users:
                reply_users.append(author)
            parent["reply_users_count"] = len(reply_users)
            parent["latest_reply"] = max(parent.get("latest_reply", "0"), message["ts"], key=float)
            if parent.get("user"):
                message.setdefault("parent_user_id", parent["user"])
        return message

    def find_message(self, channel_id: str, ts: str | None) -> dict[str, Any]:
        """Return the stored message or raise message_not_found."""
        message = self._messages.get(channel_id, {}).get(ts or "")
        if message is None:
            raise SlackError("message_not_found")
        return message

    def remove_message(self, channel_id: str, ts: str) -> None:
        """Delete a message; a reply also leaves its parent's reply_count."""
        message = self._messages[channel_id].pop(ts)
        thread_ts = message.get("thread_ts")
        parent = self._messages[channel_id].get(thread_ts or "")
        if parent is not None and thread_ts != ts:
            parent["reply_count"] = max(parent.get("reply_count", 1) - 1, 0)

    def all_messages(self, channel_id: str) -> list[dict[str, Any]]:
        """Every stored message in the channel, replies included, oldest first (live dicts)."""
        return sorted(self._messages.get(channel_id, {}).values(), key=_ts_key)

    def thread(self, channel_id: str, ts: str) -> list[dict[str, Any]]:
        """The thread holding `ts`: its parent then replies, oldest first (live dicts)."""
        message = self.find_message(channel_id, ts)
        root = message.get("thread_ts") or message["ts"]
        if root not in self._messages[channel_id]:
            raise SlackError("thread_not_found")
        return [
            m
            for m in self.all_messages(channel_id)
            if m["ts"] == root or m.get("thread_ts") == root
        ]

    def history(
        self,
        channel_id: str,
        *,
        latest: str | None,
        oldest: str | None,
        inclusive: bool,
        limit: int,
        cursor: str | None,
    ) -> tuple[list[dict[str, Any]], bool, str]:
        """Top-level messages newest first, as (page, has_more, next_cursor) (live dicts)."""
        start = cursor or latest
        try:
            upper = _ts_to_micros(start) if start else None
        except ValueError:
            raise SlackError("invalid_ts_latest") from None
        try:
            lower = _ts_to_micros(oldest) if oldest else None
        except ValueError:
            raise SlackError("invalid_ts_oldest") from None
        # A cursor continues strictly below the last ts returned, whatever `inclusive` says.
        upper_inclusive = inclusive and not cursor
        picked = []
        for message in reversed(self.all_messages(channel_id)):
            if not is_top_level(message):
                continue
            key = _ts_key(message)
            if upper is not None and (key > upper or (key == upper and not upper_inclusive)):
                continue
            if lower is not None and (key < lower or (key == lower and not inclusive)):
                continue
            picked.append(message)
        page = picked[:limit]
        has_more = len(picked) > limit
        return page, has_more, (page[-1]["ts"] if has_more else "")
