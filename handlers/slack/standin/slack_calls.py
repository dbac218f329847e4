"""Recorded calls, injected faults, and reading a Web API call's arguments from HTTP."""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from typing import Any

from aiohttp import web

# Fields Slack accepts as JSON text inside form-encoded or query-string calls.
_JSON_FIELDS = frozenset({"blocks", "attachments", "metadata", "view", "files", "user_auth_blocks"})


@dataclass
class RecordedCall:
    """One call the server answered; `args` exclude the token, JSON-valued fields decoded."""

    method: str
    args: dict[str, Any]
    token: str | None
    at: float
    status: int
    ok: bool = True
    error: str | None = None
    response: dict[str, Any] | None = None


@dataclass
class Fault:
    """One injected misbehaviour, used up after `remaining` matching calls."""

    kind: str  # "fail" | "fail_after_applying" | "ratelimit" | "delay"
    method: str | None  # None matches every method
    remaining: int
    status: int = 500
    error: str = "internal_error"
    retry_after: int = 1
    seconds: float = 0.0


Refusal = tuple[int, dict[str, Any], dict[str, str]]


def error_for_status(status: int) -> str:
    """The error code a failed HTTP status carries in its body."""
    if status == 429:
        return "ratelimited"
    return "service_unavailable" if status == 503 else "internal_error"


# While Slack is troubled, calls are answered in this turn: a 429, a 500 that changed
# nothing, a 500 after the call was applied (Slack's internal_error: "some aspect of the
# operation may have succeeded"), and one answered normally.
TROUBLE_TURNS = ("ratelimit", "fail", "fail_after_applying", "pass")


class FaultPlan:
    """The faults queued for upcoming calls, and whether Slack is down altogether."""

    def __init__(self) -> None:
        self.faults: list[Fault] = []
        self.outage: int | None = None
        self.troubled_retry_after: int | None = None
        self._troubled_calls = 0

    def _take(self, method: str, kinds: tuple[str, ...]) -> Fault | None:
        for fault in self.faults:
            if fault.kind in kinds and fault.method in (None, method):
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self.faults.remove(fault)
                return fault
        return None

    def refusal(self, method: str) -> Refusal | None:
        """An outage or injected failure for this call as (status, body, headers), or None."""
        if self.outage is not None:
            return self.outage, {"ok": False, "error": error_for_status(self.outage)}, {}
        fault = self._take(method, ("fail", "ratelimit"))
        if fault is None:
            return None
        if fault.kind == "ratelimit":
            body = {"ok": False, "error": "ratelimited"}
            return 429, body, {"Retry-After": str(fault.retry_after)}
        return fault.status, {"ok": False, "error": fault.error}, {}

    def failure_after_applying(self, method: str) -> Refusal | None:
        """The failure to answer once this call is applied (see `fail_next(applied=True)`)."""
        fault = self._take(method, ("fail_after_applying",))
        if fault is None:
            return None
        return fault.status, {"ok": False, "error": fault.error}, {}

    def trouble_turn(self) -> str | None:
        """How a troubled Slack answers this call (one of TROUBLE_TURNS), or None."""
        if self.troubled_retry_after is None:
            return None
        turn = TROUBLE_TURNS[self._troubled_calls % len(TROUBLE_TURNS)]
        self._troubled_calls += 1
        return turn

    def delay(self, method: str) -> float | None:
        """Seconds to hold this call's answer back, or None."""
        fault = self._take(method, ("delay",))
        return None if fault is None else fault.seconds


class BadRequest(Exception):
    """The request body could not be read."""


async def read_args(request: web.Request) -> tuple[dict[str, Any], str | None]:
    """Merge query string, form or JSON body into one dict; return it with the token.

    slack_sdk sends some methods as JSON, some form-encoded and some as GET query strings,
    and takes the token from `Authorization: Bearer` or a `token` argument.
    """
    args: dict[str, Any] = dict(request.query)
    if request.can_read_body:
        if request.content_type == "application/json":
            try:
                payload = await request.json()
            except ValueError:
                raise BadRequest from None
            if not isinstance(payload, dict):
                raise BadRequest
            args.update(payload)
        elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    args[key] = {"filename": value.filename, "content": value.file.read()}
                else:
                    args[key] = value
    for key in _JSON_FIELDS & args.keys():
        value = args[key]
        if isinstance(value, str) and value[:1] in "[{":
            # Bad JSON stays text, so the method answers with its own format error.
            with contextlib.suppress(ValueError):
                args[key] = json.loads(value)
    token = args.pop("token", None)
    auth = request.headers.get("Authorization", "")
    if auth.startswith("Bearer "):
        token = auth.removeprefix("Bearer ").strip()
    return args, token


async def read_upload(request: web.Request) -> bytes:
    """The uploaded bytes: the raw body, or the first file part of a multipart form."""
    if request.content_type == "multipart/form-data":
        form = await request.post()
        for value in form.values():
            if isinstance(value, web.FileField):
                return bytes(value.file.read())
        return b""
    return await request.read()
