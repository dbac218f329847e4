"""Slack's inbound payloads (events, slash commands, interactions), signed as Slack signs them.

The builders live in `payload_events` and `payload_interactions` and are re-exported here;
`SignedSlackClient` POSTs them to a running app as Slack would.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import aiohttp
from multidict import CIMultiDict

from handlers.slack.standin.payload_events import (
    app_uninstalled_event,
    channel_shared_event,
    channel_unshared_event,
    event_callback,
    forwarded_message_event,
    message_event,
    reaction_added_event,
    tokens_revoked_event,
)
from handlers.slack.standin.payload_interactions import (
    block_actions,
    message_shortcut,
    slash_command,
    view_submission,
)

__all__ = [
    "SignedSlackClient",
    "SlackResponse",
    "app_uninstalled_event",
    "block_actions",
    "channel_shared_event",
    "channel_unshared_event",
    "encode_command",
    "encode_event",
    "encode_interaction",
    "event_callback",
    "forwarded_message_event",
    "message_event",
    "message_shortcut",
    "reaction_added_event",
    "sign",
    "slash_command",
    "tokens_revoked_event",
    "view_submission",
]


# ---- signing ----------------------------------------------------------------------------


def sign(secret: str, body: bytes, *, timestamp: int | None = None) -> dict[str, str]:
    """Slack's v0 request signature headers for `body` (timestamp defaults to now)."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    base = b"v0:" + ts.encode() + b":" + body
    digest = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


def encode_event(payload: Mapping[str, Any]) -> bytes:
    """An Events API body: JSON."""
    return json.dumps(payload).encode()


def encode_command(form: Mapping[str, str]) -> bytes:
    """A slash command body: x-www-form-urlencoded fields."""
    return urlencode(form).encode()


def encode_interaction(payload: Mapping[str, Any]) -> bytes:
    """An interaction body: a form with one `payload` field holding JSON."""
    return urlencode({"payload": json.dumps(payload)}).encode()


# ---- delivery ---------------------------------------------------------------------------


@dataclass
class SlackResponse:
    """What the app answered."""

    status: int
    body: str
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def json(self) -> Any:
        """The body parsed as JSON, or None when it is not JSON."""
        try:
            return json.loads(self.body) if self.body else None
        except ValueError:
            return None


class SignedSlackClient:
    """POSTs signed requests to a running app's /slack/events, as Slack does."""

    def __init__(
        self,
        base_url: str,
        signing_secret: str,
        *,
        session: aiohttp.ClientSession | None = None,
        path: str = "/slack/events",
    ) -> None:
        self.url = base_url.rstrip("/") + path
        self.signing_secret = signing_secret
        self._session = session
        self._owns_session = session is None

    async def send_event(
        self,
        payload: Mapping[str, Any],
        *,
        retry_num: int | None = None,
        retry_reason: str | None = None,
    ) -> SlackResponse:
        """Deliver an Events API payload; retry_num/retry_reason mark a redelivery."""
        headers: dict[str, str] = {}
        if retry_num is not None:
            headers["X-Slack-Retry-Num"] = str(retry_num)
            headers["X-Slack-Retry-Reason"] = retry_reason or "http_timeout"
        return await self.send_raw(
            encode_event(payload), content_type="application/json", headers=headers
        )

    async def send_command(self, form: Mapping[str, str]) -> SlackResponse:
        """Deliver a slash command."""
        return await self.send_raw(
            encode_command(form), content_type="application/x-www-form-urlencoded"
        )

    async def send_interaction(self, payload: Mapping[str, Any]) -> SlackResponse:
        """Deliver an interaction (shortcut, block action, view submission)."""
        return await self.send_raw(
            encode_interaction(payload), content_type="application/x-www-form-urlencoded"
        )

    async def send_raw(
        self,
        body: bytes,
        *,
        content_type: str,
        headers: Mapping[str, str] | None = None,
        sign: bool = True,
        timestamp: int | None = None,
    ) -> SlackResponse:
        """POST `body` as is; signed unless sign=False, extra `headers` win."""
        all_headers = {"Content-Type": content_type, "User-Agent": "Slackbot 1.0"}
        if sign:
            all_headers.update(_sign(self.signing_secret, body, timestamp=timestamp))
        all_headers.update(headers or {})
        if self._session is None:
            self._session = aiohttp.ClientSession()
        async with self._session.post(self.url, data=body, headers=all_headers) as resp:
            text = await resp.text()
            return SlackResponse(status=resp.status, body=text, headers=CIMultiDict(resp.headers))

    async def close(self) -> None:
        """Close the HTTP session if this client opened it."""
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> SignedSlackClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


# `send_raw` takes a `sign` flag, which shadows the module function inside it.
_sign = sign
