"""Nothing is lost and nothing is doubled: outages, restarts, rate limits, timeouts."""

from __future__ import annotations

import time

from handlers.slack.port import METADATA_EVENT
from handlers.slack.standin.payloads import event_callback, message_event
from handlers.slack.standin.slack_server import FakeSlack
from tests.slack_harness import make_fake_slack, running_bot

TEAM_CHANNELS = ("C0PAYMENTS", "C0MOBILE", "C0TRIAGE")


async def _quiet(running) -> None:
    """Wait until no listener is running (the inbox and outbox may still hold work)."""
    import asyncio

    for _ in range(250):
        await asyncio.sleep(0.02)
        if running.bot.deps.in_flight == 0:
            return
    raise AssertionError("listeners still running")


def cards_per_item(slack: FakeSlack) -> dict[int, int]:
    """How many cards each item has in the team channels, read from the fake workspace."""
    counts: dict[int, int] = {}
    for channel in TEAM_CHANNELS:
        for message in slack.messages(channel):
            metadata = message.get("metadata") or {}
            if metadata.get("event_type") == METADATA_EVENT and not message.get("thread_ts"):
                item = int(metadata["event_payload"]["item"])
                counts[item] = counts.get(item, 0) + 1
    return counts


async def test_outage_with_a_restart_delivers_every_card_and_relay_once(tmp_path):
    db = tmp_path / "bot.db"
    async with make_fake_slack() as slack:
        async with running_bot(slack, db) as running:
            # Sam forwarded before, so the bot already knows Sam is staff.
            await running.slack.send_event(
                event_callback(
                    message_event(channel="C0INTAKE", user="U0SUPPORT", text="refund missing")
                )
            )
            await running.settle()
            slack.set_outage(True)
            sent_at = time.time()
            for user, text in (("U0SUPPORT", "app crash on login"), ("U0SUPPORT2", "what is SSO")):
                response = await running.slack.send_event(
                    event_callback(message_event(channel="C0INTAKE", user=user, text=text))
                )
                # Persist before acknowledging: Slack hears 200 even while its API is down.
                assert response.status == 200
            await _quiet(running)
            # Sam's item is stored with its card waiting; Priya can't be checked until
            # Slack answers, so her post waits in the inbox.
            assert [item.card_ts is None for item in running.store.list_items()] == [False, True]
            assert len(running.store.inbox_pending()) == 1
        # Restart while Slack is still failing; the new process must finish the work.
        async with running_bot(slack, db, wait=False) as running:
            slack.set_outage(False)
            await running.bot.wait_ready()
            await running.settle(timeout=20)
            assert cards_per_item(slack) == {1: 1, 2: 1, 3: 1}
            waited = max(call.at for call in slack.calls_to("chat.postMessage")) - sent_at
            assert waited < 20
            item = running.store.get_item(workspace="T0DEMO", item_id=1)
            slack.set_outage(True)
            await running.slack.send_event(
                event_callback(
                    message_event(
                        channel=item.card_channel,
                        user="U0ALICE",
                        thread_ts=item.card_ts,
                        text="refund is on its way",
                    )
                )
            )
            await _quiet(running)
        async with running_bot(slack, db, wait=False) as running:
            slack.set_outage(False)
            await running.bot.wait_ready()
            await running.settle(timeout=20)
            relays = [
                m for m in slack.messages("C0INTAKE") if "refund is on its way" in m.get("text", "")
            ]
            assert len(relays) == 1
            assert cards_per_item(slack) == {1: 1, 2: 1, 3: 1}


async def test_a_burst_of_429s_is_waited_out_and_nothing_is_doubled(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "b.db") as running:
        slack.rate_limit_next("chat.postMessage", count=4, retry_after=1)
        for text in ("the refund never arrived", "the invoice has the wrong address",
                     "no receipt after paying"):
            await running.slack.send_event(
                event_callback(message_event(channel="C0INTAKE", user="U0SUPPORT", text=text))
            )
        await running.settle(timeout=20)
        assert cards_per_item(slack) == {1: 1, 2: 1, 3: 1}
        attempts = slack.calls_to("chat.postMessage", include_failed=True)
        limited = [call for call in attempts if call.status == 429]
        assert len(limited) == 4
        first_limit = min(call.at for call in limited)
        later_successes = [call.at for call in attempts if call.ok and call.at > first_limit]
        # Retry-After: 1 is honoured before the next successful post.
        assert later_successes and min(later_successes) - first_limit >= 0.95


