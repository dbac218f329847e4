"""Figures count time in whole microseconds: exactly what the datetimes say, on both backends.

The store reads an answered item's times as integers (microseconds since 2000-01-01 UTC),
business time comes from running totals of a team's calendar, and medians are taken over
integers; each must give what the datetimes and timedeltas give.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from bot.figure_rows import rows_from_items
from bot.metrics import Durations
from bot.micros import micros, moment_of
from bot.models import Event, Status
from bot.store import Store
from tests.fakes import make_item
from tests.test_business_hours import _walked_add, _walked_elapsed, clock, clock_zone

WORKSPACE = "T0WORK"


def _fractions() -> list[datetime]:
    """Moments on every second of a minute whose fraction rounds up in milliseconds, or
    just not; the first microseconds of 2000, just before, and far ahead."""
    moments = [datetime(2026, 3, 29, 0, 59, second, fraction, tzinfo=UTC)
               for second in range(60) for fraction in (999500, 999499, 999999, 0, 500000)]
    return [*moments, datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
            datetime(2000, 1, 1, tzinfo=UTC), datetime(2000, 1, 1, 0, 0, 0, 1, tzinfo=UTC),
            datetime(2999, 12, 31, 23, 59, 59, 999501, tzinfo=UTC)]


def test_the_store_reads_answered_times_as_their_exact_microseconds(
        fresh_store: Store) -> None:
    moments = _fractions()
    for number, moment in enumerate(moments):
        item = make_item(workspace=WORKSPACE, team="payments", received_at=moment,
                         forwarded_at=moment + timedelta(microseconds=number),
                         first_response_at=moment + timedelta(seconds=1, microseconds=number),
                         status=Status.RESPONDED.value)
        fresh_store.create_item(item=item, event=Event(0, "received", item.forwarded_by,
                                                       item.forwarded_at), outbox=[])
    since, until = datetime(1999, 1, 1, tzinfo=UTC), datetime(3000, 1, 2, tzinfo=UTC)
    rows = fresh_store.figure_rows(workspace=WORKSPACE, windows=[(since, until)],
                                   answered_since=since, until=until)
    every = rows_from_items(fresh_store.list_items(workspace=WORKSPACE),
                            windows=[(since, until)], answered_since=since, until=until)
    assert sorted(rows.answered) == sorted(every.answered)
    assert sorted(row[2] for row in rows.answered) == sorted(micros(m) for m in moments)
    assert all(isinstance(time, int) for row in rows.answered for time in row[2:])
    assert [row[4] for row in rows.answered] == sorted(row[4] for row in rows.answered)
    assert moment_of(micros(moments[0])) == moments[0]


@pytest.mark.parametrize("count", [0, 1, 2, 3, 10, 11, 1001])
def test_durations_of_microseconds_equal_those_of_timedeltas(count: int) -> None:
    rng = random.Random(count)
    values = [rng.randint(-10**7, 10**12) for _ in range(count)]
    # Pairs whose sum is odd: their mean falls on half a microsecond, rounded to even.
    values += [3, 4] if count == 2 else []
    assert Durations.of_micros(list(values)) == Durations.of(
        timedelta(microseconds=value) for value in values)


@pytest.mark.parametrize(("zone", "hours", "holidays"), [
    ("Europe/Berlin", "09:00-17:00", "DE"), ("America/New_York", "08:30-18:00", None),
    ("America/Santiago", "00:00-10:00", None)])
def test_running_totals_and_deadlines_equal_walking_day_by_day(
        zone: str, hours: str, holidays: str | None) -> None:
    rng = random.Random(zone)
    business = clock(timezone=zone, hours=hours, holidays=holidays)
    clock_zone[id(business)] = zone
    base = datetime(2026, 1, 1, tzinfo=UTC)
    for _ in range(8):
        # Batches anywhere in two years, so the calendar grows both ways between them.
        starts = [base + timedelta(seconds=rng.uniform(0, 2 * 365 * 86400),
                                   microseconds=rng.randint(0, 999))
                  for _ in range(40)]
        ends = [start + timedelta(seconds=rng.choice([rng.uniform(-3600, 3600),
                                                      rng.uniform(0, 40 * 86400)]))
                for start in starts]
        begun, ended = business.running_totals([micros(m) for m in starts],
                                                [micros(m) for m in ends])
        for start, end, first, last in zip(starts, ends, begun, ended, strict=True):
            walked = _walked_elapsed(business, start, end) if end > start else timedelta(0)
            assert timedelta(microseconds=max(last - first, 0)) == walked
            amount = timedelta(minutes=rng.choice([30, 120, 480, 3 * 1440]))
            due = business.due_after(first, business.span(amount))
            assert moment_of(due) == _walked_add(business, start, amount)


def test_sla_shares_and_business_durations_equal_those_of_each_items_deadline() -> None:
    """The figures' SLA shares and business medians, against each item's own deadline
    (`sla_deadline`) and business time (`elapsed`), answered on, just before and just
    after its deadline, or anywhere in the days after."""
    from bot.business_hours import SlaDeadlines, sla_deadline
    from bot.metrics import compute_figures
    from tests.test_figures_window import NOW, TEAMS, config

    settings = config()
    deadlines = SlaDeadlines(settings)
    rng = random.Random(14)
    items = []
    for number in range(600):
        team = rng.choice([*TEAMS, "legacy"])
        received = NOW - timedelta(days=rng.uniform(1, 20), microseconds=rng.randint(0, 999))
        forwarded = received + timedelta(minutes=rng.uniform(0, 300))
        severity = rng.choice(["urgent", "high", "normal", "low", "odd"])
        due = deadlines.due(team=team, severity=severity, forwarded_at=forwarded)
        answered = (due + rng.choice([timedelta(0), timedelta(microseconds=1),
                                      -timedelta(microseconds=1)]) if rng.random() < 0.4
                    else forwarded + timedelta(minutes=rng.uniform(1, 4000)))
        items.append(make_item(workspace=WORKSPACE, id=number + 1, team=team,
                               severity=severity, received_at=received,
                               forwarded_at=forwarded, first_response_at=answered,
                               status=Status.RESPONDED.value))
    # Day by day, so that each median and p90 is of a few items and any error shows.
    for day in range(-20, 4):
        start, end = NOW + timedelta(days=day), NOW + timedelta(days=day + 1)
        figures = compute_figures(items=items, config=settings, start=start, end=end, now=NOW)
        for row in figures.teams:
            answered_items = [item for item in items if item.team == row.team
                              and item.first_response_at is not None
                              and start <= item.first_response_at < end]
            on_time = [item for item in answered_items if item.first_response_at is not None
                       and item.first_response_at <= sla_deadline(item=item, config=settings)]
            assert row.responded == len(answered_items)
            assert row.within_sla == (len(on_time) / len(answered_items)
                                      if answered_items else None)
            if row.team in ("payments", "triage"):
                clock = deadlines.clock(row.team)
                assert row.time_to_response_business == Durations.of(
                    clock.elapsed(item.received_at, item.first_response_at)
                    for item in answered_items if item.first_response_at is not None)
                assert row.developer_response_business == Durations.of(
                    clock.elapsed(item.forwarded_at, item.first_response_at)
                    for item in answered_items if item.first_response_at is not None)
