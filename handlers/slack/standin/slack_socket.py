"""Socket Mode for the fake workspace: `apps.connections.open` and Slack's WebSocket protocol.

An app-level token (`xapp-…`) gets a one-time WebSocket URL from `apps.connections.open`.
When the app connects, Slack sends `hello`; then it pushes envelopes (`events_api`,
`slash_commands`, `interactive`). The app acknowledges each by sending back its
`envelope_id`, optionally with a response `payload` (a slash command's answer, say).
Slack refreshes every connection now and then: it sends `disconnect` (reason
`refresh_requested`) and closes the socket, and the app opens a new one.

`SocketModeServer` is mixed into `FakeSlack`; it speaks aiohttp only and imports no Slack SDK.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from handlers.slack.standin.slack_state import Workspace

ENVELOPE_KINDS = ("events_api", "slash_commands", "interactive")
# Interactions whose acknowledgement may carry an answer (errors, a new view, options).
_ANSWERED_INTERACTIONS = frozenset({"view_submission", "block_suggestion"})
APPROXIMATE_CONNECTION_TIME = 3600  # seconds; Slack's hello names roughly how long it keeps one


@dataclass(eq=False)
class SocketConnection:
    """One open WebSocket from the app."""

    ticket: str
    ws: web.WebSocketResponse
    opened_at: float
    closed: asyncio.Event = field(default_factory=asyncio.Event)


def envelope_for(
    kind: str,
    payload: Mapping[str, Any],
    *,
    retry_attempt: int = 0,
    retry_reason: str = "",
    accepts_response_payload: bool | None = None,
) -> dict[str, Any]:
    """A Socket Mode envelope shaped like Slack's.

    Only `events_api` envelopes carry `retry_attempt`/`retry_reason` (Slack redelivers
    only events), unless a retry is asked for explicitly. Slack accepts a response
    payload for slash commands, view submissions and options requests.
    """
    if kind not in ENVELOPE_KINDS:
        raise ValueError(f"envelope kind must be one of {ENVELOPE_KINDS}, not {kind!r}")
    if accepts_response_payload is None:
        accepts_response_payload = kind == "slash_commands" or (
            kind == "interactive" and payload.get("type") in _ANSWERED_INTERACTIONS
        )
    envelope: dict[str, Any] = {
        "envelope_id": str(uuid.uuid4()),
        "payload": copy.deepcopy(dict(payload)),
        "type": kind,
        "accepts_response_payload": accepts_response_payload,
    }
    if kind == "events_api" or retry_attempt:
        envelope["retry_attempt"] = retry_attempt
        envelope["retry_reason"] = retry_reason
    return envelope


def connections_open_answer(token: str | None, socket_url: Callable[[], str]) -> dict[str, Any]:
    """apps.connections.open's body: only an app-level token may open a connection."""
    if not token:
        return {"ok": False, "error": "not_authed"}
    if token.startswith("xox"):
        return {"ok": False, "error": "not_allowed_token_type"}
    if not token.startswith("xapp-"):
        return {"ok": False, "error": "invalid_auth"}
    return {"ok": True, "url": socket_url()}


