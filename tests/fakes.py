"""Test doubles shared by the core tests: a recording chat port, a frozen clock, builders."""

from __future__ import annotations

import itertools
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from bot.config import Config
from bot.models import IntakeKind, IntakeRequest, Item, SourceMessage, Status
from bot.ports import ChatError, ChatPort, Notice, Posted

# Every ChatPort method, so that a typo in `fail_next` fails loudly instead of never firing.
PORT_METHODS = frozenset(
    name for name, value in vars(ChatPort).items() if callable(value) and not name.startswith("_")
)

DEFAULT_START = datetime(2024, 5, 6, 9, 0, 0, 123456, tzinfo=UTC)


class FrozenClock:
    """A clock that stands still until told to move; call it to read the time."""

    def __init__(self, start: datetime = DEFAULT_START) -> None:
        if start.tzinfo is None:
            raise ValueError("FrozenClock needs an aware datetime")
        self.now = start.astimezone(UTC)

    def __call__(self) -> datetime:
        """Return the current (frozen) time as an aware UTC datetime."""
        return self.now

    def advance(self, delta: timedelta) -> datetime:
        """Move the clock forward by `delta` and return the new time."""
        if delta < timedelta(0):
            raise ValueError("time only moves forward")
        self.now += delta
        return self.now


@dataclass(frozen=True)
class SentCard:
    """A card that landed in a channel."""

    item: Item
    mentions: list[str]
    outbox_key: str
    posted: Posted
    at: datetime | None = None


@dataclass(frozen=True)
class SentNotice:
    """A notice that landed in a thread or a DM."""

    workspace: str
    item: Item | None
    notice: Notice
    outbox_key: str
    posted: Posted
    at: datetime | None = None


@dataclass
class _Scripted:
    error: ChatError
    landed: bool
    workspace: str | None = None


