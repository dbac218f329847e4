"""The core's storage port: the one interface every storage backend implements (storage/)."""

from __future__ import annotations

import abc
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.figure_rows import FigureRows, Window
from bot.models import Event, Item
from bot.store_closed_loop import ClosedLoopStore
from bot.store_erasure import ErasureStore
from bot.store_installs import InstallStore
from bot.store_links import LinkStore
from bot.store_outbox import NewOutbox as NewOutbox  # re-exported: imported from here
from bot.store_outbox import OutboxEntry as OutboxEntry
from bot.store_outbox import OutboxStore
from bot.store_similar import SimilarQueries
from bot.store_telemetry import TelemetryReads
from bot.store_themes import ThemeStore

# A request that failed this often is given up: kept, but never replayed again.
INBOX_MAX_ATTEMPTS = 5


class StoreBusy(Exception):
    """The store did not answer in time (a lock held elsewhere); nothing was decided."""


class StoreUnavailable(ValueError):
    """The database can't be opened or used; the message says which and what to do."""

class DuplicateSource(Exception):
    """An item already exists for this source message; carries the existing item."""

    def __init__(self, item: Item) -> None:
        super().__init__(f"item {item.id} already exists for this source message")
        self.item = item


@dataclass(frozen=True)
class InboxRow:
    """One inbound event or interaction, stored before it was acknowledged."""

    id: int
    workspace: str
    kind: str
    dedupe_key: str | None
    body: str
    headers: dict[str, str]
    received_at: datetime
    attempts: int
    platform: str = "slack"


@dataclass(frozen=True)
class Conversation:
    """A conversation the bot was added to, as its platform described it.

    Teams gives the `service_url` and conversation reference needed to send there only
    in its install activities, so they are kept. `kind` is channel, personal or
    groupChat; `user` names the person of a personal chat; `team_id` is the team of a
    channel (the id of its General channel).
    """

    platform: str
    conversation_id: str
    workspace: str
    kind: str
    service_url: str
    reference: dict[str, Any]
    tenant: str | None = None
    team_id: str | None = None
    user: str | None = None
    updated_at: datetime | None = None
    removed_at: datetime | None = None


