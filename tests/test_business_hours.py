"""Business-time arithmetic: hours, weekends, public holidays, DST and SLA deadlines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.business_hours import BusinessClock, WallClock, clock_for, sla_deadline
from bot.config import BusinessHours, Config
from tests.fakes import make_item

BERLIN = ZoneInfo("Europe/Berlin")


def berlin(month: int, day: int, hour: int, minute: int = 0, year: int = 2026) -> datetime:
    """A Berlin wall-clock moment (2026 unless told otherwise)."""
    return datetime(year, month, day, hour, minute, tzinfo=BERLIN)


def utc(month: int, day: int, hour: int, minute: int = 0, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def clock(**overrides: Any) -> BusinessClock:
    """A Berlin 09:00-17:00 Mon-Fri clock with German holidays unless told otherwise."""
    values: dict[str, Any] = {"timezone": "Europe/Berlin", "hours": "09:00-17:00", "holidays": "DE"}
    values.update(overrides)
    return BusinessClock(BusinessHours(**values))


def config(**team_overrides: Any) -> Config:
    """Two teams: payments keeps Berlin business hours, mobile has none."""
    payments: dict[str, Any] = {
        "channel": "C0PAY",
        "owners": ["U0ALICE"],
        "business_hours": {"timezone": "Europe/Berlin", "hours": "09:00-17:00", "holidays": "DE"},
    }
    payments.update(team_overrides)
    return Config.model_validate(
        {
            "teams": {"payments": payments, "mobile": {"channel": "C0MOB", "owners": ["U0BOB"]}},
            "sla": {"urgent": "30m", "high": "2h", "normal": "8h", "low": "3d"},
        }
    )


# --- day length, is_open -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("hours", "length"),
    [("09:00-17:00", timedelta(hours=8)), ("08:30-12:00", timedelta(hours=3, minutes=30))],
)
def test_day_length_is_the_span_of_the_hours(hours: str, length: timedelta) -> None:
    assert clock(hours=hours).day_length == length


def test_is_open_inside_hours_on_a_working_day_only() -> None:
    hours = clock()
    assert hours.is_open(berlin(5, 4, 9))  # Monday, opening is inclusive
    assert hours.is_open(berlin(5, 4, 16, 59))
    assert not hours.is_open(berlin(5, 4, 17))  # closing is exclusive
    assert not hours.is_open(berlin(5, 4, 8, 59))
    assert not hours.is_open(berlin(5, 9, 12))  # Saturday
    assert not hours.is_open(berlin(5, 1, 12))  # Friday, Labour Day
    assert hours.is_open(utc(5, 4, 7))  # 09:00 in Berlin (CEST)


def test_is_open_follows_the_local_offset_across_the_dst_change() -> None:
    hours = clock()
    # Friday 2026-03-27 is CET (UTC+1): 09:00 local is 08:00 UTC.
    assert hours.is_open(utc(3, 27, 8))
    assert not hours.is_open(utc(3, 27, 7, 59))
    # Monday 2026-03-30 is CEST (UTC+2): 09:00 local is 07:00 UTC.
    assert hours.is_open(utc(3, 30, 7))
    assert not hours.is_open(utc(3, 30, 6, 59))


# --- elapsed -------------------------------------------------------------------------------


def test_friday_afternoon_to_monday_morning_is_two_business_hours() -> None:
    assert clock().elapsed(berlin(5, 8, 16), berlin(5, 11, 10)) == timedelta(hours=2)


def test_elapsed_inside_one_day_and_over_a_whole_week() -> None:
    hours = clock()
    assert hours.elapsed(berlin(5, 5, 10), berlin(5, 5, 11, 30)) == timedelta(hours=1, minutes=30)
    # Mon 2026-05-04 00:00 to Mon 2026-05-11 00:00: five days of 8 hours, no holidays.
    assert hours.elapsed(berlin(5, 4, 0), berlin(5, 11, 0)) == timedelta(hours=40)


def test_elapsed_is_zero_when_end_is_not_after_start() -> None:
    hours = clock()
    assert hours.elapsed(berlin(5, 5, 12), berlin(5, 5, 12)) == timedelta(0)
    assert hours.elapsed(berlin(5, 5, 12), berlin(5, 5, 10)) == timedelta(0)


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (berlin(4, 30, 16), berlin(5, 4, 10)),  # Friday 2026-05-01, Labour Day
        (berlin(12, 24, 16), berlin(12, 28, 10)),  # Friday 2026-12-25, Christmas Day
    ],
)
def test_elapsed_skips_a_weekday_public_holiday(start: datetime, end: datetime) -> None:
    assert clock().elapsed(start, end) == timedelta(hours=2)
    # The same span without a holiday calendar counts the Friday's 8 hours.
    assert clock(holidays=None).elapsed(start, end) == timedelta(hours=10)


@pytest.mark.parametrize(
    ("start", "end"),
    [
        # Spring forward on Sun 2026-03-29: Fri 16:00 CET = 15:00 UTC, Mon 10:00 CEST = 08:00 UTC.
        (utc(3, 27, 15), utc(3, 30, 8)),
        # Fall back on Sun 2026-10-25: Fri 16:00 CEST = 14:00 UTC, Mon 10:00 CET = 09:00 UTC.
        (utc(10, 23, 14), utc(10, 26, 9)),
    ],
)
def test_elapsed_over_a_dst_change_weekend_uses_local_hours(start: datetime, end: datetime) -> None:
    assert clock().elapsed(start, end) == timedelta(hours=2)


def test_elapsed_with_berlin_datetimes_over_the_dst_change() -> None:
    # Both ends carry the same ZoneInfo, where naive subtraction would ignore the change.
    assert clock().elapsed(berlin(3, 27, 16), berlin(3, 30, 10)) == timedelta(hours=2)
    assert clock().elapsed(berlin(10, 23, 16), berlin(10, 26, 10)) == timedelta(hours=2)


def test_a_business_day_keeps_its_local_hours_on_the_dst_change_day() -> None:
    every_day = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    night = clock(hours="01:00-04:00", days=every_day, holidays=None)
    assert night.day_length == timedelta(hours=3)
    # 01:00-04:00 local lasts 2 real hours when 02:00 jumps to 03:00 ...
    assert night.elapsed(berlin(3, 29, 0), berlin(3, 30, 0)) == timedelta(hours=2)
    # ... and 4 real hours when 03:00 falls back to 02:00.
    assert night.elapsed(berlin(10, 25, 0), berlin(10, 26, 0)) == timedelta(hours=4)


def test_elapsed_from_a_saturday_counts_from_monday_opening() -> None:
    assert clock().elapsed(berlin(5, 9, 12), berlin(5, 11, 10)) == timedelta(hours=1)


# --- add -----------------------------------------------------------------------------------


def test_three_days_from_wednesday_afternoon_is_monday_afternoon() -> None:
    deadline = clock().add(berlin(5, 6, 15), timedelta(days=3))
    assert deadline == berlin(5, 11, 15)
    assert deadline.tzinfo is UTC
    assert deadline == utc(5, 11, 13)


def test_business_days_skip_a_public_holiday() -> None:
    # Thu 24 Dec, (Fri 25 Dec holiday, weekend), Mon 28 Dec, Tue 29 Dec.
    assert clock().add(berlin(12, 23, 15), timedelta(days=3)) == berlin(12, 29, 15)
    assert clock(holidays=None).add(berlin(12, 23, 15), timedelta(days=3)) == berlin(12, 28, 15)


def test_add_hours_carries_over_to_the_next_business_day() -> None:
    hours = clock()
    assert hours.add(berlin(5, 6, 13), timedelta(hours=8)) == berlin(5, 7, 13)
    # Over Labour Day: 1h on Thursday, then 1h on Monday.
    assert hours.add(berlin(4, 30, 16), timedelta(hours=2)) == berlin(5, 4, 10)
    # 1d12h = 8h + 12h: all of Wednesday and Thursday, then 4h on Friday.
    assert hours.add(berlin(5, 6, 9), timedelta(days=1, hours=12)) == berlin(5, 8, 13)


def test_add_ending_exactly_at_closing_stays_on_that_day() -> None:
    assert clock().add(berlin(5, 6, 9), timedelta(hours=8)) == berlin(5, 6, 17)
    assert clock().add(berlin(5, 6, 9), timedelta(days=1)) == berlin(5, 6, 17)


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        (berlin(5, 9, 12), berlin(5, 11, 11)),  # Saturday: counting starts Monday 09:00
        (berlin(5, 5, 7), berlin(5, 5, 11)),  # before opening: same day
        (berlin(5, 5, 18), berlin(5, 6, 11)),  # after closing: next day
    ],
)
def test_add_starting_outside_hours_counts_from_the_next_opening(
    start: datetime, expected: datetime
) -> None:
    assert clock().add(start, timedelta(hours=2)) == expected


def test_add_over_the_dst_change_lands_on_local_hours() -> None:
    # Fri 16:00 CET + 2h business = Mon 10:00 CEST = 08:00 UTC.
    assert clock().add(berlin(3, 27, 16), timedelta(hours=2)) == utc(3, 30, 8)
    assert clock().add(berlin(10, 23, 16), timedelta(hours=2)) == utc(10, 26, 9)


@pytest.mark.parametrize("amount", [timedelta(minutes=1), timedelta(hours=7), timedelta(days=4)])
def test_add_and_elapsed_agree(amount: timedelta) -> None:
    hours = clock()
    start = berlin(12, 23, 16, 30)
    expected = amount.days * hours.day_length + (amount - timedelta(days=amount.days))
    assert hours.elapsed(start, hours.add(start, amount)) == expected


def test_add_of_zero_returns_start_and_negative_is_refused() -> None:
    assert clock().add(berlin(5, 9, 12), timedelta(0)) == berlin(5, 9, 12)
    with pytest.raises(ValueError, match="negative"):
        clock().add(berlin(5, 6, 12), timedelta(minutes=-1))


# --- errors ------------------------------------------------------------------------------


def test_an_unknown_holiday_country_is_named() -> None:
    with pytest.raises(ValueError, match="'XX'"):
        clock(holidays="XX")


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        clock().elapsed(datetime(2026, 5, 5, 10), berlin(5, 5, 12))
    with pytest.raises(ValueError, match="aware"):
        WallClock().add(datetime(2026, 5, 5, 10), timedelta(hours=1))


# --- wall clock and clock_for ------------------------------------------------------------


def test_wall_clock_counts_every_hour() -> None:
    wall = WallClock()
    assert wall.day_length == timedelta(hours=24)
    assert wall.is_open(berlin(5, 9, 3))
    assert wall.elapsed(berlin(5, 8, 16), berlin(5, 11, 10)) == timedelta(hours=66)
    assert wall.elapsed(berlin(5, 11, 10), berlin(5, 8, 16)) == timedelta(0)
    # The same ZoneInfo on both ends: still real elapsed time across spring forward.
    assert wall.elapsed(berlin(3, 28, 12), berlin(3, 29, 12)) == timedelta(hours=23)
    assert wall.add(berlin(5, 6, 15), timedelta(days=3)) == utc(5, 9, 13)


def test_clock_for_uses_business_hours_only_when_configured() -> None:
    teams = config().teams
    assert isinstance(clock_for(teams["payments"]), BusinessClock)
    assert isinstance(clock_for(teams["mobile"]), WallClock)
    assert isinstance(clock_for(None), WallClock)


# --- SLA deadlines -----------------------------------------------------------------------


def test_sla_counts_business_time_from_forwarded_at() -> None:
    # Received the day before: the timer still starts at forwarding, Fri 16:50.
    item = make_item(received_at=berlin(5, 7, 10), forwarded_at=berlin(5, 8, 16, 50))
    # 10 minutes on Friday, 7h50m on Monday.
    assert sla_deadline(item=item, config=config()) == berlin(5, 11, 16, 50)


def test_urgent_sla_always_counts_wall_clock_time() -> None:
    item = make_item(severity="urgent", forwarded_at=berlin(5, 8, 16, 50))
    # Past closing on a Friday, yet due 30 real minutes later.
    assert sla_deadline(item=item, config=config()) == berlin(5, 8, 17, 20)


def test_low_sla_of_three_days_is_three_business_days() -> None:
    item = make_item(severity="low", forwarded_at=berlin(5, 6, 15))
    assert sla_deadline(item=item, config=config()) == berlin(5, 11, 15)


def test_a_team_without_business_hours_uses_wall_clock() -> None:
    item = make_item(team="mobile", severity="low", forwarded_at=berlin(5, 6, 15))
    assert sla_deadline(item=item, config=config()) == berlin(5, 9, 15)
    normal = make_item(team="mobile", forwarded_at=berlin(5, 8, 16, 50))
    assert sla_deadline(item=normal, config=config()) == berlin(5, 9, 0, 50)


def test_an_item_of_a_team_no_longer_configured_uses_wall_clock() -> None:
    item = make_item(team="gone", forwarded_at=berlin(5, 8, 16, 50))
    assert sla_deadline(item=item, config=config()) == berlin(5, 9, 0, 50)


def test_an_unknown_severity_falls_back_to_the_default() -> None:
    item = make_item(severity="blocker", forwarded_at=berlin(5, 6, 9))
    assert sla_deadline(item=item, config=config()) == berlin(5, 6, 17)


# --- the calendar gives what walking day by day gives -----------------------------------


def _walked_elapsed(clock: BusinessClock, start: datetime, end: datetime) -> timedelta:
    """Business time summed day by day over each local day's hours: the plain definition."""
    zone = ZoneInfo(clock_zone[id(clock)])
    total, day = timedelta(0), start.astimezone(zone).date()
    while day <= end.astimezone(zone).date():
        hours = clock._find_hours_on(day)
        if hours is not None:
            total += max(min(hours[1], end) - max(hours[0], start), timedelta(0))
        day += timedelta(days=1)
    return total


