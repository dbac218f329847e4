"""Requests being answered go before background work that shares their event loop.

`serve` alone answers requests and finishes them (and sends the outbox) on one event
loop. asyncio runs ready work first come, first served, so under load an answer would
queue behind the work of earlier requests. Background steps therefore ask for a turn
first: none is given while a request is being answered, and at most one per pass of
the event loop otherwise, so a request that arrives meanwhile waits for one step at most.
In a process that answers nothing (`feedbackbot worker`) every turn is given at once.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager


class AnswersFirst:
    """Counts requests being answered; hands background steps their turns in between."""

    def __init__(self) -> None:
        self._answering = 0
        self._waiting: deque[asyncio.Future[None]] = deque()
        self._admitting: asyncio.Handle | None = None
        self.given_while_quiet = 0  # turns handed out after waiting (for tests and benches)

    @property
    def answering(self) -> int:
        """Requests being answered now."""
        return self._answering

    @contextmanager
    def answering_one(self) -> Iterator[None]:
        """Mark the block as answering a request: background steps wait meanwhile."""
        self._answering += 1
        try:
            yield
        finally:
            self._answering -= 1
            if not self._answering:
                self._admit_soon()

    async def turn(self) -> None:
        """Return once no request is being answered and no step that asked earlier waits."""
        if not self._answering and not self._waiting:
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append(waiter)
        self._admit_soon()
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter in self._waiting:
                self._waiting.remove(waiter)
            elif waiter.done() and not waiter.cancelled():
                self._admit_soon()  # its turn was given but is not taken: pass it on
            raise

    def _admit_soon(self) -> None:
        if self._admitting is not None or self._answering or not self._waiting:
            return
        loop = self._waiting[0].get_loop()
        if loop.is_closed():
            self._waiting.clear()
            return
        # On the next pass of the loop, after it has looked for new requests.
        self._admitting = loop.call_soon(self._admit)

    def _admit(self) -> None:
        self._admitting = None
        if self._answering:
            return  # the last answer to finish admits the next step
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_result(None)
                self.given_while_quiet += 1
                break
        self._admit_soon()
