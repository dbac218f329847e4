"""Time until the customer heard back: the whole loop, from their words to support's answer.

Of the items a team first answered in a window (the items behind its time to response),
each either has a record of when its customer heard back (a Told the customer click, or a
support reply in the source thread) or it has none. Recorded ones give durations from
`received_at`; the others are counted as unknown, apart, and never as fast.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.business_hours import WallClock, clock_for
from bot.config import Config
from bot.metrics import ALL_TEAMS, Durations, team_names
from bot.models import Item
from bot.models import in_utc as utc
from bot.store_closed_loop import ClosedLoopStore, HeardBackRow


@dataclass(frozen=True)
class HeardBack:
    """One team's (or all teams') whole-loop figure for a window.

    `answered` items were first answered in the window; `heard_back` summarises those with
    a record, wall clock; `heard_back_business` the same in business time (None when the
    team, or for "all" any team in scope, has no business hours); `unknown` have no record.
    """

    team: str
    answered: int
    heard_back: Durations
    heard_back_business: Durations | None
    unknown: int


@dataclass(frozen=True)
class HeardBackFigures:
    """Per team (config order) and overall, for the window [start, end)."""

    start: datetime
    end: datetime
    teams: list[HeardBack]
    overall: HeardBack

    def of(self, team: str) -> HeardBack | None:
        """The figure of `team` ("all" for the overall one), or None."""
        if team == ALL_TEAMS:
            return self.overall
        return next((entry for entry in self.teams if entry.team == team), None)


def rows_from_items(items: Iterable[Item], *, since: datetime,
                    until: datetime) -> list[HeardBackRow]:
    """The heard-back rows of items in memory (as the store reads them); ValueError if naive."""
    since, until = utc(since, "since"), utc(until, "until")
    rows: list[HeardBackRow] = []
    for item in items:
        if item.first_response_at is None:
            continue
        answered = utc(item.first_response_at, "first_response_at")
        if since <= answered < until:
            told = (None if item.customer_answered_at is None
                    else utc(item.customer_answered_at, "customer_answered_at"))
            rows.append((item.team, utc(item.received_at, "received_at"), answered, told))
    return rows


def heard_back_from_rows(rows: Iterable[HeardBackRow], *, config: Config, start: datetime,
                         end: datetime, teams: Sequence[str] | None = None) -> HeardBackFigures:
    """The figures of rows answered in [start, end); raise ValueError for an unknown team."""
    start, end = utc(start, "start"), utc(end, "end")
    names = team_names(config, teams)
    wanted = None if teams is None else set(names)
    clocks = {name: clock_for(team) for name, team in config.teams.items()}
    wall = WallClock()
    known: dict[str, list[timedelta]] = {}
    business: dict[str, list[timedelta]] = {}
    answered: dict[str, int] = {}
    for team, received, answered_at, told in rows:
        if not start <= answered_at < end or (wanted is not None and team not in wanted):
            continue
        answered[team] = answered.get(team, 0) + 1
        if told is None:
            continue
        known.setdefault(team, []).append(told - received)
        business.setdefault(team, []).append(clocks.get(team, wall).elapsed(received, told))

    def figure(team: str, members: Sequence[str], with_business: bool) -> HeardBack:
        count = sum(answered.get(name, 0) for name in members)
        walls = [value for name in members for value in known.get(name, [])]
        hours = [value for name in members for value in business.get(name, [])]
        return HeardBack(team=team, answered=count, heard_back=Durations.of(walls),
                         heard_back_business=Durations.of(hours) if with_business else None,
                         unknown=count - len(walls))

    def has_hours(name: str) -> bool:
        return config.teams[name].business_hours is not None

    per_team = [figure(name, [name], has_hours(name)) for name in names]
    # Without a team filter, items of teams no longer configured still count in "all".
    everyone = sorted(answered) if wanted is None else names
    overall = figure(ALL_TEAMS, everyone, all(has_hours(name) for name in names))
    return HeardBackFigures(start=start, end=end, teams=per_team, overall=overall)


def heard_back_figures(store: ClosedLoopStore, *, workspace: str, config: Config,
                       start: datetime, end: datetime,
                       teams: Sequence[str] | None = None) -> HeardBackFigures:
    """Read one window's answered items and work out their whole-loop figures."""
    names = team_names(config, teams)
    rows = store.heard_back_rows(workspace=workspace, since=start, until=end,
                                 teams=None if teams is None else names)
    return heard_back_from_rows(rows, config=config, start=start, end=end, teams=teams)
