"""Platform-neutral records: feedback items, their events, and intake requests."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    RECEIVED = "received"
    ROUTED = "routed"
    RESPONDED = "responded"
    RESOLVED = "resolved"
    REOPENED = "reopened"


class IntakeKind(StrEnum):
    SHORTCUT = "shortcut"
    COMMAND = "command"
    REACTION = "reaction"
    CHANNEL = "channel"
    DIRECT = "direct"  # a message to the bot in a 1:1 chat


SEVERITIES = ("urgent", "high", "normal", "low")


def utcnow() -> datetime:
    """Return the current time as an aware UTC datetime."""
    return datetime.now(UTC)


def ts_to_datetime(ts: str | float) -> datetime:
    """Turn a Slack message ts ("1712345678.000100") into an aware UTC datetime."""
    return datetime.fromtimestamp(float(ts), UTC)


def in_utc(moment: datetime, name: str) -> datetime:
    """`moment` in UTC; raise ValueError naming `name` for a naive datetime."""
    if moment.tzinfo is UTC:  # what the store gives: nothing to check or convert
        return moment
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime, got naive {moment!r}")
    # Two datetimes sharing one ZoneInfo subtract as wall times, wrong across DST; UTC is safe.
    return moment.astimezone(UTC)


def iso(moment: datetime | None) -> str | None:
    """Format an aware datetime as ISO 8601 UTC with a Z suffix, or None."""
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso(text: str | None) -> datetime | None:
    """Parse what `iso` wrote back into an aware UTC datetime."""
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


@dataclass(frozen=True)
class SourceMessage:
    """Where the customer's words came from in chat."""

    channel: str | None
    ts: str | None
    author: str | None = None
    permalink: str | None = None


@dataclass(frozen=True)
class IntakeRequest:
    """Everything the core needs to turn forwarded words into an item.

    `received_at` is the customer's own time; `forwarded_at` the forwarding time.
    `platform` is where it was forwarded ("slack", "msteams"); ids are that platform's.
    `reply_channel`/`reply_thread_ts` say where confirmations go (an intake thread);
    when they are None the forwarder is told in a DM. `intake_key` makes intake without
    a source message (a slash command, a modal) happen at most once.
    """

    workspace: str
    kind: IntakeKind
    text: str
    forwarded_by: str
    received_at: datetime
    forwarded_at: datetime
    source: SourceMessage
    note: str | None = None
    team: str | None = None
    customer: str | None = None
    severity: str | None = None
    reply_channel: str | None = None
    reply_thread_ts: str | None = None
    files: tuple[str, ...] = ()
    intake_key: str | None = None
    platform: str = "slack"
    link_to: int | None = None  # chosen in the form: a +1 of this item, not held
    as_new: bool = False  # the forwarder said "it's new": nothing is offered


# Slots: digests and exports hold tens of thousands of items; a dict per item (35 fields,
# too many for Python to share the keys) would triple their memory.
@dataclass(slots=True)
class Item:
    """One piece of customer feedback; a summary of its events."""

    workspace: str
    id: int
    team: str
    status: str
    text: str
    customer: str | None
    severity: str
    source_channel: str | None
    source_ts: str | None
    forwarded_by: str
    received_at: datetime
    forwarded_at: datetime
    intake_kind: str = IntakeKind.COMMAND.value
    source_author: str | None = None
    source_permalink: str | None = None
    note: str | None = None
    reply_channel: str | None = None
    reply_thread_ts: str | None = None
    assignees: list[str] = field(default_factory=list)
    card_channel: str | None = None
    card_ts: str | None = None
    first_response_at: datetime | None = None
    first_response_by: str | None = None
    first_response_kind: str | None = None
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    resolution_note: str | None = None
    reassignments: int = 0
    failed: str | None = None
    intake_key: str | None = None
    escalated_at: datetime | None = None
    platform: str = "slack"  # where it was forwarded; its notices go back there
    card_platform: str | None = None  # where its card was posted, once it was
    # When the customer heard back from support, who said so, and how: "button" (Told the
    # customer) or "thread" (a reply in the source thread). The first record wins.
    customer_answered_at: datetime | None = None
    customer_answered_by: str | None = None
    customer_answered_how: str | None = None
    linked_to: int | None = None  # a "+1": the item it says the same as (bot/links.py)
    linked_at: datetime | None = None
    linked_by: str | None = None


@dataclass(frozen=True)
class Event:
    """One append-only change to an item: who did what, and when."""

    item_id: int
    kind: str
    actor: str | None
    at: datetime
    data: dict[str, Any] = field(default_factory=dict)
