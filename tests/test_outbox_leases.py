"""Several processes share one outbox: each entry is attempted by one of them at a time."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

from bot.config import Config
from bot.intake import IntakeService
from bot.outbox import LEASE, OutboxWorker
from bot.store import Store
from storage import open_store
from tests.fakes import FrozenClock, RecordingChatPort, intake_request


async def test_two_workers_on_one_store_post_each_card_once(tmp_path, example_config: Config):
    clock = FrozenClock()
    shared = f"sqlite:///{tmp_path / 'shared.db'}"
    store_a, store_b = open_store(shared), open_store(shared)
    intake = IntakeService(store=store_a, config=example_config, clock=clock,
                           port=RecordingChatPort(internal_users={"U0SUPPORT"}))
    for _ in range(3):
        await intake.forward(intake_request(at=clock(), as_new=True))
    chat = RecordingChatPort(clock=clock)
    worker_a = OutboxWorker(store=store_a, port=chat, config=example_config, clock=clock)
    worker_b = OutboxWorker(store=store_b, port=chat, config=example_config, clock=clock)
    # Both see the same due entries; the lease lets only one attempt each.
    due_for_b = store_b.outbox_due(now=clock())
    await worker_a.drain_once()
    for entry in due_for_b:
        assert not store_b.outbox_lease(
            entry.id, owner=worker_b.owner, now=clock(), until=clock() + LEASE, maybe_posts=True
        )
    await worker_b.drain_once()
    assert len(chat.cards) == 3
    store_a.close()
    store_b.close()


def test_a_lease_lapses_so_a_crashed_holder_does_not_block_forever(fresh_store: Store):
    clock = FrozenClock()
    entry_id = fresh_store.outbox_enqueue(
        workspace="T1", item_id=None, now=clock(), entry=_notice()
    )
    assert fresh_store.outbox_lease(
        entry_id, owner="a", now=clock(), until=clock() + LEASE, maybe_posts=True
    )
    assert not fresh_store.outbox_lease(
        entry_id, owner="b", now=clock(), until=clock() + LEASE, maybe_posts=True
    )
    later = clock() + LEASE + timedelta(seconds=1)
    assert fresh_store.outbox_lease(
        entry_id, owner="b", now=later, until=later + LEASE, maybe_posts=True
    )


def test_leases_of_dead_processes_on_this_host_are_released(fresh_store, example_config):
    import socket

    clock = FrozenClock()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    entry_id = fresh_store.outbox_enqueue(
        workspace="T1", item_id=None, now=clock(), entry=_notice()
    )
    owner = f"{socket.gethostname()}:{dead.pid}:abc"
    assert fresh_store.outbox_lease(
        entry_id, owner=owner, now=clock(), until=clock() + LEASE, maybe_posts=True
    )
    alive_id = fresh_store.outbox_enqueue(
        workspace="T1", item_id=None, now=clock(), entry=_notice()
    )
    import os

    alive_owner = f"{socket.gethostname()}:{os.getppid()}:def"
    assert fresh_store.outbox_lease(
        alive_id, owner=alive_owner, now=clock(), until=clock() + LEASE, maybe_posts=True
    )
    worker = OutboxWorker(
        store=fresh_store, port=RecordingChatPort(clock=clock), config=example_config, clock=clock
    )
    assert worker.release_dead_leases() == 1
    assert fresh_store.outbox_leases() == [(alive_id, alive_owner)]


def _notice():
    from bot.outbox import notice_entry
    from bot.ports import Notice

    return notice_entry(Notice(kind="rejected", user="U1", data={"reason": "x"}))


async def test_a_stopped_runtime_frees_its_leases_for_the_next_process(fresh_store,
                                                                      example_config):
    # A restarted container often gets the same pid, so a lease left behind by a clean
    # stop would hold its entry until the lease lapsed.
    from bot.runtime import Runtime

    clock = FrozenClock()
    entry_id = fresh_store.outbox_enqueue(workspace="T1", item_id=None, now=clock(),
                                          entry=_notice())
    before = Runtime(config=example_config, store=fresh_store, clock=clock)
    assert fresh_store.outbox_lease(entry_id, owner=before.outbox.owner, now=clock(),
                                    until=clock() + LEASE, maybe_posts=True)
    fresh_store.close = lambda: None  # the next "process" below reads the same store
    await before.stop()
    after = OutboxWorker(store=fresh_store, port=RecordingChatPort(), config=example_config,
                         clock=clock)
    assert after.release_dead_leases() == 0  # same pid: not taken for a dead process
    assert fresh_store.outbox_lease(entry_id, owner=after.owner, now=clock(),
                                    until=clock() + LEASE, maybe_posts=True)
