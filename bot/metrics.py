"""Digest and stats figures: pure functions over items, a window and a `now`; no I/O."""

from __future__ import annotations

import bisect
import zoneinfo
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TypeAlias

from bot.business_hours import BusinessClock, SlaDeadlines, WallClock
from bot.config import Config
from bot.figure_rows import (
    ANSWERED_AT,
    AnsweredRow,
    FigureRows,
    TeamCounts,
    rows_from_items,
)
from bot.micros import half_of, micros, span_of
from bot.models import Item
from bot.models import in_utc as utc

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
        return cls(count=len(ordered), median=_median_of_sorted(ordered),
                   p90=_p90_of_sorted(ordered))

    @classmethod
    def of_micros(cls, values: list[int]) -> Durations:
        """`of` for durations in microseconds (sorts `values` in place): figures sort
        tens of thousands, which as integers take a fraction of the time."""
        values.sort()
        count = len(values)
        if not count:
            return cls(count=0, median=None, p90=None)
        middle = count // 2
        middle_value = (values[middle] if count % 2
                        else half_of(values[middle - 1] + values[middle]))
        return cls(count=count, median=span_of(middle_value),
                   p90=span_of(values[_p90_rank(count) - 1]))


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
    return _median_of_sorted(sorted(values))


def p90(values: Sequence[timedelta]) -> timedelta | None:
    """The 90th percentile by nearest rank (the ceil(0.9 n)-th smallest); None if empty."""
    return _p90_of_sorted(sorted(values))


def _median_of_sorted(ordered: Sequence[timedelta]) -> timedelta | None:
    count = len(ordered)
    if count == 0:
        return None
    middle = count // 2
    if count % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def _p90_of_sorted(ordered: Sequence[timedelta]) -> timedelta | None:
    if not ordered:
        return None
    return ordered[_p90_rank(len(ordered)) - 1]