def _walked_add(clock: BusinessClock, start: datetime, amount: timedelta) -> datetime:
    """The moment `amount` of business time has passed, walking day by day."""
    zone = ZoneInfo(clock_zone[id(clock)])
    remaining = amount.days * clock.day_length + (amount - timedelta(days=amount.days))
    if not remaining:
        return start
    day = start.astimezone(zone).date()
    while True:
        hours = clock._find_hours_on(day)
        if hours is not None and hours[1] > start:
            begin = max(hours[0], start)
            if remaining <= hours[1] - begin:
                return begin + remaining
            remaining -= hours[1] - begin
        day += timedelta(days=1)


clock_zone: dict[int, str] = {}


@pytest.mark.parametrize(("zone", "hours", "holidays"), [
    ("Europe/Berlin", "09:00-17:00", "DE"), ("America/New_York", "08:30-18:00", None),
    # Chile moves its clocks at midnight: some local days have no 00:00.
    ("America/Santiago", "00:00-10:00", None), ("Asia/Kolkata", "10:00-19:30", "IN")])
def test_business_time_from_the_calendar_equals_walking_day_by_day(
        zone: str, hours: str, holidays: str | None) -> None:
    import random

    rng = random.Random(zone)
    business = clock(timezone=zone, hours=hours, holidays=holidays)
    clock_zone[id(business)] = zone
    base = datetime(2026, 1, 1, tzinfo=UTC)
    for _ in range(400):
        # Moments anywhere in two years, in random order, so the calendar grows both ways.
        start = base + timedelta(seconds=rng.uniform(0, 2 * 365 * 86400))
        end = start + timedelta(seconds=rng.choice([rng.uniform(0, 3600),
                                                    rng.uniform(0, 40 * 86400)]))
        assert business.elapsed(start, end) == _walked_elapsed(business, start, end)
        amount = timedelta(minutes=rng.choice([0, 30, 120, 480, 3 * 1440, 10 * 1440]))
        assert business.add(start, amount) == _walked_add(business, start, amount)
        assert business.elapsed(end, start) == timedelta(0)
