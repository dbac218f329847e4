"""Similar items: is a new feedback text the same problem as an open or recent item?

The store's full-text index (storage/similar.py) proposes candidates of the workspace,
ranked by the database (bm25, ts_rank); those ranks depend on the query and the
history, so they can't be held against one fixed line. This module scores each
candidate on a fixed scale instead, 0 (no word in common) to 1 (the same words), with
typos forgiven, and offers the best one when it reaches THRESHOLD, chosen on the
labelled set tests/data/similar_feedback.yml (precision and recall in
docs/benchmarks.md, `python bench/similar.py`). Platform-neutral: no chat SDK here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from rapidfuzz import fuzz

from bot.models import utcnow
from bot.similar_text import PRODUCT_STEMS, concept, is_request, query_terms, words
from bot.store_similar import CANDIDATES, SimilarCandidate, SimilarQueries

# Resolved items are offered this long after their resolution; open ones always (within
# the store's bound on the hits it ranks, storage/similar.py).
RECENT = timedelta(days=90)
# The lowest score offered: see the module docstring and docs/benchmarks.md.
THRESHOLD = 0.35
# How many candidates the forwarding modal lists.
LISTED = 5
# Two different words closer than this (rapidfuzz ratio, 0-100) are one word misspelt.
_TYPO_RATIO = 84
_SHORTEST_TYPO = 5
# What a product word (bot/similar_text.py) counts for, beside 1 for any other word.
PRODUCT_WEIGHT = 0.4
# A question or feature request and a fault report are rarely the same item.
OTHER_INTENT = 0.5
# An item of another team than the one the new text is routed to is less likely the
# same; when that team is not known, every item is held a little less likely.
OTHER_TEAM = 0.7
TEAM_UNKNOWN = 0.85


@dataclass(frozen=True)
class SimilarMatch:
    """An item a new text may be the same problem as, and how sure that is (0-1)."""

    item_id: int
    team: str
    status: str
    customers: int  # customers known to have said it (0 when none was named)
    score: float
    acknowledged_by: str | None = None  # who first responded for the owning team


class _Words:
    """A text's content words by stem, to compare with another's."""

    __slots__ = ("by_stem", "request")

    def __init__(self, text: str, *, leave_out: frozenset[str] = frozenset()) -> None:
        self.by_stem: dict[str, str] = {}
        for word in words(text):
            word_concept = concept(word)
            if word_concept not in leave_out:
                self.by_stem.setdefault(word_concept, word)
        self.request = is_request(text)

    def closeness(self, word_stem: str, word: str) -> float:
        """1 when this text has the stem; less for a likely misspelling of it; else 0."""
        if word_stem in self.by_stem:
            return 1.0
        if len(word) < _SHORTEST_TYPO:
            return 0.0
        best = 0.0
        for other in self.by_stem.values():
            if len(other) >= _SHORTEST_TYPO and abs(len(other) - len(word)) <= 2:
                best = max(best, fuzz.ratio(word, other))
        return best / 100 if best >= _TYPO_RATIO else 0.0


def similarity(text: str, other: str) -> float:
    """How much two texts say in the same words, 0-1: symmetric, typos forgiven."""
    return _similarity(_Words(text), _Words(other))


def _weight(word_stem: str) -> float:
    return PRODUCT_WEIGHT if word_stem in PRODUCT_STEMS else 1.0


def _similarity(one: _Words, two: _Words) -> float:
    total = sum(map(_weight, one.by_stem)) + sum(map(_weight, two.by_stem))
    if total == 0:
        return 0.0
    shared = sum(_weight(s) * two.closeness(s, w) for s, w in one.by_stem.items())
    shared += sum(_weight(s) * one.closeness(s, w) for s, w in two.by_stem.items())
    return shared / total * (1.0 if one.request == two.request else OTHER_INTENT)


class SimilarItems:
    """Finds, for a new feedback text, the items of its workspace that say the same."""

    def __init__(self, store: SimilarQueries, *, threshold: float = THRESHOLD,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.store = store
        self.threshold = threshold
        self.clock = clock

    def candidates(self, *, workspace: str, text: str, team: str | None = None,
                   limit: int = LISTED) -> list[SimilarMatch]:
        """The closest open or recently resolved items, best first, whatever their score.

        `team` is the team the text is routed to, when known. Reads the store; raises
        only what the store raises (never for the text itself).
        """
        terms = query_terms(text)
        if not terms:
            return []
        found = self.store.similar_candidates(workspace=workspace, terms=terms,
                                              resolved_since=self.clock() - RECENT,
                                              limit=CANDIDATES)
        query = _Words(text)
        scored = []
        for candidate in found:
            # A customer's name in both texts says who, not what: "Globex: the app
            # crashes" and "Globex: the app logs out" are two problems of one customer.
            name = _name_concepts(candidate.customer)
            one = _Words(text, leave_out=name) if name else query
            other = _Words(candidate.text, leave_out=name)
            scored.append(_match(candidate, _similarity(one, other)
                                 * _team_factor(team, candidate.team)))
        scored.sort(key=lambda match: (-match.score, -match.item_id))
        return scored[:limit]

    def best_match(self, *, workspace: str, text: str,
                   team: str | None = None) -> SimilarMatch | None:
        """The item to offer instead of a new one, or None when none is close enough.

        What the intake calls for each forward. `team` is the team routing chose (the
        text alone meets the targets too, with fewer offers). The customer is not asked
        for: preferring or avoiding items of the same customer changed no offer on
        either labelled set. Reads the store; raises only what the store raises.
        """
        best = self.candidates(workspace=workspace, text=text, team=team, limit=1)
        if best and best[0].score >= self.threshold:
            return best[0]
        return None


def _name_concepts(customer: str | None) -> frozenset[str]:
    """The words of a customer's name, as _Words keys them."""
    return frozenset(concept(word) for word in words(customer)) if customer else frozenset()


def _team_factor(team: str | None, candidate_team: str) -> float:
    if team is None:
        return TEAM_UNKNOWN
    return 1.0 if candidate_team == team else OTHER_TEAM


def _match(candidate: SimilarCandidate, score: float) -> SimilarMatch:
    return SimilarMatch(item_id=candidate.item_id, team=candidate.team, status=candidate.status,
                        customers=1 if candidate.customer else 0, score=round(score, 4),
                        acknowledged_by=candidate.first_response_by)
