"""The outbox part of the storage port: chat calls waiting to be made, leased and marked."""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class OutboxEntry:
    """One outbound chat call waiting to be made, or already made."""

    id: int
    workspace: str
    item_id: int | None
    kind: str
    payload: dict[str, Any]
    status: str
    attempts: int
    next_attempt_at: datetime
    unknown_fate: bool
    last_error: str | None
    created_at: datetime
    result: dict[str, Any] | None = None

    @property
    def key(self) -> str:
        """The stamp put on the post so that it can be found again."""
        return f"fbo-{self.id}"


@dataclass
class NewOutbox:
    """An outbox entry to write in the same transaction as an item change.

    `not_before` holds it back until then (a card held while its forwarder may +1).
    """

    kind: str
    payload: dict[str, Any] = field(default_factory=dict)
    not_before: datetime | None = None


class OutboxStore(abc.ABC):
    """Outbox entries: queued with item changes, leased by workers, marked when sent."""

    # --- outbox ----------------------------------------------------------------
    @abc.abstractmethod
    def outbox_due(self, *, now: datetime, limit: int = 50) -> list[OutboxEntry]:
        """Return pending entries whose next attempt is due, oldest first."""

    @abc.abstractmethod
    def outbox_pending_count(self) -> int:
        """Return how many entries are still pending."""

    @abc.abstractmethod
    def outbox_get(self, entry_id: int) -> OutboxEntry | None:
        """Return one entry, or None."""

    @abc.abstractmethod
    def outbox_lease(self, entry_id: int, *, owner: str, now: datetime, until: datetime,
                     maybe_posts: bool) -> bool:
        """Take an entry for one attempt; False when another process holds it or it's done.

        With `maybe_posts`, the entry is also marked of unknown fate: if the process
        dies during the attempt, the post may exist and must be looked up first.
        """

    @abc.abstractmethod
    def outbox_leases(self) -> list[tuple[int, str]]:
        """Return (entry id, lease owner) for pending entries that are leased."""

    @abc.abstractmethod
    def outbox_release(self, entry_id: int, *, owner: str) -> None:
        """Drop `owner`'s lease on an entry (its process is gone)."""

    @abc.abstractmethod
    def outbox_retry_now(self, *, now: datetime) -> int:
        """Make every pending entry due now, except those waiting out a rate limit."""

    @abc.abstractmethod
    def outbox_sent(self, entry_id: int, *, result: dict[str, Any], now: datetime) -> None:
        """Mark an entry sent and keep what the platform answered."""

    @abc.abstractmethod
    def outbox_retry(
        self, entry_id: int, *, error: str, next_attempt_at: datetime, unknown_fate: bool
    ) -> None:
        """Count a failed attempt and schedule the next one."""

    @abc.abstractmethod
    def outbox_give_up(self, entry_id: int, *, error: str, now: datetime) -> None:
        """Mark an entry failed for good."""

    @abc.abstractmethod
    def outbox_for_item(self, *, workspace: str, item_id: int) -> list[OutboxEntry]:
        """Return every outbox entry of an item, oldest first, with what was answered."""

    @abc.abstractmethod
    def outbox_for_digest(self, *, workspace: str, subscription: str,
                          period: str) -> list[OutboxEntry]:
        """Return the outbox entries that post one digest period (forced ones too), oldest first."""

    @abc.abstractmethod
    def outbox_cancel(self, entry_id: int, *, reason: str, now: datetime) -> bool:
        """Withdraw a pending entry; return False when it was no longer pending."""

    @abc.abstractmethod
    def outbox_enqueue(self, *, workspace: str, item_id: int | None, entry: NewOutbox,
                       now: datetime | None = None) -> int:
        """Add one entry outside an item change, due at `now` (default: now); return its id."""

    @abc.abstractmethod
    def outbox_lease_due(
        self, *, owner: str, now: datetime, until: datetime, limit: int,
        posting_kinds: Sequence[str] = (), item: tuple[str, int] | None = None,
        skip_workspaces: Sequence[str] = (), skip_kinds: Sequence[tuple[str, str]] = (),
        up_to: int | None = None,
    ) -> list[OutboxEntry]:
        """Lease up to `limit` due, unleased entries in one transaction; longest due first.

        An item's entries are leased one at a time, in order: an entry waits while an
        earlier entry of its item is pending (leased, or waiting for a retry). `item`
        (workspace, item id) leases only that item's next entry; `skip_workspaces` and
        `skip_kinds` ((workspace, kind) pairs) leave entries that must wait; `up_to`
        leaves entries with a higher id. Entries of
        `posting_kinds` are marked of unknown fate in the store, as by outbox_lease; the
        entries returned say whether an earlier attempt may have posted.
        """

    @abc.abstractmethod
    def outbox_sent_and_lease_next(
        self, entry_id: int, *, result: dict[str, Any], now: datetime, owner: str,
        until: datetime, posting_kinds: Sequence[str] = (), item: tuple[str, int],
        skip_workspaces: Sequence[str] = (), skip_kinds: Sequence[tuple[str, str]] = (),
        up_to: int | None = None,
    ) -> OutboxEntry | None:
        """Mark an entry sent (as outbox_sent) and lease `item`'s next due entry, in one
        transaction; return that entry, or None. The other arguments are outbox_lease_due's.
        """

    def outbox_sent_and_lease_next_many(
            self, marks: Sequence[dict[str, Any]]) -> list[OutboxEntry | None]:
        """outbox_sent_and_lease_next for each of `marks` (its keyword arguments, `entry_id`
        included), in one transaction where the store can; the results in their order."""
        return [self.outbox_sent_and_lease_next(**mark) for mark in marks]

    @abc.abstractmethod
    def outbox_defer(self, *, workspace: str, kinds: Sequence[str] | None, until: datetime,
                     now: datetime) -> int:
        """Make `workspace`'s unleased pending entries (of `kinds`; None: all) wait until
        `until`, without counting an attempt; return how many were deferred."""

    @abc.abstractmethod
    def outbox_newest_id(self) -> int:
        """Return the id of the newest outbox entry, or 0 when there is none (read-only)."""

    @abc.abstractmethod
    def outbox_reschedule(
        self, entry_id: int, *, error: str, next_attempt_at: datetime, unknown_fate: bool,
        attempted: bool = True,
    ) -> None:
        """Free a leased entry and schedule its next attempt; counts one attempt if `attempted`.

        Unlike outbox_retry, `unknown_fate` is stored as given: the caller knows whether
        any attempt so far may have posted. Does nothing to an entry no longer pending.
        """
