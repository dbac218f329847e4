"""Render a digest for a terminal with rich, for `feedbackbot digest --print`."""

from __future__ import annotations

import io

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from bot.digest import (
    DigestData,
    assignee_phrase,
    date_label,
    headlines,
    human_duration,
    reassignment_line,
    snippet,
    time_split,
    window_label,
)
from bot.digest_themes import NO_THEMES, THEMES_ABOUT, THEMES_TITLE, theme_label
from bot.heard_back_words import HEARD_BACK_ABOUT, HEARD_BACK_TITLE, heard_back_lines
from bot.link_digest import MOST_ASKED_ABOUT, MOST_ASKED_TITLE
from bot.metrics import TeamFigures


def _team_cells(row: TeamFigures) -> list[str | Text]:
    ttr = row.time_to_response
    return [
        Text(row.team),
        str(row.new),
        human_duration(ttr.median),
        human_duration(ttr.p90),
        human_duration(row.forwarding_lag.median),
        human_duration(row.developer_response.median),
        str(row.sla_breaches),
        str(row.waiting),
    ]


def _headline_table(data: DigestData) -> Table:
    table = Table(box=box.SIMPLE, title="Headline", title_justify="left")
    table.add_column("")
    table.add_column("this period", justify="right")
    table.add_column("previous 7 days", justify="right")
    for headline in headlines(data):
        before = f"{headline.previous} {headline.arrow}".strip()
        table.add_row(headline.label, headline.value, before)
    return table


def _team_table(data: DigestData) -> Table:
    table = Table(box=box.SIMPLE, title="Teams", title_justify="left")
    table.add_column("team", overflow="fold")
    for name in ("new", "median", "p90", "fwd lag", "dev resp", "breaches", "waiting"):
        table.add_column(name, justify="right")
    for row in data.figures.teams:
        table.add_row(*_team_cells(row))
    if len(data.figures.teams) != 1:
        table.add_row(*_team_cells(data.figures.overall), style="bold")
    return table


def _waiting_table(data: DigestData) -> Table:
    total = len(data.figures.waiting)
    title = f"Still waiting: {total} ({data.overdue} overdue), the longest first"
    table = Table(box=box.SIMPLE, title=title, title_justify="left")
    table.add_column("item")
    table.add_column("team", overflow="fold")
    table.add_column("waited", justify="right")
    table.add_column("owner")
    table.add_column("text", overflow="fold", ratio=1)
    for waiting in data.longest_waiting:
        item = waiting.item
        age = human_duration(waiting.age) + (" overdue" if waiting.overdue else "")
        # Text objects, never markup strings: "[bold]" in customer text stays as typed.
        table.add_row(
            f"#{item.id}", Text(item.team), age, assignee_phrase(item), Text(snippet(item.text))
        )
    if total > len(data.longest_waiting):
        table.caption = f"…and {total - len(data.longest_waiting)} more."
    return table


def _print_themes(console: Console, data: DigestData) -> None:
    """Themes of the week, when this run has them, then their examples' links whole."""
    if data.themes is None:
        return
    console.print(Text(f"{THEMES_TITLE} ({THEMES_ABOUT})", style="bold"))
    shown = [(found.team, theme) for found in data.themes for theme in found.themes]
    if not shown:
        console.print(Text(f"  {NO_THEMES}"))
    for team, theme in shown:
        examples = ", ".join(f"#{item_id}" for item_id in theme.examples)
        console.print(Text(f"  • {team}: {theme_label(theme)}"
                           + (f" · {examples}" if examples else "")))
    for item_id in dict.fromkeys(i for _, theme in shown for i in theme.examples):
        link = data.links.get(item_id)
        if link:
            console.print(Text(f"#{item_id}: {link}"), overflow="ignore", crop=False)


def _print_heard_back(console: Console, data: DigestData) -> None:
    """Time until the customer heard back per team, beside its time to response."""
    if data.heard_back is None:
        return
    console.print(Text(HEARD_BACK_TITLE, style="bold"))
    for team, words in heard_back_lines(data.figures, data.heard_back):
        console.print(Text(f"  • {team}: {words}"))
    console.print(Text(HEARD_BACK_ABOUT, style="dim"))


def _print_most_asked(console: Console, data: DigestData) -> None:
    """The items most customers +1'd in the period, then their links whole."""
    if not data.most_asked:
        return
    console.print(Text(f"{MOST_ASKED_TITLE} ({MOST_ASKED_ABOUT})", style="bold"))
    for asked in data.most_asked:
        said = " ".join(asked.item.text.split())[:80]
        console.print(Text(f"  • #{asked.item.id} {asked.item.team}: {asked.label()} · {said}"))
    for asked in data.most_asked:
        link = data.links.get(asked.item.id)
        if link:
            console.print(Text(f"#{asked.item.id}: {link}"), overflow="ignore", crop=False)


def digest_table(data: DigestData, *, width: int = 100) -> str:
    """The digest as plain text laid out by rich, `width` columns wide."""
    console = Console(
        record=True, width=width, force_terminal=False, file=io.StringIO(), highlight=False
    )
    late = " · posted late" if data.late else ""
    console.print(Text(f"Feedback digest · {date_label(data.local_date)}{late}", style="bold"))
    console.print(Text(f"{window_label(data)} ({data.timezone}) · channel {data.channel}"))
    console.print(_headline_table(data))
    console.print(Text(f"Where the time goes: {time_split(data.figures.overall)}"))
    console.print(_team_table(data))
    _print_heard_back(console, data)
    _print_themes(console, data)
    _print_most_asked(console, data)
    console.print(_waiting_table(data))
    for waiting in data.longest_waiting:
        link = data.links.get(waiting.item.id)
        if link:
            # Whole and unwrapped, so that a terminal can still open it.
            console.print(Text(f"#{waiting.item.id}: {link}"), overflow="ignore", crop=False)
    console.print(Text(f"Reassignments: {reassignment_line(data.figures.overall)}"))
    for suggestion in data.suggestions:
        console.print(Text(f"  • {suggestion.sentence()}"))
    return console.export_text()
