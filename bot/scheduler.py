"""Wake the bot for digests and reminders with APScheduler 3.x.

APScheduler only decides *when* to look. What is due is worked out from the store
each time, so a missed or doubled wake-up changes nothing: its 3.x job stores
neither replay missed runs nor tolerate being shared between processes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from datetime import datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.config import DigestConfig
from bot.digest_service import DigestService
from bot.erasure import ANONYMISE_BATCH
from bot.reminders import Reminders

log = logging.getLogger(__name__)

CHECK_EVERY_SECONDS = 60  # reminders must be checked at least once a minute
PRUNE_EVERY = timedelta(hours=1)


def digest_trigger(subscription: DigestConfig) -> CronTrigger:
    """A cron trigger at the subscription's local time on its days, DST included."""
    hour, minute = (int(part) for part in subscription.at.split(":"))
    return CronTrigger(day_of_week=",".join(subscription.days), hour=hour, minute=minute,
                       timezone=subscription.timezone)


class Scheduler:
    """Runs `tick` at each digest's time and every minute; `tick` does the real work."""

    def __init__(self, *, digests: DigestService, reminders: Reminders,
                 workspaces: Callable[[], list[str]], after_tick: Callable[[], None],
                 platforms_of: Callable[[str], Collection[str] | None] = lambda key: None,
                 ) -> None:
        self.digests = digests
        self.reminders = reminders
        self.workspaces = workspaces
        self.platforms_of = platforms_of
        self.after_tick = after_tick
        self._scheduler: AsyncIOScheduler | None = None
        self._pruned_at: datetime | None = None

    async def tick(self) -> None:
        """Claim due digest periods and send due reminders of every workspace served.

        Safe to call at any time. Errors are raised to the caller (after every workspace
        had its turn); APScheduler logs them and keeps the schedule.
        """
        workspaces = self.workspaces()
        if not workspaces:
            return  # not connected yet; the next tick will do it
        anything = False
        failed: Exception | None = None
        for workspace in workspaces:
            try:
                claimed = self.digests.claim_due(workspace=workspace,
                                                 serving=self.platforms_of(workspace))
                nudges = self.reminders.check(workspace=workspace)
            except Exception as error:  # one workspace's failure must not stop the others
                log.exception("digests and reminders of workspace %s failed", workspace)
                failed = error
                continue
            anything = anything or bool(claimed or nudges.reminded or nudges.escalated)
        self._prune()
        if anything:
            self.after_tick()
        if failed is not None:
            raise failed

    def _prune(self) -> None:
        """Honour `retention_days`, at most once an hour: old items lose their words and
        names but keep their timings, so figures over old windows stay right."""
        now = self.digests.clock()
        if self._pruned_at is not None and now - self._pruned_at < PRUNE_EVERY:
            return
        self._pruned_at = now
        keep = timedelta(days=self.digests.config.retention_days)
        report = self.digests.store.anonymise_items(forwarded_before=now - keep, now=now)
        if len(report.items) >= ANONYMISE_BATCH:
            self._pruned_at = None  # more are waiting: one batch at each wake-up
        if report.items:
            log.info("anonymised %d item(s) older than retention_days (%d)",
                     len(report.items), keep.days)

    def start(self) -> None:
        """Start the wake-ups in the running event loop."""
        scheduler = AsyncIOScheduler(timezone="UTC")
        options = {"coalesce": True, "max_instances": 1, "misfire_grace_time": None}
        # Every workspace section's digests too; one wake-up per distinct time and days.
        wakeups = {(subscription.at, subscription.timezone, tuple(subscription.days)):
                   subscription for _, config in self.digests.config.every_workspace_config()
                   for subscription in config.digests}
        for index, subscription in enumerate(wakeups.values()):
            scheduler.add_job(self.tick, digest_trigger(subscription),
                              id=f"digest-{index}", **options)
        scheduler.add_job(self.tick, IntervalTrigger(seconds=CHECK_EVERY_SECONDS),
                          id="reminders", **options)
        scheduler.start()
        self._scheduler = scheduler
        log.info("scheduler started: %d digest wake-up(s), checks every %ds",
                 len(wakeups), CHECK_EVERY_SECONDS)

    def shutdown(self) -> None:
        """Stop the wake-ups."""
        if self._scheduler is not None and self._scheduler.running:
            self._scheduler.shutdown(wait=False)
        self._scheduler = None
