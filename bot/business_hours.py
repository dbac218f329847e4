"""Business-time arithmetic for SLA timers: a team's hours, weekdays and public holidays."""

from __future__ import annotations

import functools
import zoneinfo
from datetime import UTC, date, datetime, time, timedelta
from typing import cast

import holidays

from bot.config import BusinessHours, Config, Severity, TeamConfig
from bot.models import Item

_ZERO = timedelta(0)
_ONE_DAY = timedelta(days=1)
_WEEKDAY_INDEX = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}


def _utc(moment: datetime, name: str) -> datetime:
    """Return `moment` in UTC; raise ValueError for a naive datetime."""
    if moment.tzinfo is UTC:  # what the store gives: nothing to check or convert
        return moment
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime, got naive {moment!r}")
    # Subtracting two datetimes that share one ZoneInfo ignores DST, so all math runs in UTC.
    return moment.astimezone(UTC)


@functools.lru_cache(maxsize=32)
def _holiday_calendar(code: str) -> holidays.HolidayBase:
    """The public holidays of a country, filled in year by year as dates are looked up.

    Raises ValueError naming the code when the `holidays` package does not know it.
    """
    try:
        # Without `years` the calendar expands lazily to every year a lookup touches.
        return holidays.country_holidays(code)
    except NotImplementedError:
        raise ValueError(
            f"unknown holiday country code {code!r}; use an ISO 3166 code such as 'DE'"
        ) from None


class BusinessClock:
    """Counts time only inside a team's business hours (tz, weekdays, HH:MM-HH:MM, holidays)."""

    def __init__(self, hours: BusinessHours) -> None:
        """Build the clock; raise ValueError for an unknown zone, holiday code or empty week."""
        try:
            self._zone = zoneinfo.ZoneInfo(hours.timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {hours.timezone!r}") from None
        self._days = frozenset(_WEEKDAY_INDEX[day] for day in hours.days)
        if not self._days:
            # Without a single working weekday `add` could never finish.
            raise ValueError("business hours list no working days")
        open_text, _, close_text = hours.hours.partition("-")
        self._open = time.fromisoformat(open_text.strip())
        self._close = time.fromisoformat(close_text.strip())
        if self._open >= self._close:
            raise ValueError(f"business hours {hours.hours!r}: the start must be before the end")
        self._holidays = _holiday_calendar(hours.holidays) if hours.holidays else None
        self._hours_cache: dict[date, tuple[datetime, datetime] | None] = {}

    @property
    def day_length(self) -> timedelta:
        """The nominal length of one business day, e.g. 8h for 09:00-17:00."""
        anchor = date(2000, 1, 3)
        return datetime.combine(anchor, self._close) - datetime.combine(anchor, self._open)

    def _local_date(self, moment: datetime) -> date:
        return moment.astimezone(self._zone).date()

    def _hours_on(self, day: date) -> tuple[datetime, datetime] | None:
        """The UTC opening and closing moments of a local date, or None when closed all day."""
        # Figures ask about the same few dates for thousands of items: remember each.
        if day not in self._hours_cache:
            self._hours_cache[day] = self._find_hours_on(day)
        return self._hours_cache[day]

    def _find_hours_on(self, day: date) -> tuple[datetime, datetime] | None:
        if day.weekday() not in self._days:
            return None
        if self._holidays is not None and day in self._holidays:
            return None
        # Local wall times converted one by one, so a DST-change day keeps its local hours
        # (and is an hour shorter or longer when the change falls inside them).
        opening = datetime.combine(day, self._open, tzinfo=self._zone).astimezone(UTC)
        closing = datetime.combine(day, self._close, tzinfo=self._zone).astimezone(UTC)
        if closing <= opening:
            return None
        return opening, closing

    def is_open(self, moment: datetime) -> bool:
        """Whether `moment` falls inside business hours (opening inclusive, closing exclusive)."""
        moment = _utc(moment, "moment")
        hours = self._hours_on(self._local_date(moment))
        return hours is not None and hours[0] <= moment < hours[1]

    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        """Business time between two aware datetimes; zero when `end` is not after `start`."""
        start, end = _utc(start, "start"), _utc(end, "end")
        if end <= start:
            return _ZERO
        total = _ZERO
        day, last = self._local_date(start), self._local_date(end)
        while day <= last:
            hours = self._hours_on(day)
            if hours is not None:
                overlap = min(hours[1], end) - max(hours[0], start)
                if overlap > _ZERO:
                    total += overlap
            day += _ONE_DAY
        return total

    def add(self, start: datetime, amount: timedelta) -> datetime:
        """The UTC moment when `amount` of business time has passed since `start`.

        Whole days in `amount` are business days (each `day_length` long), the rest business
        hours and minutes. Counting starts at the next opening when `start` is outside hours.
        Raises ValueError for a negative amount.
        """
        start = _utc(start, "start")
        if amount < _ZERO:
            raise ValueError(f"cannot add a negative amount of business time: {amount}")
        remaining = amount.days * self.day_length + (amount - timedelta(days=amount.days))
        if remaining == _ZERO:
            return start
        day = self._local_date(start)
        while True:
            hours = self._hours_on(day)
            if hours is not None and hours[1] > start:
                begin = max(hours[0], start)
                available = hours[1] - begin
                # `<=` lands on the closing moment itself rather than the next opening.
                if remaining <= available:
                    return begin + remaining
                remaining -= available
            day += _ONE_DAY


class WallClock:
    """The BusinessClock interface over plain wall-clock time, for teams without hours."""

    @property
    def day_length(self) -> timedelta:
        """A wall-clock day: 24 hours."""
        return _ONE_DAY

    def is_open(self, moment: datetime) -> bool:
        """Always open."""
        _utc(moment, "moment")
        return True

    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        """`end - start`, or zero when `end` is not after `start`."""
        return max(_utc(end, "end") - _utc(start, "start"), _ZERO)

    def add(self, start: datetime, amount: timedelta) -> datetime:
        """`start + amount` in UTC; raise ValueError for a negative amount."""
        if amount < _ZERO:
            raise ValueError(f"cannot add a negative amount of time: {amount}")
        return _utc(start, "start") + amount


def clock_for(team: TeamConfig | None) -> BusinessClock | WallClock:
    """The clock a team's SLA timers run on: its business hours, or the wall clock."""
    if team is None or team.business_hours is None:
        return WallClock()
    return BusinessClock(team.business_hours)


def sla_deadline(*, item: Item, config: Config) -> datetime:
    """When the item's first response is due (UTC), counted from `forwarded_at`.

    Business time applies where the owning team has business hours, except for `urgent`,
    which always runs on the wall clock. A severity the config does not know falls back to
    `severity_default`, so one odd stored row cannot break a digest.
    """
    return SlaDeadlines(config)(item)


class SlaDeadlines:
    """`sla_deadline` for many items of one config: each clock and target is made once."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self._targets: dict[str, timedelta] = {}
        self._clocks: dict[str | None, BusinessClock | WallClock] = {}

    def __call__(self, item: Item) -> datetime:
        """When the item's first response is due (UTC); see sla_deadline."""
        config = self.config
        severity = item.severity if item.severity in config.sla else config.severity_default
        if severity not in self._targets:
            self._targets[severity] = config.sla_for(cast(Severity, severity))
        team = None if severity == "urgent" else item.team
        if team not in self._clocks:
            self._clocks[team] = clock_for(None if team is None else config.teams.get(team))
        return self._clocks[team].add(item.forwarded_at, self._targets[severity])
