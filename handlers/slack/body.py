"""Read a request body the way a hostile client can't exploit: bounded in time and memory.

Headers are checked before a byte of the body is read: a request that can't be Slack's
(no signature, a stale timestamp, a body over the limit) is refused at once. Bodies are
read with a deadline, and the bytes of all bodies being read at once are capped, so a
few hundred slow or large requests can neither pin connections nor grow the process.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from aiohttp import web

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 2 * 1024 * 1024
MAX_SIGNATURE_AGE_SECONDS = 5 * 60
BODY_TIMEOUT_SECONDS = 10.0
# Slack's payloads are a few KB; this lets 8 of the largest be read at once.
MAX_BYTES_IN_FLIGHT = 16 * 1024 * 1024


class BodyRefused(Exception):
    """The body was not read; `response` says why."""

    def __init__(self, response: web.Response) -> None:
        super().__init__(response.reason)
        self.response = response


@dataclass
class BodyReader:
    """Reads bodies with a deadline, within a shared byte budget."""

    timeout: float = BODY_TIMEOUT_SECONDS
    max_in_flight: int = MAX_BYTES_IN_FLIGHT
    in_flight: int = 0

    async def read(self, request: web.Request, *, now: float) -> bytes:
        """Return the body once its headers could be Slack's; raise BodyRefused otherwise.

        401 for a missing or stale signature, 413 for a body over MAX_BODY_BYTES, 503 when
        too many bytes are being read at once, 408 for a body that doesn't arrive in time.
        """
        refusal = header_problem(request, now=now)
        if refusal is not None:
            raise BodyRefused(refusal)
        declared = request.content_length
        size = MAX_BODY_BYTES if declared is None else declared
        if self.in_flight + size > self.max_in_flight:
            raise BodyRefused(web.json_response(
                {"error": "too many requests at once; please retry"}, status=503,
                headers={"Retry-After": "1"}))
        self.in_flight += size
        try:
            # asyncio.timeout, not wait_for: no extra task, so no extra turn of the loop.
            async with asyncio.timeout(self.timeout):
                return await request.read()
        except TimeoutError:
            log.info("dropped a request whose body did not arrive within %gs (from %s)",
                     self.timeout, request.remote)
            raise BodyRefused(web.json_response(
                {"error": "the body did not arrive in time"}, status=408)) from None
        except web.HTTPRequestEntityTooLarge:
            raise BodyRefused(_too_large()) from None
        except (ConnectionError, asyncio.IncompleteReadError) as error:
            log.info("a client went away while sending its body (%s): %s", request.remote,
                     type(error).__name__)
            raise BodyRefused(web.json_response({"error": "incomplete body"},
                                                status=400)) from None
        finally:
            self.in_flight -= size


def header_problem(request: web.Request, *, now: float) -> web.Response | None:
    """Refuse, from its headers alone, a request that can't be a valid one from Slack."""
    timestamp = request.headers.get("X-Slack-Request-Timestamp", "")
    if not request.headers.get("X-Slack-Signature") or not (
            timestamp.isascii() and timestamp.isdigit()
            and abs(now - int(timestamp)) <= MAX_SIGNATURE_AGE_SECONDS):
        return web.json_response({"error": "invalid signature"}, status=401)
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        return _too_large()
    return None


def _too_large() -> web.Response:
    return web.json_response({"error": f"the body is over {MAX_BODY_BYTES} bytes"}, status=413)
