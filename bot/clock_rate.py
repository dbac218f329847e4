"""A clock that may run faster than the wall clock, so that tests can live through long waits.

`FEEDBACKBOT_CLOCK_RATE=10` makes every process started with it see ten seconds pass for
each real one (backoffs, Retry-After, leases, SLA timers). Unset, the clock is the wall
clock. It exists for the reliability tests; a deployment never sets it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from bot.models import utcnow

RATE_VARIABLE = "FEEDBACKBOT_CLOCK_RATE"


def clock_from_env(env: Mapping[str, str] | None = None) -> Callable[[], datetime]:
    """The wall clock, or one running FEEDBACKBOT_CLOCK_RATE times faster from now on.

    Raises ValueError when the rate is not a number of at least 1 (time never runs back).
    """
    text = (os.environ if env is None else env).get(RATE_VARIABLE, "").strip()
    if not text:
        return utcnow
    try:
        rate = float(text)
    except ValueError:
        raise ValueError(f"{RATE_VARIABLE} must be a number, not {text!r}") from None
    if not rate >= 1:
        raise ValueError(f"{RATE_VARIABLE} must be at least 1, not {text!r}")
    if rate == 1:
        return utcnow
    started, started_at = time.monotonic(), utcnow()

    def faster() -> datetime:
        return started_at + timedelta(seconds=(time.monotonic() - started) * rate)

    return faster
