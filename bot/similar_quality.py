"""How well similar-item matching does on a labelled set: precision and recall of the offer.

Texts arrive one by one in a fixed shuffled order, as forwards do; each is first
matched against the items stored before it, then stored itself. An offer is right when
the item offered is of the text's cluster. Recall counts the texts that had an earlier
text of their cluster to be offered.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ruamel.yaml import YAML

from bot.models import Event, IntakeKind, Item, Status
from bot.similar import SimilarItems
from bot.store import Store


@dataclass(frozen=True)
class LabelledText:
    """One feedback text and the cluster of texts that mean the same."""

    cluster: str
    team: str
    customer: str
    text: str


@dataclass(frozen=True)
class Outcome:
    """What the matcher's best candidate was for one text, before any threshold."""

    score: float  # 0 when there was no candidate
    right: bool  # the best candidate is of the same cluster
    expected: bool  # an earlier text of the same cluster was stored


@dataclass(frozen=True)
class Quality:
    """Precision and recall of the offer at one threshold."""

    threshold: float
    right: int
    wrong: int
    missed: int

    @property
    def precision(self) -> float:
        offered = self.right + self.wrong
        return self.right / offered if offered else 1.0

    @property
    def recall(self) -> float:
        expected = self.right + self.missed
        return self.right / expected if expected else 1.0


def load_labelled(path: Path) -> list[LabelledText]:
    """The texts of a labelled set file (tests/data/similar_feedback.yml), in file order."""
    clusters = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
    return [LabelledText(cluster=str(cluster["cluster"]), team=str(cluster["team"]),
                         customer=str(customer), text=str(text))
            for cluster in clusters for customer, text in cluster["texts"]]


def arrival_order(texts: Sequence[LabelledText], *, seed: int = 12) -> list[LabelledText]:
    """The texts in the order they are forwarded: shuffled, the same for a given seed."""
    shuffled = list(texts)
    random.Random(seed).shuffle(shuffled)
    return shuffled


def run(store: Store, texts: Iterable[LabelledText], *, workspace: str, now: datetime,
        with_team: bool = True) -> list[Outcome]:
    """Match then store each text in turn (writes items to `store`); the outcome of each.

    `with_team`: the matcher is told each text's team, as routing would tell it.
    """
    matcher = SimilarItems(store, clock=lambda: now)
    cluster_of: dict[int, str] = {}
    outcomes = []
    for number, labelled in enumerate(texts):
        best = matcher.candidates(workspace=workspace, text=labelled.text, limit=1,
                                  team=labelled.team if with_team else None)
        outcomes.append(Outcome(
            score=best[0].score if best else 0.0,
            right=bool(best) and cluster_of[best[0].item_id] == labelled.cluster,
            expected=labelled.cluster in cluster_of.values()))
        item = store.create_item(item=_item(workspace, number, labelled, now), outbox=[],
                                 event=Event(item_id=0, kind="received", actor="U0SUPPORT",
                                             at=now))
        cluster_of[item.id] = labelled.cluster
    return outcomes


def quality(outcomes: Sequence[Outcome], threshold: float) -> Quality:
    """Precision and recall had the best candidate been offered at `threshold` or above."""
    right = wrong = missed = 0
    for outcome in outcomes:
        offered = outcome.score > 0 and outcome.score >= threshold
        if offered and outcome.right:
            right += 1
        elif offered:
            wrong += 1
        if outcome.expected and not (offered and outcome.right):
            missed += 1
    return Quality(threshold=threshold, right=right, wrong=wrong, missed=missed)


def _item(workspace: str, number: int, labelled: LabelledText, now: datetime) -> Item:
    return Item(workspace=workspace, id=0, team=labelled.team, status=Status.ROUTED.value,
                text=labelled.text, customer=labelled.customer, severity="normal",
                source_channel="C0SUPPORT", source_ts=f"1700000000.{number:06d}",
                forwarded_by="U0SUPPORT", received_at=now, forwarded_at=now,
                intake_kind=IntakeKind.SHORTCUT.value)
