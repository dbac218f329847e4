"""Customer words never reach the logs, at any level, unless payload logging is asked for."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from bot.log_setup import PAYLOAD_LOGGERS, quiet_payload_loggers
from handlers.slack.standin.payloads import event_callback, message_event
from tests.slack_harness import make_fake_slack, running_bot

SECRET_WORDS = "card 4111 1111 1111 1111 was refunded twice"


@pytest.fixture
def library_levels() -> Iterator[None]:
    """Put the chat libraries' log levels back as they were after the test."""
    before = {name: logging.getLogger(name).level for name in PAYLOAD_LOGGERS}
    yield
    for name, level in before.items():
        logging.getLogger(name).setLevel(level)


async def _forward_and_log(tmp_path, caplog) -> list[str]:
    caplog.set_level(logging.DEBUG)
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        await running.slack.send_event(event_callback(message_event(
            channel="C0INTAKE", user="U0SUPPORT", text=f"Acme: {SECRET_WORDS}")))
        await slack.wait_for("chat.postMessage",
                             where=lambda call: call.args.get("channel") == "C0INTAKE")
        await running.settle()
        assert running.store.list_items()[0].text.endswith(SECRET_WORDS)
    return [record.getMessage() for record in caplog.records]


async def test_debug_logging_keeps_customer_words_out(tmp_path, caplog, library_levels):
    # With -v the Slack libraries used to log every request and response body: 10-18
    # copies of the customer's words per item.
    quiet_payload_loggers(log_payloads=False)
    messages = await _forward_and_log(tmp_path, caplog)
    assert any(record.levelno == logging.DEBUG for record in caplog.records)
    leaks = [message for message in messages if "4111" in message]
    assert leaks == []


async def test_payload_logging_is_there_when_asked_for(tmp_path, caplog, library_levels):
    quiet_payload_loggers(log_payloads=True)
    messages = await _forward_and_log(tmp_path, caplog)
    assert any("4111" in message for message in messages)


@pytest.mark.parametrize(("flags", "level"), [(["-v"], logging.INFO),
                                              (["-v", "--log-payloads"], logging.NOTSET)])
def test_the_command_line_quiets_the_chat_libraries_unless_asked(flags, level, library_levels,
                                                                 capsys):
    from bot.cli import main

    assert main([*flags, "manifest"]) == 0
    assert {logging.getLogger(name).level for name in PAYLOAD_LOGGERS} == {level}
