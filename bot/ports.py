"""The small port the core talks to; each chat platform implements it in `handlers/`."""

from __future__ import annotations

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
    """

    def __init__(
        self,
        reason: str,
        *,
        permanent: bool = False,
        retry_after: float | None = None,
        unknown_fate: bool = False,
        workspace_gone: bool = False,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.retry_after = retry_after
        self.unknown_fate = unknown_fate
        self.workspace_gone = workspace_gone


@dataclass(frozen=True)
class Posted:
    """Where a message landed."""

    channel: str
    ts: str


@dataclass(frozen=True)
class Notice:
    """A message to a person about an item; the adapter renders it.

    `kind` is one of: routed (where an item went), acknowledged, relay (a team
    reply, `data["text"]`), resolved, reopened, reassigned, failed (it could not be
    delivered), rejected (forwarding was refused; `data["reason"]` says why).
    `channel`/`thread_ts` name an internal intake thread; when `channel` is None the
    notice goes to `user` in a DM.
    """

    kind: str
    user: str
    channel: str | None = None
    thread_ts: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


class ChatPort(Protocol):
    """What the core needs from a chat platform.

    Every call may raise ChatError. `outbox_key` is stamped on posts (as message
    metadata on Slack) so that a post of unknown fate can be found again.
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

    async def mark_card_moved(self, *, item: Item, channel: str, ts: str) -> None:
        """Re-render an old card of `item` as moved to its current team's card."""
        ...

    async def edit_notice(self, *, workspace: str, channel: str, ts: str, item: Item | None,
                          notice: Notice) -> None:
        """Replace the words of a notice already sent."""
        ...

    async def delete_message(self, *, workspace: str, channel: str, ts: str) -> None:
        """Delete a message the bot posted."""
        ...

    async def send_ephemeral(self, *, workspace: str, channel: str, user: str,
                             text: str) -> None:
        """Show `text` to `user` alone in `channel`."""
        ...

    async def post_digest(self, *, workspace: str, data: DigestData, chart_png: bytes,
                          outbox_key: str, existing: Posted | None) -> Posted:
        """Post a digest in its channel (unless `existing`), then its chart in the thread."""
        ...

    async def find_post(
        self, *, workspace: str, channel: str | None, user: str | None, outbox_key: str,
        since: datetime | None = None,
    ) -> Posted | None:
        """Return an earlier post stamped with `outbox_key` (made after `since`), or None."""
        ...

    async def group_members(self, *, workspace: str, group: str) -> list[str]:
        """Return the user IDs in user group `group`."""
        ...

    async def is_internal_user(self, *, workspace: str, user: str) -> bool:
        """Return True when `user` belongs to the workspace (not a customer or guest).

        Raises ChatError when the platform can't answer right now.
        """
        ...

    async def is_shared_channel(self, *, workspace: str, channel: str) -> bool:
        """Return True when `channel` is shared with another organisation, or unknown."""
        ...

    async def token_refusal(self, *, workspace: str) -> str | None:
        """Ask the platform whether it accepts the bot's credentials for `workspace` now.

        Returns None when it does, or its reason when it refuses them (e.g. invalid_auth).
        Raises ChatError when it can't answer right now.
        """
        ...
