"""Business-time arithmetic for SLA timers: a team's hours, weekdays and public holidays."""

from __future__ import annotations

import bisect
import functools
import zoneinfo
from datetime import UTC, date, datetime, time, timedelta
from typing import cast

import holidays

from bot.config import BusinessHours, Config, Severity, TeamConfig
from bot.models import Item
from bot.models import in_utc as _utc

_ZERO = timedelta(0)
_ONE_DAY = timedelta(days=1)
# How far the calendar reaches beyond the day asked about, so neighbours need no rebuild.
_CALENDAR_STEP = timedelta(days=31)
_WEEKDAY_INDEX = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}


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
        anchor = date(2000, 1, 3)
        self._day_length = (datetime.combine(anchor, self._close)
                            - datetime.combine(anchor, self._open))
        self._hours_cache: dict[date, tuple[datetime, datetime] | None] = {}
        self._first = date.min
        self._starts: list[datetime] = []
        self._opens: list[datetime | None] = []
        self._closes: list[datetime | None] = []
        self._before: list[timedelta] = []
        self._through: list[timedelta] = []

    @property
    def day_length(self) -> timedelta:
        """The nominal length of one business day, e.g. 8h for 09:00-17:00."""
        return self._day_length

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

    # Figures ask for thousands of durations and deadlines over the same few weeks, so the
    # clock keeps a calendar of consecutive local days: each day's first moment, its hours
    # and the business time before it. A moment's day is then one bisection away, and
    # business time between two moments is a difference of two running totals.
    def _day_index(self, moment: datetime) -> int:
        """The calendar index of `moment`'s local day (UTC `moment`), extending the calendar."""
        starts = self._starts
        if not starts or moment < starts[0]:
            self._build(self._local_date(moment) - _CALENDAR_STEP, starts)
        elif moment >= starts[-1]:
            self._extend_to(self._local_date(moment) + _CALENDAR_STEP)
        return bisect.bisect_right(self._starts, moment) - 1

    def _build(self, first: date, old_starts: list[datetime]) -> None:
        """Start the calendar afresh at `first`, covering at least what it covered."""
        last = self._first + timedelta(days=len(old_starts) - 2) if old_starts else first
        self._first = first
        self._starts = [self._day_start(first)]
        self._opens, self._closes = [], []
        self._before, self._through = [], []
        self._extend_to(max(last, first + _CALENDAR_STEP))

    def _extend_to(self, last: date) -> None:
        """Add days to the calendar until it holds `last` (and the start of the day after)."""
        day = self._first + timedelta(days=len(self._opens))
        total = self._through[-1] if self._through else _ZERO
        while day <= last:
            hours = self._hours_on(day)
            opening, closing = hours if hours is not None else (None, None)
            self._opens.append(opening)
            self._closes.append(closing)
            self._before.append(total)
            if opening is not None and closing is not None:
                total += closing - opening
            self._through.append(total)
            day += _ONE_DAY
            self._starts.append(self._day_start(day))

    def _day_start(self, day: date) -> datetime:
        # In a gap (no local midnight) the first moment of the day is this same instant.
        return datetime.combine(day, time(0), tzinfo=self._zone).astimezone(UTC)

    def _running(self, moment: datetime, index: int) -> timedelta:
        """Business time from the calendar's start until `moment`, which is on day `index`."""
        opening, closing = self._opens[index], self._closes[index]
        if opening is None or closing is None or moment <= opening:
            return self._before[index]
        return self._before[index] + (min(moment, closing) - opening)

    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        """Business time between two aware datetimes; zero when `end` is not after `start`."""
        start, end = _utc(start, "start"), _utc(end, "end")
        if end <= start:
            return _ZERO
        # `start` first: only a lookup before the calendar's start rebuilds it (and shifts
        # the indexes), and `end` is never before `start`.
        first = self._day_index(start)
        last = self._day_index(end)
        return self._running(end, last) - self._running(start, first)

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
        index = self._day_index(start)
        target = self._running(start, index) + remaining
        while self._through[-1] < target:
            self._extend_to(self._first + timedelta(days=len(self._opens)) + _CALENDAR_STEP)
        # The first day whose hours reach the target; `bisect_left` lands on a closing
        # moment itself rather than on the next opening.
        day = bisect.bisect_left(self._through, target, lo=index)
        opening = self._opens[day]
        if opening is None:  # cannot happen: a closed day adds nothing to reach the target
            raise RuntimeError("business calendar out of order")
        return opening + (target - self._before[day])


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
        if start.tzinfo is UTC and amount >= _ZERO:  # what figures ask, thousands of times
            return start + amount
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
        self._rules: dict[tuple[str, str], tuple[BusinessClock | WallClock, timedelta]] = {}

    def __call__(self, item: Item) -> datetime:
        """When the item's first response is due (UTC); see sla_deadline."""
        return self.due(team=item.team, severity=item.severity, forwarded_at=item.forwarded_at)

    def due(self, *, team: str, severity: str, forwarded_at: datetime) -> datetime:
        """When an item of `team` and `severity` forwarded then is due; see sla_deadline."""
        clock, target = self.rule(team, severity)
        return clock.add(forwarded_at, target)

    def rule(self, team: str, severity: str) -> tuple[BusinessClock | WallClock, timedelta]:
        """The clock and the target that make the deadline of `team`'s `severity` items."""
        rule = self._rules.get((team, severity))
        if rule is None:
            rule = self._rules[(team, severity)] = self._rule(team, severity)
        return rule

    def _rule(self, team: str, severity: str) -> tuple[BusinessClock | WallClock, timedelta]:
        config = self.config
        if severity not in config.sla:
            severity = config.severity_default
        if severity not in self._targets:
            self._targets[severity] = config.sla_for(cast(Severity, severity))
        clock_team = None if severity == "urgent" else team
        if clock_team not in self._clocks:
            self._clocks[clock_team] = clock_for(
                None if clock_team is None else config.teams.get(clock_team))
        return self._clocks[clock_team], self._targets[severity]
