"""Intake from events: the intake emoji on any message, and posts in intake channels."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError

from bot.intake import IntakeRejected
from bot.models import IntakeKind, IntakeRequest, SourceMessage, ts_to_datetime
from handlers.slack.deps import Deps, SlackCall, tell, tracked
from handlers.slack.messages import NEW_MESSAGE_SUBTYPES, TS_PATTERN, ForwardedWords, words_of
from handlers.slack.words import rejection_text

log = logging.getLogger(__name__)


async def fetch_message(
    deps: Deps, call: SlackCall, channel: str, ts: str
) -> dict[str, Any] | None:
    """Return the message at (channel, ts), top-level or in a thread, or None."""
    client = call.client
    history = await client.conversations_history(
        channel=channel, latest=ts, inclusive=True, limit=1
    )
    for message in history.get("messages") or []:
        if message.get("ts") == ts:
            return dict(message)
    # Not top-level: a reply in a thread. conversations.replies finds it by its own ts,
    # but always lists the thread's parent first, so limit=1 would return only that.
    try:
        replies = await client.conversations_replies(
            channel=channel, ts=ts, oldest=ts, inclusive=True, limit=2
        )
    except SlackApiError as error:
        if error.response.get("error") in ("thread_not_found", "message_not_found"):
            return None  # deleted since the emoji was added
        raise
    for message in replies.get("messages") or []:
        if message.get("ts") == ts:
            return dict(message)
    return None


def _is_ts(value: Any) -> bool:
    """Whether `value` looks like a Slack message ts ("1712345678.000100")."""
    return isinstance(value, str) and bool(TS_PATTERN.fullmatch(value))


def _is_own(deps: Deps, message: dict[str, Any]) -> bool:
    """Whether a message was posted by this bot."""
    user = message.get("user")
    bot_id = message.get("bot_id")
    return bool((user and user == deps.bot_user_id) or (bot_id and bot_id == deps.bot_id))


def _reply_target(deps: Deps, channel: str | None, thread_ts: str,
                  workspace: str | None = None) -> tuple[str | None, str | None]:
    """Confirmations go in the intake thread for intake channels, otherwise by DM."""
    if channel and channel in deps.config_for(workspace).intake.channels:
        return channel, thread_ts
    return None, None


def intake_request(words: ForwardedWords, *, workspace: str, kind: IntakeKind,
                   forwarded_by: str, forwarded_at: datetime, reply_channel: str | None,
                   reply_thread_ts: str | None) -> IntakeRequest:
    """The core's request for the words of a message, said when the customer said them."""
    return IntakeRequest(
        workspace=workspace, kind=kind, text=words.text, forwarded_by=forwarded_by,
        received_at=ts_to_datetime(words.said_ts), forwarded_at=forwarded_at,
        source=SourceMessage(channel=words.source_channel, ts=words.source_ts,
                             author=words.author, permalink=words.permalink),
        note=words.note, reply_channel=reply_channel, reply_thread_ts=reply_thread_ts,
        files=words.files)