@dataclass
class RecordingChatPort:
    """A fake ChatPort that records every call and can be scripted to fail.

    `calls` holds every call, failed ones included, as (method, kwargs). `cards`,
    `notices`, `updates`, `moved` (item, old channel, old ts), `edits` (channel, ts,
    notice), `deleted` (channel, ts) and `ephemerals` (channel, user, text) hold only
    what actually landed. Cards land in
    `team_channels[item.team]`; DMs land in "D-<user>". `find_post` answers from what
    landed, so a post of unknown fate that did land (`fail_next(..., landed=True)`) is
    found again. With a `clock`, posts remember when they landed and `find_post` honours
    `since`; without one, `since` is ignored. `refused_tokens` maps a workspace to the
    reason `token_refusal` gives for it; any other workspace's token works.
    """

    team_channels: dict[str, str] = field(default_factory=dict)
    groups: dict[str, list[str]] = field(default_factory=dict)
    internal_users: set[str] = field(default_factory=set)
    shared_channels: set[str] = field(default_factory=set)
    refused_tokens: dict[str, str] = field(default_factory=dict)
    clock: Callable[[], datetime] | None = None
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    cards: list[SentCard] = field(default_factory=list)
    notices: list[SentNotice] = field(default_factory=list)
    updates: list[Item] = field(default_factory=list)
    moved: list[tuple[Item, str, str]] = field(default_factory=list)
    edits: list[tuple[str, str, Notice]] = field(default_factory=list)
    deleted: list[tuple[str, str]] = field(default_factory=list)
    ephemerals: list[tuple[str, str, str]] = field(default_factory=list)
    digests: list[tuple[Any, bytes, Posted]] = field(default_factory=list)
    _failures: dict[str, deque[_Scripted]] = field(default_factory=lambda: defaultdict(deque))
    _ts: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @classmethod
    def for_config(
        cls, config: Config, *, clock: Callable[[], datetime] | None = None
    ) -> RecordingChatPort:
        """A port whose cards land in the channels `config` names for each team."""
        channels = {name: team.channel for name, team in config.teams.items() if team.channel}
        return cls(team_channels=channels, clock=clock)

    # --- scripting ---------------------------------------------------------------
    def fail_next(
        self, method: str, error: ChatError, count: int = 1, *, landed: bool = False,
        workspace: str | None = None,
    ) -> None:
        """Make the next `count` calls of `method` (for `workspace`, if given) raise `error`.

        With `landed`, a post is delivered before the error is raised: a timeout whose
        request did reach the platform.
        """
        if method not in PORT_METHODS:
            raise ValueError(f"ChatPort has no method {method!r}")
        for _ in range(count):
            self._failures[method].append(
                _Scripted(error=error, landed=landed, workspace=workspace))

    def calls_of(self, method: str) -> list[dict[str, Any]]:
        """The kwargs of every call of `method`, failed ones included."""
        return [kwargs for name, kwargs in self.calls if name == method]

    def workspaces_called(self) -> set[str]:
        """Every workspace any call was made for."""
        found = set()
        for _, kwargs in self.calls:
            if "workspace" in kwargs:
                found.add(kwargs["workspace"])
            elif "item" in kwargs and kwargs["item"] is not None:
                found.add(kwargs["item"].workspace)
        return found

    def _record(self, method: str, kwargs: dict[str, Any]) -> _Scripted | None:
        self.calls.append((method, kwargs))
        queue = self._failures[method]
        item = kwargs.get("item")
        workspace = kwargs.get("workspace", getattr(item, "workspace", None))
        for scripted in list(queue):
            if scripted.workspace not in (None, workspace):
                continue  # scripted for another workspace's calls
            queue.remove(scripted)
            if not scripted.landed:
                raise scripted.error
            return scripted
        return None

    def _now(self) -> datetime | None:
        return self.clock() if self.clock is not None else None

    def _next_ts(self) -> str:
        return f"1714986000.{next(self._ts):06d}"

    # --- ChatPort ----------------------------------------------------------------
    async def post_card(self, *, item: Item, mentions: list[str], outbox_key: str) -> Posted:
        """Record the card in the team's channel."""
        scripted = self._record(
            "post_card", {"item": item, "mentions": list(mentions), "outbox_key": outbox_key}
        )
        channel = self.team_channels.get(item.team, f"C-{item.team}")
        posted = Posted(conversation=channel, message=self._next_ts())
        self.cards.append(SentCard(item, list(mentions), outbox_key, posted, self._now()))
        if scripted is not None:
            raise scripted.error
        return posted

    async def update_card(self, *, item: Item) -> None:
        """Record the re-rendered card."""
        scripted = self._record("update_card", {"item": item})
        self.updates.append(item)
        if scripted is not None:
            raise scripted.error

    async def send_notice(
        self, *, workspace: str, item: Item | None, notice: Notice, outbox_key: str
    ) -> Posted:
        """Record the notice in its thread, or in a DM when it names no channel."""
        scripted = self._record(
            "send_notice",
            {"workspace": workspace, "item": item, "notice": notice, "outbox_key": outbox_key},
        )
        channel = notice.conversation or f"D-{notice.user}"
        posted = Posted(conversation=channel, message=self._next_ts())
        self.notices.append(SentNotice(workspace, item, notice, outbox_key, posted, self._now()))
        if scripted is not None:
            raise scripted.error
        return posted

    async def mark_card_moved(self, *, item: Item, conversation: str, message: str) -> None:
        """Record that the old card at (conversation, message) now points to the new card."""
        scripted = self._record("mark_card_moved", {"item": item, "conversation": conversation,
                                                    "message": message})
        self.moved.append((item, conversation, message))
        if scripted is not None:
            raise scripted.error

    async def edit_notice(
        self, *, workspace: str, conversation: str, message: str, item: Item | None,
        notice: Notice
    ) -> None:
        """Record the new words of a notice already sent."""
        scripted = self._record(
            "edit_notice",
            {"workspace": workspace, "conversation": conversation, "message": message,
             "item": item, "notice": notice},
        )
        self.edits.append((conversation, message, notice))
        if scripted is not None:
            raise scripted.error

    async def delete_message(self, *, workspace: str, conversation: str, message: str) -> None:
        """Record the deletion of a message the bot posted."""
        scripted = self._record(
            "delete_message",
            {"workspace": workspace, "conversation": conversation, "message": message},
        )
        self.deleted.append((conversation, message))
        if scripted is not None:
            raise scripted.error

    async def send_ephemeral(self, *, workspace: str, conversation: str, user: str,
                             text: str) -> None:
        """Record a message shown to `user` alone."""
        scripted = self._record(
            "send_ephemeral",
            {"workspace": workspace, "conversation": conversation, "user": user, "text": text},
        )
        self.ephemerals.append((conversation, user, text))
        if scripted is not None:
            raise scripted.error

    async def post_digest(
        self,
        *,
        workspace: str,
        data: Any,
        chart_png: bytes,
        outbox_key: str,
        existing: Posted | None,
        conversation: str,
    ) -> Posted:
        """Record a digest (data, chart, where it landed); `existing` is not posted again."""
        scripted = self._record(
            "post_digest",
            {
                "workspace": workspace,
                "data": data,
                "chart_png": chart_png,
                "outbox_key": outbox_key,
                "existing": existing,
                "conversation": conversation,
            },
        )
        posted = existing or Posted(conversation=conversation, message=self._next_ts())
        self.digests.append((data, chart_png, posted))
        if scripted is not None:
            raise scripted.error
        return posted

    async def find_post(
        self,
        *,
        workspace: str,
        conversation: str | None,
        user: str | None,
        outbox_key: str,
        since: datetime | None = None,
        thread: str | None = None,
    ) -> Posted | None:
        """Return what landed with `outbox_key` (in `conversation` or `user`'s DM) after `since`.

        `thread` is recorded; a post is found in its conversation whatever its thread.
        """
        self._record(
            "find_post",
            {
                "workspace": workspace,
                "conversation": conversation,
                "user": user,
                "outbox_key": outbox_key,
                "since": since,
                "thread": thread,
            },
        )
        where = conversation or (f"D-{user}" if user else None)
        landed = [(c.item.workspace, c.outbox_key, c.posted, c.at) for c in self.cards]
        landed += [(s.workspace, s.outbox_key, s.posted, s.at) for s in self.notices]
        for space, key, posted, at in landed:
            if space != workspace or key != outbox_key or where not in (None, posted.conversation):
                continue
            if since is None or at is None or at >= since:
                return posted
        return None

    async def group_members(self, *, workspace: str, group: str) -> list[str]:
        """Return the scripted members of `group`; an unknown group is Slack's error."""
        self._record("group_members", {"workspace": workspace, "group": group})
        if group not in self.groups:
            raise ChatError("no_such_subteam", permanent=True)
        return list(self.groups[group])

    async def is_internal_user(self, *, workspace: str, user: str) -> bool:
        """Return True for users listed in `internal_users`."""
        self._record("is_internal_user", {"workspace": workspace, "user": user})
        return user in self.internal_users

    async def is_shared_conversation(self, *, workspace: str, conversation: str) -> bool:
        """Return True for conversations listed in `shared_channels`."""
        self._record("is_shared_conversation", {"workspace": workspace,
                                                "conversation": conversation})
        return conversation in self.shared_channels

    async def token_refusal(self, *, workspace: str) -> str | None:
        """Return the reason `refused_tokens` gives for `workspace`, or None (the token works)."""
        self._record("token_refusal", {"workspace": workspace})
        return self.refused_tokens.get(workspace)


