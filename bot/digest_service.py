"""Post each digest period exactly once: claim it in the store, then let the outbox send it."""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

from bot.chart import trend_chart_png
from bot.collector import collector_paused
from bot.config import Config, DigestConfig
from bot.digest import (
    LONGEST_WAITING,
    DigestData,
    answers_since,
    digest_from_rows,
    digest_windows,
)
from bot.digest_schedule import (
    Period,
    current_period,
    due_periods,
    is_late,
    local_today,
    period_for,
)
from bot.digest_themes import example_ids, shows_themes, weekly_themes
from bot.heard_back import heard_back_figures
from bot.link_digest import most_asked
from bot.outbox_kinds import DIGEST
from bot.store import NewOutbox, Store
from bot.suggestions import Reassignment

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]

SUGGESTION_MEMORY = timedelta(days=30)


@dataclass(frozen=True)
class Claimed:
    """A digest period this process claimed and queued for posting."""

    period: Period
    late: bool
    forced: bool
    entry_id: int


class DigestService:
    """Works out due periods from the store and claims each one once, atomically."""

    def __init__(self, *, store: Store, config: Config, clock: Clock,
                 platforms: Collection[str] = ("slack",)) -> None:
        self.store = store
        self.config = config
        self.clock = clock
        # Only subscriptions on a platform this process can post to are claimed here.
        self.platforms = frozenset(platforms)

    def _posts_here(self, subscription: DigestConfig,
                    serving: Collection[str] | None = None) -> bool:
        """True when this process posts the subscription's digests (for a workspace
        `serving` only those platforms, when given)."""
        return subscription.platform in self.platforms and (
            serving is None or subscription.platform in serving)

    def _claim(self, workspace: str, period: Period, *, now: datetime, late: bool,
               force: bool, window_start: datetime | None = None) -> Claimed | None:
        store_period = period.period
        if force:
            # A forced re-post is recorded too, under its own key, so it never blocks
            # (or is blocked by) the period's regular post.
            store_period = f"{period.period}#forced-{now.isoformat()}"
        payload = {
            # Sent on the subscription's platform (a Teams channel's digest through Teams).
            "platform": period.subscription.platform,
            "index": period.index, "subscription": period.key, "date": period.period,
            "late": late, "forced": force,
            "window_end": min(now, period.window_end).isoformat(),
        }
        if window_start is not None:
            payload["window_start"] = window_start.isoformat()
            payload["window_end"] = now.isoformat()
        entry = NewOutbox(kind=DIGEST, payload=payload)
        entry_id = self.store.claim_digest(workspace=workspace, subscription=period.key,
                                           period=store_period, now=now, late=late,
                                           outbox=[entry])
        if entry_id is None:
            return None
        log.info("digest for %s on %s claimed%s", period.subscription.target,
                 period.period, " (late)" if late else "")
        return Claimed(period=period, late=late, forced=force, entry_id=entry_id)

    def claim_due(self, *, workspace: str,
                  serving: Collection[str] | None = None) -> list[Claimed]:
        """Claim every period due now (today, local) that nobody has claimed yet.

        With `serving`, only subscriptions on those platforms (the workspace's own).
        """
        now = self.clock()
        claimed = []
        for period in due_periods(list(self.config.for_workspace(workspace).digests), now):
            if not self._posts_here(period.subscription, serving):
                continue
            done = self._claim(workspace, period, now=now, late=is_late(period, now),
                               force=False)
            if done:
                claimed.append(done)
        return claimed

    def claim_current(self, *, workspace: str, force: bool = False,
                      serving: Collection[str] | None = None) -> list[Claimed]:
        """Claim each subscription's current period now, whatever the time of day.

        With `serving`, only subscriptions on those platforms (the workspace's own).
        """
        now = self.clock()
        claimed = []
        for index, subscription in enumerate(self.config.for_workspace(workspace).digests):
            period = current_period(index, subscription, now)
            if period is None or not self._posts_here(subscription, serving):
                continue
            done = self._claim(workspace, period, now=now, late=False, force=force)
            if done:
                claimed.append(done)
        return claimed

    def claim_window(self, *, workspace: str, index: int, start: datetime) -> Claimed | None:
        """Post a digest now covering [start, now), outside the schedule (for the demo)."""
        now = self.clock()
        subscription = self.config.for_workspace(workspace).digests[index]
        period = period_for(index, subscription, local_today(subscription, now))
        return self._claim(workspace, period, now=now, late=False, force=True,
                           window_start=start)

    def current_periods(self, workspace: str | None = None) -> list[Period | None]:
        """Each subscription's current period (of `workspace`'s config); None off its run
        days or when posted elsewhere."""
        now = self.clock()
        digests = self.config.for_workspace(workspace).digests
        return [current_period(index, subscription, now) if self._posts_here(subscription)
                else None for index, subscription in enumerate(digests)]

    def build_claimed(self, *, workspace: str, claim: Mapping[str, Any]) -> DigestData:
        """The digest a claimed period's outbox entry delivers, from the store as it is now.

        `claim` is the entry's payload, as `_claim` wrote it.
        """
        return self.build(
            workspace=workspace, index=int(claim["index"]),
            local_date=date.fromisoformat(str(claim["date"])), late=bool(claim.get("late")),
            window_end=datetime.fromisoformat(str(claim["window_end"])),
            window_start=(datetime.fromisoformat(str(claim["window_start"]))
                          if claim.get("window_start") else None))

    async def chart(self, data: DigestData) -> bytes:
        """The digest's 14-day trend chart as PNG, drawn off the event loop."""
        import asyncio

        title = f"Median time to response, last 14 days ({data.timezone})"
        # Drawing takes a moment of CPU; the event loop keeps answering meanwhile.
        return await asyncio.to_thread(trend_chart_png, data.trend, title=title)

    def build(self, *, workspace: str, index: int, local_date: date, late: bool,
              window_end: datetime | None = None, window_start: datetime | None = None,
              links: Mapping[int, str] | None = None) -> DigestData:
        """Compute a period's digest from the store as it is now.

        The window is the period's own unless `window_start` gives another one.
        Raises IndexError when the subscription no longer exists in the config.
        """
        with collector_paused():
            return self._build(workspace=workspace, index=index, local_date=local_date,
                               late=late, window_end=window_end, window_start=window_start,
                               links=links)

    def _build(self, *, workspace: str, index: int, local_date: date, late: bool,
               window_end: datetime | None, window_start: datetime | None,
               links: Mapping[int, str] | None) -> DigestData:
        config = self.config.for_workspace(workspace)
        subscription = config.digests[index]
        period = period_for(index, subscription, local_date)
        end = min(window_end, period.window_end) if window_end else period.window_end
        if window_start is not None and window_end is not None:
            end = window_end
        start = window_start or period.window_start
        # Only what the digest reports on: its window, the 7 days before, the 14-day
        # trend, and what waits now; never the whole history.
        rows = self.store.figure_rows(workspace=workspace, windows=digest_windows(start, end),
                                      answered_since=answers_since(start, end), until=end,
                                      teams=subscription.teams)
        # Suggestions learn from the last month of moves, so old habits fade out.
        moved = self._moves_to_learn_from(workspace=workspace, since=end - SUGGESTION_MEMORY)
        data = digest_from_rows(
            rows, reassignments=moved, config=config, subscription=subscription,
            index=index, local_date=local_date, now=self.clock(), late=late, links=links)
        data = replace(data, heard_back=heard_back_figures(
            self.store, workspace=workspace, config=config, start=start, end=end,
            teams=subscription.teams))
        if shows_themes(subscription, local_date):
            data = self._with_themes(workspace, data, teams=subscription.teams)
        data = replace(data, most_asked=most_asked(
            self.store, workspace=workspace, since=data.window_start, until=data.window_end,
            teams=subscription.teams))
        return self._with_full_longest(workspace, data)

    def _with_themes(self, workspace: str, data: DigestData,
                     teams: list[str] | None) -> DigestData:
        """The digest with the themes of the 7 days before its window end."""
        found = weekly_themes(self.store, workspace=workspace, end=data.window_end,
                              teams=teams)
        examples = {item.id: item for item in self.store.items_by_ids(
            workspace=workspace, ids=example_ids(found))}
        return replace(data, themes=tuple(found), theme_examples=examples)

    def _with_full_longest(self, workspace: str, data: DigestData) -> DigestData:
        """The digest with its longest-waiting items read in full (text and all)."""
        top = data.figures.waiting[:LONGEST_WAITING]
        full = {item.id: item for item in self.store.items_by_ids(
            workspace=workspace, ids=[waiting.item.id for waiting in top])}
        waiting = [replace(entry, item=full.get(entry.item.id, entry.item)) for entry in top]
        waiting += data.figures.waiting[LONGEST_WAITING:]
        return replace(data, figures=replace(data.figures, waiting=waiting))

    def _moves_to_learn_from(self, *, workspace: str, since: datetime) -> list[Reassignment]:
        """reassignments, with light items (their words, team and times): one read."""
        moved = []
        for event, item in self.store.events_with_items(workspace=workspace, kind="reassigned",
                                                        since=since):
            source, target = event.data.get("from"), event.data.get("to")
            if source and target:
                moved.append(Reassignment(item=item, from_team=str(source),
                                          to_team=str(target)))
        return moved

    def reassignments(self, *, workspace: str,
                      since: datetime | None = None) -> list[Reassignment]:
        """Reassignments in a workspace (made at or after `since`), with the item moved.

        Reads only those events and the items they moved.
        """
        events = self.store.events_of_kind_since(workspace=workspace, kind="reassigned",
                                                 since=since)
        by_id = {item.id: item for item in self.store.items_by_ids(
            workspace=workspace, ids=[event.item_id for event in events])}
        moved = []
        for event in events:
            item = by_id.get(event.item_id)
            source, target = event.data.get("from"), event.data.get("to")
            if item is not None and source and target:
                moved.append(Reassignment(item=item, from_team=str(source),
                                          to_team=str(target)))
        return moved
