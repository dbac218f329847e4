"""The locks that let a write refuse to wait, and let one process's writers take turns."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from bot.store import StoreBusy

# How long a write that must not wait may still wait for a row or table lock (PostgreSQL).
NOWAIT_LOCK_MS = 50


@contextmanager
def locked(lock: threading.RLock, nowait: bool) -> Iterator[None]:
    """Hold `lock`; with `nowait`, raise StoreBusy instead of waiting for it."""
    if not lock.acquire(blocking=not nowait):
        raise StoreBusy("another thread of this process is writing")
    try:
        yield
    finally:
        lock.release()


_WRITE_LOCKS: dict[str, threading.RLock] = {}
_WRITE_LOCKS_GUARD = threading.Lock()


def process_write_lock(path: str) -> threading.RLock:
    """The lock every connection of this process to the SQLite file `path` writes under."""
    key = path if path == ":memory:" else os.path.realpath(path)
    with _WRITE_LOCKS_GUARD:
        return _WRITE_LOCKS.setdefault(key, threading.RLock())
