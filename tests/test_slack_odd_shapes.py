"""Signed payloads of shapes no listener can handle: a clear 400, and nothing replayed forever."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import pytest

from bot.store import INBOX_MAX_ATTEMPTS
from handlers.slack.standin.payloads import event_callback, message_event, view_submission
from tests.slack_harness import inbox_count, make_fake_slack, running_bot


def _submission() -> dict[str, Any]:
    return view_submission(user_id="U0SUPPORT", callback_id="forward_feedback",
                           values={"text": {"text": {"type": "plain_text_input",
                                                     "value": "refund"}}})


def _without_view_type(payload: dict[str, Any]) -> None:
    del payload["view"]["type"]


def _values_as_a_list(payload: dict[str, Any]) -> None:
    payload["view"]["state"]["values"] = []


def _input_value_not_an_object(payload: dict[str, Any]) -> None:
    payload["view"]["state"]["values"]["text"]["text"] = "refund"


def _block_not_an_object(payload: dict[str, Any]) -> None:
    payload["view"]["state"]["values"]["text"] = ["refund"]


@pytest.mark.parametrize("spoil", [_without_view_type, _values_as_a_list,
                                   _input_value_not_an_object, _block_not_an_object])
async def test_an_oddly_shaped_view_submission_gets_a_400_and_is_not_stored(
        tmp_path, spoil: Callable[[dict[str, Any]], None]):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        payload = _submission()
        spoil(payload)
        response = await running.slack.send_interaction(payload)
        assert response.status == 400
        assert "view" in response.json["error"]
        assert inbox_count(running) == 0
        assert running.store.list_items() == []


async def test_an_event_whose_channel_is_not_text_gets_a_400(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        payload = event_callback(message_event(channel="C0INTAKE", user="U0SUPPORT",
                                               text="refund"))
        payload["event"]["channel"] = 5
        response = await running.slack.send_event(payload)
        assert response.status == 400 and "channel" in response.json["error"]
        assert inbox_count(running) == 0


async def test_a_stored_request_that_always_fails_is_given_up_after_the_cap(tmp_path, caplog):
    # A request stored before a shape was refused at the door (say, by an older release)
    # used to be replayed every 15 s forever.
    odd = event_callback(message_event(channel="C0INTAKE", user="U0SUPPORT", text="refund"))
    odd["event"]["channel"] = 5
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        row_id = running.store.inbox_add(
            workspace="T0DEMO", kind="event_callback", dedupe_key="event:odd",
            body=json.dumps(odd), headers={"content-type": "application/json"},
            received_at=running.bot.clock())
        assert row_id is not None
        caplog.set_level(logging.ERROR)
        replays = [await running.bot.replay_inbox() for _ in range(INBOX_MAX_ATTEMPTS + 2)]
        assert replays == [1] * INBOX_MAX_ATTEMPTS + [0, 0]
        assert running.store.inbox_pending() == []
        assert running.store.inbox_given_up_count() == 1
        gave_up = [record for record in caplog.records if "gave up" in record.getMessage()]
        assert len(gave_up) == 1 and f"request {row_id}" in gave_up[0].getMessage()
        assert running.store.list_items() == []
