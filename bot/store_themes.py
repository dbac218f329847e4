"""The Store's read for themes of the week: what the items of a stretch said, streamed."""

from __future__ import annotations

import abc
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.themes import Said


@dataclass(frozen=True)
class TeamSaid:
    """One forwarded item's id and text, with its team and when it was forwarded."""

    team: str
    forwarded_at: datetime
    said: Said


class ThemeStore(abc.ABC):
    """Store methods behind the themes of the week (bot/digest_themes.py)."""

    @abc.abstractmethod
    def said_forwarded(self, *, workspace: str, since: datetime, until: datetime,
                       teams: Sequence[str] | None = None,
                       batch: int = 2000) -> Iterator[TeamSaid]:
        """Id, team and text of the items forwarded in [since, until), by forwarded_at, id.

        Only `teams` when given. Read `batch` rows at a time, each page its own short
        read, so memory stays one page however long the stretch.
        """
