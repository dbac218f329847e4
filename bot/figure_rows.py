"""What figures need to know of a stretch of time: counts, answered rows and waiting items.

The store reads these with a few aggregate queries (storage/figures.py), so a digest or
`/feedback stats` never holds an object per item of its window; `rows_from_items` makes
the same from items already in memory.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.micros import micros
from bot.models import Item, Status
from bot.models import in_utc as utc

Window = tuple[datetime, datetime]


# An item first answered inside the rows' stretch, only what durations and SLAs use:
# (team, severity, received_at, forwarded_at, answered_at), the times in microseconds
# since 2000-01-01 UTC (bot/micros.py). A plain tuple of numbers, as the database gives
# it: tens of thousands are read per digest, and figures subtract and sort their times.
AnsweredRow = tuple[str, str, int, int, int]
ANSWERED_AT = operator.itemgetter(4)


@dataclass(frozen=True)
class TeamCounts:
    """One team's counts in one window: forwarded (new), of those reassigned, and resolved."""

    new: int = 0
    reassigned: int = 0
    resolved: int = 0


@dataclass(frozen=True)
class FigureRows:
    """Per window, each team's counts; the items first answered in [answered_since, until),
    in answer order; and the light items waiting now (unanswered, unresolved)."""

    windows: tuple[Window, ...]
    counts: tuple[dict[str, TeamCounts], ...]
    answered_since: datetime
    until: datetime
    answered: list[AnsweredRow]
    waiting: list[Item]


def is_waiting(item: Item) -> bool:
    """Nobody has answered it and nobody resolved it (a "+1" waits on the item it joined)."""
    return (item.first_response_at is None and item.status != Status.RESOLVED.value
            and item.linked_to is None)


def rows_from_items(items: Iterable[Item], *, windows: Sequence[Window],
                    answered_since: datetime, until: datetime) -> FigureRows:
    """The FigureRows of items in memory; raise ValueError for a naive datetime."""
    counted: list[dict[str, list[int]]] = [{} for _ in windows]
    spans = [(utc(start, "start"), utc(end, "end")) for start, end in windows]
    since, last = utc(answered_since, "answered_since"), utc(until, "until")
    answered: list[AnsweredRow] = []
    waiting: list[Item] = []
    for item in items:
        forwarded = utc(item.forwarded_at, "forwarded_at")
        resolved = None if item.resolved_at is None else utc(item.resolved_at, "resolved_at")
        for (start, end), teams in zip(spans, counted, strict=True):
            new = start <= forwarded < end
            closed = resolved is not None and start <= resolved < end
            if new or closed:
                tally = teams.setdefault(item.team, [0, 0, 0])
                tally[0] += new
                tally[1] += new and item.reassignments > 0
                tally[2] += closed
        if item.first_response_at is not None:
            answered_at = utc(item.first_response_at, "first_response_at")
            if since <= answered_at < last:
                answered.append((item.team, item.severity,
                                 micros(utc(item.received_at, "received_at")),
                                 micros(forwarded), micros(answered_at)))
        elif item.status != Status.RESOLVED.value:
            waiting.append(item)
    answered.sort(key=ANSWERED_AT)
    return FigureRows(
        windows=tuple(spans),
        counts=tuple({team: TeamCounts(*tally) for team, tally in teams.items()}
                     for teams in counted),
        answered_since=since, until=last, answered=answered, waiting=waiting)
