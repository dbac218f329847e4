"""What is waiting on whom, and the stats figures: the data behind `stats`, `mine` and home.

Every platform shows the same figures and lists; each adapter only words them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from bot.config import Config
from bot.heard_back import HeardBackFigures, heard_back_figures
from bot.lifecycle import Lifecycle
from bot.metrics import Figures, TeamFigures, figures_from_rows
from bot.models import Item, Status
from bot.ports import ChatError, Ports
from bot.store import Store

T = TypeVar("T")
# Runs a read of the store somewhere other than the event loop, and awaits its result.
StoreReader = Callable[[Callable[[Store], T]], Awaitable[T]]

WAITING = frozenset({Status.RECEIVED.value, Status.ROUTED.value, Status.REOPENED.value})

# Why someone may not see figures and items (`Views.refusal`).
NOT_INTERNAL = "not_internal"  # a guest or someone from another organisation
CANT_CHECK = "cant_check"  # the platform could not say who they are just now


@dataclass(frozen=True)
class StatsData:
    """Figures for the last `days` days: the teams asked for, then all teams when no team was."""

    days: int
    rows: list[TeamFigures]
    # Time until the customer heard back for the same window and teams (None: not read).
    heard_back: HeardBackFigures | None = None


@dataclass(frozen=True)
class MineData:
    """Unanswered items for one person, oldest first, as of `now`."""

    now: datetime
    theirs: list[Item]  # waiting for a response from a team they are on (or assigned to)
    forwarded: list[Item]  # forwarded by them, waiting for the team

    @property
    def empty(self) -> bool:
        """True when nothing waits on them and nothing they forwarded waits."""
        return not self.theirs and not self.forwarded


def stats(*, store: Store, config: Config, workspace: str, now: datetime, days: int,
          team: str | None = None) -> StatsData:
    """The figures `stats` shows: one team's, or every team's and all together."""
    figures = window_figures(store=store, config=config, workspace=workspace, now=now,
                             days=days, teams=[team] if team else None)
    rows = figures.teams if team else [*figures.teams, figures.overall]
    return StatsData(days=days, rows=list(rows))


def window_figures(*, store: Store, config: Config, workspace: str, now: datetime, days: int,
                   teams: Sequence[str] | None) -> Figures:
    """Figures for the `days` days before `now`, from that window's items and those waiting.

    Raises ValueError for an unknown team.
    """
    start = now - timedelta(days=days)
    rows = store.figure_rows(workspace=workspace, windows=[(start, now)], answered_since=start,
                             until=now, teams=teams)
    return figures_from_rows(rows, window=0, config=config, now=now, teams=teams)


async def mine(*, store: Store, lifecycle: Lifecycle, workspace: str, now: datetime,
               user: str, platform: str = "slack") -> MineData:
    """What waits on `user` (a person on `platform`) and what they forwarded that waits.

    A team whose user group can't be read just now counts as not theirs.
    """
    theirs: list[Item] = []
    forwarded: list[Item] = []
    members_of: dict[str, frozenset[str]] = {}
    # Only what waits (a partial index keeps them apart), never the whole history.
    for item in store.waiting_items(workspace=workspace):
        if item.first_response_at is not None or item.status not in WAITING:
            continue
        if item.team not in members_of:
            try:
                members_of[item.team] = frozenset(await lifecycle.team_members(
                    workspace=workspace, team=item.team, platform=platform))
            except ChatError:
                members_of[item.team] = frozenset()
        members = members_of[item.team]
        if user in item.assignees or user in members:
            theirs.append(item)
        elif item.forwarded_by == user:
            forwarded.append(item)
    theirs.sort(key=lambda item: item.received_at)
    forwarded.sort(key=lambda item: item.received_at)
    return MineData(now=now, theirs=theirs, forwarded=forwarded)


async def _read_here(work: Callable[[Store], T], store: Store) -> T:
    return work(store)


class Views:
    """The figures and waiting lists of one deployment, for whoever may see them.

    Figures read a whole window of items: `read_figures` runs that read off the event
    loop (the runtime passes its store threads), so other requests are answered
    meanwhile. Without it the read runs where it is called.
    """

    def __init__(self, *, store: Store, config: Config, lifecycle: Lifecycle, ports: Ports,
                 clock: Callable[[], datetime],
                 read_figures: StoreReader[Any] | None = None) -> None:
        self.store = store
        self.config = config
        self.lifecycle = lifecycle
        self.ports = ports
        self.clock = clock
        self._read_figures = read_figures

    async def _figures(self, *, workspace: str, days: int,
                       teams: Sequence[str] | None) -> Figures:
        now = self.clock()
        config = self.config.for_workspace(workspace)

        def read(store: Store) -> Figures:
            return window_figures(store=store, config=config, workspace=workspace,
                                  now=now, days=days, teams=teams)

        if self._read_figures is None:
            return await _read_here(read, self.store)
        figures: Figures = await self._read_figures(read)
        return figures

    async def refusal(self, *, workspace: str, user: str, platform: str = "slack"
                      ) -> str | None:
        """Why `user` may not see internal figures and items (NOT_INTERNAL, CANT_CHECK), or None."""
        try:
            internal = await self.ports.on(platform).is_internal_user(workspace=workspace,
                                                                      user=user)
        except ChatError:
            return CANT_CHECK
        return None if internal else NOT_INTERNAL

    async def stats(self, *, workspace: str, days: int, team: str | None = None) -> StatsData:
        """The figures `stats` shows, as of now: one team's, or every team's and all together.

        Raises StoreBusy when the store threads can't read them in time.
        """
        teams = [team] if team else None
        figures = await self._figures(workspace=workspace, days=days, teams=teams)
        rows = figures.teams if team else [*figures.teams, figures.overall]
        heard = await self._heard_back(workspace=workspace, start=figures.start,
                                       end=figures.end, teams=teams)
        return StatsData(days=days, rows=list(rows), heard_back=heard)

    async def _heard_back(self, *, workspace: str, start: datetime, end: datetime,
                          teams: Sequence[str] | None) -> HeardBackFigures:
        """The same window's time until the customer heard back, read as figures are."""

        config = self.config.for_workspace(workspace)

        def read(store: Store) -> HeardBackFigures:
            return heard_back_figures(store, workspace=workspace, config=config,
                                      start=start, end=end, teams=teams)

        if self._read_figures is None:
            return await _read_here(read, self.store)
        heard: HeardBackFigures = await self._read_figures(read)
        return heard

    async def mine(self, *, workspace: str, user: str, platform: str = "slack") -> MineData:
        """What waits on `user`, and what they forwarded that waits, as of now."""
        return await mine(store=self.store, lifecycle=self.lifecycle, workspace=workspace,
                          now=self.clock(), user=user, platform=platform)

    async def teams_of(self, *, workspace: str, user: str, platform: str = "slack"
                       ) -> list[str]:
        """The teams `user` is on; teams whose members can't be read now are left out."""
        teams = []
        for name in self.config.for_workspace(workspace).teams:
            try:
                members = await self.lifecycle.team_members(workspace=workspace, team=name,
                                                             platform=platform)
            except ChatError:
                continue
            if user in members:
                teams.append(name)
        return teams

    async def my_teams_stats(self, *, workspace: str, user: str, platform: str = "slack",
                             days: int = 7) -> StatsData:
        """The figures of the teams `user` is on (none when they are on no team)."""
        teams = await self.teams_of(workspace=workspace, user=user, platform=platform)
        if not teams:
            return StatsData(days=days, rows=[])
        figures = await self._figures(workspace=workspace, days=days, teams=teams)
        return StatsData(days=days, rows=list(figures.teams))
