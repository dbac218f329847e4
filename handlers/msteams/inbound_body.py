"""Read and check one /api/messages body: bounded in size and time, a Teams activity or 400.

Activities are a few KB; a card's invoke with its inputs stays well under 100 KB. The
limits follow the Slack side's idea (a cap per body, a deadline, a shared byte budget)
without sharing its code, which checks Slack's signature headers.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

from aiohttp import web

MAX_BODY_BYTES = 1024 * 1024
BODY_TIMEOUT_SECONDS = 10.0
MAX_BYTES_IN_FLIGHT = 16 * 1024 * 1024


class Refused(Exception):
    """The request can't be taken; `response` says why (4xx/5xx, nothing stored)."""

    def __init__(self, status: int, message: str, *, retry_after: int | None = None) -> None:
        super().__init__(message)
        headers = {"Retry-After": str(retry_after)} if retry_after else None
        self.response = web.json_response({"error": message}, status=status, headers=headers)


@dataclass
class BodyReader:
    """Reads bodies within MAX_BODY_BYTES, a deadline and a shared byte budget."""

    max_bytes: int = MAX_BODY_BYTES
    timeout: float = BODY_TIMEOUT_SECONDS
    max_in_flight: int = MAX_BYTES_IN_FLIGHT
    in_flight: int = 0

    async def read(self, request: web.Request) -> bytes:
        """The raw body; raises Refused (413 too big, 503 too many at once, 408/400 cut off)."""
        declared = request.content_length
        if declared is not None and declared > self.max_bytes:
            raise Refused(413, f"the body is over {self.max_bytes} bytes")
        size = self.max_bytes if declared is None else declared
        if self.in_flight + size > self.max_in_flight:
            raise Refused(503, "too many requests at once; please retry", retry_after=1)
        self.in_flight += size
        try:
            async with asyncio.timeout(self.timeout):
                raw = bytearray()
                async for chunk in request.content.iter_any():
                    raw += chunk
                    if len(raw) > self.max_bytes:
                        raise Refused(413, f"the body is over {self.max_bytes} bytes")
                return bytes(raw)
        except TimeoutError:
            raise Refused(408, "the body did not arrive in time") from None
        except (ConnectionError, asyncio.IncompleteReadError):
            raise Refused(400, "incomplete body") from None
        finally:
            self.in_flight -= size


def parse_activity(raw: bytes) -> dict[str, Any]:
    """The activity as JSON; raises Refused(400) for anything that is not one.

    An activity needs a type, an id (one item per activity id), a conversation id, a
    sender and a serviceUrl to answer through.
    """
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise Refused(400, "the body is not JSON") from None
    if not isinstance(body, dict):
        raise Refused(400, "the body is not an activity")
    problems = []
    if not isinstance(body.get("type"), str) or not body["type"]:
        problems.append("type")
    if not isinstance(body.get("id"), str) or not body["id"]:
        problems.append("id")
    conversation = body.get("conversation")
    if not isinstance(conversation, dict) or not isinstance(conversation.get("id"), str) \
            or not conversation["id"]:
        problems.append("conversation.id")
    sender = body.get("from")
    if not isinstance(sender, dict) or not isinstance(sender.get("id"), str):
        problems.append("from.id")
    service_url = body.get("serviceUrl")
    if not isinstance(service_url, str) or not service_url.startswith(("https://", "http://")):
        problems.append("serviceUrl")
    if problems:
        raise Refused(400, "not a Teams activity: missing or invalid " + ", ".join(problems))
    return body
