"""Themes of the week in a digest: on a subscription's first run of the week, per team.

The week is the 7 days before the digest's window end, measured against the 28 days
before that (bot.themes scores the terms). The items are streamed from the store into
counts per team, so a busy month costs counters, not its texts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from bot.config import DigestConfig
from bot.digest_schedule import is_run_day
from bot.store import Store
from bot.themes import TermTally, Theme, rising_from_tallies

THEME_DAYS = 7
BASELINE_DAYS = 28
THEMES_TITLE = "Themes of the week"
THEMES_ABOUT = "what rose most against the four weeks before"
NO_THEMES = "No theme rose this week."
TERM_LIMIT = 40  # characters of a term shown; terms are words, so rarely longer
ALSO_SHOWN = 3  # other terms of the same items shown beside a theme


@dataclass(frozen=True)
class TeamThemes:
    """The themes that rose in one team's feedback, highest score first."""

    team: str
    themes: tuple[Theme, ...]


def shows_themes(subscription: DigestConfig, local_date: date) -> bool:
    """True when this run carries themes: asked for, and the first run day of its ISO week."""
    if subscription.themes != "weekly" or not is_run_day(subscription, local_date):
        return False
    monday = local_date - timedelta(days=local_date.weekday())
    return not any(is_run_day(subscription, monday + timedelta(days=back))
                   for back in range(local_date.weekday()))


def weekly_themes(store: Store, *, workspace: str, end: datetime,
                  teams: Sequence[str] | None) -> list[TeamThemes]:
    """Per team (of `teams`, or all), the themes of the 7 days before `end`, by team name.

    Teams with no rising theme are left out. Reads id, team and text of the 35 days'
    items, a page at a time.
    """
    boundary = end - timedelta(days=THEME_DAYS)
    since = boundary - timedelta(days=BASELINE_DAYS)
    now: dict[str, TermTally] = {}
    then: dict[str, TermTally] = {}
    for row in store.said_forwarded(workspace=workspace, since=since, until=end, teams=teams):
        if row.forwarded_at >= boundary:
            tally = now.get(row.team) or now.setdefault(row.team, TermTally(examples=True))
        else:
            tally = then.get(row.team) or then.setdefault(row.team, TermTally())
        tally.add(row.said)
    found = []
    for team in sorted(now):
        themes = rising_from_tallies(now[team], then.get(team) or TermTally())
        if themes:
            found.append(TeamThemes(team=team, themes=tuple(themes)))
    return found


def example_ids(found: Sequence[TeamThemes]) -> list[int]:
    """The ids of every theme's example items."""
    return [item_id for team in found for theme in team.themes for item_id in theme.examples]


def theme_label(theme: Theme) -> str:
    """A theme's words and count (not escaped): '“apple pay” (also “checkout”) in 6 items'."""
    quoted = [f"“{_short(term)}”" for term in (theme.term, *theme.also[:ALSO_SHOWN])]
    label = quoted[0] + (f" (also {', '.join(quoted[1:])})" if len(quoted) > 1 else "")
    items = "1 item" if theme.items == 1 else f"{theme.items} items"
    return f"{label} in {items}"


def _short(term: str) -> str:
    return term if len(term) <= TERM_LIMIT else term[:TERM_LIMIT - 1] + "…"