def register(app: AsyncApp, deps: Deps) -> None:
    """Add the reaction and intake-channel listeners."""

    async def on_reaction_added(call: SlackCall) -> None:
        event = call.body.get("event") or {}
        user = str(event.get("user") or "")
        item = event.get("item") or {}
        intake = deps.config_for(call.workspace).intake
        if event.get("reaction") != intake.reaction or item.get("type") != "message":
            return  # other emoji: acknowledgements are handled on cards
        if not user or user == deps.bot_user_id:
            return
        channel, raw_ts = str(item.get("channel") or ""), item.get("ts")
        if not channel or not _is_ts(raw_ts):
            return  # not a message Slack could name
        ts = str(raw_ts)
        workspace = call.workspace
        if deps.intake.already_forwarded(workspace=workspace, conversation=channel, message=ts):
            return  # a second person reacting: the item already exists
        if not await deps.intake.may_forward(workspace=workspace, user=user):
            log.info("ignored intake emoji from %s, who is not a member of %s", user, workspace)
            return
        try:
            message = await fetch_message(deps, call, channel, ts)
        except SlackApiError as error:
            if error.response.get("error") in (
                "not_in_channel",
                "channel_not_found",
                "missing_scope",
            ):
                # Plain words: the notice escapes its reason, so a <#C…> link would
                # show up as literal text.
                tell(
                    deps,
                    workspace,
                    user,
                    "I can't read messages in the channel where you"
                    " added the emoji. Invite me there with `/invite @feedbackbot`, then add"
                    " the emoji again.",
                )
                return
            raise
        if message is None:
            tell(deps, workspace, user, "I couldn't find that message; it may be deleted.")
            return
        if _is_own(deps, message):
            return  # the bot's own cards and notices are not customer feedback
        words = words_of(message, channel=channel)
        reply_channel, reply_ts = _reply_target(deps, channel, str(message.get("thread_ts") or ts),
                                                workspace)
        forwarded_at = (
            ts_to_datetime(event["event_ts"]) if _is_ts(event.get("event_ts")) else deps.clock()
        )
        request = intake_request(words, workspace=workspace, kind=IntakeKind.REACTION,
                                 forwarded_by=user, forwarded_at=forwarded_at,
                                 reply_channel=reply_channel, reply_thread_ts=reply_ts)
        try:
            await deps.intake.forward(request, port=deps.port)
        except IntakeRejected as rejected:
            tell(deps, workspace, user, rejection_text(rejected))

    async def on_message(call: SlackCall) -> None:
        event = call.body.get("event") or {}
        channel = str(event.get("channel") or "")
        if channel not in deps.config_for(call.workspace).intake.channels:
            return
        subtype = event.get("subtype")
        if not _is_ts(event.get("ts")):
            return  # a message without a ts can't be named or answered
        if subtype not in NEW_MESSAGE_SUBTYPES or event.get("hidden"):
            return  # edits, deletions, joins, and the like
        thread_ts = event.get("thread_ts")
        if thread_ts and thread_ts != event.get("ts"):
            return  # replies in a thread are conversation, not new feedback
        bot_id = event.get("bot_id")
        user = str(event.get("user") or "")
        if bot_id or subtype == "bot_message":
            if bot_id == deps.bot_id or (user and user == deps.bot_user_id):
                return
            if bot_id not in deps.config_for(call.workspace).intake.bots:
                return
        elif not user or user == deps.bot_user_id:
            return
        workspace = call.workspace
        own_enterprise, _, own_team = workspace.rpartition(":")
        user_team = event.get("user_team") or event.get("team")
        # On Enterprise Grid, people from sibling workspaces of the same organisation are
        # internal too: there only the users.info check below can tell.
        external = bool(not own_enterprise and user_team and own_team and user_team != own_team)
        # A listed integration forwards as itself; a person is checked by the core.
        poster = str(bot_id) if bot_id else user
        if not await deps.intake.may_forward(workspace=workspace, user=poster,
                                             from_outside=external):
            log.info(
                "ignored a post in intake channel %s by %s, who is not internal", channel, user
            )
            return
        ts = str(event.get("ts"))
        words = words_of(event, channel=channel)
        request = intake_request(words, workspace=workspace, kind=IntakeKind.CHANNEL,
                                 forwarded_by=user or str(bot_id),
                                 forwarded_at=ts_to_datetime(ts), reply_channel=channel,
                                 reply_thread_ts=ts)
        try:
            await deps.intake.forward(request, port=deps.port)
        except IntakeRejected as rejected:
            if user:
                tell(deps, workspace, user, rejection_text(rejected))
            else:
                log.warning("a post by integration %s in %s was not forwarded: %s", bot_id,
                            channel, rejected)

    app.event("reaction_added")(tracked(deps, on_reaction_added))
    app.event("message")(tracked(deps, on_message))
