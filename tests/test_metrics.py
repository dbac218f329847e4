"""Digest figures over hand-built items: windows, medians, SLA shares and the waiting list."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.config import Config
from bot.metrics import Durations, TeamFigures, compute_figures, daily_medians, median, p90
from bot.models import Item, Status
from tests.fakes import FrozenClock, make_item

BERLIN = ZoneInfo("Europe/Berlin")
# A Monday; the window is that whole UTC day.
START = datetime(2026, 5, 11, 0, 0, tzinfo=UTC)
END = START + timedelta(days=1)


def at(hours: float, minutes: float = 0) -> datetime:
    """A moment `hours` (and `minutes`) after START."""
    return START + timedelta(hours=hours, minutes=minutes)


def config() -> Config:
    """payments keeps Berlin business hours (09:00-17:00, DE holidays); mobile has none."""
    return Config.model_validate(
        {
            "teams": {
                "payments": {
                    "channel": "C0PAY",
                    "owners": ["U0ALICE"],
                    "business_hours": {
                        "timezone": "Europe/Berlin",
                        "hours": "09:00-17:00",
                        "holidays": "DE",
                    },
                },
                "mobile": {"channel": "C0MOB", "owners": ["U0BOB"]},
            },
            "sla": {"urgent": "30m", "high": "2h", "normal": "8h", "low": "3d"},
        }
    )


def item(**overrides: Any) -> Item:
    """A mobile item (wall clock) routed at START unless told otherwise."""
    values: dict[str, Any] = {
        "team": "mobile",
        "status": Status.ROUTED.value,
        "received_at": START,
        "forwarded_at": START,
    }
    values.update(overrides)
    return make_item(**values)


def responded(received: datetime, forwarded: datetime, answered: datetime, **more: Any) -> Item:
    return item(
        received_at=received,
        forwarded_at=forwarded,
        first_response_at=answered,
        status=Status.RESPONDED.value,
        **more,
    )


def figures(items: list[Item], *, now: datetime = END, **kwargs: Any) -> Any:
    clock = FrozenClock(now)
    return compute_figures(
        items=items, config=config(), start=START, end=END, now=clock(), **kwargs
    )


def row(result: Any, team: str) -> TeamFigures:
    return next(entry for entry in result.teams if entry.team == team)


def minutes(*values: float) -> list[timedelta]:
    return [timedelta(minutes=value) for value in values]


# --- median and p90 ----------------------------------------------------------------------


def test_no_durations_have_no_median_or_p90() -> None:
    assert Durations.of([]) == Durations(count=0, median=None, p90=None)
    assert median([]) is None
    assert p90([]) is None


@pytest.mark.parametrize(
    ("values", "expected_median", "expected_p90"),
    [
        (minutes(7), 7, 7),
        (minutes(5, 1, 3), 3, 5),  # odd: the middle one; p90 rank ceil(2.7) = 3
        (minutes(4, 1, 3, 2), 2.5, 4),  # even: mean of 2 and 3; p90 rank ceil(3.6) = 4
        (minutes(*range(10, 0, -1)), 5.5, 9),  # p90 rank ceil(9.0) = 9, not 10
        (minutes(*range(1, 21)), 10.5, 18),  # p90 rank 18
        (minutes(*range(1, 12)), 6, 10),  # p90 rank ceil(9.9) = 10
    ],
)
def test_median_and_p90_by_nearest_rank(
    values: list[timedelta], expected_median: float, expected_p90: float
) -> None:
    summary = Durations.of(values)
    assert summary.count == len(values)
    assert summary.median == timedelta(minutes=expected_median)
    assert summary.p90 == timedelta(minutes=expected_p90)


# --- windows -----------------------------------------------------------------------------


def test_window_includes_its_start_and_excludes_its_end() -> None:
    items = [
        responded(at(-2), at(-1), START),  # responded exactly at start: counts
        responded(at(-2), at(-1), END),  # responded exactly at end: next window
        responded(at(-2), at(-1), START - timedelta(microseconds=1)),  # previous window
        item(forwarded_at=START),  # new
        item(forwarded_at=END),  # not new yet
        item(forwarded_at=at(-1), resolved_at=START, status=Status.RESOLVED.value),
        item(forwarded_at=at(-1), resolved_at=END, status=Status.RESOLVED.value),
    ]
    mobile = row(figures(items, now=END + timedelta(hours=1)), "mobile")
    assert mobile.responded == 1
    assert mobile.time_to_response.count == 1
    assert mobile.time_to_response.median == timedelta(hours=2)
    assert mobile.new == 1
    assert mobile.resolved == 1


def test_items_count_under_their_current_team() -> None:
    moved = item(team="payments", forwarded_at=at(1), reassignments=1)
    result = figures([moved, item(forwarded_at=at(2))])
    assert row(result, "payments").new == 1
    assert row(result, "mobile").new == 1
    assert result.overall.team == "all"
    assert result.overall.new == 2


# --- time to response and its split ------------------------------------------------------


def test_time_to_response_splits_into_forwarding_lag_and_developer_response() -> None:
    items = [
        responded(at(10), at(10, 30), at(11, 30)),  # 1h30 = 30m lag + 1h developers
        responded(at(9), at(11), at(11, 15)),  # 2h15 = 2h lag + 15m developers
        responded(at(8), at(8, 10), at(12, 10)),  # 4h10 = 10m lag + 4h developers
    ]
    mobile = row(figures(items), "mobile")
    assert mobile.time_to_response == Durations(
        3, timedelta(hours=2, minutes=15), at(4, 10) - START
    )
    assert mobile.forwarding_lag == Durations(3, timedelta(minutes=30), timedelta(hours=2))
    assert mobile.developer_response == Durations(3, timedelta(hours=1), timedelta(hours=4))
    # mobile has no business hours, so there are no business-time figures.
    assert mobile.time_to_response_business is None
    assert mobile.developer_response_business is None


def test_business_time_figures_for_a_team_with_business_hours() -> None:
    # Received Fri 2026-05-08 16:00 Berlin, forwarded 16:30, answered Mon 10:00 Berlin.
    weekend = responded(
        datetime(2026, 5, 8, 16, tzinfo=BERLIN),
        datetime(2026, 5, 8, 16, 30, tzinfo=BERLIN),
        datetime(2026, 5, 11, 10, tzinfo=BERLIN),
        team="payments",
    )
    payments = row(figures([weekend]), "payments")
    assert payments.time_to_response.median == timedelta(hours=66)
    assert payments.developer_response.median == timedelta(hours=65, minutes=30)
    assert payments.forwarding_lag.median == timedelta(minutes=30)
    assert payments.time_to_response_business == Durations(
        1, timedelta(hours=2), timedelta(hours=2)
    )
    assert payments.developer_response_business == Durations(
        1, timedelta(hours=1, minutes=30), timedelta(hours=1, minutes=30)
    )


def test_overall_business_figures_only_when_every_team_in_scope_has_hours() -> None:
    answered = responded(at(6), at(6), at(8), team="payments")  # 08:00-10:00 Berlin
    assert figures([answered]).overall.time_to_response_business is None
    only_payments = figures([answered], teams=["payments"]).overall
    assert only_payments.time_to_response_business == Durations(
        1, timedelta(hours=1), timedelta(hours=1)
    )


# --- SLA ---------------------------------------------------------------------------------


def test_within_sla_share_and_breaches() -> None:
    now = at(20)
    items = [
        responded(at(0), at(1), at(2)),  # 1h after forwarding: on time
        responded(at(0), at(1), at(9)),  # exactly at the 8h deadline: on time
        responded(at(0), at(1), at(9, 1)),  # a minute late
        responded(at(-20), at(-10), at(3)),  # 13h: late (forwarded before the window)
        responded(at(0), at(1), at(5), severity="urgent"),  # 4h for a 30m target: late
        item(forwarded_at=at(11)),  # waiting 9h: overdue
        item(forwarded_at=at(13)),  # waiting 7h: not yet
        responded(at(-30), at(-30), at(-1)),  # late, but responded before the window
    ]
    mobile = row(figures(items, now=now), "mobile")
    assert mobile.responded == 5
    assert mobile.within_sla == pytest.approx(2 / 5)
    assert mobile.sla_breaches == 3 + 1
    assert figures(items, now=now).overall.sla_breaches == 4


def test_within_sla_is_none_without_responses() -> None:
    mobile = row(figures([item(forwarded_at=at(1))]), "mobile")
    assert mobile.responded == 0
    assert mobile.within_sla is None
    assert mobile.time_to_response == Durations(0, None, None)


def test_sla_in_business_time_for_payments() -> None:
    # Forwarded Fri 16:00 Berlin; answered Mon 15:00 Berlin = 7h of business time: on time,
    # although 71 wall-clock hours passed.
    on_time = responded(
        datetime(2026, 5, 8, 15, tzinfo=BERLIN),
        datetime(2026, 5, 8, 16, tzinfo=BERLIN),
        datetime(2026, 5, 11, 15, tzinfo=BERLIN),
        team="payments",
    )
    payments = row(figures([on_time]), "payments")
    assert payments.within_sla == 1.0
    assert payments.sla_breaches == 0


# --- reassignment ------------------------------------------------------------------------


def test_reassignment_rate_counts_new_items_only() -> None:
    items = [
        item(forwarded_at=at(1), reassignments=2),
        item(forwarded_at=at(2)),
        item(forwarded_at=at(3)),
        item(forwarded_at=at(4)),
        item(forwarded_at=at(-5), reassignments=1),  # reassigned, but not new in the window
    ]
    mobile = row(figures(items), "mobile")
    assert mobile.new == 4
    assert mobile.reassigned == 1
    assert mobile.reassignment_rate == pytest.approx(0.25)


def test_reassignment_rate_is_none_without_new_items() -> None:
    assert row(figures([item(forwarded_at=at(-5))]), "mobile").reassignment_rate is None


# --- waiting -----------------------------------------------------------------------------


def test_waiting_lists_everything_unanswered_now_oldest_first() -> None:
    now = at(20)
    answered = responded(at(17), at(17), at(18))
    routed = item(received_at=at(15), forwarded_at=at(16), id=1)  # 4h since forwarding
    resolved_silently = item(received_at=at(10), status=Status.RESOLVED.value, resolved_at=at(12))
    reopened = item(received_at=at(19), forwarded_at=at(19), status=Status.REOPENED.value, id=2)
    # Forwarded 12 wall-clock hours ago, but only 7 business hours (Mon 10:00-17:00 Berlin).
    old = item(received_at=at(0), forwarded_at=at(8), team="payments", id=3)
    urgent = item(received_at=at(19, 20), forwarded_at=at(19, 25), severity="urgent", id=4)
    items = [routed, answered, reopened, old, resolved_silently, urgent]

    result = figures(items, now=now)
    assert [waiting.item.id for waiting in result.waiting] == [3, 1, 2, 4]
    by_id = {waiting.item.id: waiting for waiting in result.waiting}
    assert by_id[1].age == timedelta(hours=5)
    assert by_id[1].waiting_since_forwarded == timedelta(hours=4)
    assert not by_id[1].overdue
    # payments counts business time, so it is not overdue until Tue 10:00 Berlin.
    assert not by_id[3].overdue
    assert by_id[4].overdue  # 35 minutes against a 30-minute target
    assert not by_id[2].overdue
    assert row(result, "mobile").waiting == 3
    assert row(result, "payments").waiting == 1
    assert result.overall.waiting == 4


def test_waiting_overdue_when_now_is_past_the_deadline() -> None:
    exactly = item(forwarded_at=at(1), id=1)
    past = item(forwarded_at=at(1) - timedelta(seconds=1), id=2)
    result = figures([exactly, past], now=at(9))
    assert {waiting.item.id: waiting.overdue for waiting in result.waiting} == {1: False, 2: True}


# --- scope -------------------------------------------------------------------------------


def test_teams_are_listed_in_config_order_and_scope_limits_everything() -> None:
    items = [
        item(team="payments", forwarded_at=at(1), id=1),
        item(team="mobile", forwarded_at=at(2), id=2),
    ]
    both = figures(items, teams=["mobile", "payments"])
    assert [entry.team for entry in both.teams] == ["payments", "mobile"]
    only_mobile = figures(items, teams=["mobile"])
    assert [entry.team for entry in only_mobile.teams] == ["mobile"]
    assert only_mobile.overall.new == 1
    assert [waiting.item.id for waiting in only_mobile.waiting] == [2]
    assert (only_mobile.start, only_mobile.end) == (START, END)


def test_an_unknown_team_or_a_backwards_window_is_refused() -> None:
    with pytest.raises(ValueError, match="nosuch"):
        figures([], teams=["nosuch"])
    with pytest.raises(ValueError, match="before"):
        compute_figures(items=[], config=config(), start=END, end=START, now=END)


# --- daily medians -----------------------------------------------------------------------


def test_daily_medians_bucket_by_local_day_across_midnight() -> None:
    end = datetime(2026, 5, 11, 10, tzinfo=UTC)  # 12:00 Berlin
    items = [
        # 22:30 UTC on the 9th is 00:30 Berlin on the 10th.
        responded(at(-30), at(-30), datetime(2026, 5, 9, 22, 30, tzinfo=UTC)),
        # 21:59 UTC on the 10th is 23:59 Berlin: still the 10th.
        responded(
            datetime(2026, 5, 10, 19, 59, tzinfo=UTC),
            datetime(2026, 5, 10, 20, tzinfo=UTC),
            datetime(2026, 5, 10, 21, 59, tzinfo=UTC),
        ),
        # 22:00 UTC on the 10th is midnight in Berlin: the 11th.
        responded(
            datetime(2026, 5, 10, 21, 30, tzinfo=UTC),
            datetime(2026, 5, 10, 21, 30, tzinfo=UTC),
            datetime(2026, 5, 10, 22, tzinfo=UTC),
        ),
        # After `end`: not counted yet.
        responded(end, end, end + timedelta(minutes=5)),
        # 23:00 Berlin on the 8th: before the three days.
        responded(
            datetime(2026, 5, 8, 20, tzinfo=UTC),
            datetime(2026, 5, 8, 20, tzinfo=UTC),
            datetime(2026, 5, 8, 21, tzinfo=UTC),
        ),
        item(forwarded_at=datetime(2026, 5, 10, 9, tzinfo=UTC)),  # never responded
    ]
    # The first item waited from 2026-05-09 18:00 UTC to 22:30 UTC: 4h30m.
    first_wait = datetime(2026, 5, 9, 22, 30, tzinfo=UTC) - at(-30)
    assert first_wait == timedelta(hours=4, minutes=30)
    result = daily_medians(items=items, config=config(), end=end, days=3, tz="Europe/Berlin")
    assert result == {
        "payments": [
            (date(2026, 5, 9), None),
            (date(2026, 5, 10), None),
            (date(2026, 5, 11), None),
        ],
        "mobile": [
            (date(2026, 5, 9), None),
            (date(2026, 5, 10), (first_wait + timedelta(hours=2)) / 2),
            (date(2026, 5, 11), timedelta(minutes=30)),
        ],
    }
    # The same responses bucketed by UTC day land elsewhere.
    by_utc = daily_medians(items=items, config=config(), end=end, days=3, teams=["mobile"])
    assert by_utc == {
        "mobile": [
            (date(2026, 5, 9), first_wait),
            (date(2026, 5, 10), timedelta(minutes=75)),
            (date(2026, 5, 11), None),
        ]
    }


def test_daily_medians_default_to_fourteen_days_ending_with_the_end_date() -> None:
    result = daily_medians(items=[], config=config(), end=END - timedelta(seconds=1))
    days = [day for day, _ in result["mobile"]]
    assert len(days) == 14
    assert days[0] == date(2026, 4, 28)
    assert days[-1] == date(2026, 5, 11)
    assert all(value is None for _, value in result["payments"])


def test_daily_medians_refuse_bad_arguments() -> None:
    with pytest.raises(ValueError, match="Mars/Base"):
        daily_medians(items=[], config=config(), end=END, tz="Mars/Base")
    with pytest.raises(ValueError, match="days"):
        daily_medians(items=[], config=config(), end=END, days=0)
