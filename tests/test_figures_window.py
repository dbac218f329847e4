"""Figures read from one window give exactly what the whole history gave, on both backends.

The reference is the pure computation (bot.metrics, bot.digest) over every item of the
workspace, which is what digests, stats and `mine` did before they read only a window.
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from bot.config import Config
from bot.digest import build_digest_data
from bot.digest_service import SUGGESTION_MEMORY, DigestService
from bot.figure_rows import rows_from_items
from bot.metrics import Figures, compute_figures
from bot.models import Event, Item, Status
from bot.store import Store
from bot.suggestions import Reassignment
from bot.views import WAITING, stats
from tests.fakes import FrozenClock, make_item

WORKSPACE = "T0WORK"
# Thursday 14 May 2026 is Ascension Day, a public holiday in Germany.
NOW = datetime(2026, 5, 15, 9, 30, 0, 250000, tzinfo=UTC)
START = datetime(2026, 5, 14, 7, 0, tzinfo=UTC)  # 09:00 in Berlin
END = datetime(2026, 5, 15, 7, 0, tzinfo=UTC)
TEAMS = ("payments", "mobile", "triage")


def config() -> Config:
    """payments and triage keep business hours (triage without holidays); mobile has none."""
    return Config.model_validate({
        "teams": {
            "payments": {"channel": "C0PAY", "owners": ["U0ALICE"], "keywords": ["refund"],
                         "business_hours": {"timezone": "Europe/Berlin",
                                            "hours": "09:00-17:00", "holidays": "DE"}},
            "mobile": {"channel": "C0MOB", "owners": ["U0BOB"], "keywords": ["app"]},
            "triage": {"channel": "C0TRI", "owners": ["U0CAROL"],
                       "business_hours": {"timezone": "America/New_York",
                                          "hours": "08:30-18:00"}},
        },
        "sla": {"urgent": "30m", "high": "2h", "normal": "8h", "low": "3d"},
        "digests": [
            {"channel": "C0MANAGERS", "at": "09:00", "timezone": "Europe/Berlin",
             "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]},
            {"channel": "C0PAYLEADS", "at": "09:00", "timezone": "Europe/Berlin",
             "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
             "teams": ["payments"]},
        ],
    })


def _add(store: Store, **values: Any) -> Item:
    item = make_item(workspace=values.pop("workspace", WORKSPACE), **values)
    return store.create_item(item=item, event=Event(0, "received", item.forwarded_by,
                                                    item.forwarded_at), outbox=[])


def _reassign(store: Store, item: Item, at: datetime, source: str, target: str) -> None:
    store.update_item(workspace=item.workspace, item_id=item.id,
                      changes={"team": target, "reassignments": item.reassignments + 1},
                      event=Event(item.id, "reassigned", "U0CAROL", at,
                                  {"from": source, "to": target}))


def seed_varied(store: Store) -> None:
    """Items around the window: every status, business hours, moves, edges, a legacy team."""
    rng = random.Random(10)
    words = ["refund for invoice", "app receipt missing", "receipt total wrong",
             "login crash", "dark mode please"]
    for number in range(260):
        team = rng.choice([*TEAMS, "legacy"])  # legacy: a team no longer in the config
        received = NOW - timedelta(days=rng.uniform(0, 30), microseconds=rng.randint(0, 999))
        forwarded = received + timedelta(minutes=rng.uniform(0, 300))
        values: dict[str, Any] = {
            "team": team, "received_at": received, "forwarded_at": forwarded,
            "severity": rng.choice(["urgent", "high", "normal", "low", "odd"]),
            "text": f"{rng.choice(words)} {number}", "status": Status.ROUTED.value,
            "assignees": rng.choice([[], ["U0DAVE"]]),
            "forwarded_by": rng.choice(["U0SUPPORT", "U0BOB"]),
        }
        fate = rng.random()
        if fate < 0.7:
            answered = forwarded + timedelta(minutes=rng.uniform(1, 3000))
            if answered < NOW:
                values.update(first_response_at=answered, status=Status.RESPONDED.value)
                if rng.random() < 0.5 and answered + timedelta(hours=5) < NOW:
                    values.update(status=Status.RESOLVED.value,
                                  resolved_at=answered + timedelta(hours=5))
        elif fate < 0.8:  # resolved without a response
            values.update(status=Status.RESOLVED.value,
                          resolved_at=forwarded + timedelta(hours=rng.uniform(1, 30)))
        elif fate < 0.85:  # resolved once, reopened, waiting again
            values.update(status=Status.REOPENED.value,
                          resolved_at=forwarded + timedelta(hours=rng.uniform(1, 30)))
        created = _add(store, **values)
        if team in ("payments", "mobile") and rng.random() < 0.3:
            other = "mobile" if team == "payments" else "payments"
            _reassign(store, replace(created, team=other), forwarded + timedelta(minutes=5),
                      other, team)
    # The window's edges: its start counts, its end does not.
    _add(store, team="mobile", received_at=START - timedelta(minutes=1), forwarded_at=START)
    _add(store, team="mobile", received_at=END - timedelta(minutes=1), forwarded_at=END)
    _add(store, team="payments", received_at=START - timedelta(days=2),
         forwarded_at=START - timedelta(days=2), first_response_at=END,
         status=Status.RESPONDED.value)
    _add(store, team="payments", received_at=START - timedelta(days=3),
         forwarded_at=START - timedelta(days=3), first_response_at=START,
         resolved_at=START, status=Status.RESOLVED.value)
    _add(store, team="triage", received_at=START - timedelta(days=9),
         forwarded_at=START - timedelta(days=9), resolved_at=START,
         status=Status.REOPENED.value)
    # Same forwarding time: export pages must neither skip nor repeat any of them.
    for _ in range(5):
        _add(store, team="mobile", received_at=START - timedelta(days=1),
             forwarded_at=START - timedelta(days=1), resolved_at=START,
             status=Status.RESOLVED.value)
    # Another workspace's items never count.
    _add(store, workspace="T0OTHER", team="mobile", received_at=START, forwarded_at=START)
    _add(store, workspace="T0OTHER", team="mobile", received_at=START, forwarded_at=START,
         first_response_at=START + timedelta(hours=1), status=Status.RESPONDED.value)


def _same_figures(window: Figures, whole: Figures) -> None:
    """Equal numbers, and the same waiting items in the same order (light or full)."""
    assert (window.start, window.end, window.teams, window.overall) == (
        whole.start, whole.end, whole.teams, whole.overall)
    assert [(w.item.id, w.age, w.waiting_since_forwarded, w.overdue) for w in window.waiting] \
        == [(w.item.id, w.age, w.waiting_since_forwarded, w.overdue) for w in whole.waiting]


@pytest.fixture
def seeded(fresh_store: Store) -> Store:
    seed_varied(fresh_store)
    return fresh_store


@pytest.mark.parametrize("days", [1, 7, 30])
@pytest.mark.parametrize("team", [None, "payments", "mobile", "triage"])
def test_stats_from_the_window_equal_those_from_every_item(seeded: Store, days: int,
                                                           team: str | None) -> None:
    result = stats(store=seeded, config=config(), workspace=WORKSPACE, now=NOW, days=days,
                   team=team)
    whole = compute_figures(items=seeded.list_items(workspace=WORKSPACE), config=config(),
                            start=NOW - timedelta(days=days), end=NOW, now=NOW,
                            teams=[team] if team else None)
    assert result.rows == (whole.teams if team else [*whole.teams, whole.overall])
    assert result.rows[-1].new > 0 and result.rows[-1].responded > 0


@pytest.mark.parametrize("since", [START, START - timedelta(days=10)])
@pytest.mark.parametrize("teams", [None, ["mobile", "triage"], ["payments"], []])
def test_figure_rows_from_the_store_equal_those_from_every_item(
        seeded: Store, teams: list[str] | None, since: datetime) -> None:
    # The seeds put items on every edge: forwarded, answered and resolved at START.
    windows = [(START, END), (START - timedelta(days=7), START)]
    rows = seeded.figure_rows(workspace=WORKSPACE, windows=windows, answered_since=since,
                              until=END, teams=teams)
    every = [item for item in seeded.list_items(workspace=WORKSPACE)
             if teams is None or item.team in teams]
    whole = rows_from_items(every, windows=windows, answered_since=since, until=END)
    assert rows.windows == whole.windows
    assert rows.counts == whole.counts
    assert sorted(rows.answered) == sorted(whole.answered)
    assert sorted(item.id for item in rows.waiting) == sorted(item.id for item in whole.waiting)
    by_id = {item.id: item for item in every}
    for item in rows.waiting:
        full = by_id[item.id]
        assert (item.team, item.status, item.severity, item.received_at, item.forwarded_at,
                item.reassignments) == (full.team, full.status, full.severity,
                                        full.received_at, full.forwarded_at, full.reassignments)
    if teams != []:
        assert rows.answered and rows.waiting and any(rows.counts[1].values())
    # The two windows are counted apart, and an answered row is read once.
    assert len(rows.answered) == len(set(rows.answered))


def _digest_from_every_item(store: Store, index: int, start: datetime, end: datetime
                            ) -> Any:
    """The digest as it was computed before: from every item and every reassignment."""
    items = store.list_items(workspace=WORKSPACE)
    by_id = {item.id: item for item in items}
    moved = [Reassignment(item=by_id[event.item_id], from_team=event.data["from"],
                          to_team=event.data["to"])
             for event in store.events_of_kind(workspace=WORKSPACE, kind="reassigned")
             if event.at >= end - SUGGESTION_MEMORY]
    return build_digest_data(items=items, reassignments=moved, config=config(),
                             subscription=config().digests[index], index=index,
                             local_date=date(2026, 5, 15), window_start=start, window_end=end,
                             now=NOW)


@pytest.mark.parametrize("index", [0, 1])
@pytest.mark.parametrize("start", [START, START - timedelta(days=3)])
def test_a_digest_from_its_window_equals_one_from_every_item(seeded: Store, index: int,
                                                             start: datetime) -> None:
    service = DigestService(store=seeded, config=config(), clock=FrozenClock(NOW))
    data = service.build(workspace=WORKSPACE, index=index, local_date=date(2026, 5, 15),
                         late=False, window_start=start, window_end=END)
    whole = _digest_from_every_item(seeded, index, start, END)
    _same_figures(data.figures, whole.figures)
    _same_figures(data.previous, whole.previous)
    assert data.trend == whole.trend
    assert data.suggestions == whole.suggestions and data.suggestions
    # The longest-waiting items are read in full: their text is there to show.
    assert data.longest_waiting == whole.longest_waiting
    assert all(waiting.item.text for waiting in data.longest_waiting)
    assert data.overdue == whole.overdue


def test_a_scheduled_digest_reads_its_own_period(seeded: Store) -> None:
    service = DigestService(store=seeded, config=config(), clock=FrozenClock(NOW))
    data = service.build(workspace=WORKSPACE, index=0, local_date=date(2026, 5, 15),
                         late=False)
    whole = _digest_from_every_item(seeded, 0, data.window_start, data.window_end)
    _same_figures(data.figures, whole.figures)
    _same_figures(data.previous, whole.previous)
    assert data.trend == whole.trend


async def test_mine_lists_the_same_items_as_reading_every_item(seeded: Store) -> None:
    from bot.views import mine

    class Members:
        async def team_members(self, *, workspace: str, team: str,
                               platform: str = "slack") -> frozenset[str]:
            return frozenset({"U0BOB"}) if team == "mobile" else frozenset()

    for user in ("U0BOB", "U0DAVE", "U0SUPPORT"):
        data = await mine(store=seeded, lifecycle=Members(), workspace=WORKSPACE,  # type: ignore[arg-type]
                          now=NOW, user=user)
        waiting = [item for item in seeded.list_items(workspace=WORKSPACE)
                   if item.first_response_at is None and item.status in WAITING]
        theirs = [item for item in waiting
                  if user in item.assignees or (user == "U0BOB" and item.team == "mobile")]
        forwarded = [item for item in waiting if item not in theirs
                     and item.forwarded_by == user]
        assert data.theirs == sorted(theirs, key=lambda item: item.received_at)
        assert data.forwarded == sorted(forwarded, key=lambda item: item.received_at)
        assert data.theirs or data.forwarded


def test_suggest_rules_reads_only_the_moves(seeded: Store) -> None:
    service = DigestService(store=seeded, config=config(), clock=FrozenClock(NOW))
    moved = service.reassignments(workspace=WORKSPACE)
    events = sorted(seeded.events_of_kind(workspace=WORKSPACE, kind="reassigned"),
                    key=lambda event: event.at)
    assert [move.item.id for move in moved] == [event.item_id for event in events]
    assert [move.item for move in moved] == [
        seeded.get_item(workspace=WORKSPACE, item_id=event.item_id) for event in events]
    since = NOW - timedelta(days=10)
    recent = service.reassignments(workspace=WORKSPACE, since=since)
    assert [move.item.id for move in recent] == [
        event.item_id for event in events if event.at >= since]
    assert 0 < len(recent) < len(moved)


def test_export_pages_through_every_item_in_order(seeded: Store) -> None:
    every = seeded.list_items()
    assert list(seeded.iter_items(batch=7)) == every
    assert list(seeded.iter_items()) == every
    since = START - timedelta(days=1)
    paged = list(seeded.iter_items(forwarded_since=since, batch=3))
    assert paged == seeded.list_items(forwarded_since=since)
    assert len(paged) > 7



def test_sqlite_reads_figures_from_covering_indexes_only() -> None:
    from storage import open_store
    from storage.figures import WAITING, answered_sql, counts_sql

    store = open_store("sqlite:///:memory:")
    seed_varied(store)
    window = [START, END]
    reads = {
        "items_window_forwarded": (counts_sql("forwarded_at", 1, None),
                                   [*window, *window, WORKSPACE, *window]),
        "items_window_resolved": (counts_sql("resolved_at", 1, None),
                                  [*window, WORKSPACE, *window]),
        "items_window_responded": (answered_sql(store.database.dialect),  # type: ignore[attr-defined]
                                   [WORKSPACE, *window]),
        "items_waiting": ("SELECT id, team FROM items INDEXED BY items_waiting"
                          f" WHERE workspace = ? AND {WAITING}", [WORKSPACE]),
    }
    with store.database.read() as tx:  # type: ignore[attr-defined]
        for index, (sql, params) in reads.items():
            plan = " | ".join(row["detail"] for row in tx.all("EXPLAIN QUERY PLAN " + sql,
                                                              params))
            assert f"COVERING INDEX {index}" in plan, plan
            assert "SCAN" not in plan, plan
    store.close()


def test_sqlite_reads_the_answered_rows_from_their_covering_index_whatever_its_statistics(
        ) -> None:
    """Statistics gathered before the heard-back index existed (as on a store analyzed
    when it was seeded) make that smaller index look best; it lacks two of the columns."""
    from storage import open_store
    from storage.figures import answered_sql

    store = open_store("sqlite:///:memory:")
    seed_varied(store)
    with store.database.write() as tx:  # type: ignore[attr-defined]
        tx.execute("ANALYZE")
        tx.execute("DELETE FROM sqlite_stat1 WHERE tbl = 'items'")
        for index, stat in [("items_window_responded", "969776 969776 1 1 1 1 1 1 1 1"),
                            ("items_window_resolved", "994079 994079 1 1 1 1 1 1 1 1"),
                            ("items_window_forwarded", "1000000 1000000 1 1 1 1 1 1 1 1"),
                            ("items_forwarded", "1000000 1")]:
            tx.execute("INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES ('items', ?, ?)",
                       (index, stat))
        tx.execute("ANALYZE sqlite_schema")  # the planner reads the statistics again
    with store.database.read() as tx:  # type: ignore[attr-defined]
        plan = " | ".join(row["detail"] for row in tx.all(
            "EXPLAIN QUERY PLAN " + answered_sql(store.database.dialect),  # type: ignore[attr-defined]
            [WORKSPACE, START, END]))
    assert "COVERING INDEX items_window_responded" in plan, plan
    store.close()
