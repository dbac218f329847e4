"""When digests are due: periods keyed by (subscription, local date of the scheduled run).

Pure functions of the config and a moment in time. The store, not the scheduler,
decides what has been posted; the scheduler only wakes the bot up.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.config import WEEKDAYS, DigestConfig

LATE_AFTER = timedelta(minutes=5)  # a digest posted later than this is marked late


@dataclass(frozen=True)
class Period:
    """One digest to post: which subscription, for which local day, and its window."""

    index: int
    subscription: DigestConfig
    key: str
    local_date: date
    scheduled_at: datetime
    window_start: datetime
    window_end: datetime

    @property
    def period(self) -> str:
        """The period's key in the store: the local date of its scheduled run."""
        return self.local_date.isoformat()


def subscription_key(subscription: DigestConfig) -> str:
    """A stable name for a subscription, independent of its position in the config."""
    teams = ",".join(sorted(subscription.teams)) if subscription.teams else "*"
    return f"{subscription.target}|{subscription.at}|{subscription.timezone}|{teams}"


def is_run_day(subscription: DigestConfig, local_date: date) -> bool:
    """True when the subscription posts on that local date."""
    return WEEKDAYS[local_date.weekday()] in subscription.days


def scheduled_run(subscription: DigestConfig, local_date: date) -> datetime:
    """The UTC moment of the run on `local_date` at the subscription's local `at`.

    A local time skipped by a DST change (02:30 on a spring-forward night) runs at the
    same distance after the change (03:30); a repeated one runs at its first occurrence.
    """
    hour, minute = (int(part) for part in subscription.at.split(":"))
    zone = ZoneInfo(subscription.timezone)
    local = datetime.combine(local_date, time(hour, minute), tzinfo=zone)
    return local.astimezone(UTC)


def previous_run_day(subscription: DigestConfig, local_date: date) -> date:
    """The closest earlier local date on which the subscription runs."""
    for back in range(1, 8):
        candidate = local_date - timedelta(days=back)
        if is_run_day(subscription, candidate):
            return candidate
    raise ValueError("a subscription must run on at least one day of the week")


def period_for(index: int, subscription: DigestConfig, local_date: date) -> Period:
    """The period of `subscription` for `local_date`, from the previous run to this one."""
    this_run = scheduled_run(subscription, local_date)
    previous = scheduled_run(subscription, previous_run_day(subscription, local_date))
    return Period(index=index, subscription=subscription, key=subscription_key(subscription),
                  local_date=local_date, scheduled_at=this_run, window_start=previous,
                  window_end=this_run)


def local_today(subscription: DigestConfig, now: datetime) -> date:
    """Today's date in the subscription's time zone."""
    return now.astimezone(ZoneInfo(subscription.timezone)).date()


def current_period(index: int, subscription: DigestConfig, now: datetime) -> Period | None:
    """Today's period in the subscription's zone, or None when today isn't a run day."""
    today = local_today(subscription, now)
    if not is_run_day(subscription, today):
        return None
    return period_for(index, subscription, today)


def due_periods(subscriptions: list[DigestConfig], now: datetime) -> list[Period]:
    """Periods whose scheduled run has passed today (local); a missed day is not replayed."""
    due = []
    for index, subscription in enumerate(subscriptions):
        period = current_period(index, subscription, now)
        if period is not None and period.scheduled_at <= now:
            due.append(period)
    return due


def is_late(period: Period, now: datetime) -> bool:
    """True when a digest goes out noticeably after its scheduled time."""
    return now - period.scheduled_at > LATE_AFTER
