"""Outbox entries as the core writes and reads them: notices, platforms, plain reasons."""

from __future__ import annotations

from typing import Any

from bot.models import Item
from bot.outbox_kinds import CARD, CARD_UPDATE, NOTICE
from bot.ports import Notice
from bot.store import NewOutbox, OutboxEntry

# Plain words, without any platform's markup: they are kept in the item (`failed`) and
# shown wherever the item is. Each platform words a failed notice itself, from the
# error and the channel kept beside these words.
_PLAIN_REASONS = {
    "channel_not_found": "{channel} doesn't exist or the bot can't see it",
    "not_in_channel": "the bot isn't a member of {channel}; invite it with /invite",
    "is_archived": "{channel} is archived",
    "user_not_found": "the person could not be found",
    "cannot_dm_bot": "the person is a bot and can't get messages",
    "channel_is_shared": ("{channel} is shared with another organisation, and"
                          " the bot never posts where customers can read"),
}


def plain_reason(error: str, *, channel: str | None = None) -> str:
    """Say what a permanent platform error means, in plain words without markup."""
    template = _PLAIN_REASONS.get(error, "the chat platform refused the message ({error})")
    return template.format(channel=f"the channel {channel}" if channel else "the channel",
                           error=error)


def notice_entry(notice: Notice) -> NewOutbox:
    """Build the outbox entry that delivers `notice`."""
    # The payload's keys predate Teams; entries stored then must still be delivered.
    return NewOutbox(kind=NOTICE, payload={
        "kind": notice.kind, "user": notice.user, "channel": notice.conversation,
        "thread_ts": notice.thread, "data": notice.data, "platform": notice.platform,
    })


def notice_of(payload: dict[str, Any]) -> Notice:
    """The notice an outbox payload (written by notice_entry) delivers."""
    return Notice(kind=payload["kind"], user=payload["user"],
                  conversation=payload.get("channel"), thread=payload.get("thread_ts"),
                  data=payload.get("data") or {}, platform=payload.get("platform") or "slack")


def forwarder_notice(item: Item, notice_kind: str, /, **data: Any) -> Notice:
    """Address a notice to whoever forwarded `item`, where they forwarded it."""
    return Notice(kind=notice_kind, user=item.forwarded_by, conversation=item.reply_channel,
                  thread=item.reply_thread_ts, data=data, platform=item.platform)


def card_platform_of(item: Item) -> str:
    """Where `item`'s card is (or goes); items from before Teams have theirs on Slack."""
    return item.card_platform or "slack"


def platform_of(entry: OutboxEntry, item: Item | None) -> str:
    """The platform an outbox entry is sent on."""
    if entry.kind in (CARD, CARD_UPDATE) and item is not None:
        return card_platform_of(item)
    return str(entry.payload.get("platform") or "slack")
