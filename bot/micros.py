"""Moments and durations as whole microseconds, for figures over tens of thousands of rows.

Figures subtract, compare and sort the times of every answered item of a window; on
plain integers that costs a fraction of what it costs on datetimes and timedeltas, and
stays exact (a UTC datetime is a whole number of microseconds). A moment is counted from
2000-01-01 UTC, the origin PostgreSQL keeps its `timestamptz` in, so the database's own
number is the moment (storage/figures.py).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

TIME_ORIGIN = datetime(2000, 1, 1, tzinfo=UTC)
# TIME_ORIGIN in seconds since the Unix epoch, for SQL that starts from Unix time.
TIME_ORIGIN_UNIX = 946_684_800
_MICROSECOND = timedelta(microseconds=1)


def micros(moment: datetime) -> int:
    """An aware datetime as microseconds since TIME_ORIGIN (negative before it)."""
    return (moment - TIME_ORIGIN) // _MICROSECOND


def moment_of(value: int) -> datetime:
    """The UTC datetime `value` microseconds after TIME_ORIGIN."""
    return TIME_ORIGIN + timedelta(microseconds=value)


def span_micros(amount: timedelta) -> int:
    """A timedelta as whole microseconds."""
    return amount // _MICROSECOND


def span_of(value: int) -> timedelta:
    """Microseconds as a timedelta."""
    return timedelta(microseconds=value)


def half_of(total: int) -> int:
    """`total / 2` rounded half to even, as dividing a timedelta by 2 rounds it."""
    half, odd = divmod(total, 2)
    return half + (odd and half % 2)
