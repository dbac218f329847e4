"""An in-process, Slack-compatible Web API server on loopback: a fake workspace.

Tests and `feedbackbot demo` point the bot's `SLACK_API_URL` at `FakeSlack.api_url`. It
answers the Web API methods of `slack_directory`, `slack_messages` and `slack_views` with
Slack's response shapes, records every call, and can fail, rate-limit, delay or refuse
calls on demand. It also speaks Socket Mode (`slack_socket`): `apps.connections.open`
and a WebSocket down which tests push envelopes. It uses aiohttp and imports no Slack SDK.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from aiohttp import web

from handlers.slack.standin import slack_directory, slack_messages, slack_views
from handlers.slack.standin.slack_calls import (
    BadRequest,
    Fault,
    FaultPlan,
    RecordedCall,
    error_for_status,
    read_args,
    read_upload,
)
from handlers.slack.standin.slack_oauth import OAuthSide
from handlers.slack.standin.slack_socket import SocketModeServer
from handlers.slack.standin.slack_state import SlackError, Workspace

METHODS = {**slack_directory.METHODS, **slack_messages.METHODS, **slack_views.METHODS}


class FakeSlack(SocketModeServer):
    """A fake Slack workspace served over HTTP on 127.0.0.1; see the module docstring."""

    def __init__(
        self,
        *,
        team_id: str = "T0DEMO",
        team_name: str = "Demo Co",
        bot_user_id: str = "U0BOT",
        bot_id: str = "B0BOT",
        enterprise_id: str | None = None,
        domain: str = "demo",
        app_id: str = "A0DEMO",
        clock: Callable[[], float] = time.time,
        latency: float = 0.0,
    ) -> None:
        """`clock` gives POSIX seconds for the ts of messages the server creates.

        `latency` holds back every answer by that many seconds, as a real network would.
        """
        self.workspace = Workspace(
            team_id=team_id,
            team_name=team_name,
            domain=domain,
            bot_user_id=bot_user_id,
            bot_id=bot_id,
            app_id=app_id,
            enterprise_id=enterprise_id,
            clock=clock,
        )
        self.team_id = team_id
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.enterprise_id = enterprise_id
        self.calls: list[RecordedCall] = []
        self.revoked = False
        self.latency = latency
        self.base_url = ""
        self.api_url = ""
        self._plan = FaultPlan()
        self.oauth = OAuthSide()  # other workspaces installing the app through OAuth
        self._changed = asyncio.Condition()
        self._stopping = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._init_socket_mode()

    # ---- lifecycle ----------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Listen on host:port (0 picks a free port) and set `api_url`."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/api/{method}", self._handle_api)
        app.router.add_post("/upload/{file_id}", self._handle_upload)
        app.router.add_post("/response/{key}", self._handle_response_url)
        self._add_socket_routes(app)
        # A short shutdown grace: delayed answers are cut off by `_stopping` anyway.
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound_host, bound_port = self._runner.addresses[0][:2]
        self.base_url = f"http://{bound_host}:{bound_port}"
        self.api_url = f"{self.base_url}/api/"
        self.workspace.base_url = self.base_url
        self._stopping.clear()

    async def stop(self) -> None:
        """Stop listening; answers still being delayed are released first."""
        self._stopping.set()
        await self._close_sockets_for_stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeSlack:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def response_url(self, key: str = "default") -> str:
        """A response_url on this server; posts to it are recorded as method `response_url`."""
        return f"{self.base_url}/response/{key}"

    # ---- workspace state ----------------------------------------------------------------

    @property
    def expire_triggers(self) -> bool:
        """When true, views.open and views.push answer expired_trigger_id."""
        return self.workspace.expire_triggers

    @expire_triggers.setter
    def expire_triggers(self, value: bool) -> None:
        self.workspace.expire_triggers = value

    def add_user(
        self,
        user_id: str,
        name: str,
        *,
        real_name: str | None = None,
        team_id: str | None = None,
        is_bot: bool = False,
        bot_id: str | None = None,
        is_restricted: bool = False,
        is_ultra_restricted: bool = False,
        deleted: bool = False,
        email: str | None = None,
        is_admin: bool = False,
    ) -> dict[str, Any]:
        """Add (or replace) a user of our team or `team_id`; a `bot_id` registers a bot too."""
        return self.workspace.add_user(
            user_id,
            name,
            real_name=real_name,
            team_id=team_id,
            is_bot=is_bot,
            bot_id=bot_id,
            is_restricted=is_restricted,
            is_ultra_restricted=is_ultra_restricted,
            deleted=deleted,
            email=email,
            is_admin=is_admin,
        )

    def add_team(self, team_id: str, name: str, *, domain: str | None = None) -> dict[str, Any]:
        """Register another workspace so team.info can answer for it."""
        return self.workspace.add_team(team_id, name, domain=domain)

    def add_channel(
        self,
        channel_id: str,
        name: str,
        *,
        is_private: bool = False,
        is_ext_shared: bool = False,
        is_pending_ext_shared: bool = False,
        members: list[str] | tuple[str, ...] = (),
        bot_member: bool = True,
        is_archived: bool = False,
    ) -> dict[str, Any]:
        """Add (or replace) a channel; the bot is a member unless `bot_member` is false."""
        return self.workspace.add_channel(
            channel_id,
            name,
            is_private=is_private,
            is_ext_shared=is_ext_shared,
            is_pending_ext_shared=is_pending_ext_shared,
            members=members,
            bot_member=bot_member,
            is_archived=is_archived,
        )

    def update_channel(self, channel_id: str, **fields: Any) -> dict[str, Any]:
        """Change a channel's flags in place (e.g. is_ext_shared=True before channel_shared)."""
        channel = self.workspace.channels[channel_id]
        channel.update(fields)
        if "is_ext_shared" in fields:
            channel["is_shared"] = bool(fields["is_ext_shared"])
        return self.workspace.channel_object(channel_id)

    def add_usergroup(self, group_id: str, handle: str, users: list[str]) -> dict[str, Any]:
        """Add a user group."""
        return self.workspace.add_usergroup(group_id, handle, users)

    def dm_channel(self, user_id: str) -> str:
        """The D… id of the bot's DM with a user (opened if needed)."""
        return self.workspace.open_dm(user_id)

    def add_message(
        self,
        channel: str,
        *,
        user: str,
        text: str,
        ts: str | None = None,
        thread_ts: str | None = None,
        subtype: str | None = None,
        attachments: list[dict[str, Any]] | None = None,
        files: list[dict[str, Any]] | None = None,
        bot_id: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Seed a message into a channel's history; returns a copy including its ts."""
        channel_id = self._channel_key(channel)
        if channel_id not in self.workspace.channels:
            raise KeyError(f"add_channel({channel_id!r}, ...) first")
        user_record = self.workspace.users.get(user, {})
        message: dict[str, Any] = {
            "type": "message",
            "user": user,
            "text": text,
            "ts": ts,
            "team": user_record.get("team_id", self.team_id),
        }
        optional = {
            "thread_ts": thread_ts,
            "subtype": subtype,
            "attachments": attachments,
            "files": files,
            "bot_id": bot_id,
            "metadata": metadata,
        }
        message.update({k: copy.deepcopy(v) for k, v in optional.items() if v is not None})
        return copy.deepcopy(self.workspace.insert_message(channel_id, message))

    def messages(self, channel: str) -> list[dict[str, Any]]:
        """Every message in a channel (a U… id means the DM), replies included, oldest first."""
        channel_id = self._channel_key(channel)
        return copy.deepcopy(self.workspace.all_messages(channel_id))

    def message(self, channel: str, ts: str) -> dict[str, Any] | None:
        """One message by channel and ts, or None."""
        return next((m for m in self.messages(channel) if m["ts"] == ts), None)

    @property
    def ephemerals(self) -> list[dict[str, Any]]:
        """Ephemeral messages posted so far (each has `channel` and `recipient`)."""
        return copy.deepcopy(self.workspace.ephemerals)

    @property
    def views(self) -> dict[str, dict[str, Any]]:
        """Views opened, pushed, updated or published, by view id."""
        return copy.deepcopy(self.workspace.views)

    @property
    def uploads(self) -> dict[str, dict[str, Any]]:
        """Uploaded files by file id; `content` holds the bytes received."""
        return copy.deepcopy(self.workspace.uploads)

    def _channel_key(self, channel: str) -> str:
        if channel[:1] in "UW" and channel in self.workspace.users:
            return self.workspace.open_dm(channel)
        return channel

    # ---- recorded calls -----------------------------------------------------------------

    def calls_to(self, method: str, *, include_failed: bool = False) -> list[RecordedCall]:
        """Calls to `method`, oldest first; only ok:true ones unless include_failed."""
        return [c for c in self.calls if c.method == method and (c.ok or include_failed)]

    async def wait_for(
        self,
        method: str,
        *,
        count: int = 1,
        timeout: float = 5.0,
        where: Callable[[RecordedCall], bool] | None = None,
    ) -> list[RecordedCall]:
        """Wait until `count` successful calls to `method` (matching `where`) were recorded.

        Returns every matching call so far (at least `count`). Raises asyncio.TimeoutError
        naming the calls that were recorded instead.
        """

        def matching() -> list[RecordedCall]:
            return [c for c in self.calls_to(method) if where is None or where(c)]

        async def until_enough() -> None:
            async with self._changed:
                await self._changed.wait_for(lambda: len(matching()) >= count)

        try:
            await asyncio.wait_for(until_enough(), timeout)
        except TimeoutError:
            seen = Counter(
                c.method if c.ok else f"{c.method} [{c.error or c.status}]" for c in self.calls
            )
            summary = ", ".join(f"{name} x{n}" for name, n in seen.items()) or "none"
            raise TimeoutError(
                f"waited {timeout}s for {count} successful {method} call(s)"
                f"{' matching where' if where else ''}, saw {len(matching())}; "
                f"recorded calls: {summary}"
            ) from None
        return matching()

    # ---- fault injection ----------------------------------------------------------------

    def fail_next(
        self,
        method: str | None = None,
        *,
        count: int = 1,
        status: int = 500,
        error: str | None = None,
        applied: bool = False,
    ) -> None:
        """Answer the next `count` calls to `method` (None: any) with `status`, not applying them.

        `error` sets the body's error code; with status=200 it fakes an API error. With
        `applied`, the calls are applied first, as when Slack fails after doing the work.
        """
        kind = "fail_after_applying" if applied else "fail"
        self._plan.faults.append(
            Fault(kind, method, count, status=status, error=error or error_for_status(status))
        )

    def rate_limit_next(
        self, method: str | None = None, *, count: int = 1, retry_after: int = 1
    ) -> None:
        """Answer the next `count` calls with HTTP 429, Retry-After and error ratelimited."""
        self._plan.faults.append(
            Fault("ratelimit", method, count, status=429, retry_after=retry_after)
        )

    def delay_next(self, method: str | None = None, *, seconds: float, count: int = 1) -> None:
        """Apply the next `count` calls but hold their answers back for `seconds`."""
        self._plan.faults.append(Fault("delay", method, count, seconds=seconds))

    def set_outage(self, down: bool, *, status: int = 500) -> None:
        """While down, every call answers `status` and changes nothing."""
        self._plan.outage = status if down else None

    def set_troubled(self, troubled: bool, *, retry_after: int = 1) -> None:
        """While troubled, calls answer in turn 429 (with `retry_after`), 500, 500 after
        being applied, and normally (see TROUBLE_TURNS)."""
        self._plan.troubled_retry_after = retry_after if troubled else None

    def clear_faults(self) -> None:
        """Forget every fault still queued by fail_next, rate_limit_next or delay_next."""
        self._plan.faults.clear()

    # ---- HTTP ---------------------------------------------------------------------------

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        try:
            args, token = await read_args(request)
        except BadRequest:
            return await self._answer(method, {}, None, 200, {"ok": False, "error": "invalid_json"})
        refusal = self._plan.refusal(method)
        if refusal is not None:
            return await self._answer(method, args, token, *refusal)
        if method == "oauth.v2.access":
            answer = self.oauth.exchange(args, request.headers.get("Authorization", ""))
            return await self._answer(method, args, token, 200, answer)
        oauth_answer = self.oauth.auth_test(token) if method == "auth.test" else None
        if oauth_answer is not None:
            return await self._answer(method, args, token, 200, oauth_answer)
        if self.revoked or self.oauth.refused(token):
            return await self._answer(
                method, args, token, 200, {"ok": False, "error": "token_revoked"}
            )
        turn = self._plan.trouble_turn()
        if turn == "ratelimit":
            return await self._answer(method, args, token, 429,
                                      {"ok": False, "error": "ratelimited"},
                                      {"Retry-After": str(self._plan.troubled_retry_after)})
        if turn == "fail":
            return await self._answer(method, args, token, 500,
                                      {"ok": False, "error": "internal_error"})
        if method == "apps.connections.open":
            return await self._answer(method, args, token, 200, self._connections_open(token))
        if not token or not token.startswith("xox"):
            error = "not_allowed_token_type" if token and token.startswith("xapp-") else None
            error = error or ("invalid_auth" if token else "not_authed")
            return await self._answer(method, args, token, 200, {"ok": False, "error": error})
        handler = METHODS.get(method)
        if handler is None:
            body: dict[str, Any] = {"ok": False, "error": "unknown_method", "req_method": method}
        else:
            try:
                body = {"ok": True, **handler(self.workspace, args)}
            except SlackError as exc:
                body = {"ok": False, "error": exc.error}
        failure = self._plan.failure_after_applying(method)
        if failure is not None:
            return await self._answer(method, args, token, *failure)
        if turn == "fail_after_applying":
            return await self._answer(method, args, token, 500,
                                      {"ok": False, "error": "internal_error"})
        return await self._answer(method, args, token, 200, body)

    async def _handle_upload(self, request: web.Request) -> web.StreamResponse:
        file_id = request.match_info["file_id"]
        content = await read_upload(request)
        args: dict[str, Any] = {"file_id": file_id, "size": len(content)}
        refusal = self._plan.refusal("upload")
        if refusal is not None:
            return await self._answer("upload", args, None, *refusal)
        upload = self.workspace.uploads.get(file_id)
        if upload is None:
            await self._record("upload", args, None, 404, {"ok": False, "error": "file_not_found"})
            return web.Response(status=404, text="file_not_found")
        upload["content"] = content
        await self._record("upload", args, None, 200, {"ok": True})
        return web.Response(text=f"OK - {len(content)}")

    async def _handle_response_url(self, request: web.Request) -> web.StreamResponse:
        args: dict[str, Any] = {"key": request.match_info["key"]}
        try:
            args.update(await request.json())
        except ValueError:
            return await self._answer("response_url", args, None, 400, {"ok": False})
        refusal = self._plan.refusal("response_url")
        if refusal is not None:
            return await self._answer("response_url", args, None, *refusal)
        return await self._answer("response_url", args, None, 200, {"ok": True})

    async def _answer(
        self,
        method: str,
        args: dict[str, Any],
        token: str | None,
        status: int,
        body: dict[str, Any],
        headers: dict[str, str] | None = None,
    ) -> web.Response:
        if self.latency:
            await asyncio.sleep(self.latency)
        await self._record(method, args, token, status, body)
        if status == 200:
            delay = self._plan.delay(method)
            if delay is not None:
                # The call is already applied and recorded; only the answer is late, so the
                # client sees a timeout whose outcome it cannot know.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), delay)
        return web.json_response(body, status=status, headers=headers)

    async def _record(
        self,
        method: str,
        args: dict[str, Any],
        token: str | None,
        status: int,
        body: dict[str, Any],
    ) -> None:
        ok = status == 200 and bool(body.get("ok"))
        call = RecordedCall(
            method=method,
            args=args,
            token=token,
            at=time.time(),
            status=status,
            ok=ok,
            error=None if ok else str(body.get("error") or status),
            response=copy.deepcopy(body),
        )
        async with self._changed:
            self.calls.append(call)
            self._changed.notify_all()
