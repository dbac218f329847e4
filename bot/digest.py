"""A digest's content: figures for its window, the week before, a trend and rule suggestions.

Everything here is platform-neutral; handlers/slack/digest_blocks.py and bot/digest_text.py
render the same DigestData for Slack and for a terminal.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from bot.business_hours import SlaDeadlines
from bot.config import Config, DigestConfig
from bot.digest_themes import TeamThemes
from bot.figure_rows import FigureRows, Window, rows_from_items
from bot.heard_back import HeardBackFigures
from bot.link_digest import MostAsked
from bot.metrics import Figures, TeamFigures, WaitingItem, daily_medians_of, figures_from_rows
from bot.models import Item
from bot.models import in_utc as utc
from bot.suggestions import Reassignment, Suggestion, suggest_rules

PREVIOUS_DAYS = 7
TREND_DAYS = 14
LONGEST_WAITING = 5
SNIPPET_LENGTH = 100


@dataclass(frozen=True)
class DigestData:
    """Everything one digest shows, for one subscription and one local date."""

    subscription_index: int
    channel: str
    local_date: date
    timezone: str
    late: bool
    window_start: datetime
    window_end: datetime
    # compute_figures over [window_start, window_end) for the subscription's teams.
    figures: Figures
    # The same over the 7 days before: [window_start - 7d, window_start).
    previous: Figures
    # Median time to response per team per local day, the 14 days ending window_end.
    trend: dict[str, list[tuple[date, timedelta | None]]]
    suggestions: list[Suggestion]
    # Item id -> URL of its card; the caller fills it in, and it may be empty.
    links: dict[int, str]
    # Themes of the week per team, on the first run of the week of a subscription that
    # asks for them (an empty tuple: none rose); None on every other run.
    themes: tuple[TeamThemes, ...] | None = None
    # The themes' example items, by id, read in full so that they can be linked.
    theme_examples: dict[int, Item] = field(default_factory=dict)
    # Time until the customer heard back, for the window's answered items (None: not read).
    heard_back: HeardBackFigures | None = None
    # The items most +1'd in the window (bot/link_digest.py), most first.
    most_asked: tuple[MostAsked, ...] = ()

    @property
    def longest_waiting(self) -> list[WaitingItem]:
        """The items that have waited longest for a response, oldest first."""
        return self.figures.waiting[:LONGEST_WAITING]

    @property
    def linked_items(self) -> list[Item]:
        """The items the digest links to: longest waiting, most asked, themes' examples."""
        listed = {waiting.item.id: waiting.item for waiting in self.longest_waiting}
        for asked in self.most_asked:
            listed.setdefault(asked.item.id, asked.item)
        return list(listed.values()) + [item for item_id, item in self.theme_examples.items()
                                        if item_id not in listed]

    @property
    def overdue(self) -> int:
        """How many waiting items are past their SLA now."""
        return sum(1 for waiting in self.figures.waiting if waiting.overdue)

    @property
    def window_days(self) -> float:
        """The window's length in days (3.0 for a Monday digest covering the weekend)."""
        return (self.window_end - self.window_start) / timedelta(days=1)


# Answers read for the trend: its days, and a day either side for the zone's offset.
TREND_READ = timedelta(days=TREND_DAYS + 2)


def digest_windows(window_start: datetime, window_end: datetime) -> list[Window]:
    """The windows a digest's figures cover: its own, then the days before it."""
    return [(window_start, window_end),
            (window_start - timedelta(days=PREVIOUS_DAYS), window_start)]


def answers_since(window_start: datetime, window_end: datetime) -> datetime:
    """From when a digest needs the answered items: its previous window, or its trend."""
    return min(window_start - timedelta(days=PREVIOUS_DAYS), window_end - TREND_READ)


def build_digest_data(
    *,
    items: Sequence[Item],
    reassignments: Sequence[Reassignment],
    config: Config,
    subscription: DigestConfig,
    index: int,
    local_date: date,
    window_start: datetime,
    window_end: datetime,
    now: datetime,
    late: bool = False,
    links: Mapping[int, str] | None = None,
) -> DigestData:
    """Compute a digest's content; raise ValueError for naive times or an unknown team."""
    window_start, window_end = utc(window_start, "window_start"), utc(window_end, "window_end")
    rows = rows_from_items(items, windows=digest_windows(window_start, window_end),
                           answered_since=answers_since(window_start, window_end),
                           until=window_end)
    return digest_from_rows(rows, reassignments=reassignments, config=config,
                            subscription=subscription, index=index, local_date=local_date,
                            now=now, late=late, links=links)


def digest_from_rows(
    rows: FigureRows,
    *,
    reassignments: Sequence[Reassignment],
    config: Config,
    subscription: DigestConfig,
    index: int,
    local_date: date,
    now: datetime,
    late: bool = False,
    links: Mapping[int, str] | None = None,
) -> DigestData:
    """A digest's content from the rows of `digest_windows`; it raises as build_digest_data."""
    teams = subscription.teams
    window_start, window_end = rows.windows[0]
    # One set of clocks for both windows: each business calendar is built once.
    deadline = SlaDeadlines(config)
    figures = figures_from_rows(rows, window=0, config=config, now=now, teams=teams,
                                deadline=deadline)
    previous = figures_from_rows(rows, window=1, config=config, now=now, teams=teams,
                                 deadline=deadline, waiting=figures.waiting)
    trend = daily_medians_of(
        rows.answered,
        config=config,
        end=window_end,
        days=TREND_DAYS,
        tz=subscription.timezone,
        teams=teams,
    )
    in_scope = [
        move
        for move in reassignments
        if teams is None or move.from_team in teams or move.to_team in teams
    ]
    return DigestData(
        subscription_index=index,
        channel=subscription.target,
        local_date=local_date,
        timezone=subscription.timezone,
        late=late,
        window_start=window_start,
        window_end=window_end,
        figures=figures,
        previous=previous,
        trend=trend,
        suggestions=suggest_rules(reassignments=in_scope, config=config),
        links=dict(links or {}),
    )