class SocketModeServer:
    """The Socket Mode half of `FakeSlack` (a mixin; see the module docstring)."""

    base_url: str
    workspace: Workspace

    def _init_socket_mode(self) -> None:
        self.socket_connected = asyncio.Event()  # set while at least one socket is open
        self.sockets_opened = 0  # connections accepted so far
        self.envelopes: list[dict[str, Any]] = []  # envelopes sent, oldest first
        self.acks: dict[str, dict[str, Any]] = {}  # the app's first answer per envelope_id
        self.socket_received: list[Any] = []  # everything the app sent, parsed when JSON
        self._tickets: set[str] = set()
        self._sockets: list[SocketConnection] = []
        self._socket_changed = asyncio.Condition()
        self._sockets_refused = False

    # ---- wiring used by FakeSlack -------------------------------------------------------

    def _add_socket_routes(self, app: web.Application) -> None:
        self._sockets_refused = False
        app.router.add_get("/socket/{ticket}", self._handle_socket)

    def _connections_open(self, token: str | None) -> dict[str, Any]:
        return connections_open_answer(token, self._issue_socket_url)

    def _issue_socket_url(self) -> str:
        ticket = uuid.uuid4().hex
        self._tickets.add(ticket)
        return self.base_url.replace("http://", "ws://", 1) + f"/socket/{ticket}"

    async def _close_sockets_for_stop(self) -> None:
        """Refuse new sockets and close the open ones (aiohttp would wait for them)."""
        self._sockets_refused = True
        self._tickets.clear()
        await self._close_sockets(list(self._sockets))

    # ---- public API ---------------------------------------------------------------------

    async def send_envelope(
        self,
        kind: str,
        payload: Mapping[str, Any],
        *,
        retry_attempt: int = 0,
        retry_reason: str = "",
        accepts_response_payload: bool | None = None,
        timeout: float = 5.0,
    ) -> str:
        """Push an envelope down the newest open socket; return its envelope_id.

        Waits up to `timeout` seconds for the app to be connected. `kind` is
        "events_api", "slash_commands" or "interactive"; `payload` is what Slack would
        POST over HTTP (see `payloads`), a slash command's form fields included.
        """
        envelope = envelope_for(
            kind,
            payload,
            retry_attempt=retry_attempt,
            retry_reason=retry_reason,
            accepts_response_payload=accepts_response_payload,
        )
        await self.wait_for_socket(timeout=timeout)
        if not self._sockets:
            raise ConnectionError("the app's socket closed before the envelope could be sent")
        await self._sockets[-1].ws.send_json(envelope)
        self.envelopes.append(envelope)
        return str(envelope["envelope_id"])

    async def wait_for_ack(self, envelope_id: str, timeout: float = 5.0) -> dict[str, Any]:
        """The message the app sent back for `envelope_id` (with its `payload`, if any)."""
        await self._wait_until(
            lambda: envelope_id in self.acks,
            timeout,
            lambda: (
                f"an acknowledgement of envelope {envelope_id}; "
                f"acknowledged so far: {list(self.acks) or 'none'}"
            ),
        )
        return copy.deepcopy(self.acks[envelope_id])

    async def wait_for_socket(self, *, opened: int = 1, timeout: float = 5.0) -> None:
        """Wait until `opened` sockets were accepted in all and one is open now."""
        await self._wait_until(
            lambda: self.sockets_opened >= opened and bool(self._sockets),
            timeout,
            lambda: (
                f"{opened} socket(s) opened with one still open; "
                f"opened {self.sockets_opened}, open now {len(self._sockets)}"
            ),
        )

    async def wait_for_sockets_closed(self, timeout: float = 5.0) -> None:
        """Wait until no socket is open."""
        await self._wait_until(
            lambda: not self._sockets,
            timeout,
            lambda: f"every socket to close; {len(self._sockets)} still open",
        )

    async def disconnect_sockets(
        self, *, reason: str | None = "refresh_requested", grace: float = 2.0
    ) -> int:
        """Close every open socket as Slack does; return how many there were.

        With a `reason`, Slack's `disconnect` message goes first and the app gets
        `grace` seconds to close the socket itself (slack_sdk opens its next one
        first); whatever is still open then is closed from here. With reason=None the
        sockets are dropped at once, as when a connection is lost.
        """
        connections = list(self._sockets)
        if reason is not None and connections:
            message = {"type": "disconnect", "reason": reason, "debug_info": self._debug_info()}
            for connection in connections:
                with contextlib.suppress(ConnectionError, RuntimeError):
                    await connection.ws.send_json(message)
            waits = [connection.closed.wait() for connection in connections]
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*waits), grace)
        await self._close_sockets(connections)
        return len(connections)

    # ---- the WebSocket ------------------------------------------------------------------

    async def _handle_socket(self, request: web.Request) -> web.StreamResponse:
        ticket = request.match_info["ticket"]
        if self._sockets_refused or ticket not in self._tickets:
            # Each URL from apps.connections.open is good for one connection.
            return web.json_response({"ok": False, "error": "invalid_ticket"}, status=401)
        self._tickets.discard(ticket)
        ws = web.WebSocketResponse(timeout=2.0)  # the closing handshake's limit
        await ws.prepare(request)
        connection = SocketConnection(ticket=ticket, ws=ws, opened_at=time.time())
        try:
            # hello goes first, before any envelope can be sent down this socket.
            await ws.send_json(self._hello(num_connections=len(self._sockets) + 1))
            async with self._socket_changed:
                self._sockets.append(connection)
                self.sockets_opened += 1
                self.socket_connected.set()
                self._socket_changed.notify_all()
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    await self._receive(message.data)
        finally:
            connection.closed.set()
            async with self._socket_changed:
                if connection in self._sockets:
                    self._sockets.remove(connection)
                if not self._sockets:
                    self.socket_connected.clear()
                self._socket_changed.notify_all()
        return ws

    async def _receive(self, text: str) -> None:
        try:
            message: Any = json.loads(text)
        except ValueError:
            message = text
        async with self._socket_changed:
            self.socket_received.append(message)
            if isinstance(message, dict) and isinstance(message.get("envelope_id"), str):
                self.acks.setdefault(message["envelope_id"], message)
            self._socket_changed.notify_all()

    async def _close_sockets(self, connections: list[SocketConnection]) -> None:
        for connection in connections:
            if not connection.closed.is_set():
                await connection.ws.close(code=WSCloseCode.GOING_AWAY, message=b"disconnected")
            await connection.closed.wait()

    def _hello(self, *, num_connections: int) -> dict[str, Any]:
        return {
            "type": "hello",
            "num_connections": num_connections,
            "debug_info": {
                **self._debug_info(),
                "started": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
                "build_number": 1,
                "approximate_connection_time": APPROXIMATE_CONNECTION_TIME,
            },
            "connection_info": {"app_id": self.workspace.app_id},
        }

    def _debug_info(self) -> dict[str, Any]:
        return {"host": f"applink-fake-{self.workspace.team_id.lower()}"}

    async def _wait_until(
        self, condition: Callable[[], bool], timeout: float, describe: Callable[[], str]
    ) -> None:
        async def until() -> None:
            async with self._socket_changed:
                await self._socket_changed.wait_for(condition)

        try:
            await asyncio.wait_for(until(), timeout)
        except TimeoutError:
            raise TimeoutError(f"waited {timeout}s for {describe()}") from None
