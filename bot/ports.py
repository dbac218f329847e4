"""The small port the core talks to; each chat platform implements it in `handlers/`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from bot.models import Item

if TYPE_CHECKING:
    from bot.digest import DigestData


class ChatError(Exception):
    """An outbound chat call failed.

    `permanent` errors (channel_not_found, not_in_channel, is_archived) are never
    retried; `retry_after` carries a rate limit's wait in seconds; `unknown_fate` means
    the request may have reached the platform (a timeout), so the post must be looked
    up before it is sent again; `workspace_gone` means the platform refused the bot's
    credentials for this call (revoked, uninstalled, invalid_auth).

    With `retry_after`, `limited` says what the platform asked to slow down: WORKSPACE
    (that workspace, for this kind of call) or CONVERSATION (that conversation only);
    None leaves only this entry waiting. `server_trouble` means the platform itself is
    failing (5xx, timeout, broken connection): the whole workspace backs off.
    """

    def __init__(
        self,
        reason: str,
        *,
        permanent: bool = False,
        retry_after: float | None = None,
        unknown_fate: bool = False,
        workspace_gone: bool = False,
        limited: str | None = None,
        server_trouble: bool = False,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.retry_after = retry_after
        self.unknown_fate = unknown_fate
        self.workspace_gone = workspace_gone
        self.limited = limited
        self.server_trouble = server_trouble


# What a rate limit covers (ChatError.limited).
WORKSPACE = "workspace"
CONVERSATION = "conversation"


@dataclass(frozen=True)
class Posted:
    """Where a message landed: a conversation, and the message's id in it (opaque ids)."""

    conversation: str
    message: str


@dataclass(frozen=True)
class Notice:
    """A message to a person about an item; the adapter renders it.

    `kind` is one of: routed (where an item went), acknowledged, relay (a team
    reply, `data["text"]`), resolved, reopened, reassigned, failed (it could not be
    delivered), rejected (forwarding was refused; `data["reason"]` says why).
    `conversation`/`thread` name an internal intake thread; when `conversation` is None
    the notice goes to `user` in a 1:1 chat. `platform` is where `user` and
    `conversation` are.
    """

    kind: str
    user: str
    conversation: str | None = None
    thread: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    platform: str = "slack"


class ChatPort(Protocol):
    """What the core needs from a chat platform: sends, and answers to lookups.

    Every call may raise ChatError. `outbox_key` is stamped on posts (as message
    metadata on Slack) so that a post of unknown fate can be found again. Conversation,
    message and person ids are the platform's own, opaque to the core. The product's
    rules (where the bot may post, who may forward) are decided by the core from the
    answers to the lookups.
    """

    async def post_card(
        self, *, item: Item, mentions: list[str], outbox_key: str
    ) -> Posted:
        """Post the routed card for `item` in its team's channel."""
        ...

    async def update_card(self, *, item: Item) -> None:
        """Re-render the card of `item` in place."""
        ...

    async def send_notice(self, *, workspace: str, item: Item | None, notice: Notice,
                          outbox_key: str) -> Posted:
        """Tell a person about `item` (or about a refused intake): in a thread, or a DM."""
        ...

    async def mark_card_moved(self, *, item: Item, conversation: str, message: str) -> None:
        """Re-render an old card of `item` as moved to its current team's card."""
        ...

    async def edit_notice(self, *, workspace: str, conversation: str, message: str,
                          item: Item | None, notice: Notice) -> None:
        """Replace the words of a notice already sent."""
        ...

    async def delete_message(self, *, workspace: str, conversation: str, message: str) -> None:
        """Delete a message the bot posted."""
        ...

    async def send_ephemeral(self, *, workspace: str, conversation: str, user: str,
                             text: str) -> None:
        """Show `text` to `user` alone in `conversation` (or 1:1 where that can't be done)."""
        ...

    async def post_digest(self, *, workspace: str, data: DigestData, chart_png: bytes,
                          outbox_key: str, existing: Posted | None,
                          conversation: str) -> Posted:
        """Post a digest in `conversation` (unless `existing`), with its chart."""
        ...

    async def find_post(
        self, *, workspace: str, conversation: str | None, user: str | None, outbox_key: str,
        since: datetime | None = None, thread: str | None = None,
    ) -> Posted | None:
        """Return an earlier post stamped with `outbox_key` (made after `since`), or None.

        It is looked for in `conversation` (only in its `thread`, when given), or in the
        1:1 chat with `user`.
        """
        ...

    async def group_members(self, *, workspace: str, group: str) -> list[str]:
        """Return the user IDs in user group `group`."""
        ...

    async def is_internal_user(self, *, workspace: str, user: str) -> bool:
        """Return True when `user` belongs to the workspace (not a customer or guest).

        Raises ChatError when the platform can't answer right now.
        """
        ...

    async def is_shared_conversation(self, *, workspace: str, conversation: str) -> bool:
        """Return True when guests or another organisation's people may read `conversation`.

        Raises ChatError when the platform can't answer right now.
        """
        ...

    async def token_refusal(self, *, workspace: str) -> str | None:
        """Ask the platform whether it accepts the bot's credentials for `workspace` now.

        Returns None when it does, or its reason when it refuses them (e.g. invalid_auth).
        Raises ChatError when it can't answer right now.
        """
        ...


class Ports:
    """The ChatPort of each platform this deployment serves, by platform name."""

    def __init__(self, ports: Mapping[str, ChatPort] | None = None) -> None:
        self._ports: dict[str, ChatPort] = dict(ports or {})

    @classmethod
    def of(cls, port: ChatPort | Ports) -> Ports:
        """`port` itself when it is a Ports, else Ports with `port` serving Slack."""
        return port if isinstance(port, Ports) else cls({"slack": port})

    def add(self, platform: str, port: ChatPort) -> None:
        """Serve `platform` through `port`."""
        self._ports[platform] = port

    def on(self, platform: str) -> ChatPort:
        """The port of `platform`; raises a permanent ChatError when it isn't served here."""
        port = self._ports.get(platform)
        if port is None:
            name = PLATFORM_NAMES.get(platform, platform)
            # Permanent: the item is flagged and its forwarder told, rather than waiting
            # unseen for a platform this deployment was not set up for.
            raise ChatError(f"feedbackbot is not connected to {name}", permanent=True)
        return port

    def __contains__(self, platform: object) -> bool:
        return platform in self._ports

    @property
    def platforms(self) -> list[str]:
        """The platforms served, in the order they were added."""
        return list(self._ports)


PLATFORM_NAMES = {"slack": "Slack", "msteams": "Microsoft Teams"}
