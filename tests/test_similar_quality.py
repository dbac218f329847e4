"""The shipped threshold on the shipped labelled set: precision and recall of the offer."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from bot.similar import THRESHOLD
from bot.similar_quality import arrival_order, load_labelled, quality, run
from bot.store import Store
from tests.fakes import DEFAULT_START

LABELLED = Path(__file__).resolve().parent / "data" / "similar_feedback.yml"


def test_the_labelled_set_has_clusters_and_near_misses() -> None:
    texts = load_labelled(LABELLED)
    sizes = Counter(text.cluster for text in texts)

    assert len(texts) >= 200
    assert sum(size for size in sizes.values() if size > 1) >= 150
    assert sum(1 for size in sizes.values() if size == 1) >= 40  # near-misses
    assert len({text.team for text in texts}) >= 5
    assert len({text.text.casefold() for text in texts}) == len(texts)


@pytest.mark.parametrize("team_known", [True, False], ids=["routed", "text-only"])
def test_offers_at_the_shipped_threshold_are_right_and_find_most(
        fresh_store: Store, team_known: bool) -> None:
    # The intake knows the team it routes to; text alone must meet the targets too.
    outcomes = run(fresh_store, arrival_order(load_labelled(LABELLED)), workspace="T0EVAL",
                   now=DEFAULT_START, with_team=team_known)

    measured = quality(outcomes, THRESHOLD)

    assert measured.precision >= 0.9, measured
    assert measured.recall >= 0.7, measured
