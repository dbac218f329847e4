"""The Store's read for "time until the customer heard back" (bot/heard_back.py)."""

from __future__ import annotations

import abc
from collections.abc import Sequence
from datetime import datetime

# An item first answered by its team inside a window, only what the whole-loop figure
# uses: (team, received_at, first_response_at, customer_answered_at or None), times in UTC.
HeardBackRow = tuple[str, datetime, datetime, datetime | None]


class ClosedLoopStore(abc.ABC):
    """Store methods behind the closed loop with the customer."""

    @abc.abstractmethod
    def heard_back_rows(self, *, workspace: str, since: datetime, until: datetime,
                        teams: Sequence[str] | None = None) -> list[HeardBackRow]:
        """The items of a workspace first answered in [since, until) (of `teams` when
        given), each with when its customer heard back (None: no record); read through
        one range of a covering index, so the cost follows the window."""
