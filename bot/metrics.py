"""Digest and stats figures: pure functions over items, a window and a `now`; no I/O."""

from __future__ import annotations

import zoneinfo
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TypeAlias

from bot.business_hours import BusinessClock, SlaDeadlines, WallClock, clock_for
from bot.config import Config
from bot.models import Item, Status

ALL_TEAMS = "all"

Clock: TypeAlias = BusinessClock | WallClock


@dataclass(frozen=True)
class Durations:
    """How many durations there were, their median and their 90th percentile."""

    count: int
    median: timedelta | None
    p90: timedelta | None

    @classmethod
    def of(cls, values: Iterable[timedelta]) -> Durations:
        """Summarise durations; median and p90 are None when there are none."""
        ordered = sorted(values)
        return cls(count=len(ordered), median=median(ordered), p90=p90(ordered))


@dataclass(frozen=True)
class TeamFigures:
    """One team's (or "all" teams') figures for a window."""

    team: str
    new: int
    responded: int
    resolved: int
    waiting: int
    reassigned: int
    time_to_response: Durations
    time_to_response_business: Durations | None
    forwarding_lag: Durations
    developer_response: Durations
    developer_response_business: Durations | None
    within_sla: float | None
    sla_breaches: int
    reassignment_rate: float | None


@dataclass(frozen=True)
class WaitingItem:
    """An item nobody has answered yet, with how long it has waited."""

    item: Item
    age: timedelta
    waiting_since_forwarded: timedelta
    overdue: bool


@dataclass(frozen=True)
class Figures:
    """Everything a digest or `/feedback stats` shows for one window."""

    start: datetime
    end: datetime
    teams: list[TeamFigures]
    overall: TeamFigures
    waiting: list[WaitingItem]


