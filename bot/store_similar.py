"""The Store methods that find items saying the same thing as a new text (storage/similar.py)."""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

# Candidates the database ranks for the matcher to weigh (bot/similar.py).
CANDIDATES = 20


@dataclass(frozen=True)
class SimilarCandidate:
    """An open or recently resolved item whose words meet a text's; `rank` is the database's."""

    item_id: int
    team: str
    status: str
    text: str
    customer: str | None
    forwarded_at: datetime
    resolved_at: datetime | None
    first_response_by: str | None
    rank: float  # bm25 (SQLite) or ts_rank (PostgreSQL), larger is closer


class SimilarQueries(abc.ABC):
    """Full-text search over items, kept in step with them by the database itself."""

    @abc.abstractmethod
    def similar_candidates(self, *, workspace: str, terms: Sequence[Sequence[str]],
                           resolved_since: datetime,
                           limit: int = CANDIDATES) -> list[SimilarCandidate]:
        """Items of `workspace` naming at least two of `terms` (one, if one is given), best first.

        Each term is a group of words that say one thing (bot/similar_text.py's
        query_terms), and an item names it with any of them. Only items not resolved,
        or resolved at or after `resolved_since`. Words that are not letters and digits
        only are left out; no term finds nothing.
        """
