"""An in-process, Bot-Connector-compatible server on loopback: a fake Teams service URL.

Tests (and later the demo) point the bot's `serviceUrl` at `FakeConnector.url`. It answers
the v3 conversation operations the bot uses with the connector's response shapes, records
every call, and can answer 429 with Retry-After or 5xx on demand. It uses aiohttp only.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

TENANT_ID = "72f988bf-0000-4000-8000-00000000f00d"


@dataclass
class ConnectorCall:
    """One request the bot made: operation, HTTP method, path, JSON body, our answer."""

    operation: str
    method: str
    path: str
    body: Any
    status: int
    authorization: str | None
    query: dict[str, str] = field(default_factory=dict)


@dataclass
class _Fault:
    operation: str | None
    status: int
    retry_after: float | str | None
    remaining: int


class FakeConnector:
    """A fake Bot Connector service: conversations, activities and members."""

    def __init__(self) -> None:
        self.calls: list[ConnectorCall] = []
        self.activities: dict[str, dict[str, dict[str, Any]]] = {}
        self.members: dict[str, dict[str, dict[str, Any]]] = {}
        self.channels: dict[str, list[dict[str, Any]]] = {}
        self._faults: list[_Fault] = []
        self._ids = itertools.count(int(time.time() * 1000))
        self._runner: web.AppRunner | None = None
        self.url = ""
        self._app = web.Application(client_max_size=1024 * 1024)
        base = "/v3/conversations"
        self._app.router.add_post(base, self._create_conversation)
        self._app.router.add_post(base + "/{conversation}/activities", self._send)
        self._app.router.add_post(base + "/{conversation}/activities/{activity}", self._reply)
        self._app.router.add_put(base + "/{conversation}/activities/{activity}", self._update)
        self._app.router.add_delete(base + "/{conversation}/activities/{activity}", self._delete)
        self._app.router.add_get(base + "/{conversation}/members", self._members)
        self._app.router.add_get(base + "/{conversation}/members/{member}", self._member)
        self._app.router.add_get("/v3/teams/{team}/conversations", self._team_channels)
        self._app.router.add_get(base + "/{conversation}/pagedmembers", self._paged_members)
        self._app.router.add_get(base + "/{conversation}/pagedMembers", self._paged_members)
        self.expected_authorization: str | None = None
        self.delays: dict[str, float] = {}

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Listen on loopback (an ephemeral port by default); sets `url`, the serviceUrl."""
        self._runner = web.AppRunner(self._app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://{host}:{bound}/"

    async def stop(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeConnector:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def add_member(self, conversation: str, *, entra_id: str, name: str,
                   email: str | None = None, guest: bool = False,
                   tenant: str = TENANT_ID) -> dict[str, Any]:
        """Put a user in a conversation (a team's id stands for the whole team).

        `guest` makes them a guest of our tenant; `tenant` another organisation's member.
        """
        member_id = f"29:1{entra_id.replace('-', '')}"
        account: dict[str, Any] = {
            "id": member_id,
            "name": name,
            "aadObjectId": entra_id,
            "givenName": name.split()[0],
            "surname": name.split()[-1],
            "email": email,
            "userPrincipalName": email,
            "tenantId": tenant,
            "userRole": "guest" if guest else "user",
        }
        self.members.setdefault(conversation, {})[member_id] = account
        return account

    def add_channel(self, team: str, channel: str, name: str | None = None) -> None:
        """Add a channel to a team's channel list (the General channel's name is None)."""
        self.channels.setdefault(team, []).append({"id": channel, "name": name})

    def calls_to(self, operation: str) -> list[ConnectorCall]:
        """The recorded calls of one operation (e.g. "update_activity"), faulted ones too."""
        return [call for call in self.calls if call.operation == operation]

    def rate_limit_next(self, operation: str | None = None, *, retry_after: float | str = 1,
                        count: int = 1) -> None:
        """Answer the next `count` calls (of `operation`, or any) with 429 and Retry-After.

        `retry_after` is seconds, or a string sent as is (an HTTP-date).
        """
        self._faults.append(_Fault(operation, 429, retry_after, count))

    def fail_next(self, operation: str | None = None, *, status: int = 502,
                  count: int = 1) -> None:
        """Answer the next `count` calls (of `operation`, or any) with `status`."""
        self._faults.append(_Fault(operation, status, None, count))

    def require_token(self, token: str) -> None:
        """Answer 401 to every call that doesn't carry `Bearer <token>`."""
        self.expected_authorization = f"Bearer {token}"

    def delay(self, operation: str, seconds: float) -> None:
        """Answer every call of `operation` only after `seconds` (after recording it)."""
        self.delays[operation] = seconds

    async def wait_for(self, operation: str, count: int = 1, timeout: float = 5) -> None:
        """Wait until `count` calls of `operation` were recorded; raises TimeoutError."""
        deadline = asyncio.get_running_loop().time() + timeout
        while len(self.calls_to(operation)) < count:
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"{operation}: {len(self.calls_to(operation))} of {count}")
            await asyncio.sleep(0.01)

    def _new_id(self) -> str:
        # Teams message ids are epoch milliseconds.
        return str(next(self._ids))

    async def _record(self, request: web.Request,
                      operation: str) -> tuple[Any, web.Response | None]:
        """Record the call; return its body and a fault's answer when one is due."""
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        call = ConnectorCall(operation, request.method, request.path, body, 200,
                             request.headers.get("Authorization"), dict(request.query))
        self.calls.append(call)
        if operation in self.delays:
            await asyncio.sleep(self.delays[operation])
        if self.expected_authorization and call.authorization != self.expected_authorization:
            call.status = 401
            return body, _error(401, "Unauthorized", "token missing or not accepted")
        for fault in self._faults:
            if fault.remaining and fault.operation in (None, operation):
                fault.remaining -= 1
                call.status = fault.status
                headers = {}
                if fault.retry_after is not None:
                    wait = fault.retry_after
                    headers["Retry-After"] = wait if isinstance(wait, str) else f"{wait:g}"
                code = "TooManyRequests" if fault.status == 429 else "ServiceError"
                return body, _error(fault.status, code, "injected fault", headers)
        if isinstance(body, str):
            call.status = 400
            return body, _error(400, "BadSyntax", "the body is not JSON")
        return body, None

    def _answer(self, status: int, payload: Any) -> web.Response:
        self.calls[-1].status = status
        return web.json_response(payload, status=status)

    async def _create_conversation(self, request: web.Request) -> web.Response:
        body, fault = await self._record(request, "create_conversation")
        if fault:
            return fault
        body = body or {}
        channel = (body.get("channelData") or {}).get("channel") or {}
        members = body.get("members") or []
        if channel.get("id"):  # a new thread in a channel
            conversation = f"{channel['id']};messageid={self._new_id()}"
        elif len(members) == 1 and not body.get("isGroup"):
            conversation = "a:1" + members[0].get("id", "").removeprefix("29:1") + "-1on1"
        else:
            conversation = f"19:{self._new_id()}@thread.v2"
        self.activities.setdefault(conversation, {})
        answer: dict[str, Any] = {"id": conversation, "serviceUrl": self.url.rstrip("/")}
        if body.get("activity"):
            answer["activityId"] = self._store(conversation, body["activity"])
        return self._answer(201, answer)

    def _store(self, conversation: str, activity: dict[str, Any]) -> str:
        activity_id = self._new_id()
        self.activities.setdefault(conversation, {})[activity_id] = {**activity,
                                                                    "id": activity_id}
        return activity_id

    async def _send(self, request: web.Request) -> web.Response:
        body, fault = await self._record(request, "send_to_conversation")
        if fault:
            return fault
        return self._answer(201, {"id": self._store(request.match_info["conversation"], body)})

    async def _reply(self, request: web.Request) -> web.Response:
        body, fault = await self._record(request, "reply_to_activity")
        if fault:
            return fault
        activity = {**body, "replyToId": request.match_info["activity"]}
        return self._answer(201, {"id": self._store(request.match_info["conversation"],
                                                    activity)})

    async def _update(self, request: web.Request) -> web.Response:
        body, fault = await self._record(request, "update_activity")
        if fault:
            return fault
        posted = self.activities.get(request.match_info["conversation"], {})
        activity_id = request.match_info["activity"]
        if activity_id not in posted:
            return self._not_found("ActivityNotFoundInConversation")
        posted[activity_id] = {**body, "id": activity_id}
        return self._answer(200, {"id": activity_id})

    async def _delete(self, request: web.Request) -> web.Response:
        _, fault = await self._record(request, "delete_activity")
        if fault:
            return fault
        posted = self.activities.get(request.match_info["conversation"], {})
        if posted.pop(request.match_info["activity"], None) is None:
            return self._not_found("ActivityNotFoundInConversation")
        self.calls[-1].status = 200
        return web.Response(status=200)

    async def _members(self, request: web.Request) -> web.Response:
        _, fault = await self._record(request, "get_conversation_members")
        if fault:
            return fault
        found = self.members.get(request.match_info["conversation"], {})
        return self._answer(200, list(found.values()))

    async def _paged_members(self, request: web.Request) -> web.Response:
        _, fault = await self._record(request, "get_conversation_paged_members")
        if fault:
            return fault
        found = list(self.members.get(request.match_info["conversation"], {}).values())
        size = max(int(request.query.get("pageSize") or 200), 1)
        start = int(request.query.get("continuationToken") or 0)
        page: dict[str, Any] = {"members": found[start:start + size]}
        if start + size < len(found):
            page["continuationToken"] = str(start + size)
        return self._answer(200, page)

    async def _member(self, request: web.Request) -> web.Response:
        _, fault = await self._record(request, "get_conversation_member")
        if fault:
            return fault
        wanted = request.match_info["member"].lower()
        for account in self.members.get(request.match_info["conversation"], {}).values():
            keys = (account["id"], account["aadObjectId"], account["email"],
                    account["userPrincipalName"])
            if wanted in (key.lower() for key in keys if key):
                return self._answer(200, account)
        return self._not_found("MemberNotFoundInConversation")

    async def _team_channels(self, request: web.Request) -> web.Response:
        _, fault = await self._record(request, "fetch_channel_list")
        if fault:
            return fault
        team = request.match_info["team"]
        if team not in self.channels:
            return self._not_found("TeamNotFound")
        return self._answer(200, {"conversations": self.channels[team]})

    def _not_found(self, code: str) -> web.Response:
        self.calls[-1].status = 404
        return _error(404, code, "not found")


def _error(status: int, code: str, message: str,
           headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status,
                             headers=headers)
