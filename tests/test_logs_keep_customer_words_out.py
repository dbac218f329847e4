"""Customer words never reach the logs, at any level, unless payload logging is asked for."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from bot.log_setup import PAYLOAD_LOGGERS, configure_logging, quiet_payload_loggers
from handlers.slack.standin.payloads import event_callback, message_event
from tests.slack_harness import SIGNING_SECRET, make_fake_slack, running_bot

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


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """The bot's log as `feedbackbot serve` writes it when stderr is not a terminal."""
    root = logging.getLogger()
    level = root.level
    stream = io.StringIO()
    handler = configure_logging(stream=stream)
    yield stream
    root.removeHandler(handler)
    root.setLevel(level)
    structlog.reset_defaults()


async def test_json_logs_follow_a_request_to_its_card_and_keep_secrets_out(
        tmp_path, json_log, library_levels):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        await running.slack.send_event(event_callback(message_event(
            channel="C0INTAKE", user="U0SUPPORT", text=f"Acme: {SECRET_WORDS}")))
        await slack.wait_for("chat.postMessage",
                             where=lambda call: call.args.get("channel") == "C0INTAKE")
        await running.settle()
        [item] = running.store.list_items()

    text = json_log.getvalue()
    lines = [json.loads(line) for line in text.splitlines()]
    assert lines and all(line["level"] != "debug" for line in lines)
    for secret in ("4111", "refunded", "Acme", "xoxb-test", SIGNING_SECRET):
        assert secret not in text
    intake = [line for line in lines if line.get("item_id") == item.id
              and "routed to" in line["event"]]
    cards = [line for line in lines if line.get("item_id") == item.id
             and "card posted" in line["event"]]
    assert len(intake) == 1 and len(cards) == 1, lines
    request_id = intake[0]["request_id"]
    assert request_id and cards[0]["request_id"] == request_id
    assert all({"timestamp", "logger", "level"} <= set(line) for line in lines)
    # One grep follows the request: stored, made an item, its card posted.
    followed = [line["event"] for line in lines if line.get("request_id") == request_id]
    assert followed[0] == "stored a request from slack (event_callback)"


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(("stream", "json_lines"), [(io.StringIO, True), (_Terminal, False)])
def test_logs_are_json_lines_unless_written_to_a_terminal(stream, json_lines):
    root = logging.getLogger()
    level, out = root.level, stream()
    handler = configure_logging(stream=out)
    try:
        logging.getLogger("feedbackbot.test").info("item %s stored", 7, extra={"item_id": 7})
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        structlog.reset_defaults()
    line = out.getvalue().strip()
    if json_lines:
        assert json.loads(line)["item_id"] == 7
    else:
        assert line.split(maxsplit=1)[1].startswith("[info")
        assert "item 7 stored" in line and "item_id=7" in line
