"""The Slack implementation of the core's ChatPort, over the Web API."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.closed_loop import offers_told_customer
from bot.digest import DigestData
from bot.models import Item, utcnow
from bot.ports import ChatError, Notice, Posted
from bot.store import Store
from handlers.shared_lookups import SharedLookups
from handlers.slack.digest_blocks import digest_blocks, digest_text
from handlers.slack.rate_limits import RateLimits
from handlers.slack.render import (
    card_blocks,
    card_text,
    follow_blocks,
    notice_text,
    offer_blocks,
)
from handlers.slack.told_blocks import told_customer_blocks

log = logging.getLogger(__name__)

PERMANENT_ERRORS = frozenset({
    "cant_delete_message", "channel_not_found", "not_in_channel", "is_archived", "user_not_found",
    "cannot_dm_bot", "msg_too_long", "invalid_blocks", "no_text", "message_not_found",
    "cant_update_message", "restricted_action", "user_disabled", "missing_scope",
    "invalid_arguments", "too_many_attachments", "channel_is_archived",
})
REVOKED_ERRORS = frozenset({
    "token_revoked", "invalid_auth", "account_inactive", "not_authed", "app_uninstalled",
    "team_access_not_granted", "org_login_required",
})
METADATA_EVENT = "feedbackbot_outbox"
_HISTORY_PAGES = 5
MESSAGE_TS = re.compile(r"\d+\.\d{6}")  # a message ts as Slack writes it
CLOCK_SKEW = timedelta(minutes=15)
# Answers that mean Slack itself is failing, rather than refusing this one call.
SERVER_TROUBLE = frozenset({"internal_error", "fatal_error", "service_unavailable",
                            "request_timeout"})
_URL_CACHE_SECONDS = 3600.0
_USER_CACHE_SECONDS = 3600.0
_GROUP_CACHE_SECONDS = 300.0  # membership changes should reach routing within minutes


def chat_error(error: Exception) -> ChatError:
    """Classify a Web API failure for the outbox: permanent, revoked, rate-limited, or not."""
    if isinstance(error, SlackApiError):
        response = error.response
        status = getattr(response, "status_code", 200)
        code = ""
        if isinstance(response.data, dict):
            code = str(response.data.get("error", ""))
        if status == 429 or code == "ratelimited":
            retry_after = float(response.headers.get("Retry-After", response.headers.get(
                "retry-after", 1)) or 1)
            return ChatError("ratelimited", retry_after=retry_after)
        if code in REVOKED_ERRORS:
            return ChatError(code, workspace_gone=True)
        if code in PERMANENT_ERRORS:
            return ChatError(code, permanent=True)
        # Slack may have done the work before failing (its words for internal_error), so
        # a post answered so is looked up before it is sent again.
        trouble = status >= 500 or code in SERVER_TROUBLE
        return ChatError(code or f"http_{status}", server_trouble=trouble, unknown_fate=trouble)
    if isinstance(error, asyncio.TimeoutError | aiohttp.ServerTimeoutError):
        return ChatError("timeout", unknown_fate=True, server_trouble=True)
    if isinstance(error, aiohttp.ClientError):
        # The request may or may not have reached Slack before the connection broke.
        return ChatError(f"connection: {error}", unknown_fate=True, server_trouble=True)
    raise error


class SlackChatPort:
    """Posts cards and notices, and answers lookups, for one or more workspaces.

    `client_for(workspace)` returns a Web API client carrying that workspace's bot
    token. Lookups are cached; a failed shared-channel lookup counts as shared. A 429
    holds back only what Slack limited (see handlers.slack.rate_limits). Permalinks the
    bot can build from the workspace's URL (from auth.test) are not fetched.
    """

    def __init__(self, *, client_for: Callable[[str], AsyncWebClient], store: Store,
                 team_channels: Mapping[str, str],
                 channels_of: Callable[[str], Mapping[str, str]] | None = None,
                 linked_of: Callable[[Item], list[Item]] | None = None) -> None:
        self.client_for = client_for
        self.store = store
        # An item's "+1"s, shown on its card (the core's bot.links.Links.linked).
        self.linked_of = linked_of
        self.team_channels = team_channels
        # Each workspace's own team channels (its config section), when given.
        self.channels_of = channels_of
        self._users = SharedLookups(found_ttl=_USER_CACHE_SECONDS,
                                    missing_ttl=_USER_CACHE_SECONDS)
        self._permalinks: dict[tuple[str, str, str], str] = {}
        self._groups: dict[tuple[str, str], tuple[float, list[str]]] = {}
        self._urls: dict[str, str] = {}
        # Concurrent first permalinks of a workspace share one auth.test; a failed one
        # is asked again after a minute, meanwhile chat.getPermalink stands in.
        self._url_lookups = SharedLookups(found_ttl=_URL_CACHE_SECONDS, missing_ttl=60.0)
        self.rate_limits = RateLimits()

    async def _call(self, workspace: str, method: str, **kwargs: Any) -> dict[str, Any]:
        channel = kwargs.get("channel")
        channel = channel if isinstance(channel, str) else None
        self.rate_limits.check(workspace, method, channel)
        client = self.client_for(workspace)
        try:
            response = await client.api_call(method, json=kwargs)
        except (TimeoutError, SlackApiError, aiohttp.ClientError) as error:
            failure = chat_error(error)
            if failure.retry_after is not None:
                failure.limited = self.rate_limits.limited(workspace, method, channel,
                                                           failure.retry_after)
            raise failure from error
        data = dict(response.data) if isinstance(response.data, dict) else {}
        if method == "auth.test" and isinstance(data.get("url"), str):
            self.remember_url(workspace=workspace, url=data["url"])
        return data

    def remember_url(self, *, workspace: str, url: str) -> None:
        """Keep a workspace's URL (auth.test's `url`), from which permalinks are built."""
        self._urls[workspace] = url if url.endswith("/") else url + "/"

    async def workspace_url(self, workspace: str) -> str | None:
        """The workspace's URL, asked of auth.test once; None when Slack can't say now."""
        if workspace in self._urls:
            return self._urls[workspace]

        async def look_up() -> str | None:
            try:
                await self._call(workspace, "auth.test")
            except ChatError:
                return None
            return self._urls.get(workspace)

        url: str | None = await self._url_lookups.get(workspace, look_up)
        return url

    async def post_card(self, *, item: Item, mentions: list[str], outbox_key: str) -> Posted:
        channel = self._team_channel(item)
        link = await self.source_link(item)
        data = await self._call(
            item.workspace, "chat.postMessage",
            channel=channel, text=card_text(item),
            blocks=card_blocks(item, mentions=mentions, source_link=link,
                               linked=await self._linked(item)),
            metadata={"event_type": METADATA_EVENT,
                      "event_payload": {"outbox": outbox_key, "item": item.id}},
            unfurl_links=False, unfurl_media=False, link_names=False,
        )
        return Posted(conversation=str(data.get("channel", channel)), message=str(data["ts"]))

    def _team_channel(self, item: Item) -> str:
        channels = self.team_channels if self.channels_of is None else self.channels_of(
            item.workspace)
        channel = channels.get(item.team)
        if not channel:
            # A team that lives only on Teams: its cards are not Slack's to post.
            raise ChatError(f"team {item.team} has no Slack channel", permanent=True)
        return channel

    async def update_card(self, *, item: Item) -> None:
        if not (item.card_channel and item.card_ts):
            return
        link = await self.source_link(item)
        await self._call(
            item.workspace, "chat.update", channel=item.card_channel, ts=item.card_ts,
            text=card_text(item),
            blocks=card_blocks(item, mentions=item.assignees, source_link=link,
                               linked=await self._linked(item)),
        )

    async def source_link(self, item: Item) -> str | None:
        """Return a permalink to the message the item was forwarded from, if any."""
        if item.source_permalink:
            return item.source_permalink
        if not (item.source_channel and item.source_ts):
            return None
        # Confirmed in the source's own thread: the source is a top-level message, whose
        # link the bot can build. A reply's link also names its thread, unknown here.
        top_level = (item.reply_channel == item.source_channel
                     and item.reply_thread_ts == item.source_ts)
        return await self.permalink(item.workspace, item.source_channel, item.source_ts,
                                    top_level=top_level)

    async def permalink(self, workspace: str, channel: str, ts: str, *,
                        top_level: bool = True) -> str | None:
        """Return a message's permalink, or None when Slack can't give one.

        A top-level message's link is built from the workspace's URL, as Slack builds
        it (<url>archives/<channel>/p<ts without the dot>); otherwise, or while the URL
        is unknown, it is asked of chat.getPermalink.
        """
        key = (workspace, channel, ts)
        if key in self._permalinks:
            return self._permalinks[key]
        if top_level and MESSAGE_TS.fullmatch(ts):
            url = await self.workspace_url(workspace)
            if url:
                return f"{url}archives/{channel}/p{ts.replace('.', '')}"
        try:
            data = await self._call(workspace, "chat.getPermalink", channel=channel,
                                    message_ts=ts)
        except ChatError as error:
            if error.workspace_gone or not error.permanent:
                raise
            return None
        link = data.get("permalink")
        if isinstance(link, str):
            self._permalinks[key] = link
            return link
        return None

    async def _notice_content(self, workspace: str, item: Item | None,
                              notice: Notice) -> dict[str, Any]:
        card_link = None
        if item is not None and item.card_channel and item.card_ts:
            card_link = await self.permalink(workspace, item.card_channel, item.card_ts)
        names = {}
        people = [notice.data.get("by"), *(notice.data.get("assignees") or []),
                  notice.data.get("acknowledged_by"), notice.data.get("resolved_by")]
        for person in people:
            if isinstance(person, str) and person and person not in names:
                names[person] = await self.display_name(workspace, person)
        text = notice_text(notice, item, card_link=card_link, names=names)
        content: dict[str, Any] = {"text": text}
        if notice.kind == "routed" and item is not None:
            content["blocks"] = follow_blocks(text, item)
        elif notice.kind == "offer":
            content["blocks"] = offer_blocks(text, item, notice)
        elif notice.kind in ("linked", "sent_as_new"):
            # Replaces an offer: its buttons must go too.
            content["blocks"] = [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]
        if item is not None and offers_told_customer(item, notice.kind, notice.user):
            content["blocks"] = told_customer_blocks(text, item)
        return content

    async def _linked(self, item: Item) -> list[Item]:
        """The +1s of `item`, read off the loop."""
        if self.linked_of is None:
            return []
        return await asyncio.to_thread(self.linked_of, item)

    async def display_name(self, workspace: str, user: str) -> str:
        """A person's display name, or their ID when it can't be looked up."""
        try:
            info = await self.user_info(workspace, user)
        except ChatError:
            return user
        if not info:
            return user
        profile = info.get("profile") or {}
        return str(profile.get("display_name") or profile.get("real_name")
                   or info.get("real_name") or info.get("name") or user)

    async def send_notice(self, *, workspace: str, item: Item | None, notice: Notice,
                          outbox_key: str) -> Posted:
        kwargs: dict[str, Any] = {
            "channel": notice.conversation or notice.user,
            **await self._notice_content(workspace, item, notice),
            "metadata": {"event_type": METADATA_EVENT,
                         "event_payload": {"outbox": outbox_key,
                                           "item": item.id if item else 0}},
            "unfurl_links": False, "unfurl_media": False,
        }
        if notice.conversation and notice.thread:
            kwargs["thread_ts"] = notice.thread
        data = await self._call(workspace, "chat.postMessage", **kwargs)
        return Posted(conversation=str(data.get("channel", kwargs["channel"])),
                      message=str(data["ts"]))

    async def edit_notice(self, *, workspace: str, conversation: str, message: str,
                          item: Item | None, notice: Notice) -> None:
        await self._call(workspace, "chat.update", channel=conversation, ts=message,
                         **await self._notice_content(workspace, item, notice))

    async def delete_message(self, *, workspace: str, conversation: str, message: str) -> None:
        try:
            await self._call(workspace, "chat.delete", channel=conversation, ts=message)
        except ChatError as error:
            if error.reason != "message_not_found":
                raise

    async def send_ephemeral(self, *, workspace: str, conversation: str, user: str,
                             text: str) -> None:
        await self._call(workspace, "chat.postEphemeral", channel=conversation, user=user,
                         text=text)

    async def mark_card_moved(self, *, item: Item, conversation: str, message: str) -> None:
        link = None
        if item.card_channel and item.card_ts:
            link = await self.permalink(item.workspace, item.card_channel, item.card_ts)
        source = await self.source_link(item)
        await self._call(
            item.workspace, "chat.update", channel=conversation, ts=message,
            text=f"Feedback #{item.id} moved to {item.team}",
            blocks=card_blocks(item, mentions=[], source_link=source,
                               moved_to=(item.team, link)))

    async def post_digest(self, *, workspace: str, data: DigestData, chart_png: bytes,
                          outbox_key: str, existing: Posted | None,
                          conversation: str) -> Posted:
        links = dict(data.links)
        for item in data.linked_items:
            if item.card_channel and item.card_ts and item.id not in links:
                link = await self.permalink(workspace, item.card_channel, item.card_ts)
                if link:
                    links[item.id] = link
        data = dataclasses.replace(data, links=links)
        posted = existing
        if posted is None:
            answer = await self._call(
                workspace, "chat.postMessage", channel=conversation, text=digest_text(data),
                blocks=digest_blocks(data), unfurl_links=False, unfurl_media=False,
                metadata={"event_type": METADATA_EVENT,
                          "event_payload": {"outbox": outbox_key, "item": 0}})
            posted = Posted(conversation=str(answer.get("channel", conversation)),
                            message=str(answer["ts"]))
        filename = f"feedback-trend-{data.local_date.isoformat()}.png"
        if existing is not None and await self._thread_has_file(workspace, posted, filename):
            return posted  # an earlier attempt uploaded the chart after all
        try:
            await self.client_for(workspace).files_upload_v2(
                channel=posted.conversation, thread_ts=posted.message, content=chart_png,
                filename=filename,
                title=f"Median time to response per team, 14 days to {data.local_date}")
        except (SlackApiError, aiohttp.ClientError, TimeoutError) as error:
            failure = chat_error(error)
            if failure.permanent or failure.workspace_gone:
                raise failure from error
            # The digest itself is posted; the retry finds it and uploads only the chart.
            raise ChatError(f"chart upload: {failure.reason}", unknown_fate=True,
                            retry_after=failure.retry_after) from error
        return posted

    async def _thread_has_file(self, workspace: str, posted: Posted, filename: str) -> bool:
        replies = await self._call(workspace, "conversations.replies", channel=posted.conversation,
                                   ts=posted.message, limit=200)
        return any(file.get("name") == filename
                   for message in replies.get("messages", [])
                   for file in message.get("files") or [] if isinstance(file, dict))

    async def find_post(self, *, workspace: str, conversation: str | None, user: str | None,
                        outbox_key: str, since: datetime | None = None,
                        thread: str | None = None) -> Posted | None:
        channel = conversation
        if channel is None and user is not None:
            opened = await self._call(workspace, "conversations.open", users=user)
            channel = str((opened.get("channel") or {}).get("id", ""))
        if not channel:
            return None
        if thread:
            # A reply can only be in its thread, however busy the channel around it is.
            return await self._find_in_thread(workspace, channel, thread, outbox_key)
        # Only posts made after the entry was created can be it; a margin covers a host
        # clock that disagrees with Slack's.
        oldest = f"{since.timestamp() - CLOCK_SKEW.total_seconds():.6f}" if since else "0"
        cursor = None
        for _ in range(_HISTORY_PAGES):
            page: dict[str, Any] = {"channel": channel, "limit": 200, "oldest": oldest,
                                    "include_all_metadata": True}
            if cursor:
                page["cursor"] = cursor
            history = await self._call(workspace, "conversations.history", **page)
            for message in history.get("messages", []):
                if _outbox_key_of(message) == outbox_key:
                    return Posted(conversation=channel, message=str(message["ts"]))
                for reply_ts in _thread_candidates(message):
                    found = await self._find_in_thread(workspace, channel, reply_ts,
                                                       outbox_key)
                    if found:
                        return found
            cursor = (history.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                break
        return None

    async def _find_in_thread(self, workspace: str, channel: str, thread_ts: str,
                              outbox_key: str) -> Posted | None:
        replies = await self._call(workspace, "conversations.replies", channel=channel,
                                   ts=thread_ts, limit=200, include_all_metadata=True)
        for message in replies.get("messages", []):
            if _outbox_key_of(message) == outbox_key:
                return Posted(conversation=channel, message=str(message["ts"]))
        return None

    async def group_members(self, *, workspace: str, group: str) -> list[str]:
        key = (workspace, group)
        cached = self._groups.get(key)
        if cached and time.monotonic() - cached[0] < _GROUP_CACHE_SECONDS:
            return list(cached[1])
        data = await self._call(workspace, "usergroups.users.list", usergroup=group)
        members = [str(user) for user in data.get("users", [])]
        self._groups[key] = (time.monotonic(), members)
        return list(members)

    async def user_info(self, workspace: str, user: str) -> dict[str, Any] | None:
        """Return users.info's user object (cached for an hour), or None if unknown.

        Lookups of one person that overlap (a burst of their forwards) make one call.
        """
        async def look_up() -> dict[str, Any] | None:
            try:
                data = await self._call(workspace, "users.info", user=user)
            except ChatError as error:
                if error.permanent:
                    return None
                raise
            info = data.get("user")
            return info if isinstance(info, dict) else None

        found: dict[str, Any] | None = await self._users.get(f"{workspace}\n{user}", look_up)
        return found

    async def is_internal_user(self, *, workspace: str, user: str) -> bool:
        # A failed lookup raises: guessing "external" would drop feedback during an
        # outage, and guessing "internal" would let customers in.
        info = await self.user_info(workspace, user)
        if info is None or info.get("deleted") or info.get("is_stranger"):
            return False
        if info.get("is_restricted") or info.get("is_ultra_restricted"):
            return False
        team = str(info.get("team_id", ""))
        enterprise = str((info.get("enterprise_user") or {}).get("enterprise_id", ""))
        own_enterprise, _, own_team = workspace.rpartition(":")
        if own_enterprise and enterprise == own_enterprise:
            return True
        return team == own_team

    async def is_shared_conversation(self, *, workspace: str, conversation: str) -> bool:
        if conversation.startswith("D"):
            return False
        # In a thread: the loop keeps serving while another thread commits to the store.
        cached = await asyncio.to_thread(self.store.get_channel_shared, workspace=workspace,
                                         channel=conversation)
        if cached is not None:
            return cached
        return await self._look_up_shared(workspace, conversation)

    async def refresh_shared_channel(self, *, workspace: str, channel: str) -> bool:
        """Look up whether a channel is shared, ignoring and then updating the cache.

        A failed lookup counts as shared (and is not cached).
        """
        try:
            return await self._look_up_shared(workspace, channel)
        except ChatError as error:
            log.warning("could not check whether %s is shared (%s); treating it as shared",
                        channel, error.reason)
            return True

    async def token_refusal(self, *, workspace: str) -> str | None:
        try:
            await self._call(workspace, "auth.test")
        except ChatError as error:
            if error.workspace_gone:
                return error.reason
            raise
        return None

    async def _look_up_shared(self, workspace: str, channel: str) -> bool:
        """Ask Slack whether a channel is shared, and cache the answer; raises ChatError."""
        data = await self._call(workspace, "conversations.info", channel=channel)
        info = data.get("channel") or {}
        shared = bool(info.get("is_ext_shared") or info.get("is_pending_ext_shared"))
        self.remember_shared(workspace=workspace, channel=channel, shared=shared)
        return shared

    def remember_shared(self, *, workspace: str, channel: str, shared: bool) -> None:
        """Cache whether a channel is shared (Slack said so in an event or a lookup)."""
        self.store.set_channel_shared(workspace=workspace, channel=channel, shared=shared,
                                      now=utcnow())


def _outbox_key_of(message: dict[str, Any]) -> str | None:
    metadata = message.get("metadata") or {}
    if metadata.get("event_type") != METADATA_EVENT:
        return None
    payload = metadata.get("event_payload") or {}
    key = payload.get("outbox")
    return str(key) if key else None


def _thread_candidates(message: dict[str, Any]) -> list[str]:
    return [str(message["ts"])] if message.get("reply_count") else []
