"""Sent entries are recorded in batches: one transaction for every lane that finished
while the previous batch was being written.

Marking an entry sent also leases its item's next entry, and a lease must be on disk
before that entry is posted (a synced commit, see storage's Database.write). One synced
commit per send made the disk the outbox's limit; a batch shares one.
"""

from __future__ import annotations

import asyncio
from typing import Any

from bot.store import OutboxEntry, Store

# Marks written in one transaction at most: a batch holds SQLite's one write lock, which a
# request being stored (the ack path, in another process too) may be waiting for.
MOST_PER_BATCH = 16


class SentMarks:
    """Writes `outbox_sent_and_lease_next` calls together, in a thread, one batch at a time."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._waiting: list[tuple[dict[str, Any], asyncio.Future[OutboxEntry | None]]] = []
        self._writer: asyncio.Task[None] | None = None
        self.batches = 0  # transactions written (the benchmark reports marks per batch)
        self.marks = 0

    async def sent_and_lease_next(self, **mark: Any) -> OutboxEntry | None:
        """Record an entry sent and lease its item's next; see Store.outbox_sent_and_lease_next.

        Raises what the store raised for the batch this mark was written in.
        """
        future: asyncio.Future[OutboxEntry | None] = asyncio.get_running_loop().create_future()
        self._waiting.append((mark, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write())
        return await future

    async def _write(self) -> None:
        while self._waiting:
            batch = self._waiting[:MOST_PER_BATCH]
            del self._waiting[:MOST_PER_BATCH]
            try:
                results = await asyncio.to_thread(
                    self.store.outbox_sent_and_lease_next_many, [mark for mark, _ in batch])
            except Exception as error:  # each lane hears it and handles it as before
                for _, future in batch:
                    if not future.done():
                        future.set_exception(error)
                continue
            self.batches += 1
            self.marks += len(batch)
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():  # its lane may have been cancelled meanwhile
                    future.set_result(result)
