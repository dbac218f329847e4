"""Business-time arithmetic for SLA timers: a team's hours, weekdays and public holidays."""

from __future__ import annotations

import bisect
import functools
import zoneinfo
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import cast

import holidays

from bot.config import BusinessHours, Config, Severity, TeamConfig
from bot.micros import micros, moment_of, span_micros, span_of
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
        self._starts: list[int] = []
        # A closed day opens and closes at its first moment: no business time in it.
        self._opens: list[int] = []
        self._closes: list[int] = []
        self._before: list[int] = []
        self._through: list[int] = []

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
    # and the business time before it, all in microseconds (bot/micros.py). A moment's
    # day is then one bisection away, and business time between two moments is a
    # difference of two running totals.
    def _day_index(self, moment: int) -> int:
        """The calendar index of `moment`'s local day, extending the calendar."""
        starts = self._starts
        if not starts or moment < starts[0]:
            self._build(self._local_date(moment_of(moment)) - _CALENDAR_STEP, starts)
        elif moment >= starts[-1]:
            self._extend_to(self._local_date(moment_of(moment)) + _CALENDAR_STEP)
        return bisect.bisect_right(self._starts, moment) - 1

    def _build(self, first: date, old_starts: list[int]) -> None:
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
        total = self._through[-1] if self._through else 0
        while day <= last:
            hours = self._hours_on(day)
            opening, closing = ((self._starts[-1], self._starts[-1]) if hours is None
                                else (micros(hours[0]), micros(hours[1])))
            self._opens.append(opening)
            self._closes.append(closing)
            self._before.append(total)
            total += closing - opening
            self._through.append(total)
            day += _ONE_DAY
            self._starts.append(self._day_start(day))

    def _day_start(self, day: date) -> int:
        # In a gap (no local midnight) the first moment of the day is this same instant.
        return micros(datetime.combine(day, time(0), tzinfo=self._zone))

    def _running(self, moment: int, index: int) -> int:
        """Business time from the calendar's start until `moment`, which is on day `index`."""
        opening = self._opens[index]
        if moment <= opening:
            return self._before[index]
        return self._before[index] + (min(moment, self._closes[index]) - opening)

    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        """Business time between two aware datetimes; zero when `end` is not after `start`."""
        start, end = _utc(start, "start"), _utc(end, "end")
        return span_of(self.elapsed_micros(micros(start), micros(end)))

    def elapsed_micros(self, start: int, end: int) -> int:
        """`elapsed` for moments in microseconds (bot/micros.py), in microseconds."""
        if end <= start:
            return 0
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
        remaining = self.span(amount)
        if remaining == 0:
            return start
        return moment_of(self.add_micros(micros(start), remaining))

    def span(self, amount: timedelta) -> int:
        """`amount` as business time to add, in microseconds: whole days are business days."""
        return span_micros(amount.days * self.day_length + (amount - timedelta(days=amount.days)))

    def add_micros(self, start: int, span: int) -> int:
        """`add` for a moment in microseconds and a `span` (not negative) of business time."""
        if span == 0:
            return start
        index = self._day_index(start)
        target = self._running(start, index) + span
        return self._reaching(target, index)

    def _reaching(self, target: int, first: int = 0) -> int:
        """The moment the running total reaches `target` (on day `first` or later)."""
        while self._through[-1] < target:
            self._extend_to(self._first + timedelta(days=len(self._opens)) + _CALENDAR_STEP)
        # The first day whose hours reach the target; `bisect_left` lands on a closing
        # moment itself rather than on the next opening (and never on a closed day,
        # which adds nothing to reach it).
        day = bisect.bisect_left(self._through, target, lo=first)
        return self._opens[day] + (target - self._before[day])

    def running_totals(self, *columns: Sequence[int]) -> list[list[int]]:
        """Business time from one origin until each moment of each column, in microseconds.

        Of two totals of one call, their difference (when not negative) is the business
        time between their moments, as `elapsed_micros` gives it; `due_after` takes them
        too. For the thousands of rows of a digest: no call per moment.
        """
        present = [column for column in columns if column]
        if present:
            # The earliest first: only it may rebuild the calendar (and move its origin).
            self._day_index(min(min(column) for column in present))
            self._day_index(max(max(column) for column in present))
        starts, opens, closes, before = self._starts, self._opens, self._closes, self._before
        find = bisect.bisect_right
        totals = []
        for column in columns:
            found = []
            for moment in column:
                day = find(starts, moment) - 1
                opening = opens[day]
                if moment <= opening:
                    found.append(before[day])
                else:
                    closing = closes[day]
                    found.append(before[day] + (moment if moment < closing else closing)
                                 - opening)
            totals.append(found)
        return totals

    def due_after(self, total: int, span: int) -> int:
        """The moment (µs) when `span` (positive) of business time has passed since the
        moment whose running total (from the latest `running_totals`) is `total`."""
        return self._reaching(total + span)


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

    def elapsed_micros(self, start: int, end: int) -> int:
        """`elapsed` for moments in microseconds, in microseconds."""
        return max(end - start, 0)

    def span(self, amount: timedelta) -> int:
        """`amount` in microseconds."""
        return span_micros(amount)

    def add_micros(self, start: int, span: int) -> int:
        """`add` for a moment and a span (not negative) in microseconds."""
        return start + span

    def running_totals(self, *columns: Sequence[int]) -> list[list[int]]:
        """The moments themselves: on the wall clock all time counts."""
        return [list(column) for column in columns]

    def due_after(self, total: int, span: int) -> int:
        """`total + span`: on the wall clock a running total is its moment."""
        return total + span

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
        self._clocks: dict[str, BusinessClock | WallClock] = {}
        self._wall = WallClock()
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
        return (self._wall if severity == "urgent" else self.clock(team)), \
            self._targets[severity]

    def clock(self, team: str) -> BusinessClock | WallClock:
        """The clock `team`'s business time runs on (the wall clock without hours)."""
        found = self._clocks.get(team)
        if found is None:
            found = self._clocks[team] = clock_for(self.config.teams.get(team))
        return found
