"""Fake Web API methods about messages: history, threads, chat.* and reactions."""

from __future__ import annotations

import copy
from typing import Any

from handlers.slack.standin.slack_args import (
    Args,
    Method,
    bot_message,
    check_blocks,
    check_metadata,
    decode_cursor,
    encode_cursor,
    flag,
    int_arg,
    registrar,
    render,
    required,
)
from handlers.slack.standin.slack_state import SlackError, Workspace

METHODS: dict[str, Method] = {}
method = registrar(METHODS)


@method("conversations.history")
def conversations_history(ws: Workspace, args: Args) -> dict[str, Any]:
    """Top-level messages, newest first."""
    channel_id = ws.visible_channel(args.get("channel"))
    if not ws.is_member(channel_id):
        raise SlackError("not_in_channel")
    page, has_more, last_ts = ws.history(
        channel_id,
        latest=args.get("latest") or None,
        oldest=args.get("oldest") or None,
        inclusive=flag(args.get("inclusive")),
        limit=max(int_arg(args, "limit", 100), 1),
        cursor=decode_cursor(args.get("cursor")),
    )
    with_metadata = flag(args.get("include_all_metadata"))
    return {
        "messages": [render(m, with_metadata=with_metadata) for m in page],
        "has_more": has_more,
        "pin_count": 0,
        "response_metadata": {"next_cursor": encode_cursor(last_ts)},
    }


@method("conversations.replies")
def conversations_replies(ws: Workspace, args: Args) -> dict[str, Any]:
    """A thread: the parent then its replies, oldest first."""
    channel_id = ws.visible_channel(args.get("channel"))
    if not ws.is_member(channel_id):
        raise SlackError("not_in_channel")
    thread = ws.thread(channel_id, required(args, "ts", "thread_not_found"))
    parent, replies = thread[0], thread[1:]
    # As on Slack: the parent always comes first; oldest/latest bound the replies, and
    # `limit` counts the parent too.
    oldest = float(args.get("oldest") or 0)
    latest = float(args.get("latest") or "inf")
    inclusive = flag(args.get("inclusive"))

    def within(message: dict[str, Any]) -> bool:
        ts = float(message["ts"])
        if inclusive:
            return oldest <= ts <= latest
        return oldest < ts < latest

    chosen = [parent, *(m for m in replies if within(m))]
    limit = max(int_arg(args, "limit", 1000), 1)
    with_metadata = flag(args.get("include_all_metadata"))
    return {
        "messages": [render(m, with_metadata=with_metadata) for m in chosen[:limit]],
        "has_more": len(chosen) > limit,
        "response_metadata": {"next_cursor": ""},
    }


# ---- chat -------------------------------------------------------------------------------


@method("chat.postMessage")
def chat_post_message(ws: Workspace, args: Args) -> dict[str, Any]:
    """Post as the bot; a U… channel posts into the DM with that user."""
    channel_id = ws.writable_channel(args.get("channel"))
    if not (args.get("text") or args.get("blocks") or args.get("attachments")):
        raise SlackError("no_text")
    check_blocks(args)
    check_metadata(args.get("metadata"))
    message = bot_message(ws, args)
    message["ts"] = ws.next_ts()
    if args.get("thread_ts"):
        message["thread_ts"] = str(args["thread_ts"])
        if flag(args.get("reply_broadcast")):
            message["subtype"] = "thread_broadcast"
            message["reply_broadcast"] = True
    ws.insert_message(channel_id, message)
    return {"channel": channel_id, "ts": message["ts"], "message": copy.deepcopy(message)}


def _own_message(ws: Workspace, args: Args, refusal: str) -> tuple[str, dict[str, Any]]:
    channel_id = ws.visible_channel(args.get("channel"))
    message = ws.find_message(channel_id, args.get("ts"))
    # A bot token may change only the bot's own messages.
    if message.get("bot_id") != ws.bot_id and message.get("user") != ws.bot_user_id:
        raise SlackError(refusal)
    return channel_id, message


@method("chat.update")
def chat_update(ws: Workspace, args: Args) -> dict[str, Any]:
    """Replace the text, blocks, attachments or metadata of one of the bot's messages."""
    channel_id, message = _own_message(ws, args, "cant_update_message")
    check_blocks(args)
    check_metadata(args.get("metadata"))
    for key in ("text", "blocks", "attachments", "metadata"):
        if key in args and args[key] is not None:
            message[key] = copy.deepcopy(args[key])
    message["edited"] = {"user": ws.bot_user_id, "ts": ws.next_ts()}
    return {
        "channel": channel_id,
        "ts": message["ts"],
        "text": message.get("text", ""),
        "message": copy.deepcopy(message),
    }


@method("chat.delete")
def chat_delete(ws: Workspace, args: Args) -> dict[str, Any]:
    """Delete one of the bot's messages."""
    channel_id, message = _own_message(ws, args, "cant_delete_message")
    ws.remove_message(channel_id, message["ts"])
    return {"channel": channel_id, "ts": message["ts"]}


@method("chat.postEphemeral")
def chat_post_ephemeral(ws: Workspace, args: Args) -> dict[str, Any]:
    """Show a message to one user; it is recorded in `ephemerals`, not in the channel."""
    channel_id = ws.writable_channel(args.get("channel"))
    ws.user(required(args, "user", "user_not_found"))
    if not (args.get("text") or args.get("blocks") or args.get("attachments")):
        raise SlackError("no_text")
    check_blocks(args)
    message = bot_message(ws, args)
    message.update(ts=ws.next_ts(), channel=channel_id, recipient=args["user"])
    if args.get("thread_ts"):
        message["thread_ts"] = str(args["thread_ts"])
    ws.ephemerals.append(message)
    return {"message_ts": message["ts"]}


@method("chat.getPermalink")
def chat_get_permalink(ws: Workspace, args: Args) -> dict[str, Any]:
    """A permalink built from channel and ts (the message itself is not looked up)."""
    channel_id = ws.visible_channel(args.get("channel"))
    ts = str(required(args, "message_ts", "message_not_found"))
    link = f"https://{ws.domain}.slack.com/archives/{channel_id}/p{ts.replace('.', '')}"
    return {"channel": channel_id, "permalink": link}


@method("reactions.add")
def reactions_add(ws: Workspace, args: Args) -> dict[str, Any]:
    """The bot reacts to a message."""
    message = ws.find_message(ws.visible_channel(args.get("channel")), args.get("timestamp"))
    name = str(required(args, "name", "invalid_name")).strip(":")
    reactions = message.setdefault("reactions", [])
    for reaction in reactions:
        if reaction["name"] == name:
            if ws.bot_user_id in reaction["users"]:
                raise SlackError("already_reacted")
            reaction["users"].append(ws.bot_user_id)
            reaction["count"] += 1
            return {}
    reactions.append({"name": name, "users": [ws.bot_user_id], "count": 1})
    return {}


@method("reactions.remove")
def reactions_remove(ws: Workspace, args: Args) -> dict[str, Any]:
    """The bot takes back its reaction."""
    message = ws.find_message(ws.visible_channel(args.get("channel")), args.get("timestamp"))
    name = str(required(args, "name", "invalid_name")).strip(":")
    for reaction in message.get("reactions", []):
        if reaction["name"] == name and ws.bot_user_id in reaction["users"]:
            reaction["users"].remove(ws.bot_user_id)
            reaction["count"] -= 1
            message["reactions"] = [r for r in message["reactions"] if r["count"]]
            return {}
    raise SlackError("no_reaction")
