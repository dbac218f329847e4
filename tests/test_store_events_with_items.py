"""Reassignments with their items, read in one query: the same as reading each apart."""

from __future__ import annotations

from datetime import timedelta

from bot.models import Event
from bot.store import Store
from tests.fakes import DEFAULT_START, make_item


def _moved(store: Store, text: str, *, at_minutes: int, workspace: str = "T0WORK") -> int:
    item = store.create_item(
        item=make_item(workspace=workspace, text=text, team="triage"),
        event=Event(item_id=0, kind="received", actor="U0SUPPORT", at=DEFAULT_START),
        outbox=[])
    store.update_item(
        workspace=workspace, item_id=item.id, changes={"team": "payments"},
        event=Event(item_id=item.id, kind="reassigned", actor="U0DEV",
                    at=DEFAULT_START + timedelta(minutes=at_minutes),
                    data={"from": "triage", "to": "payments"}))
    return item.id


def test_events_with_items_equal_events_and_items_read_apart(store: Store):
    first = _moved(store, "refund never arrived", at_minutes=5)
    second = _moved(store, "invoice shows the wrong VAT", at_minutes=1)
    _moved(store, "another workspace's words", at_minutes=3, workspace="T0OTHER")
    since = DEFAULT_START

    together = store.events_with_items(workspace="T0WORK", kind="reassigned", since=since)
    apart = Store.events_with_items(store, workspace="T0WORK", kind="reassigned", since=since)

    assert [event for event, _ in together] == [event for event, _ in apart]
    assert [(item.id, item.workspace, item.team, item.text, item.status, item.severity,
             item.received_at, item.forwarded_at) for _, item in together] == [
        (item.id, item.workspace, item.team, item.text, item.status, item.severity,
         item.received_at, item.forwarded_at) for _, item in apart]
    assert [item.id for _, item in together] == [second, first]  # by the time of the move
    _, earliest = together[0]
    assert (earliest.text, earliest.team) == ("invoice shows the wrong VAT", "payments")
    later = DEFAULT_START + timedelta(minutes=2)
    assert [item.id for _, item in store.events_with_items(
        workspace="T0WORK", kind="reassigned", since=later)] == [first]