# --- wording shared by the Slack and terminal renderings -------------------------------


@dataclass(frozen=True)
class Headline:
    """One headline number next to what the previous 7 days had."""

    label: str
    value: str
    previous: str
    arrow: str  # "↑", "↓", "→", or "" when there is nothing to compare


def human_duration(delta: timedelta | None) -> str:
    """A duration for people: "—", "0m", "<1m", "45m", "2h 10m", "3d 4h"."""
    if delta is None:
        return "—"
    if not delta:
        return "0m"
    minutes = int(delta.total_seconds() // 60)
    if minutes < 1:
        return "<1m"
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days}d {hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    return f"{minutes}m"


def percent(share: float | None) -> str:
    """A share as a whole percentage, or "—"."""
    return "—" if share is None else f"{round(share * 100)}%"


def _arrow(current: float | None, previous: float | None) -> str:
    if current is None or previous is None:
        return ""
    # Within 5% counts as unchanged, so noise doesn't read as a trend.
    if abs(current - previous) <= 0.05 * max(abs(previous), 1e-9):
        return "→"
    return "↑" if current > previous else "↓"


def _seconds(delta: timedelta | None) -> float | None:
    return None if delta is None else delta.total_seconds()


def _count_headline(label: str, current: int, previous: int, window_days: float) -> Headline:
    """A count, compared per day: a 3-day Monday window against the previous 7 days' rate."""
    rate = previous / PREVIOUS_DAYS
    value = str(current)
    if abs(window_days - 1) > 0.01 and window_days > 0:
        value += f" ({current / window_days:.1f}/day)"
    current_rate = current / window_days if window_days > 0 else None
    return Headline(label, value, f"{rate:.1f}/day", _arrow(current_rate, rate))


def headlines(data: DigestData) -> list[Headline]:
    """The headline numbers of the window next to those of the previous 7 days."""
    now, before = data.figures.overall, data.previous.overall
    ttr, ttr_before = now.time_to_response, before.time_to_response
    return [
        _count_headline("New", now.new, before.new, data.window_days),
        _count_headline("Responded", now.responded, before.responded, data.window_days),
        Headline(
            "Median time to response",
            human_duration(ttr.median),
            human_duration(ttr_before.median),
            _arrow(_seconds(ttr.median), _seconds(ttr_before.median)),
        ),
        Headline(
            "p90 time to response",
            human_duration(ttr.p90),
            human_duration(ttr_before.p90),
            _arrow(_seconds(ttr.p90), _seconds(ttr_before.p90)),
        ),
        Headline(
            "Within SLA",
            percent(now.within_sla),
            percent(before.within_sla),
            _arrow(now.within_sla, before.within_sla),
        ),
        Headline("Waiting now", f"{now.waiting} ({data.overdue} overdue)", "", ""),
    ]


def time_split(figures: TeamFigures) -> str:
    """Where the time to response goes: forwarding (support) vs developer response."""
    lag, developer = figures.forwarding_lag, figures.developer_response
    if not lag.count:
        return "No responses in this period."
    return (
        f"forwarding lag (support) median {human_duration(lag.median)},"
        f" p90 {human_duration(lag.p90)} · developer response median"
        f" {human_duration(developer.median)}, p90 {human_duration(developer.p90)}"
    )


def reassignment_line(figures: TeamFigures) -> str:
    """How many of the window's new items were moved to another team."""
    if not figures.new:
        return "No new items, so nothing was reassigned."
    return (
        f"{figures.reassigned} of {figures.new} new items reassigned"
        f" ({percent(figures.reassignment_rate)})."
    )


def snippet(text: str, limit: int = SNIPPET_LENGTH) -> str:
    """An item's text on one line, cut to `limit` characters (not escaped)."""
    flat = " ".join(text.split()) or "(no text)"
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def assignee_phrase(item: Item) -> str:
    """Who has it, without naming (and so pinging) anyone: "assigned to 2 people"."""
    count = len(item.assignees)
    if count == 0:
        return "unassigned"
    return "assigned to 1 person" if count == 1 else f"assigned to {count} people"


def window_label(data: DigestData) -> str:
    """The window in the subscription's time zone, e.g. "Fri 3 May 09:00 → Mon 6 May 09:00"."""
    zone = zoneinfo.ZoneInfo(data.timezone)
    start = data.window_start.astimezone(zone)
    end = data.window_end.astimezone(zone)
    return f"{start:%a} {start.day} {start:%b %H:%M} → {end:%a} {end.day} {end:%b %H:%M}"


def date_label(day: date) -> str:
    """A local date for a header, e.g. "Mon 6 May 2024"."""
    return f"{day:%a} {day.day} {day:%b %Y}"
