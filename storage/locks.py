"""The locks that let a write refuse to wait, and let one process's writers take turns."""

from __future__ import annotations

import fcntl
import os
import threading
import time
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


# A writer that is not urgent gives way this long at most, so that a steady stream of
# urgent writes can't starve it.
GIVE_WAY_AT_MOST_SECONDS = 0.05
_GIVE_WAY_PAUSE = 0.0002


class AckGate:
    """Lets the writes on the acknowledgement path go first on a SQLite file.

    SQLite has one write lock per file and no queue: a request waiting to be stored
    competes with a worker's many writes and may lose several times in a row. While an
    urgent write (storing a request before it is answered) waits for or holds the write
    lock, it holds a shared flock on `<file>-ackgate`; every other writer, in any process
    on the host, first waits until nobody holds it (at most GIVE_WAY_AT_MOST_SECONDS).
    """

    def __init__(self, path: str) -> None:
        self._urgent_fd = os.open(f"{path}-ackgate", os.O_RDWR | os.O_CREAT, 0o600)
        self._probe_fd = os.open(f"{path}-ackgate", os.O_RDWR)
        self._guard = threading.Lock()
        self._urgent = 0  # urgent writes of this process under way (they share one flock)

    @contextmanager
    def urgent(self) -> Iterator[None]:
        """Hold the gate open for an urgent write."""
        with self._guard:
            self._urgent += 1
            if self._urgent == 1:
                fcntl.flock(self._urgent_fd, fcntl.LOCK_SH)
        try:
            yield
        finally:
            with self._guard:
                self._urgent -= 1
                if self._urgent == 0:
                    fcntl.flock(self._urgent_fd, fcntl.LOCK_UN)

    def give_way(self) -> None:
        """Wait (briefly) while an urgent write anywhere on the host is under way."""
        deadline = time.monotonic() + GIVE_WAY_AT_MOST_SECONDS
        while True:
            try:
                fcntl.flock(self._probe_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if time.monotonic() > deadline:
                    return
                time.sleep(_GIVE_WAY_PAUSE)
                continue
            fcntl.flock(self._probe_fd, fcntl.LOCK_UN)
            return

    def close(self) -> None:
        """Close the gate's files."""
        os.close(self._urgent_fd)
        os.close(self._probe_fd)
