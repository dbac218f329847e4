"""Lookups shared while they run: concurrent misses for one key make a single call."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any


class SharedLookups:
    """A cache of lookups where concurrent misses for one key share a single call.

    Found values are kept `found_ttl` seconds, misses (None) `missing_ttl`; failures
    (exceptions) are not kept.
    """

    def __init__(self, *, found_ttl: float, missing_ttl: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.found_ttl = found_ttl
        self.missing_ttl = missing_ttl
        self.clock = clock
        self._values: dict[str, tuple[float, Any]] = {}
        self._pending: dict[str, asyncio.Future[Any]] = {}

    def forget(self, key: str) -> None:
        """Drop a cached answer."""
        self._values.pop(key, None)

    async def get(self, key: str, look_up: Callable[[], Awaitable[Any]]) -> Any:
        """The cached value for `key`, else what `look_up()` returns (shared while running)."""
        cached = self._values.get(key)
        if cached is not None and self.clock() < cached[0]:
            return cached[1]
        pending = self._pending.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[key] = future
        try:
            value = await look_up()
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as error:
            future.set_exception(error)
            future.exception()  # retrieved: no "never retrieved" warning without waiters
            raise
        else:
            ttl = self.found_ttl if value is not None else self.missing_ttl
            self._values[key] = (self.clock() + ttl, value)
            future.set_result(value)
            return value
        finally:
            del self._pending[key]
