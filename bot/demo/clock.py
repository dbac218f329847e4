"""A clock that moves only when told to, so a scripted story keeps its own times."""

from __future__ import annotations

from datetime import datetime, timedelta


class SimulatedClock:
    """Simulated time: `now()` stays put until `advance_to` or `advance` moves it forward."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None or start.utcoffset() is None:
            raise ValueError("a simulated clock needs an aware start time")
        self._now = start

    def now(self) -> datetime:
        """The simulated time now (aware)."""
        return self._now

    def timestamp(self) -> float:
        """The simulated time as POSIX seconds."""
        return self._now.timestamp()

    def advance_to(self, moment: datetime) -> None:
        """Move to `moment`; raises ValueError if that is in the clock's past."""
        if moment < self._now:
            raise ValueError(f"the clock cannot go back from {self._now} to {moment}")
        self._now = moment

    def advance(self, delta: timedelta) -> None:
        """Move forward by `delta`; raises ValueError for a negative delta."""
        self.advance_to(self._now + delta)