if TYPE_CHECKING:
    # mypy checks here that the fake still matches the port when the port grows.
    _conforms: ChatPort = RecordingChatPort()


# --- builders --------------------------------------------------------------------------

_source_ts = itertools.count(1)


def next_source_ts() -> str:
    """A fresh Slack-style message ts, so that each built request has its own source."""
    return f"1714980000.{next(_source_ts):06d}"


def intake_request(
    *,
    at: datetime = DEFAULT_START,
    text: str = "Customer says the refund never arrived",
    kind: IntakeKind = IntakeKind.SHORTCUT,
    workspace: str = "T0WORK",
    forwarded_by: str = "U0SUPPORT",
    channel: str | None = "C0SUPPORT",
    ts: str | None = None,
    **overrides: Any,
) -> IntakeRequest:
    """An IntakeRequest forwarded at `at` from its own source message unless told otherwise.

    Pass `ts=None, channel=None` for intake without a source message; other fields of
    IntakeRequest go in `overrides`.
    """
    if channel is not None and ts is None:
        ts = next_source_ts()
    values: dict[str, Any] = {
        "workspace": workspace,
        "kind": kind,
        "text": text,
        "forwarded_by": forwarded_by,
        "received_at": at - timedelta(minutes=20),
        "forwarded_at": at,
        "source": SourceMessage(channel=channel, ts=ts, author="U0CUSTOMER"),
    }
    values.update(overrides)
    return IntakeRequest(**values)


def make_item(**overrides: Any) -> Item:
    """An unsaved Item with every field filled in plausibly (id 0, to be assigned)."""
    values: dict[str, Any] = {
        "workspace": "T0WORK",
        "id": 0,
        "team": "payments",
        "status": Status.RECEIVED.value,
        "text": "Customer says the refund never arrived",
        "customer": "acme",
        "severity": "normal",
        "source_channel": "C0SUPPORT",
        "source_ts": next_source_ts(),
        "forwarded_by": "U0SUPPORT",
        "received_at": DEFAULT_START - timedelta(minutes=20),
        "forwarded_at": DEFAULT_START,
    }
    values.update(overrides)
    return Item(**values)
