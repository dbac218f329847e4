"""Digest periods: local dates, windows from the previous run, DST edges, and the scheduler."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from apscheduler.triggers.cron import CronTrigger

from bot.config import DigestConfig
from bot.digest_schedule import (
    current_period,
    due_periods,
    is_late,
    period_for,
    scheduled_run,
    subscription_key,
)
from bot.scheduler import digest_trigger

BERLIN = ZoneInfo("Europe/Berlin")
WEEKDAYS = ["mon", "tue", "wed", "thu", "fri"]
EVERY_DAY = [*WEEKDAYS, "sat", "sun"]


def _sub(at: str = "09:00", days=None, tz: str = "Europe/Berlin") -> DigestConfig:
    return DigestConfig(channel="C0MANAGERS", at=at, timezone=tz, days=days or WEEKDAYS)


def test_monday_window_runs_from_fridays_run():
    period = period_for(0, _sub(), date(2026, 11, 30))  # a Monday
    assert period.window_start == datetime(2026, 11, 27, 8, 0, tzinfo=UTC)  # Fri 09:00 CET
    assert period.window_end == period.scheduled_at == datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
    assert period.period == "2026-11-30"


def test_nine_oclock_moves_in_utc_across_the_spring_change():
    assert scheduled_run(_sub(), date(2026, 3, 27)) == datetime(2026, 3, 27, 8, 0, tzinfo=UTC)
    assert scheduled_run(_sub(), date(2026, 3, 30)) == datetime(2026, 3, 30, 7, 0, tzinfo=UTC)
    # The Monday window spans the change: Friday 08:00 UTC to Monday 07:00 UTC.
    period = period_for(0, _sub(), date(2026, 3, 30))
    assert period.window_end - period.window_start == timedelta(days=3, hours=-1)


def test_a_skipped_local_time_runs_just_after_the_spring_change():
    sub = _sub(at="02:30", days=EVERY_DAY)
    run = scheduled_run(sub, date(2026, 3, 29))  # 02:00-03:00 does not exist that night
    assert run == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    assert run.astimezone(BERLIN).hour == 3


def test_a_repeated_local_time_runs_once_at_its_first_occurrence_in_the_fall():
    sub = _sub(at="02:30", days=EVERY_DAY)
    assert scheduled_run(sub, date(2026, 10, 25)) == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    "day", [date(2026, 3, 27), date(2026, 3, 30), date(2026, 10, 23), date(2026, 10, 26)]
)
def test_the_cron_trigger_wakes_the_bot_at_the_scheduled_run(day):
    sub = _sub()
    trigger: CronTrigger = digest_trigger(sub)
    just_before = scheduled_run(sub, day) - timedelta(hours=2)
    fire = trigger.get_next_fire_time(None, just_before.astimezone(BERLIN))
    assert fire is not None and fire.astimezone(UTC) == scheduled_run(sub, day)


def test_the_cron_trigger_at_spring_forward_and_fall_back():
    sub = _sub(at="02:30", days=EVERY_DAY)
    trigger = digest_trigger(sub)
    spring = trigger.get_next_fire_time(None, datetime(2026, 3, 28, 12, 0, tzinfo=BERLIN))
    assert spring.astimezone(UTC) == scheduled_run(sub, date(2026, 3, 29))
    fall = trigger.get_next_fire_time(None, datetime(2026, 10, 24, 12, 0, tzinfo=BERLIN))
    assert fall.astimezone(UTC) == scheduled_run(sub, date(2026, 10, 25))


def test_due_only_after_the_run_and_only_on_the_same_local_day():
    sub = _sub()
    monday_run = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
    assert due_periods([sub], monday_run - timedelta(minutes=1)) == []
    (due,) = due_periods([sub], monday_run)
    assert due.local_date == date(2026, 11, 30) and not is_late(due, monday_run)
    # Back up at 15:00: still Monday in Berlin, so it is posted, marked late.
    (late,) = due_periods([sub], monday_run + timedelta(hours=6))
    assert is_late(late, monday_run + timedelta(hours=6))
    # Tuesday 08:59 Berlin: Monday's period is not replayed, Tuesday's isn't due yet.
    assert due_periods([sub], datetime(2026, 12, 1, 7, 59, tzinfo=UTC)) == []


def test_no_current_period_on_days_off_and_the_local_date_decides():
    sub = _sub(tz="Pacific/Auckland")
    saturday_utc_friday_nz = datetime(2026, 11, 27, 20, 0, tzinfo=UTC)  # Sat 09:00 in NZ
    assert current_period(0, sub, saturday_utc_friday_nz) is None
    monday_nz = datetime(2026, 11, 29, 20, 0, tzinfo=UTC)  # Mon 09:00 in NZ, Sun in UTC
    assert current_period(0, sub, monday_nz).local_date == date(2026, 11, 30)


def test_subscription_keys_ignore_order_of_teams_and_differ_by_scope():
    one = DigestConfig(channel="C1", at="09:00", timezone="UTC", teams=["b", "a"])
    same = DigestConfig(channel="C1", at="09:00", timezone="UTC", teams=["a", "b"])
    everything = DigestConfig(channel="C1", at="09:00", timezone="UTC")
    assert subscription_key(one) == subscription_key(same) != subscription_key(everything)
