"""What the outbox leaves waiting, and until when: rate limits and failing workspaces.

A platform's 429 holds only what it limited (a workspace, for one kind of entry);
a platform that fails (5xx, timeouts) holds its workspace, backing off exponentially.
Everything else keeps being sent. Holds live in one worker's memory: each worker
process learns them from its own calls.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta

MAX_BACKOFF = timedelta(minutes=5)


def backoff(failures: int) -> timedelta:
    """How long to wait after `failures` failures in a row (at least 1), with jitter."""
    base = min(2 ** min(max(failures - 1, 0), 12), MAX_BACKOFF.total_seconds())
    return timedelta(seconds=base * random.uniform(0.5, 1.0))


class Holds:
    """Workspaces, and (workspace, entry kind) pairs, that must wait until a given time."""

    def __init__(self, *, clock: Callable[[], datetime]) -> None:
        self.clock = clock
        self._kinds: dict[tuple[str, str], datetime] = {}
        self._workspaces: dict[str, datetime] = {}
        self._failures: dict[str, int] = {}

    def rate_limited(self, workspace: str, kind: str, until: datetime) -> None:
        """The platform asked `workspace`'s calls for entries of `kind` to wait until `until`."""
        key = (workspace, kind)
        self._kinds[key] = max(until, self._kinds.get(key, until))

    def server_failed(self, workspace: str) -> datetime:
        """The platform failed for `workspace`: hold it, longer after each failure in a row.

        Failures reported while the workspace is already held (calls that were under way
        when the first failed) don't lengthen the hold. Returns the end of the hold.
        """
        now = self.clock()
        held = self._workspaces.get(workspace)
        if held is not None and held > now:
            return held
        failures = self._failures.get(workspace, 0) + 1
        self._failures[workspace] = failures
        self._workspaces[workspace] = now + backoff(failures)
        return self._workspaces[workspace]

    def succeeded(self, workspace: str) -> None:
        """A call for `workspace` worked: its failures in a row start again from zero."""
        if self._failures.pop(workspace, None) is not None:
            self._workspaces.pop(workspace, None)

    def held_workspaces(self) -> list[str]:
        """Workspaces whose entries wait now."""
        now = self.clock()
        for workspace in [w for w, until in self._workspaces.items() if until <= now]:
            del self._workspaces[workspace]
        return sorted(self._workspaces)

    def held_kinds(self) -> list[tuple[str, str]]:
        """(workspace, kind) pairs whose entries wait now."""
        now = self.clock()
        for key in [k for k, until in self._kinds.items() if until <= now]:
            del self._kinds[key]
        return sorted(self._kinds)