def _p90_rank(count: int) -> int:
    # Integer ceil(9n / 10), so no float rounding can push the rank one too high.
    return -(-count * 9 // 10)


def team_names(config: Config, teams: Sequence[str] | None) -> list[str]:
    """The asked-for teams in config order; raise ValueError naming any unknown team."""
    if teams is None:
        return list(config.teams)
    unknown = [name for name in teams if name not in config.teams]
    if unknown:
        raise ValueError(f"unknown team(s): {', '.join(unknown)}; known: {', '.join(config.teams)}")
    wanted = set(teams)
    return [name for name in config.teams if name in wanted]


class _Answers:
    """One team's answers in a window: rows, wall-clock durations (in microseconds), and
    how many met the SLA; for a team that keeps business hours, its business durations."""

    __slots__ = ("business", "developer", "lag", "on_time", "parts", "rows", "to_response")

    def __init__(self) -> None:
        self.rows: list[AnsweredRow] = []
        self.to_response: list[int] = []
        self.lag: list[int] = []
        self.developer: list[int] = []
        self.on_time = 0
        # (time to response, developer response) in business time, when measured.
        self.business: tuple[list[int], list[int]] | None = None
        self.parts: list[_Answers] = [self]

    @classmethod
    def merged(cls, parts: Iterable[_Answers]) -> _Answers:
        whole = cls()
        whole.parts = list(parts)
        for part in whole.parts:
            whole.rows += part.rows
            whole.to_response += part.to_response
            whole.lag += part.lag
            whole.developer += part.developer
            whole.on_time += part.on_time
        return whole


def _business_durations(rows: Sequence[AnsweredRow], clock: Clock
                        ) -> tuple[tuple[list[int], list[int]], list[int]]:
    """Time to response and developer response of one team's rows on its clock, and the
    running totals (Clock.running_totals) of their forwarding moments."""
    received, forwarded, answered = clock.running_totals(
        [row[2] for row in rows], [row[3] for row in rows], [row[4] for row in rows])
    # A negative difference is an answer before its start: no time passed.
    return ([max(end - start, 0) for start, end in zip(received, answered, strict=True)],
            [max(end - start, 0) for start, end in zip(forwarded, answered, strict=True)]
            ), forwarded


def _figures_for(
    team: str,
    counts: TeamCounts,
    answers: _Answers,
    waiting: int,
    overdue_now: int,
    *,
    business_clock_of: Callable[[str], Clock] | None,
) -> TeamFigures:
    """Figures from counts and answers; business durations only with `business_clock_of`."""
    responded = len(answers.rows)
    on_time = answers.on_time
    business: tuple[Durations, Durations] | None = None
    if business_clock_of is not None:
        # Each team's rows on its own clock ("all" has one part per team).
        measured = [part.business or _business_durations(
            part.rows, business_clock_of(part.rows[0][0]))[0]
            for part in answers.parts if part.rows]
        # One team's lists are sorted where they are; "all" then joins sorted runs.
        to_response_business = measured[0][0] if len(measured) == 1 else [
            duration for durations, _ in measured for duration in durations]
        developer_business = measured[0][1] if len(measured) == 1 else [
            duration for _, durations in measured for duration in durations]
        business = (Durations.of_micros(to_response_business),
                    Durations.of_micros(developer_business))
    return TeamFigures(
        team=team,
        new=counts.new,
        responded=responded,
        resolved=counts.resolved,
        waiting=waiting,
        reassigned=counts.reassigned,
        time_to_response=Durations.of_micros(answers.to_response),
        time_to_response_business=business[0] if business else None,
        forwarding_lag=Durations.of_micros(answers.lag),
        developer_response=Durations.of_micros(answers.developer),
        developer_response_business=business[1] if business else None,
        within_sla=on_time / responded if responded else None,
        sla_breaches=(responded - on_time) + overdue_now,
        reassignment_rate=counts.reassigned / counts.new if counts.new else None,
    )


def _answers_in(answered: Sequence[AnsweredRow], start: datetime, end: datetime,
                wanted: set[str] | None, deadline: SlaDeadlines) -> dict[str, _Answers]:
    """Each team's answers in [start, end) of rows ordered by answer time."""
    first = bisect.bisect_left(answered, micros(start), key=ANSWERED_AT)
    after = bisect.bisect_left(answered, micros(end), lo=first, key=ANSWERED_AT)
    rows_of: dict[str, list[AnsweredRow]] = {}
    for row in answered[first:after]:
        rows = rows_of.get(row[0])
        if rows is None:
            if wanted is not None and row[0] not in wanted:
                continue
            rows = rows_of[row[0]] = []
        rows.append(row)
    by_team: dict[str, _Answers] = {}
    for team, rows in rows_of.items():
        answers = by_team[team] = _Answers()
        answers.rows = rows
        # One pass per figure over the team's rows: tens of thousands of rows a digest.
        answers.to_response = [answered_at - received
                               for _, _, received, _, answered_at in rows]
        answers.lag = [forwarded - received for _, _, received, forwarded, _ in rows]
        answers.developer = [answered_at - forwarded
                             for _, _, _, forwarded, answered_at in rows]
        rules = {}
        for severity in {severity for _, severity, _, _, _ in rows}:
            clock, target = deadline.rule(team, severity)
            rules[severity] = type(clock) is WallClock, clock.span(target)
        team_clock = deadline.clock(team)
        on_time = 0
        if type(team_clock) is WallClock:
            # Most teams run on the wall clock: their deadline is one addition.
            for _, severity, _, forwarded, answered_at in rows:
                on_time += answered_at <= forwarded + rules[severity][1]
        else:
            # Business durations and deadlines from the same running totals of the
            # team's calendar, computed once for all its rows.
            answers.business, forwarded_totals = _business_durations(rows, team_clock)
            for (_, severity, _, forwarded, answered_at), total in zip(
                    rows, forwarded_totals, strict=True):
                wall, span = rules[severity]  # urgent items run on the wall clock
                due = (forwarded + span if wall or not span
                       else team_clock.due_after(total, span))
                on_time += answered_at <= due
        answers.on_time = on_time
    return by_team


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
    start, end = utc(start, "start"), utc(end, "end")
    if end < start:
        raise ValueError(f"window ends ({end}) before it starts ({start})")
    rows = rows_from_items(items, windows=[(start, end)], answered_since=start, until=end)
    return figures_from_rows(rows, window=0, config=config, now=now, teams=teams)


def figures_from_rows(rows: FigureRows, *, window: int, config: Config, now: datetime,
                      teams: Sequence[str] | None = None,
                      deadline: SlaDeadlines | None = None,
                      waiting: list[WaitingItem] | None = None) -> Figures:
    """`compute_figures` for one of the rows' windows; raise ValueError as it does.

    `deadline` (of `config`) may be shared by several calls: its clocks then each build
    their calendar once. `waiting` may be what an earlier call on the same rows, `now`
    and `teams` gave (its Figures.waiting): what waits now is the same for every window.
    """
    start, end = rows.windows[window]
    now = utc(now, "now")
    if end < start:
        raise ValueError(f"window ends ({end}) before it starts ({start})")
    names = team_names(config, teams)
    wanted = None if teams is None else set(names)
    counts = {team: tally for team, tally in rows.counts[window].items()
              if wanted is None or team in wanted}
    if deadline is None:
        deadline = SlaDeadlines(config)
    answers = _answers_in(rows.answered, start, end, wanted, deadline)
    if waiting is None:
        waiting = [
            WaitingItem(item=item, age=now - utc(item.received_at, "received_at"),
                        waiting_since_forwarded=now - utc(item.forwarded_at, "forwarded_at"),
                        overdue=now > deadline(item))
            for item in rows.waiting if wanted is None or item.team in wanted]
        waiting.sort(key=lambda w: (utc(w.item.received_at, "received_at"),
                                    utc(w.item.forwarded_at, "forwarded_at"), w.item.id))
    waiting_of: dict[str, list[WaitingItem]] = defaultdict(list)
    for entry in waiting:
        waiting_of[entry.item.team].append(entry)

    business_clock_of = deadline.clock

    def figures_of(team: str, tally: TeamCounts, answered: _Answers,
                   waits: list[WaitingItem], business: bool) -> TeamFigures:
        return _figures_for(team, tally, answered, len(waits),
                            sum(1 for entry in waits if entry.overdue),
                            business_clock_of=business_clock_of if business else None)

    result = [figures_of(name, counts.get(name, TeamCounts()), answers.get(name, _Answers()),
                         waiting_of[name], config.teams[name].business_hours is not None)
              for name in names]
    # Business figures for "all" only when every team in scope counts business time;
    # a mix of business and wall-clock durations would be neither.
    every_team_has_hours = all(config.teams[name].business_hours is not None for name in names)
    overall = figures_of(
        ALL_TEAMS,
        TeamCounts(new=sum(tally.new for tally in counts.values()),
                   reassigned=sum(tally.reassigned for tally in counts.values()),
                   resolved=sum(tally.resolved for tally in counts.values())),
        _Answers.merged(answers.values()),
        waiting, every_team_has_hours)
    return Figures(start=start, end=end, teams=result, overall=overall, waiting=waiting)


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
    answered: list[AnsweredRow] = [
        (item.team, item.severity, micros(utc(item.received_at, "received_at")),
         micros(utc(item.forwarded_at, "forwarded_at")),
         micros(utc(item.first_response_at, "first_response_at")))
        for item in items if item.first_response_at is not None]
    answered.sort(key=ANSWERED_AT)
    return daily_medians_of(answered, config=config, end=end, days=days, tz=tz, teams=teams)


def daily_medians_of(
    answered: Sequence[AnsweredRow],
    *,
    config: Config,
    end: datetime,
    days: int = 14,
    tz: str = "UTC",
    teams: Sequence[str] | None = None,
) -> dict[str, list[tuple[date, timedelta | None]]]:
    """`daily_medians` over answered rows in answer order; it raises as daily_medians does."""
    end = utc(end, "end")
    if days < 1:
        raise ValueError(f"days must be at least 1, got {days}")
    try:
        zone = zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {tz!r}") from None
    names = team_names(config, teams)
    last = end.astimezone(zone).date()
    dates = [last - timedelta(days=back) for back in range(days - 1, -1, -1)]
    # Each local day's first moment: bisections find each day's answers in the rows,
    # without converting any answer to the zone.
    starts = [micros(datetime.combine(day, time(0), tzinfo=zone))
              for day in [*dates, last + timedelta(days=1)]]
    after = min(starts[-1], micros(end))
    edges = [bisect.bisect_left(answered, min(moment, after), key=ANSWERED_AT)
             for moment in starts]

    buckets: dict[str, list[list[int]]] = {name: [[] for _ in dates] for name in names}
    for day in range(days):
        for team, _, received, _, answered_at in answered[edges[day]:edges[day + 1]]:
            team_days = buckets.get(team)
            if team_days is not None:
                team_days[day].append(answered_at - received)
    return {name: [(day, Durations.of_micros(bucket).median)
                   for day, bucket in zip(dates, buckets[name], strict=True)]
            for name in names}
