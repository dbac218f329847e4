"""Contract tests every Store backend must pass, on SQLite (memory and file) and PostgreSQL.

Several stores sharing one database are tested in tests/test_store_concurrency.py, and
databases made by earlier releases in tests/test_store_upgrade.py.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone

import pytest

from bot.models import Event, Item
from bot.store import INBOX_MAX_ATTEMPTS, DuplicateSource, NewOutbox, Store
from tests.fakes import DEFAULT_START, make_item
from tests.store_backends import create, execute, received, table_rows

T0 = DEFAULT_START
FAR_FUTURE = datetime(2100, 1, 1, tzinfo=UTC)


# --- inbox -------------------------------------------------------------------------------


def add_inbox(store: Store, key: str | None, *, at: datetime = T0, body: str = "{}") -> int | None:
    """Store one inbound request."""
    return store.inbox_add(
        workspace="T0WORK",
        kind="event",
        dedupe_key=key,
        body=body,
        headers={"X-Slack-Retry-Num": "1"},
        received_at=at,
    )


def test_inbox_add_dedupes_by_key(store: Store) -> None:
    first = add_inbox(store, "Ev001")
    assert isinstance(first, int)
    assert add_inbox(store, "Ev001", body='{"again": true}') is None
    assert [row.id for row in store.inbox_pending()] == [first]
    assert store.inbox_pending()[0].body == "{}"


def test_inbox_none_key_never_dedupes(store: Store) -> None:
    ids = [add_inbox(store, None) for _ in range(3)]
    assert None not in ids
    assert len(set(ids)) == 3
    assert len(store.inbox_pending()) == 3


def test_inbox_rows_round_trip_oldest_first(store: Store) -> None:
    first = add_inbox(store, "a", at=T0, body='{"text": "héllo \u202e"}')
    second = add_inbox(store, "b", at=T0 + timedelta(seconds=1))
    rows = store.inbox_pending()
    assert [row.id for row in rows] == [first, second]
    row = rows[0]
    assert (row.workspace, row.kind, row.dedupe_key) == ("T0WORK", "event", "a")
    assert row.body == '{"text": "héllo \u202e"}'
    assert row.headers == {"X-Slack-Retry-Num": "1"}
    assert row.received_at == T0
    assert row.received_at.tzinfo is not None
    assert row.attempts == 0


def test_inbox_set_workspace_records_it_later(store: Store) -> None:
    row_id = store.inbox_add(
        workspace="", kind="event", dedupe_key=None, body="{}", headers={}, received_at=T0
    )
    assert row_id is not None
    store.inbox_set_workspace(row_id, "T0LATE")
    assert [row.workspace for row in store.inbox_pending()] == ["T0LATE"]


def test_inbox_done_leaves_pending(store: Store) -> None:
    first = add_inbox(store, "a")
    second = add_inbox(store, "b")
    assert first is not None
    store.inbox_done(first)
    assert [row.id for row in store.inbox_pending()] == [second]


def test_inbox_failed_attempts_count_up_to_the_limit(store: Store) -> None:
    row_id = add_inbox(store, "a")
    assert row_id is not None
    store.inbox_failed_attempt(row_id, error="boom")
    assert [row.attempts for row in store.inbox_pending(max_attempts=2)] == [1]
    store.inbox_failed_attempt(row_id, error="boom again")
    assert store.inbox_pending(max_attempts=2) == []
    assert [row.attempts for row in store.inbox_pending(max_attempts=3)] == [2]


def test_inbox_rows_failing_too_often_are_given_up_and_kept(store: Store) -> None:
    row_id = add_inbox(store, "a")
    other = add_inbox(store, "b")
    assert row_id is not None and other is not None
    counts = [store.inbox_failed_attempt(row_id, error=f"boom {n}")
              for n in range(INBOX_MAX_ATTEMPTS)]
    assert counts == list(range(1, INBOX_MAX_ATTEMPTS + 1))
    assert [row.id for row in store.inbox_pending()] == [other]
    assert store.inbox_given_up_count() == 1
    # Given up is not done: pruning keeps it for whoever looks into it.
    assert store.inbox_prune(before=T0 + timedelta(days=365)) == 0
    assert store.inbox_given_up_count() == 1
    assert store.inbox_failed_attempt(999_999, error="no such row") == 0


def test_inbox_prune_deletes_only_old_processed_rows(store: Store) -> None:
    old_done = add_inbox(store, "old-done", at=T0 - timedelta(days=10))
    old_pending = add_inbox(store, "old-pending", at=T0 - timedelta(days=10))
    new_done = add_inbox(store, "new-done", at=T0)
    assert old_done is not None and new_done is not None
    store.inbox_done(old_done)
    store.inbox_done(new_done, error="handled with an error")

    assert store.inbox_prune(before=T0 - timedelta(days=1)) == 1

    assert [row.id for row in store.inbox_pending()] == [old_pending]
    # The pruned row's key is free again; the kept processed row's key is not.
    assert add_inbox(store, "old-done") is not None
    assert add_inbox(store, "new-done") is None


# --- items -------------------------------------------------------------------------------


def test_create_item_assigns_ids_and_round_trips_every_field(store: Store) -> None:
    given = make_item(
        customer="Großhandel",
        note="call back",
        reply_channel="C0INTAKE",
        reply_thread_ts="1714980000.000500",
        assignees=["U0ALICE"],
        intake_key="cmd-7",
        source_author="U0CUST",
        source_permalink="https://example.slack.com/p1",
    )
    first = store.create_item(item=given, event=received(), outbox=[])
    second = create(store)

    assert first.id > 0
    assert second.id > first.id
    assert first == dataclasses.replace(given, id=first.id)
    assert store.get_item(workspace="T0WORK", item_id=first.id) == first


def test_create_item_writes_its_event_and_outbox_entries(store: Store) -> None:
    item = create(
        store, outbox=[NewOutbox(kind="card"), NewOutbox(kind="notice", payload={"a": 1})]
    )
    events = store.events_for(workspace="T0WORK", item_id=item.id)
    assert [(e.item_id, e.kind, e.actor, e.data) for e in events] == [
        (item.id, "received", "U0SUPPORT", {"n": 1})
    ]
    entries = store.outbox_due(now=FAR_FUTURE)
    assert [(e.item_id, e.kind, e.payload) for e in entries] == [
        (item.id, "card", {}),
        (item.id, "notice", {"a": 1}),
    ]


def test_duplicate_source_raises_with_the_existing_item(store: Store) -> None:
    first = create(store, source_channel="C0SUP", source_ts="1.000100", outbox=[NewOutbox("card")])

    with pytest.raises(DuplicateSource) as raised:
        create(
            store,
            source_channel="C0SUP",
            source_ts="1.000100",
            text="other words",
            outbox=[NewOutbox("card")],
        )

    assert raised.value.item == first
    # Nothing of the second attempt was written.
    assert [i.id for i in store.list_items()] == [first.id]
    assert store.outbox_pending_count() == 1
    assert len(store.events_for(workspace="T0WORK", item_id=first.id)) == 1


def test_duplicate_intake_key_raises_with_the_existing_item(store: Store) -> None:
    first = create(store, source_channel=None, source_ts=None, intake_key="cmd-1")
    with pytest.raises(DuplicateSource) as raised:
        create(store, source_channel=None, source_ts=None, intake_key="cmd-1")
    assert raised.value.item == first
    assert store.find_item_by_intake_key(workspace="T0WORK", key="cmd-1") == first
    assert len(store.list_items()) == 1


def test_same_source_and_key_in_two_workspaces_is_allowed(store: Store) -> None:
    mine = create(store, source_channel="C0SUP", source_ts="1.000100", intake_key="k")
    theirs = create(
        store, workspace="T0OTHER", source_channel="C0SUP", source_ts="1.000100", intake_key="k"
    )
    assert mine.id != theirs.id
    assert store.find_item_by_source(workspace="T0OTHER", channel="C0SUP", ts="1.000100") == theirs
    assert store.find_item_by_source(workspace="T0WORK", channel="C0SUP", ts="1.000100") == mine


def test_items_without_source_ts_never_collide(store: Store) -> None:
    create(store, source_channel=None, source_ts=None)
    create(store, source_channel=None, source_ts=None)
    create(store, source_channel="C0SUP", source_ts=None)
    create(store, source_channel="C0SUP", source_ts=None)
    assert len(store.list_items()) == 4


def test_lookups_return_none_for_strangers(store: Store) -> None:
    item = create(store, source_channel="C0SUP", source_ts="1.000100")
    assert store.get_item(workspace="T0OTHER", item_id=item.id) is None
    assert store.get_item(workspace="T0WORK", item_id=item.id + 100) is None
    assert store.find_item_by_source(workspace="T0WORK", channel="C0SUP", ts="1.000200") is None
    assert store.find_item_by_intake_key(workspace="T0WORK", key="nope") is None
    assert store.find_item_by_card(workspace="T0WORK", channel="C0PAY", ts="1.0") is None


def test_list_items_orders_by_forwarded_at_and_filters(store: Store) -> None:
    late = create(store, forwarded_at=T0 + timedelta(hours=2))
    early = create(store, forwarded_at=T0)
    other = create(store, workspace="T0OTHER", forwarded_at=T0 + timedelta(hours=1))

    assert [i.id for i in store.list_items()] == [early.id, other.id, late.id]
    assert [i.id for i in store.list_items(workspace="T0WORK")] == [early.id, late.id]
    since = store.list_items(forwarded_since=T0 + timedelta(hours=1))
    assert [i.id for i in since] == [other.id, late.id]


def test_update_item_applies_changes_event_and_outbox(store: Store) -> None:
    item = create(store)
    event = Event(item_id=item.id, kind="routed", actor=None, at=T0, data={"ts": "9.1"})

    updated = store.update_item(
        workspace="T0WORK",
        item_id=item.id,
        changes={
            "status": "routed",
            "card_channel": "C0PAY",
            "card_ts": "9.1",
            "assignees": ["U0A", "U0B"],
        },
        event=event,
        outbox=[NewOutbox(kind="notice", payload={"kind": "routed"})],
    )

    assert updated is not None
    assert (updated.status, updated.card_channel, updated.card_ts) == ("routed", "C0PAY", "9.1")
    assert updated.assignees == ["U0A", "U0B"]
    assert store.get_item(workspace="T0WORK", item_id=item.id) == updated
    assert store.find_item_by_card(workspace="T0WORK", channel="C0PAY", ts="9.1") == updated
    assert [e.kind for e in store.events_for(workspace="T0WORK", item_id=item.id)] == [
        "received",
        "routed",
    ]
    assert [e.payload for e in store.outbox_due(now=FAR_FUTURE)] == [{"kind": "routed"}]


def test_update_item_only_if_records_one_first_response(store: Store) -> None:
    item = create(store)

    def respond(by: str, at: datetime) -> Item | None:
        return store.update_item(
            workspace="T0WORK",
            item_id=item.id,
            changes={
                "first_response_at": at,
                "first_response_by": by,
                "first_response_kind": "button",
                "status": "responded",
            },
            event=Event(item_id=item.id, kind="responded", actor=by, at=at),
            outbox=[NewOutbox(kind="card_update")],
            only_if={"first_response_at": None},
        )

    first = respond("U0ALICE", T0 + timedelta(minutes=1))
    second = respond("U0BOB", T0 + timedelta(minutes=2))

    assert first is not None
    assert second is None
    now = store.get_item(workspace="T0WORK", item_id=item.id)
    assert now is not None
    assert (now.first_response_by, now.first_response_at) == ("U0ALICE", T0 + timedelta(minutes=1))
    events = store.events_for(workspace="T0WORK", item_id=item.id)
    assert [(e.kind, e.actor) for e in events] == [
        ("received", "U0SUPPORT"),
        ("responded", "U0ALICE"),
    ]
    assert store.outbox_pending_count() == 1


def test_update_item_only_if_compares_values(store: Store) -> None:
    item = create(store, status="routed")
    stale = store.update_item(
        workspace="T0WORK",
        item_id=item.id,
        changes={"status": "resolved"},
        only_if={"status": "received"},
    )
    fresh = store.update_item(
        workspace="T0WORK",
        item_id=item.id,
        changes={"status": "resolved"},
        only_if={"status": "routed"},
    )
    assert stale is None
    assert fresh is not None and fresh.status == "resolved"


def test_update_item_of_a_missing_item_returns_none(store: Store) -> None:
    item = create(store)
    event = Event(item_id=item.id, kind="note", actor=None, at=T0)
    assert (
        store.update_item(workspace="T0OTHER", item_id=item.id, changes={"note": "x"}, event=event)
        is None
    )
    assert (
        store.update_item(
            workspace="T0WORK", item_id=item.id + 1, changes={"note": "x"}, event=event
        )
        is None
    )
    assert len(store.events_for(workspace="T0WORK", item_id=item.id)) == 1


@pytest.mark.parametrize(
    ("changes", "only_if"),
    [({"colour": "red"}, None), ({"note": "x"}, {"colour": None}), ({"note; DROP": 1}, None)],
)
def test_update_item_rejects_unknown_columns(
    store: Store, changes: dict[str, object], only_if: dict[str, object] | None
) -> None:
    item = create(store)
    with pytest.raises(ValueError, match="unknown"):
        store.update_item(workspace="T0WORK", item_id=item.id, changes=changes, only_if=only_if)
    assert store.get_item(workspace="T0WORK", item_id=item.id) == item


def test_events_are_append_only_and_ordered(store: Store) -> None:
    item = create(store)
    other = create(store)
    # Deliberately out of time order: events keep the order they were written in.
    for minutes, kind in [(5, "routed"), (3, "comment"), (9, "resolved")]:
        at = T0 + timedelta(minutes=minutes)
        store.update_item(
            workspace="T0WORK",
            item_id=item.id,
            changes={},
            event=Event(
                item_id=item.id,
                kind=kind,
                actor="U0X",
                at=at,
                data={"text": "é \u202e", "n": [1, 2]},
            ),
        )
    store.update_item(
        workspace="T0WORK",
        item_id=other.id,
        changes={},
        event=Event(item_id=other.id, kind="routed", actor=None, at=T0),
    )

    events = store.events_for(workspace="T0WORK", item_id=item.id)
    assert [e.kind for e in events] == ["received", "routed", "comment", "resolved"]
    assert events[2] == Event(
        item_id=item.id,
        kind="comment",
        actor="U0X",
        at=T0 + timedelta(minutes=3),
        data={"text": "é \u202e", "n": [1, 2]},
    )
    assert store.events_for(workspace="T0OTHER", item_id=item.id) == []


def test_events_of_kind_lists_one_kind_in_one_workspace_in_written_order(store: Store) -> None:
    first, second = create(store), create(store)
    elsewhere = create(store, workspace="T0OTHER")
    for item, minutes in ((second, 5), (first, 3), (elsewhere, 1), (first, 9)):
        at = T0 + timedelta(minutes=minutes)
        store.update_item(workspace=item.workspace, item_id=item.id, changes={},
                          event=Event(item.id, "reassigned", "U0X", at,
                                      {"from": "payments", "to": "mobile", "n": minutes}))
    store.update_item(workspace="T0WORK", item_id=first.id, changes={},
                      event=Event(first.id, "comment", "U0X", T0))

    moved = store.events_of_kind(workspace="T0WORK", kind="reassigned")
    assert [(e.item_id, e.data["n"]) for e in moved] == [(second.id, 5), (first.id, 3),
                                                         (first.id, 9)]
    assert moved[0] == Event(second.id, "reassigned", "U0X", T0 + timedelta(minutes=5),
                             {"from": "payments", "to": "mobile", "n": 5})
    assert [e.item_id for e in store.events_of_kind(workspace="T0OTHER", kind="reassigned")] == [
        elsewhere.id]
    assert store.events_of_kind(workspace="T0WORK", kind="escalated") == []


def test_create_item_conflicting_with_a_row_it_cannot_find_raises_and_writes_nothing(
    store: Store,
) -> None:
    # Neither the source nor the intake key finds the row a unique index refused (here
    # an extra index; in life, a row deleted in between): a clear error, on every backend.
    first = create(store, text="same words", outbox=[NewOutbox("card")])
    execute(store, "CREATE UNIQUE INDEX items_test_text ON items (workspace, text)")
    try:
        with pytest.raises(RuntimeError, match="conflicted with a row that is not there"):
            create(store, text="same words", outbox=[NewOutbox("card")])
        assert [item.id for item in store.list_items()] == [first.id]
        assert store.outbox_pending_count() == 1
        assert len(table_rows(store, "events")) == 1
    finally:
        execute(store, "DROP INDEX items_test_text")


def test_times_round_trip_as_aware_utc(store: Store) -> None:
    plus_two = timezone(timedelta(hours=2))
    received_at = datetime(2024, 5, 6, 10, 59, 59, 999999, tzinfo=plus_two)
    responded_at = datetime(2024, 5, 6, 9, 30, 0, 1, tzinfo=UTC)
    item = create(
        store, received_at=received_at, first_response_at=responded_at, outbox=[NewOutbox("card")]
    )

    got = store.get_item(workspace="T0WORK", item_id=item.id)
    assert got is not None
    for moment, expected in [
        (got.received_at, received_at),
        (got.first_response_at, responded_at),
        (got.forwarded_at, T0),
    ]:
        assert moment == expected
        assert moment is not None and moment.utcoffset() == timedelta(0)
    assert got.resolved_at is None
    (event,) = store.events_for(workspace="T0WORK", item_id=item.id)
    assert event.at == T0 and event.at.utcoffset() == timedelta(0)
    (entry,) = store.outbox_due(now=T0)
    assert entry.created_at == T0 and entry.next_attempt_at.utcoffset() == timedelta(0)


def test_times_order_as_instants_not_as_text(store: Store) -> None:
    # Added with the PostgreSQL backend, but for every backend: offsets and microseconds
    # order as instants (ISO UTC text in SQLite, timestamptz in PostgreSQL).
    plus_two = timezone(timedelta(hours=2))
    early = create(store, forwarded_at=datetime(2024, 5, 6, 11, 0, tzinfo=plus_two))  # 09:00Z
    late = create(store, forwarded_at=datetime(2024, 5, 6, 9, 0, 0, 1, tzinfo=UTC))
    assert [i.id for i in store.list_items()] == [early.id, late.id]
    since = store.list_items(forwarded_since=datetime(2024, 5, 6, 9, 0, 0, 1, tzinfo=UTC))
    assert [i.id for i in since] == [late.id]


def test_prune_items_deletes_old_items_with_everything_kept_about_them(store: Store) -> None:
    now = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    old = create(store, workspace="T0WORK", forwarded_at=now - timedelta(days=400),
                 received_at=now - timedelta(days=400))
    recent = create(store, workspace="T0WORK", forwarded_at=now - timedelta(days=10),
                    received_at=now - timedelta(days=10))
    store.add_follower(workspace="T0WORK", item_id=old.id, user="U0X", now=now)
    assert store.set_flag_once(workspace="T0WORK", item_id=old.id, flag="reminded", now=now)
    store.update_item(workspace="T0WORK", item_id=old.id, changes={},
                      event=Event(old.id, "comment", "U0X", now),
                      outbox=[NewOutbox(kind="card_update")])
    assert store.prune_items(forwarded_before=now - timedelta(days=365)) == 1
    assert store.get_item(workspace="T0WORK", item_id=old.id) is None
    assert store.events_for(workspace="T0WORK", item_id=old.id) == []
    assert store.followers(workspace="T0WORK", item_id=old.id) == []
    assert store.outbox_for_item(workspace="T0WORK", item_id=old.id) == []
    assert store.get_item(workspace="T0WORK", item_id=recent.id) is not None
    assert len(store.events_for(workspace="T0WORK", item_id=recent.id)) == 1


def test_an_item_is_found_by_a_card_it_had_before_a_reassignment(store: Store) -> None:
    item = create(store, workspace="T0WORK")
    for channel, ts in (("C0OLD", "1714980000.000100"), ("C0NEW", "1714980100.000100")):
        store.update_item(workspace="T0WORK", item_id=item.id,
                          changes={"card_channel": channel, "card_ts": ts},
                          event=Event(item.id, "routed", None, T0,
                                      {"channel": channel, "ts": ts}))
    found = store.find_item_by_past_card(workspace="T0WORK", channel="C0OLD",
                                         ts="1714980000.000100")
    assert found is not None and found.id == item.id
    assert store.find_item_by_past_card(workspace="T0WORK", channel="C0OLD",
                                        ts="1714980100.000100") is None
    assert store.find_item_by_past_card(workspace="T0OTHER", channel="C0OLD",
                                        ts="1714980000.000100") is None


def test_lone_surrogates_are_stored_as_replacement_characters(store: Store) -> None:
    item = store.create_item(
        item=make_item(workspace="T0WORK", text="lost \ud800 words", customer="Ac\udfffme",
                       source_ts="1.5"),
        event=Event(0, "received", "U0\ud83d", T0, {"note": "odd \udc00"}),
        outbox=[NewOutbox("card", {"text": "card \ud800"})])
    assert (item.text, item.customer) == ("lost \ufffd words", "Ac\ufffdme")
    [event] = store.events_for(workspace="T0WORK", item_id=item.id)
    assert event.actor == "U0\ufffd" and event.data == {"note": "odd \ufffd"}
    [entry] = store.outbox_for_item(workspace="T0WORK", item_id=item.id)
    assert entry.payload == {"text": "card \ufffd"}


def test_item_workspaces_lists_each_workspace_once_in_byte_order(store: Store) -> None:
    assert store.item_workspaces() == []
    for workspace in ("T0WORK", "E1:T2", "T0WORK", "msteams:tenant", "t0lower"):
        create(store, workspace=workspace)
    assert store.item_workspaces() == ["E1:T2", "T0WORK", "msteams:tenant", "t0lower"]


def test_inbox_claims_give_each_row_to_one_holder_until_its_lease_lapses(store):
    now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    later = now + timedelta(seconds=30)

    def add(key, **lease):
        return store.inbox_add(workspace="T0", kind="event", dedupe_key=key, body="{}",
                               headers={}, received_at=now, **lease)

    mine = add("Ev1", lease_owner="serve", lease_until=later)
    free = add("Ev2")
    teams = add("Ev3", platform="msteams")
    assert store.inbox_claimable(owner="w1", now=now, platforms=["slack"])
    assert [row.id for row in store.inbox_claim(owner="w1", now=now, until=later,
                                                platforms=["slack"])] == [free]
    assert store.inbox_claim(owner="w2", now=now, until=later, platforms=["slack"]) == []
    assert not store.inbox_claimable(owner="w2", now=now, platforms=["slack"])
    # Its holder may take a row again; others wait until the lease lapses.
    assert [row.id for row in store.inbox_claim(owner="serve", now=now, until=later,
                                                include_own=True)] == [mine, teams]
    assert store.inbox_lease_owners() == ["serve", "w1"]
    assert [row.id for row in store.inbox_claim(
        owner="w2", now=later + timedelta(seconds=1), until=later + timedelta(minutes=1),
        platforms=["slack"])] == [mine, free]
    store.inbox_done(free)
    assert store.inbox_release(owner="w2") == 1
    assert store.inbox_lease_owners() == ["serve"]
