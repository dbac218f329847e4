"""Slow, vanishing and oversized clients, over raw sockets: refused early, timed out, quiet."""

from __future__ import annotations

import asyncio
import logging
import time
from urllib.parse import urlsplit

from handlers.slack.body import MAX_BODY_BYTES, BodyReader
from tests.slack_harness import inbox_count, make_fake_slack, running_bot


def _head(*, length: int, signed: bool = True) -> bytes:
    """Request headers for POST /slack/events; `signed` adds signature headers (unchecked yet)."""
    lines = ["POST /slack/events HTTP/1.1", "Host: 127.0.0.1",
             "Content-Type: application/json", f"Content-Length: {length}"]
    if signed:
        lines += [f"X-Slack-Request-Timestamp: {int(time.time())}",
                  "X-Slack-Signature: v0=" + "0" * 64]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def _connect(url: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    parts = urlsplit(url)
    assert parts.hostname == "127.0.0.1"  # loopback only
    return await asyncio.open_connection(parts.hostname, parts.port)


async def _status(reader: asyncio.StreamReader, *, timeout: float) -> int:
    line = await asyncio.wait_for(reader.readline(), timeout)
    return int(line.split()[1])


async def test_half_a_body_times_out_with_408_and_one_quiet_line(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    async with make_fake_slack() as slack, running_bot(
            slack, tmp_path / "bot.db", bodies=BodyReader(timeout=0.5)) as running:
        reader, writer = await _connect(running.url)
        writer.write(_head(length=1000) + b'{"type": "event_callback", "ev')
        await writer.drain()
        assert await _status(reader, timeout=5) == 408
        writer.close()
        assert inbox_count(running) == 0
    assert [record for record in caplog.records if record.levelno >= logging.ERROR] == []
    assert not any(record.exc_info for record in caplog.records)
    assert any("did not arrive within" in record.getMessage() for record in caplog.records)


async def test_a_client_vanishing_mid_body_logs_no_error(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        for _ in range(20):
            _, writer = await _connect(running.url)
            writer.write(_head(length=5000) + b"x" * 100)
            await writer.drain()
            writer.close()
            await writer.wait_closed()
        await asyncio.sleep(0.3)
        assert inbox_count(running) == 0
    errors = [record for record in caplog.records
              if record.levelno >= logging.ERROR or record.exc_info]
    assert errors == []


async def test_headers_without_a_signature_are_refused_before_the_body_is_read(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        reader, writer = await _connect(running.url)
        # 1.9 MB announced, not one byte sent: the answer must not wait for it.
        writer.write(_head(length=1_900_000, signed=False))
        await writer.drain()
        assert await _status(reader, timeout=3) == 401
        writer.close()


async def test_a_body_over_the_limit_is_refused_from_its_length(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        reader, writer = await _connect(running.url)
        writer.write(_head(length=MAX_BODY_BYTES + 1))
        await writer.drain()
        assert await _status(reader, timeout=3) == 413
        writer.close()


async def test_large_bodies_read_at_once_are_capped_by_a_byte_budget(tmp_path):
    budget = BodyReader(timeout=5, max_in_flight=4_000_000)
    async with make_fake_slack() as slack, running_bot(
            slack, tmp_path / "bot.db", bodies=budget) as running:
        slow = []
        for _ in range(2):  # two 1.9 MB bodies trickling in hold 3.8 MB of the budget
            reader, writer = await _connect(running.url)
            writer.write(_head(length=1_900_000) + b"{")
            await writer.drain()
            slow.append((reader, writer))
        await asyncio.sleep(0.2)
        assert budget.in_flight == 3_800_000
        reader, writer = await _connect(running.url)
        writer.write(_head(length=1_900_000))
        await writer.drain()
        assert await _status(reader, timeout=3) == 503
        writer.close()
        for _, writer in slow:
            writer.close()
        await asyncio.sleep(0.2)
        assert budget.in_flight == 0
