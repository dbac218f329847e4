"""Contract tests for the outbox, once-only markers and small state, on every backend.

The `store` fixture (tests/conftest.py) gives an empty store of each backend.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from bot.models import Event
from bot.store import Conversation, NewOutbox, Store
from tests.fakes import DEFAULT_START
from tests.store_backends import create

T0 = DEFAULT_START
FAR_FUTURE = datetime(2100, 1, 1, tzinfo=UTC)
LEASE = timedelta(minutes=5)


def notice(store: Store, *, now: datetime = T0, workspace: str = "T0WORK") -> int:
    """Enqueue one notice without an item; return its id."""
    return store.outbox_enqueue(workspace=workspace, item_id=None,
                                entry=NewOutbox("notice", {"to": "U0X"}), now=now)


# --- outbox ------------------------------------------------------------------------------


def test_outbox_due_is_oldest_first_and_respects_next_attempt(store: Store) -> None:
    a = create(store, outbox=[NewOutbox("card")])
    b = create(store, outbox=[NewOutbox("card")])
    c = create(store, outbox=[NewOutbox("card")])
    entries = store.outbox_due(now=T0)
    assert [e.item_id for e in entries] == [a.id, b.id, c.id]
    assert all(e.next_attempt_at == T0 and e.status == "pending" for e in entries)
    assert [e.item_id for e in store.outbox_due(now=T0, limit=2)] == [a.id, b.id]
    # Entries become due at the event's time, not before.
    assert store.outbox_due(now=T0 - timedelta(microseconds=1)) == []

    store.outbox_retry(
        entries[0].id,
        error="ratelimited",
        next_attempt_at=T0 + timedelta(seconds=30),
        unknown_fate=False,
    )
    assert [e.item_id for e in store.outbox_due(now=T0)] == [b.id, c.id]
    later = store.outbox_due(now=T0 + timedelta(seconds=30))
    assert [e.item_id for e in later] == [a.id, b.id, c.id]


def test_outbox_sent_retry_give_up_and_pending_count(store: Store) -> None:
    create(store, outbox=[NewOutbox("card"), NewOutbox("notice"), NewOutbox("card_update")])
    card, notice, update = store.outbox_due(now=T0)
    assert store.outbox_pending_count() == 3

    store.outbox_sent(card.id, result={"ts": "1.1"}, now=T0)
    sent = store.outbox_get(card.id)
    assert sent is not None and (sent.status, sent.attempts) == ("sent", 1)

    store.outbox_retry(
        notice.id, error="timeout", next_attempt_at=T0 + timedelta(seconds=2), unknown_fate=True
    )
    store.outbox_retry(
        notice.id,
        error="internal_error",
        next_attempt_at=T0 + timedelta(seconds=4),
        unknown_fate=False,
    )
    retried = store.outbox_get(notice.id)
    assert retried is not None
    assert (retried.status, retried.attempts, retried.last_error) == (
        "pending",
        2,
        "internal_error",
    )
    assert retried.next_attempt_at == T0 + timedelta(seconds=4)
    # Once a post may have landed, it must be looked up before every later attempt.
    assert retried.unknown_fate is True

    store.outbox_give_up(update.id, error="channel_not_found", now=T0)
    gone = store.outbox_get(update.id)
    assert gone is not None
    assert (gone.status, gone.last_error) == ("failed", "channel_not_found")

    assert store.outbox_pending_count() == 1
    assert [e.id for e in store.outbox_due(now=FAR_FUTURE)] == [notice.id]
    assert store.outbox_get(update.id + 100) is None


def test_outbox_entry_key_names_the_entry(store: Store) -> None:
    create(store, outbox=[NewOutbox("card"), NewOutbox("card")])
    first, second = store.outbox_due(now=T0)
    assert first.key != second.key
    assert str(first.id) in first.key


def test_outbox_enqueue_without_an_item(store: Store) -> None:
    entry_id = store.outbox_enqueue(
        workspace="T0WORK",
        item_id=None,
        entry=NewOutbox(kind="notice", payload={"kind": "rejected", "user": "U0X"}),
    )
    entry = store.outbox_get(entry_id)
    assert entry is not None
    assert (entry.item_id, entry.kind, entry.payload) == (
        None,
        "notice",
        {"kind": "rejected", "user": "U0X"},
    )
    assert store.outbox_pending_count() == 1


# --- outbox leases: one process attempts an entry at a time -------------------------------


def test_outbox_lease_is_exclusive_until_it_lapses(store: Store) -> None:
    entry_id = notice(store)
    assert store.outbox_lease(entry_id, owner="a", now=T0, until=T0 + LEASE, maybe_posts=False)
    assert not store.outbox_lease(entry_id, owner="b", now=T0, until=T0 + LEASE,
                                  maybe_posts=False)
    # Its owner may take it again (the next attempt), pushing the lapse further out.
    later = T0 + timedelta(minutes=1)
    assert store.outbox_lease(entry_id, owner="a", now=later, until=later + LEASE,
                              maybe_posts=False)
    assert not store.outbox_lease(entry_id, owner="b", now=T0 + LEASE, until=FAR_FUTURE,
                                  maybe_posts=False)
    lapsed = later + LEASE + timedelta(microseconds=1)
    assert store.outbox_lease(entry_id, owner="b", now=lapsed, until=lapsed + LEASE,
                              maybe_posts=False)
    assert store.outbox_leases() == [(entry_id, "b")]


def test_outbox_lease_marks_a_possible_post_for_good(store: Store) -> None:
    entry_id = notice(store)
    assert store.outbox_lease(entry_id, owner="a", now=T0, until=T0 + LEASE, maybe_posts=False)
    entry = store.outbox_get(entry_id)
    assert entry is not None and entry.unknown_fate is False
    assert store.outbox_lease(entry_id, owner="a", now=T0, until=T0 + LEASE, maybe_posts=True)
    assert store.outbox_lease(entry_id, owner="a", now=T0, until=T0 + LEASE, maybe_posts=False)
    entry = store.outbox_get(entry_id)
    assert entry is not None and entry.unknown_fate is True


def test_outbox_lease_refuses_entries_that_are_done_or_missing(store: Store) -> None:
    sent, failed, cancelled = notice(store), notice(store), notice(store)
    store.outbox_sent(sent, result={"ts": "1.1"}, now=T0)
    store.outbox_give_up(failed, error="channel_not_found", now=T0)
    assert store.outbox_cancel(cancelled, reason="resolved", now=T0)
    for entry_id in (sent, failed, cancelled, cancelled + 100):
        assert not store.outbox_lease(entry_id, owner="a", now=T0, until=T0 + LEASE,
                                      maybe_posts=True)
    assert store.outbox_leases() == []


def test_outbox_leases_lists_leased_pending_entries_by_id(store: Store) -> None:
    # Due in the reverse order of their ids, and taken newest first, so that neither an
    # index on the due time nor the order rows were rewritten in gives the id order.
    ids = [notice(store, now=T0 - timedelta(minutes=minutes)) for minutes in range(6)]
    for index, entry_id in enumerate(reversed(ids)):
        assert store.outbox_lease(entry_id, owner=f"host:{index}:x", now=T0, until=T0 + LEASE,
                                  maybe_posts=True)
    store.outbox_sent(ids[1], result={}, now=T0)
    store.outbox_retry(ids[3], error="timeout", next_attempt_at=T0, unknown_fate=True)
    expected = [(entry_id, f"host:{5 - ids.index(entry_id)}:x")
                for entry_id in (ids[0], ids[2], ids[4], ids[5])]
    assert store.outbox_leases() == expected


def test_outbox_release_drops_only_that_owners_lease(store: Store) -> None:
    mine, theirs = notice(store), notice(store)
    assert store.outbox_lease(mine, owner="host:1:a", now=T0, until=T0 + LEASE, maybe_posts=True)
    assert store.outbox_lease(theirs, owner="host:2:b", now=T0, until=T0 + LEASE,
                              maybe_posts=True)
    store.outbox_release(mine, owner="host:2:b")  # not its owner: nothing happens
    store.outbox_release(theirs, owner="host:2:b")
    assert store.outbox_leases() == [(mine, "host:1:a")]
    # Released, the entry can be taken by anyone at once, and stays of unknown fate.
    assert store.outbox_lease(theirs, owner="host:3:c", now=T0, until=T0 + LEASE,
                              maybe_posts=False)
    entry = store.outbox_get(theirs)
    assert entry is not None and entry.status == "pending" and entry.unknown_fate is True


def test_outbox_retry_now_makes_waiting_entries_due_except_rate_limited_ones(
    store: Store,
) -> None:
    waiting, limited, due, done = (notice(store) for _ in range(4))
    store.outbox_retry(waiting, error="internal_error", next_attempt_at=T0 + timedelta(hours=1),
                       unknown_fate=False)
    store.outbox_retry(limited, error="ratelimited", next_attempt_at=T0 + timedelta(minutes=1),
                       unknown_fate=False)
    store.outbox_retry(done, error="timeout", next_attempt_at=T0 + timedelta(hours=1),
                       unknown_fate=False)
    store.outbox_give_up(done, error="channel_not_found", now=T0)

    assert store.outbox_retry_now(now=T0) == 1

    assert [entry.id for entry in store.outbox_due(now=T0)] == [waiting, due]
    entry = store.outbox_get(limited)
    assert entry is not None and entry.next_attempt_at == T0 + timedelta(minutes=1)
    gone = store.outbox_get(done)
    assert gone is not None and gone.status == "failed"
    assert store.outbox_retry_now(now=T0) == 0


def test_outbox_cancel_withdraws_only_pending_entries(store: Store) -> None:
    item = create(store, outbox=[NewOutbox("card"), NewOutbox("notice")])
    card, note = store.outbox_for_item(workspace="T0WORK", item_id=item.id)
    store.outbox_sent(card.id, result={"ts": "1.1"}, now=T0)

    assert store.outbox_cancel(note.id, reason="item resolved", now=T0)
    assert not store.outbox_cancel(note.id, reason="again", now=T0)
    assert not store.outbox_cancel(card.id, reason="too late", now=T0)
    assert not store.outbox_cancel(note.id + 100, reason="missing", now=T0)

    card_now, note_now = store.outbox_for_item(workspace="T0WORK", item_id=item.id)
    assert (card_now.status, card_now.result) == ("sent", {"ts": "1.1"})
    assert (note_now.status, note_now.last_error) == ("cancelled", "item resolved")
    assert store.outbox_due(now=FAR_FUTURE) == []
    assert store.outbox_pending_count() == 0


# --- once-only markers ----------------------------------------------------------------------


def test_followers_in_the_order_they_started(store: Store) -> None:
    item = create(store)
    assert store.add_follower(workspace="T0WORK", item_id=item.id, user="U0b", now=T0)
    assert store.add_follower(workspace="T0WORK", item_id=item.id, user="U0B", now=T0)
    assert store.add_follower(workspace="T0WORK", item_id=item.id, user="U0A",
                              now=T0 + timedelta(seconds=1))
    assert not store.add_follower(workspace="T0WORK", item_id=item.id, user="U0b",
                                  now=T0 + timedelta(seconds=2))
    # Same moment: by code point, whatever the database's locale.
    assert store.followers(workspace="T0WORK", item_id=item.id) == ["U0B", "U0b", "U0A"]
    assert store.followers(workspace="T0OTHER", item_id=item.id) == []


def test_followers_keep_their_platform(store: Store) -> None:
    item = create(store)
    store.add_follower(workspace="T0WORK", item_id=item.id, user="U0A", now=T0)
    store.add_follower(workspace="T0WORK", item_id=item.id, user="dan@example.com",
                       now=T0 + timedelta(seconds=1), platform="msteams")
    assert store.followers(workspace="T0WORK", item_id=item.id) == ["U0A", "dan@example.com"]
    assert store.followers(workspace="T0WORK", item_id=item.id, platform="slack") == ["U0A"]
    assert store.followers(workspace="T0WORK", item_id=item.id,
                           platform="msteams") == ["dan@example.com"]


def test_set_flag_once_applies_its_changes_event_and_outbox_once(store: Store) -> None:
    item = create(store)
    later = T0 + timedelta(hours=4)

    def remind() -> bool:
        return store.set_flag_once(
            workspace="T0WORK", item_id=item.id, flag="escalated", now=later,
            changes={"escalated_at": later, "assignees": ["U0LEAD"]},
            event=Event(item.id, "escalated", None, later, {"to": "U0LEAD"}),
            outbox=[NewOutbox("notice", {"kind": "escalated"})],
        )

    assert remind() is True
    assert remind() is False
    stored = store.get_item(workspace="T0WORK", item_id=item.id)
    assert stored is not None
    assert (stored.escalated_at, stored.assignees) == (later, ["U0LEAD"])
    events = store.events_for(workspace="T0WORK", item_id=item.id)
    assert [e.kind for e in events] == ["received", "escalated"]
    (entry,) = store.outbox_due(now=FAR_FUTURE)
    assert (entry.payload, entry.next_attempt_at) == ({"kind": "escalated"}, later)
    # Flags are per item and per name.
    assert store.set_flag_once(workspace="T0WORK", item_id=item.id, flag="reminded", now=later)


def test_set_flag_once_with_an_unknown_column_is_a_value_error_and_claims_nothing(
    store: Store,
) -> None:
    item = create(store)
    with pytest.raises(ValueError, match="unknown item columns"):
        store.set_flag_once(workspace="T0WORK", item_id=item.id, flag="reminded", now=T0,
                            changes={"colour": "red"},
                            event=Event(item.id, "reminded", None, T0))
    assert store.events_for(workspace="T0WORK", item_id=item.id)[-1].kind == "received"
    # The flag is still free.
    assert store.set_flag_once(workspace="T0WORK", item_id=item.id, flag="reminded", now=T0)


def test_claim_digest_claims_each_period_once_with_its_posting(store: Store) -> None:
    def claim(period: str, outbox: list[NewOutbox]) -> int | None:
        return store.claim_digest(workspace="T0WORK", subscription="payments-daily",
                                  period=period, now=T0, late=False, outbox=outbox)

    first = claim("2026-02-27", [NewOutbox("digest", {"period": "2026-02-27"}),
                                 NewOutbox("digest_chart")])
    assert first is not None and first > 0
    assert claim("2026-02-27", [NewOutbox("digest")]) is None
    assert claim("2026-02-28", []) == 0  # claimed, nothing to post
    assert [(e.id, e.kind, e.item_id) for e in store.outbox_due(now=T0)] == [
        (first, "digest", None), (first + 1, "digest_chart", None)]
    assert store.claim_digest(workspace="T0OTHER", subscription="payments-daily",
                              period="2026-02-27", now=T0, late=True, outbox=[]) == 0


def test_outbox_for_digest_finds_the_posts_of_one_period(store: Store) -> None:
    def claim(subscription: str, period: str, workspace: str = "T0WORK") -> int | None:
        payload = {"subscription": subscription, "date": period, "forced": False}
        return store.claim_digest(workspace=workspace, subscription=subscription,
                                  period=period, now=T0, late=False,
                                  outbox=[NewOutbox("digest", payload)])

    wanted = claim("0:C0MANAGERS", "2026-02-27")
    claim("0:C0MANAGERS", "2026-02-28")
    claim("1:C0OTHER", "2026-02-27")
    claim("0:C0MANAGERS", "2026-02-27", workspace="T0OTHER")
    notice(store)
    found = store.outbox_for_digest(workspace="T0WORK", subscription="0:C0MANAGERS",
                                    period="2026-02-27")
    assert [(entry.id, entry.kind, entry.status) for entry in found] == [
        (wanted, "digest", "pending")]
    assert store.outbox_for_digest(workspace="T0WORK", subscription="0:C0MANAGERS",
                                   period="2026-03-01") == []


def test_digest_claims_are_listed_newest_first_by_code_point(store: Store) -> None:
    for period in ("2026-W09", "2026-02-28", "2026-w10", "2026-W10"):
        store.claim_digest(workspace="T0WORK", subscription="weekly", period=period, now=T0,
                           late=False, outbox=[])
    assert store.digest_claims(workspace="T0WORK", subscription="weekly") == [
        "2026-w10", "2026-W10", "2026-W09", "2026-02-28"]
    assert store.digest_claims(workspace="T0WORK", subscription="daily") == []
    assert store.digest_claims(workspace="T0OTHER", subscription="weekly") == []


# --- small state -------------------------------------------------------------------------


def test_next_rotation_counts_per_workspace_and_team(store: Store) -> None:
    turns = [store.next_rotation(workspace="T0WORK", team="mobile") for _ in range(3)]
    assert turns == [0, 1, 2]
    assert store.next_rotation(workspace="T0WORK", team="payments") == 0
    assert store.next_rotation(workspace="T0OTHER", team="mobile") == 0
    assert store.next_rotation(workspace="T0WORK", team="mobile") == 3


def test_next_rotation_is_atomic_across_threads(store: Store) -> None:
    results: list[int] = []
    lock = threading.Lock()

    def take_turns() -> None:
        for _ in range(25):
            turn = store.next_rotation(workspace="T0WORK", team="mobile")
            with lock:
                results.append(turn)

    threads = [threading.Thread(target=take_turns) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == list(range(200))


def test_drafts_round_trip(store: Store) -> None:
    text = ('é\u202e👩\u200d💻 \x01 "quoted", <b>&\n' * 6250)[:100_000]
    data = {"text": text, "channel": "C0SUP", "ts": "1.000100", "nested": {"files": ["F1"]}}
    draft_id = store.save_draft(workspace="T0WORK", data=data, now=T0)
    assert store.get_draft(workspace="T0WORK", draft_id=draft_id) == data
    assert store.get_draft(workspace="T0OTHER", draft_id=draft_id) is None
    assert store.get_draft(workspace="T0WORK", draft_id=draft_id + 1) is None


def test_channel_shared_cache(store: Store) -> None:
    assert store.get_channel_shared(workspace="T0WORK", channel="C0X") is None
    store.set_channel_shared(workspace="T0WORK", channel="C0X", shared=True, now=T0)
    assert store.get_channel_shared(workspace="T0WORK", channel="C0X") is True
    assert store.get_channel_shared(workspace="T0OTHER", channel="C0X") is None
    store.set_channel_shared(workspace="T0WORK", channel="C0X", shared=False, now=T0)
    assert store.get_channel_shared(workspace="T0WORK", channel="C0X") is False


def test_workspace_revoked_flag(store: Store) -> None:
    assert store.is_workspace_revoked(workspace="T0WORK") is False
    store.set_workspace_revoked(workspace="T0WORK", revoked_at=T0)
    assert store.is_workspace_revoked(workspace="T0WORK") is True
    assert store.is_workspace_revoked(workspace="T0OTHER") is False
    # Reinstalling clears the flag.
    store.set_workspace_revoked(workspace="T0WORK", revoked_at=None)
    assert store.is_workspace_revoked(workspace="T0WORK") is False



# --- conversations the bot was added to ------------------------------------------------


def _conversation(conversation_id: str, **changes: object) -> Conversation:
    values: dict = {"platform": "msteams", "conversation_id": conversation_id,
                    "workspace": "msteams:tenant-1", "kind": "channel",
                    "service_url": "https://smba.example/emea/",
                    "reference": {"conversation": {"id": conversation_id}, "é": "\u202e"},
                    "tenant": "tenant-1", "team_id": "19:general@thread.tacv2"}
    values.update(changes)
    return Conversation(**values)


def test_conversations_are_saved_refreshed_and_removed(store: Store) -> None:
    store.save_conversation(_conversation("19:mobile@thread.tacv2"), now=T0)
    saved = store.get_conversation(platform="msteams", conversation_id="19:mobile@thread.tacv2")
    assert saved is not None
    assert (saved.kind, saved.service_url, saved.reference, saved.updated_at) == (
        "channel", "https://smba.example/emea/",
        {"conversation": {"id": "19:mobile@thread.tacv2"}, "é": "\u202e"}, T0)
    # A later install activity from another region moves it; a missing team id is kept.
    store.save_conversation(_conversation("19:mobile@thread.tacv2", team_id=None,
                                          service_url="https://smba.example/amer/"),
                            now=T0 + LEASE)
    moved = store.get_conversation(platform="msteams", conversation_id="19:mobile@thread.tacv2")
    assert moved is not None
    assert (moved.service_url, moved.team_id) == ("https://smba.example/amer/",
                                                  "19:general@thread.tacv2")
    assert store.get_conversation(platform="slack",
                                  conversation_id="19:mobile@thread.tacv2") is None

    store.remove_conversation(platform="msteams", conversation_id="19:mobile@thread.tacv2",
                              now=T0 + 2 * LEASE)
    assert store.list_conversations(platform="msteams") == []
    (kept,) = store.list_conversations(platform="msteams", include_removed=True)
    assert kept.removed_at == T0 + 2 * LEASE
    store.save_conversation(_conversation("19:mobile@thread.tacv2"), now=T0 + 3 * LEASE)
    assert [c.removed_at for c in store.list_conversations(platform="msteams")] == [None]


def test_personal_conversations_are_found_by_person(store: Store) -> None:
    store.save_conversation(_conversation("a:1carol", kind="personal", team_id=None,
                                          user="carol@example.com"), now=T0)
    store.save_conversation(_conversation("19:ch@thread.tacv2"), now=T0)
    found = store.personal_conversation(platform="msteams", user="carol@example.com")
    assert found is not None and found.conversation_id == "a:1carol"
    assert store.personal_conversation(platform="msteams", user="dan@example.com") is None
    assert [c.conversation_id for c in store.list_conversations(
        platform="msteams", kind="personal")] == ["a:1carol"]
    store.remove_conversation(platform="msteams", conversation_id="a:1carol", now=T0)
    assert store.personal_conversation(platform="msteams", user="carol@example.com") is None


def test_inbox_rows_keep_their_platform(store: Store) -> None:
    slack = store.inbox_add(workspace="T0WORK", kind="event_callback", dedupe_key="Ev1",
                            body="{}", headers={}, received_at=T0)
    teams = store.inbox_add(workspace="msteams:tenant-1", kind="message", dedupe_key="act-1",
                            body="{}", headers={}, received_at=T0, platform="msteams")
    assert {row.id: row.platform for row in store.inbox_pending()} == {slack: "slack",
                                                                       teams: "msteams"}
