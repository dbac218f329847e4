"""GET /metrics on Teams: activities answered by kind, connector calls by operation, items."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

pytest.importorskip("microsoft_agents.hosting.aiohttp", reason="needs the teams extra")

from prometheus_client.parser import text_string_to_metric_families

from tests.msteams_harness import BOT_ID, CARDS_CHANNEL, DEV, TEAM_ID, running_teams_bot

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def _scrape(url: str) -> Samples:
    async with aiohttp.ClientSession() as session, \
            session.get(f"{url}/metrics") as response:
        assert response.status == 200
        text = await response.text()
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def _moved(before: Samples, after: Samples, name: str, **labels: str) -> float:
    key = (name, frozenset(labels.items()))
    return after.get(key, 0.0) - before.get(key, 0.0)


async def test_teams_activities_and_connector_calls_are_counted(tmp_path: Path) -> None:
    async with running_teams_bot(tmp_path, real_port=True, outbox=True) as bot:
        connector = bot.connector
        connector.add_channel(TEAM_ID, TEAM_ID)
        connector.add_channel(TEAM_ID, CARDS_CHANNEL, "payments-cards")
        before = await _scrape(bot.url)
        install = bot.base({"conversationType": "channel", "isGroup": True, "id": TEAM_ID},
                           type="conversationUpdate", membersAdded=[{"id": BOT_ID}],
                           channel_data={"eventType": "teamMemberAdded",
                                         "team": {"id": TEAM_ID, "name": "Payments"}})
        await bot.post(install)
        await bot.post(bot.personal("Acme can't get a refund since Monday"))
        await connector.wait_for("send_to_conversation", 2)
        await bot.settle()
        [item] = bot.store.list_items()
        status, _ = await bot.post(bot.card_click("acknowledge", item.id, sender=DEV,
                                                  card_message=str(item.card_ts)))
        assert status == 200
        await bot.settle()
        after = await _scrape(bot.url)
        health = bot.runtime.health()[1]["msteams"]

    teams = {"platform": "msteams"}
    assert _moved(before, after, "feedbackbot_ack_seconds_count", kind="event", **teams) == 2
    assert _moved(before, after, "feedbackbot_ack_seconds_count",
                  kind="interaction", **teams) == 1
    sends = connector.calls_to("send_to_conversation")
    assert _moved(before, after, "feedbackbot_api_calls_total",
                  method="send_to_conversation", **teams) == len(sends) >= 2
    items = {"team": item.team, **teams}
    assert _moved(before, after, "feedbackbot_items_received_total", **items) == 1
    assert _moved(before, after, "feedbackbot_items_routed_total", **items) == 1
    assert _moved(before, after, "feedbackbot_items_responded_total", **items) == 1
    assert health["reachable"] is True
