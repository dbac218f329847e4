"""Time until the customer heard back, read from one window, on both backends."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from bot.heard_back import heard_back_figures, heard_back_from_rows, rows_from_items
from bot.metrics import Durations
from bot.models import Event, Item, Status
from bot.store import Store
from storage import open_store
from tests.fakes import make_item
from tests.test_figures_window import END, NOW, START, TEAMS, WORKSPACE, config, seed_varied


def _add(store: Store, **values: Any) -> Item:
    item = make_item(workspace=values.pop("workspace", WORKSPACE), **values)
    return store.create_item(item=item, event=Event(0, "received", item.forwarded_by,
                                                    item.forwarded_at), outbox=[])


def _answered(store: Store, team: str, received: Any, first: Any, told: Any = None,
              **values: Any) -> Item:
    return _add(store, team=team, received_at=received, forwarded_at=received,
                first_response_at=first, status=Status.RESPONDED.value,
                customer_answered_at=told, customer_answered_by="U0SUPPORT" if told else None,
                customer_answered_how="button" if told else None, **values)


def test_the_window_counts_known_durations_and_unknowns_apart(fresh_store: Store):
    hour = timedelta(hours=1)
    # mobile runs on the wall clock. The window's start counts, its end does not.
    _answered(fresh_store, "mobile", START - hour, START, START + 2 * hour)  # 3h
    _answered(fresh_store, "mobile", START, START + hour, START + 5 * hour)  # 5h
    _answered(fresh_store, "mobile", START, START + 2 * hour)  # unknown: no record
    _answered(fresh_store, "mobile", START - 2 * hour, END, END + hour)  # answered at the end
    _answered(fresh_store, "mobile", START - 2 * hour, START - timedelta(microseconds=1),
              START + hour)  # answered before the window, though told inside it
    _add(fresh_store, team="mobile", received_at=START, forwarded_at=START)  # not answered
    # payments keeps Berlin's business hours; the window's day (14 May) is a holiday, so
    # only 15 May 09:00-10:00 counts, though 25 hours passed. Told after the window: known.
    _answered(fresh_store, "payments", START, START + hour, END + hour)
    # Another workspace's items never count.
    _answered(fresh_store, "mobile", START, START + hour, workspace="T0OTHER")

    figures = heard_back_figures(fresh_store, workspace=WORKSPACE, config=config(),
                                 start=START, end=END)
    mobile, payments = figures.of("mobile"), figures.of("payments")
    assert mobile is not None and payments is not None
    assert (mobile.answered, mobile.unknown) == (3, 1)
    assert mobile.heard_back == Durations(count=2, median=4 * hour, p90=5 * hour)
    assert mobile.heard_back_business is None
    assert (payments.answered, payments.unknown) == (1, 0)
    assert payments.heard_back.median == 25 * hour
    assert payments.heard_back_business == Durations(count=1, median=hour, p90=hour)
    assert (figures.overall.answered, figures.overall.unknown) == (4, 1)
    assert figures.overall.heard_back.count == 3
    assert figures.overall.heard_back_business is None  # mobile has no business hours
    only = heard_back_figures(fresh_store, workspace=WORKSPACE, config=config(),
                              start=START, end=END, teams=["payments"])
    assert [entry.team for entry in only.teams] == ["payments"]
    assert (only.overall.answered, only.overall.heard_back_business) == (
        1, Durations(count=1, median=hour, p90=hour))


def test_the_store_reads_what_every_item_gives(fresh_store: Store):
    seed_varied(fresh_store)
    rng = random.Random(12)
    for item in fresh_store.list_items(workspace=WORKSPACE):
        if item.first_response_at is not None and rng.random() < 0.6:
            told = item.first_response_at + timedelta(minutes=rng.uniform(0, 3000))
            fresh_store.update_item(workspace=WORKSPACE, item_id=item.id,
                                    changes={"customer_answered_at": told,
                                             "customer_answered_by": "U0SUPPORT",
                                             "customer_answered_how": "thread"})
    items = fresh_store.list_items(workspace=WORKSPACE)
    for start, end in [(START, END), (NOW - timedelta(days=7), NOW),
                       (NOW - timedelta(days=30), NOW)]:
        rows = fresh_store.heard_back_rows(workspace=WORKSPACE, since=start, until=end)
        assert sorted(rows) == sorted(rows_from_items(items, since=start, until=end))
        for teams in (None, ["payments"], list(TEAMS)):
            read = heard_back_figures(fresh_store, workspace=WORKSPACE, config=config(),
                                      start=start, end=end, teams=teams)
            whole = heard_back_from_rows(rows_from_items(items, since=start, until=end),
                                         config=config(), start=start, end=end, teams=teams)
            assert read == whole
            assert read.overall.answered > 0
            assert 0 < read.overall.unknown < read.overall.answered


def test_sqlite_reads_the_window_through_its_index():
    store = open_store("sqlite:///:memory:")
    database = store.database  # type: ignore[attr-defined]
    with database.read() as tx:
        plan = tx.all("EXPLAIN QUERY PLAN SELECT team, received_at, first_response_at,"
                      " customer_answered_at FROM items INDEXED BY items_window_heard_back"
                      " WHERE workspace = ? AND first_response_at >= ?"
                      " AND first_response_at < ?", ("T", "a", "b"))
    store.close()
    assert "COVERING INDEX items_window_heard_back" in str(plan)


def test_forgetting_a_user_erases_who_told_the_customer_and_keeps_when(fresh_store: Store):
    from bot.erasure import ERASED, Person
    from bot.models import utcnow

    hour = timedelta(hours=1)
    told = _answered(fresh_store, "mobile", START, START + hour, START + 2 * hour,
                     forwarded_by="U0SUPPORT", first_response_by="U0BOB")
    fresh_store.update_item(workspace=WORKSPACE, item_id=told.id,
                            changes={"customer_answered_by": "U0PRIYA"})
    report = fresh_store.forget_person(person=Person(user="U0PRIYA"), now=utcnow())
    assert not report.empty
    item = fresh_store.get_item(workspace=WORKSPACE, item_id=told.id)
    assert item is not None
    assert (item.customer_answered_by, item.customer_answered_at) == (ERASED,
                                                                        START + 2 * hour)
    assert item.first_response_by == "U0BOB"