def median(values: Sequence[timedelta]) -> timedelta | None:
    """The median of durations (the mean of the middle two for an even count); None if empty."""
    ordered = sorted(values)
    count = len(ordered)
    if count == 0:
        return None
    middle = count // 2
    if count % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def p90(values: Sequence[timedelta]) -> timedelta | None:
    """The 90th percentile by nearest rank (the ceil(0.9 n)-th smallest); None if empty."""
    ordered = sorted(values)
    if not ordered:
        return None
    # Integer ceil(9n / 10), so no float rounding can push the rank one too high.
    rank = -(-len(ordered) * 9 // 10)
    return ordered[rank - 1]


def _utc(moment: datetime, name: str) -> datetime:
    if moment.tzinfo is UTC:  # what the store gives: nothing to check or convert
        return moment
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime, got naive {moment!r}")
    # Two datetimes sharing one ZoneInfo subtract as wall times, wrong across DST; UTC is safe.
    return moment.astimezone(UTC)


def _team_names(config: Config, teams: Sequence[str] | None) -> list[str]:
    """The asked-for teams in config order; raise ValueError naming any unknown team."""
    if teams is None:
        return list(config.teams)
    unknown = [name for name in teams if name not in config.teams]
    if unknown:
        raise ValueError(f"unknown team(s): {', '.join(unknown)}; known: {', '.join(config.teams)}")
    wanted = set(teams)
    return [name for name in config.teams if name in wanted]


def _is_waiting(item: Item) -> bool:
    return item.first_response_at is None and item.status != Status.RESOLVED.value


@dataclass(frozen=True)
class _Window:
    start: datetime
    end: datetime

    def __contains__(self, moment: datetime | None) -> bool:
        return moment is not None and self.start <= _utc(moment, "item time") < self.end


def _figures_for(
    team: str,
    items: list[Item],
    *,
    window: _Window,
    deadline_of: Callable[[Item], datetime],
    business_clock_of: Callable[[Item], Clock] | None,
    now: datetime,
) -> TeamFigures:
    """Figures over `items`; business durations only when `business_clock_of` is given."""
    start, end = window.start, window.end
    new = reassigned = resolved = 0
    responded: list[tuple[Item, datetime]] = []
    waiting: list[Item] = []
    # One pass per item: these loops run over every item of the window, per team.
    resolved_status = Status.RESOLVED.value
    for item in items:
        if start <= _utc(item.forwarded_at, "forwarded_at") < end:
            new += 1
            reassigned += item.reassignments > 0
        answered_at = item.first_response_at
        if answered_at is not None:
            answered = _utc(answered_at, "first_response_at")
            if start <= answered < end:
                responded.append((item, answered))
        elif item.status != resolved_status:
            waiting.append(item)
        resolved_at = item.resolved_at
        if resolved_at is not None and start <= _utc(resolved_at, "resolved_at") < end:
            resolved += 1

    to_response: list[timedelta] = []
    lag: list[timedelta] = []
    developer: list[timedelta] = []
    to_response_business: list[timedelta] = []
    developer_business: list[timedelta] = []
    on_time = 0
    for item, answered in responded:
        received = _utc(item.received_at, "received_at")
        forwarded = _utc(item.forwarded_at, "forwarded_at")
        to_response.append(answered - received)
        lag.append(forwarded - received)
        developer.append(answered - forwarded)
        if business_clock_of is not None:
            clock = business_clock_of(item)
            to_response_business.append(clock.elapsed(received, answered))
            developer_business.append(clock.elapsed(forwarded, answered))
        if answered <= deadline_of(item):
            on_time += 1
    overdue_now = sum(1 for item in waiting if now > deadline_of(item))

    return TeamFigures(
        team=team,
        new=new,
        responded=len(responded),
        resolved=resolved,
        waiting=len(waiting),
        reassigned=reassigned,
        time_to_response=Durations.of(to_response),
        time_to_response_business=(
            Durations.of(to_response_business) if business_clock_of is not None else None
        ),
        forwarding_lag=Durations.of(lag),
        developer_response=Durations.of(developer),
        developer_response_business=(
            Durations.of(developer_business) if business_clock_of is not None else None
        ),
        within_sla=on_time / len(responded) if responded else None,
        sla_breaches=(len(responded) - on_time) + overdue_now,
        reassignment_rate=reassigned / new if new else None,
    )


def compute_figures(
    *,
    items: Iterable[Item],
    config: Config,
    start: datetime,
    end: datetime,
    now: datetime,
    teams: Sequence[str] | None = None,
) -> Figures:
    """Per-team and overall figures for the window [start, end), plus what is waiting now.

    "New" counts items by `forwarded_at`, response figures the items first responded to in
    the window, "resolved" by `resolved_at`; an item belongs to its current team. With
    `teams` only those teams are in scope; without, every item is (even one whose team has
    left the config, which then shows in `overall` and `waiting` only). Raises ValueError
    for naive datetimes, `end` before `start`, or an unknown team.
    """
    start, end, now = _utc(start, "start"), _utc(end, "end"), _utc(now, "now")
    if end < start:
        raise ValueError(f"window ends ({end}) before it starts ({start})")
    names = _team_names(config, teams)
    window = _Window(start, end)
    # Only items new, answered or resolved in the window, or waiting now, count at all;
    # leaving the rest out at once keeps the per-team passes to the window's size.
    wanted = set(names)
    in_scope = [item for item in items
                if (teams is None or item.team in wanted) and (
                    _is_waiting(item) or item.forwarded_at in window
                    or item.first_response_at in window or item.resolved_at in window)]

    clocks: dict[str, Clock] = {name: clock_for(team) for name, team in config.teams.items()}
    wall = WallClock()
    deadlines: dict[int, datetime] = {}
    deadline = SlaDeadlines(config)

    def deadline_of(item: Item) -> datetime:
        # Keyed by identity: unsaved items all share id 0, and one item is asked about twice.
        key = id(item)
        if key not in deadlines:
            deadlines[key] = deadline(item)
        return deadlines[key]

    def business_clock_of(item: Item) -> Clock:
        return clocks.get(item.team, wall)

    by_team: dict[str, list[Item]] = defaultdict(list)
    for item in in_scope:
        by_team[item.team].append(item)
    rows = [
        _figures_for(
            name,
            by_team[name],
            window=window,
            deadline_of=deadline_of,
            business_clock_of=(
                business_clock_of if config.teams[name].business_hours is not None else None
            ),
            now=now,
        )
        for name in names
    ]
    # Business figures for "all" only when every team in scope counts business time;
    # a mix of business and wall-clock durations would be neither.
    every_team_has_hours = all(config.teams[name].business_hours is not None for name in names)
    overall = _figures_for(
        ALL_TEAMS,
        in_scope,
        window=window,
        deadline_of=deadline_of,
        business_clock_of=business_clock_of if every_team_has_hours else None,
        now=now,
    )
    waiting = [
        WaitingItem(
            item=item,
            age=now - _utc(item.received_at, "received_at"),
            waiting_since_forwarded=now - _utc(item.forwarded_at, "forwarded_at"),
            overdue=now > deadline_of(item),
        )
        for item in in_scope
        if _is_waiting(item)
    ]
    waiting.sort(
        key=lambda w: (
            _utc(w.item.received_at, "received_at"),
            _utc(w.item.forwarded_at, "forwarded_at"),
            w.item.id,
        )
    )
    return Figures(start=start, end=end, teams=rows, overall=overall, waiting=waiting)


def daily_medians(
    *,
    items: Iterable[Item],
    config: Config,
    end: datetime,
    days: int = 14,
    tz: str = "UTC",
    teams: Sequence[str] | None = None,
) -> dict[str, list[tuple[date, timedelta | None]]]:
    """Per team, the median wall-clock time to response of items first responded to each day.

    Days are local dates in `tz`: the `days` days ending with `end`'s local date, oldest
    first; a day without responses has None. Responses at or after `end` are left out.
    Raises ValueError for a naive `end`, `days` < 1, an unknown zone or an unknown team.
    """
    end = _utc(end, "end")
    if days < 1:
        raise ValueError(f"days must be at least 1, got {days}")
    try:
        zone = zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {tz!r}") from None
    names = _team_names(config, teams)
    last = end.astimezone(zone).date()
    dates = [last - timedelta(days=back) for back in range(days - 1, -1, -1)]

    buckets: dict[str, dict[date, list[timedelta]]] = {name: defaultdict(list) for name in names}
    for item in items:
        if item.team not in buckets or item.first_response_at is None:
            continue
        answered = _utc(item.first_response_at, "first_response_at")
        if answered >= end:
            continue
        day = answered.astimezone(zone).date()
        if dates[0] <= day <= last:
            buckets[item.team][day].append(answered - _utc(item.received_at, "received_at"))
    return {name: [(day, median(buckets[name].get(day, []))) for day in dates] for name in names}
