"""Who finishes a stored request: leases on inbox rows, shared by every process of a store.

A request is stored before it is answered. The process that will finish it says so in
the same insert (a lease on the row), or leaves it unclaimed for a worker
(`feedbackbot worker`) to claim. A lease lapses after INBOX_LEASE, and a process that
finds leases of processes on its host that no longer exist (kill -9) frees them at
start, so nothing waits longer than that and no row is finished by two processes at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from bot.lease_owners import is_dead_holder
from bot.store import InboxRow, Store

log = logging.getLogger(__name__)

# As long as a request may take to finish; a row whose holder went away waits this long.
INBOX_LEASE = timedelta(seconds=30)
# How often an idle worker looks for new requests (a read of the pending index).
INBOX_POLL_SECONDS = 0.02
# Requests a worker finishes at once (each mostly waits on the chat platform's answers).
INBOX_CONCURRENCY = 32


class InboxClaims:
    """This process's claims on inbox rows."""

    def __init__(self, *, store: Store, owner: str, clock: Callable[[], datetime]) -> None:
        self.store = store
        self.owner = owner
        self.clock = clock

    def lease_until(self) -> datetime:
        """When a lease taken now lapses."""
        return self.clock() + INBOX_LEASE

    def claim(self, *, platforms: Sequence[str], received_before: datetime | None = None,
              inbox_id: int | None = None, limit: int = 500,
              include_own: bool = False,
              finished: Sequence[tuple[int, str | None]] = ()) -> list[InboxRow]:
        """Lease free rows of `platforms` to this process; return them, oldest first.

        With `include_own`, rows this process holds already are taken again too (to retry
        its own requests). `finished` rows (id, error) are marked done in the same commit.
        """
        if not platforms and not finished:
            return []
        now = self.clock()
        return self.store.inbox_claim(owner=self.owner, now=now, until=now + INBOX_LEASE,
                                      received_before=received_before, platforms=platforms,
                                      inbox_id=inbox_id, limit=limit,
                                      include_own=include_own, finished=finished)

    def any_free(self, *, platforms: Sequence[str]) -> bool:
        """True when a row of `platforms` could be claimed now (a cheap read)."""
        return bool(platforms) and self.store.inbox_claimable(
            owner=self.owner, now=self.clock(), platforms=platforms)

    def release_dead(self) -> int:
        """Free rows leased by processes on this host that no longer exist; return how many."""
        released = 0
        for owner in self.store.inbox_lease_owners():
            if is_dead_holder(owner, me=self.owner):
                released += self.store.inbox_release(owner=owner)
        if released:
            log.info("freed %d stored request(s) held by a process that is gone", released)
        return released

    def release_own(self) -> int:
        """Free the rows this process holds and has not finished (it is stopping)."""
        return self.store.inbox_release(owner=self.owner)