class Store(OutboxStore, ErasureStore, InstallStore, LinkStore, SimilarQueries, ThemeStore,
            TelemetryReads, ClosedLoopStore, abc.ABC):
    """Durable state: inbox, items with their events, outbox, and small caches.

    Every method is atomic. Methods that write an item also append its event and
    enqueue its outbox entries in the same transaction, so nothing is half-written.
    """

    # --- inbox -----------------------------------------------------------------
    @abc.abstractmethod
    def inbox_add(
        self,
        *,
        workspace: str,
        kind: str,
        dedupe_key: str | None,
        body: str,
        headers: dict[str, str],
        received_at: datetime,
        nowait: bool = False,
        platform: str = "slack",
        lease_owner: str | None = None,
        lease_until: datetime | None = None,
    ) -> int | None:
        """Store an inbound request; return its id, or None when `dedupe_key` was seen.

        With `lease_owner`, the row is stored claimed by that process until `lease_until`
        (it finishes the request itself). With `nowait`, raises StoreBusy at once instead
        of waiting for a lock.
        """

    @abc.abstractmethod
    def inbox_set_workspace(self, inbox_id: int, workspace: str) -> None:
        """Record the workspace once it is known (after authorization)."""

    @abc.abstractmethod
    def inbox_done(self, inbox_id: int, *, error: str | None = None) -> None:
        """Mark an inbox row processed; `error` is kept for the log of what failed."""

    @abc.abstractmethod
    def inbox_failed_attempt(self, inbox_id: int, *, error: str) -> int:
        """Count a failed processing attempt and return the count; the row stays unprocessed.

        At INBOX_MAX_ATTEMPTS the row is given up: no longer pending, but kept.
        """

    @abc.abstractmethod
    def inbox_pending(self, *, max_attempts: int = INBOX_MAX_ATTEMPTS) -> list[InboxRow]:
        """Return rows not yet processed and not given up, oldest first."""

    @abc.abstractmethod
    def inbox_given_up_count(self, *, max_attempts: int = INBOX_MAX_ATTEMPTS) -> int:
        """Return how many rows failed `max_attempts` times and are no longer retried."""

    @abc.abstractmethod
    def inbox_prune(self, *, before: datetime) -> int:
        """Delete processed rows received before `before`; return how many went."""

    @abc.abstractmethod
    def inbox_claim(self, *, owner: str, now: datetime, until: datetime,
                    received_before: datetime | None = None,
                    platforms: Sequence[str] | None = None, inbox_id: int | None = None,
                    limit: int = 20, include_own: bool = False,
                    finished: Sequence[tuple[int, str | None]] = (),
                    max_attempts: int = INBOX_MAX_ATTEMPTS) -> list[InboxRow]:
        """Lease up to `limit` pending rows to `owner` until `until`; return them, oldest first.

        `finished` rows (id, error) are first marked done, in the same transaction: a
        worker marks what it finished with its next claim, one commit for both.

        A row is free when nobody holds it or its lease has lapsed; with `include_own`,
        also when `owner` holds it already. Only rows received by `received_before` (default
        `now`), of `platforms` (default any), and with id `inbox_id` (when given) are
        taken. Several processes calling at once never get the same row.
        """

    @abc.abstractmethod
    def inbox_claimable(self, *, owner: str, now: datetime,
                        platforms: Sequence[str] | None = None,
                        max_attempts: int = INBOX_MAX_ATTEMPTS) -> bool:
        """True when `inbox_claim` would find a row now; read-only, so cheap to poll."""

    @abc.abstractmethod
    def inbox_lease_owners(self) -> list[str]:
        """Who holds leases on rows not yet done, each once, in byte order."""

    @abc.abstractmethod
    def inbox_release(self, *, owner: str) -> int:
        """Drop `owner`'s leases on rows not yet done (it is stopping); return how many."""

    # --- items -----------------------------------------------------------------
    @abc.abstractmethod
    def create_item(
        self,
        *,
        item: Item,
        event: Event,
        outbox: list[NewOutbox],
    ) -> Item:
        """Insert `item` (its id is assigned), its first event and its outbox entries.

        Raises DuplicateSource when the workspace already has an item for the same
        source channel and ts.
        """

    @abc.abstractmethod
    def update_item(
        self,
        *,
        workspace: str,
        item_id: int,
        changes: dict[str, Any],
        event: Event | None = None,
        outbox: list[NewOutbox] | None = None,
        only_if: dict[str, Any] | None = None,
        now: datetime | None = None,
    ) -> Item | None:
        """Apply `changes`, append `event`, enqueue `outbox`; return the new item.

        Outbox entries are due at the event's time, else at `now`, else right away.

        With `only_if`, the change applies only when those columns currently hold
        those values (None meaning NULL); otherwise nothing is written and None is
        returned. This is how concurrent clicks record one response.
        """

    @abc.abstractmethod
    def get_item(self, *, workspace: str, item_id: int) -> Item | None:
        """Return one item, or None."""

    @abc.abstractmethod
    def find_item_by_source(self, *, workspace: str, channel: str, ts: str) -> Item | None:
        """Return the item forwarded from that message, or None."""

    @abc.abstractmethod
    def find_item_by_intake_key(self, *, workspace: str, key: str) -> Item | None:
        """Return the item created by that slash command or modal, or None."""

    @abc.abstractmethod
    def find_item_by_card(self, *, workspace: str, channel: str, ts: str) -> Item | None:
        """Return the item whose card is that message, or None."""

    @abc.abstractmethod
    def find_item_by_past_card(self, *, workspace: str, channel: str, ts: str) -> Item | None:
        """Return the item that once had its card at that message (before a reassignment)."""

    @abc.abstractmethod
    def item_workspaces(self) -> list[str]:
        """Every workspace that has items, in byte order."""

    @abc.abstractmethod
    def list_items(
        self, *, workspace: str | None = None, forwarded_since: datetime | None = None
    ) -> list[Item]:
        """Return items ordered by forwarded_at, optionally filtered."""

    @abc.abstractmethod
    def events_for(self, *, workspace: str, item_id: int) -> list[Event]:
        """Return an item's events, oldest first."""

    @abc.abstractmethod
    def prune_items(self, *, forwarded_before: datetime) -> int:
        """Delete items forwarded before a moment, with everything kept about them.

        That is their events, followers, flags and outbox entries. Returns how many
        items went. Used to honour `retention_days`.
        """

    @abc.abstractmethod
    def events_of_kind(self, *, workspace: str, kind: str) -> list[Event]:
        """Return every event of one kind in a workspace, oldest first."""

    # --- figures: one window at a time ------------------------------------------
    @abc.abstractmethod
    def figure_rows(self, *, workspace: str, windows: Sequence[Window],
                    answered_since: datetime, until: datetime,
                    teams: Sequence[str] | None = None) -> FigureRows:
        """What figures of `windows` need: per window each team's counts (forwarded,
        reassigned of those, resolved), the items first answered in [answered_since, until),
        and the light items waiting now (text empty); only `teams` when given."""

    @abc.abstractmethod
    def waiting_items(self, *, workspace: str) -> list[Item]:
        """Full items nobody has answered or resolved, oldest received first."""

    @abc.abstractmethod
    def items_by_ids(self, *, workspace: str, ids: Sequence[int]) -> list[Item]:
        """Full items of a workspace by id (missing ones left out), by id."""

    @abc.abstractmethod
    def events_of_kind_since(self, *, workspace: str, kind: str,
                             since: datetime | None = None) -> list[Event]:
        """Events of one kind in a workspace at or after `since` (all without), by time."""

    def events_with_items(self, *, workspace: str, kind: str,
                          since: datetime | None = None) -> list[tuple[Event, Item]]:
        """events_of_kind_since, each with its item (those whose item is gone left out).

        The items may be light: id, workspace, team, status, severity, times and text
        are theirs; the rest may be left empty.
        """
        events = self.events_of_kind_since(workspace=workspace, kind=kind, since=since)
        by_id = {item.id: item for item in self.items_by_ids(
            workspace=workspace, ids=[event.item_id for event in events])}
        return [(event, by_id[event.item_id]) for event in events if event.item_id in by_id]

    @abc.abstractmethod
    def iter_items(self, *, forwarded_since: datetime | None = None,
                   batch: int = 1000) -> Iterator[Item]:
        """Every item (forwarded at or after `forwarded_since`) by forwarded_at and id.

        Read `batch` at a time, each page its own short read, so memory stays flat.
        """

    def allow_unsynced_writes(self) -> None:
        """Let the writes that need not wait for the disk commit without it, from now on.

        For a process that answers requests and does their work on one event loop. Until
        called every commit is synced. Stores without such writes ignore it.
        """

    # --- followers ---------------------------------------------------------------
    @abc.abstractmethod
    def add_follower(self, *, workspace: str, item_id: int, user: str, now: datetime,
                     platform: str = "slack") -> bool:
        """Make `user` (a person on `platform`) follow an item; False when they already did."""

    @abc.abstractmethod
    def followers(self, *, workspace: str, item_id: int,
                  platform: str | None = None) -> list[str]:
        """Return who follows an item (on `platform`, or anywhere), in the order they started."""

    # --- once-only markers and digest periods ------------------------------------
    @abc.abstractmethod
    def set_flag_once(self, *, workspace: str, item_id: int, flag: str, now: datetime,
                      changes: dict[str, Any] | None = None, event: Event | None = None,
                      outbox: list[NewOutbox] | None = None) -> bool:
        """Set an item's flag (e.g. "reminded") if unset, applying the rest atomically.

        Returns False, writing nothing, when the flag was already set.
        """

    @abc.abstractmethod
    def claim_digest(self, *, workspace: str, subscription: str, period: str, now: datetime,
                     late: bool, outbox: list[NewOutbox]) -> int | None:
        """Claim one digest period and enqueue its posting, atomically.

        Returns the id of the first outbox entry written, or None, writing nothing,
        when that period was already claimed.
        """

    @abc.abstractmethod
    def digest_claims(self, *, workspace: str, subscription: str) -> list[str]:
        """Return the periods already claimed for a subscription, newest first."""

    # --- small state -----------------------------------------------------------
    @abc.abstractmethod
    def next_rotation(self, *, workspace: str, team: str) -> int:
        """Return a team's round-robin counter and advance it, atomically."""

    @abc.abstractmethod
    def save_draft(self, *, workspace: str, data: dict[str, Any], now: datetime) -> int:
        """Keep a modal's full text and context on the server; return its id."""

    @abc.abstractmethod
    def get_draft(self, *, workspace: str, draft_id: int) -> dict[str, Any] | None:
        """Return a draft saved by `save_draft`, or None."""

    @abc.abstractmethod
    def get_channel_shared(self, *, workspace: str, channel: str) -> bool | None:
        """Return the cached "shared with another organisation" answer, or None."""

    @abc.abstractmethod
    def set_channel_shared(
        self, *, workspace: str, channel: str, shared: bool, now: datetime
    ) -> None:
        """Cache whether a channel is shared."""

    @abc.abstractmethod
    def set_workspace_revoked(self, *, workspace: str, revoked_at: datetime | None) -> None:
        """Record that the app was uninstalled from (or reinstalled in) a workspace."""

    @abc.abstractmethod
    def is_workspace_revoked(self, *, workspace: str) -> bool:
        """Return True when the app may no longer send to that workspace."""

    # --- conversations the bot was added to ---------------------------------------
    @abc.abstractmethod
    def save_conversation(self, conversation: Conversation, *, now: datetime) -> None:
        """Remember (or refresh) a conversation; a removed one counts as added again."""

    @abc.abstractmethod
    def remove_conversation(self, *, platform: str, conversation_id: str,
                            now: datetime) -> None:
        """Mark a conversation as one the bot was removed from (kept for the record)."""

    @abc.abstractmethod
    def get_conversation(self, *, platform: str, conversation_id: str) -> Conversation | None:
        """The conversation with this id, removed or not; None when never seen."""

    @abc.abstractmethod
    def list_conversations(self, *, platform: str, kind: str | None = None,
                           include_removed: bool = False) -> list[Conversation]:
        """Conversations the bot is in on `platform` (of `kind`), oldest first."""

    @abc.abstractmethod
    def personal_conversation(self, *, platform: str, user: str) -> Conversation | None:
        """The bot's current 1:1 chat with `user`, if it has one."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the connection."""
