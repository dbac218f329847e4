"""`retention_days` anonymises old items: their words go, their timings and figures stay."""

from __future__ import annotations

import logging
from datetime import timedelta

from bot.erasure import ERASED
from bot.metrics import compute_figures
from bot.models import utcnow
from handlers.slack.standin.payloads import event_callback, message_event, slash_command
from tests.slack_harness import example_config, make_fake_slack, running_bot
from tests.test_forget import dump


def _figures(store, start, end, now):
    found = compute_figures(items=store.list_items(), config=example_config(), start=start,
                            end=end, now=now)
    return found.teams, found.overall, [(w.item.id, w.age) for w in found.waiting]


async def _forward(running, text: str):
    before = {item.id for item in running.store.list_items()}
    await running.slack.send_command(slash_command(text=text, user_id="U0SUPPORT",
                                                   channel_id="C0GENERAL"))
    await running.settle()
    [item] = [item for item in running.store.list_items() if item.id not in before]
    assert item.card_ts
    return item


async def test_retention_anonymises_old_items_and_their_figures_stay(tmp_path, caplog):
    db = tmp_path / "bot.db"
    ahead = [timedelta(0)]
    start = utcnow()
    async with make_fake_slack() as slack, running_bot(
            slack, db, clock=lambda: utcnow() + ahead[0]) as running:
        old = await _forward(running, "refund for the zanzibar order failed")
        await running.slack.send_event(event_callback(message_event(
            channel=old.card_channel, user="U0ALICE", thread_ts=old.card_ts,
            text="zanzibar refund is sent again")))
        await running.settle()
        ahead[0] = timedelta(days=200)
        new = await _forward(running, "the quagmire invoice shows the wrong tax rate")
        store = running.store
        later = start + timedelta(days=400)
        windows = [(start - timedelta(days=1), start + timedelta(days=1)),
                   (start + timedelta(days=199), start + timedelta(days=201))]
        before = [_figures(store, since, until, later) for since, until in windows]
        old = store.get_item(workspace="T0DEMO", item_id=old.id)
        assert old.first_response_by == "U0ALICE"

        ahead[0] = timedelta(days=400)
        with caplog.at_level(logging.INFO, logger="bot.scheduler"):
            await running.bot.scheduler.tick()
        await running.settle()

        assert [_figures(store, since, until, later) for since, until in windows] == before
        anonymised = store.get_item(workspace="T0DEMO", item_id=old.id)
        assert (anonymised.text, anonymised.forwarded_by, anonymised.first_response_by) == (
            ERASED, ERASED, ERASED)
        for timing in ("received_at", "forwarded_at", "first_response_at", "team", "status",
                       "severity", "reassignments"):
            assert getattr(anonymised, timing) == getattr(old, timing)
        assert store.get_item(workspace="T0DEMO", item_id=new.id).text == new.text
        assert "anonymised 1 item(s) older than retention_days (365)" in caplog.text
        # Items already anonymised are left alone.
        assert store.anonymise_items(forwarded_before=later - timedelta(days=365),
                                     now=later).items == []
    everything = dump(db)
    assert "zanzibar" not in everything and "quagmire" in everything