async def test_a_post_that_timed_out_but_landed_is_found_not_resent(tmp_path):
    async with (
        make_fake_slack() as slack,
        running_bot(slack, tmp_path / "b.db", api_timeout=1) as running,
    ):
        # The client gives up after 1 s; hold the answer longer so the fate is unknown.
        slack.delay_next("chat.postMessage", seconds=2)
        await running.slack.send_event(
            event_callback(
                message_event(channel="C0INTAKE", user="U0SUPPORT", text="refund timeout case")
            )
        )
        await running.settle(timeout=15)
        assert cards_per_item(slack) == {1: 1}
        assert slack.calls_to("conversations.history"), "the lost post was looked up"


async def test_a_permanent_error_flags_the_item_and_tells_the_forwarder(tmp_path):
    async with make_fake_slack() as slack:
        slack.update_channel("C0PAYMENTS", is_archived=True)
        async with running_bot(slack, tmp_path / "b.db") as running:
            await running.slack.send_event(
                event_callback(
                    message_event(
                        channel="C0INTAKE", user="U0SUPPORT", text="refund for archived team"
                    )
                )
            )
            await running.settle(timeout=10)
            item = running.store.list_items()[0]
            assert item.failed and "archived" in item.failed
            told = [
                m for m in slack.messages("C0INTAKE") if "couldn't deliver" in m.get("text", "")
            ]
            assert len(told) == 1
            attempts = [
                c
                for c in slack.calls_to("chat.postMessage", include_failed=True)
                if c.args.get("channel") == "C0PAYMENTS"
            ]
            assert len(attempts) == 1


async def test_after_uninstall_nothing_is_sent_and_data_is_kept(tmp_path):
    from handlers.slack.standin.payloads import app_uninstalled_event

    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "b.db") as running:
        await running.bot.port.user_info("T0DEMO", "U0SUPPORT")  # Sam is known from before
        # Uninstalling revokes the token: Slack refuses it from then on.
        slack.revoked = True
        await running.slack.send_event(event_callback(app_uninstalled_event()))
        await running.settle()
        assert running.store.is_workspace_revoked(workspace="T0DEMO")
        before = len(slack.calls_to("chat.postMessage", include_failed=True))
        await running.slack.send_event(
            event_callback(
                message_event(channel="C0INTAKE", user="U0SUPPORT", text="refund after uninstall")
            )
        )
        await running.settle(due_only=True)
        assert len(running.store.list_items()) == 1
        assert len(slack.calls_to("chat.postMessage", include_failed=True)) == before


async def test_requests_while_slack_is_down_at_start_up_are_kept_and_finished(tmp_path):
    from handlers.slack.standin.payloads import slash_command

    async with make_fake_slack() as slack:
        slack.set_outage(True)
        async with running_bot(slack, tmp_path / "b.db", wait=False) as running:
            response = await running.slack.send_command(slash_command(
                text="refund never arrived", user_id="U0SUPPORT", channel_id="C0GENERAL"))
            assert response.status == 200
            # Not Bolt's "please install this app": the request is saved.
            assert "saved" in response.body and "install" not in response.body
            assert running.store.list_items() == []
            slack.set_outage(False)
            await running.bot.wait_ready(timeout=20)
            await running.settle(timeout=20)
            (item,) = running.store.list_items()
            assert item.text == "refund never arrived" and item.card_ts
            dm = slack.dm_channel("U0SUPPORT")
            told = [call for call in slack.calls_to("chat.postMessage")
                    if call.args.get("channel") in ("U0SUPPORT", dm)]
            assert len(told) == 1 and "went to" in told[0].args["text"]


async def test_a_card_whose_channel_could_not_be_checked_during_an_outage_is_posted_after(
        tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "b.db") as running:
        # Sam is known from before; the team channel has never been looked up.
        await running.bot.port.user_info("T0DEMO", "U0SUPPORT")
        slack.set_outage(True)
        await running.slack.send_event(event_callback(message_event(
            channel="C0INTAKE", user="U0SUPPORT", text="refund missing again")))
        await _quiet(running)
        slack.set_outage(False)
        await running.settle(timeout=20)
        (item,) = running.store.list_items()
        assert item.failed is None
        assert cards_per_item(slack) == {item.id: 1}
