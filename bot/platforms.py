"""Chat platforms found at run time: each adapter package registers itself as an entry point.

The core never imports an adapter. `pyproject.toml` names them in the
`feedbackbot.platforms` group (Slack in handlers/slack, Teams in handlers/msteams); one
whose SDK is not installed (Teams without the `teams` extra) is reported, not fatal.
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Protocol

from bot.config import Config
from bot.config_problems import ConfigProblem
from bot.settings import Settings

if TYPE_CHECKING:
    from aiohttp import web

    from bot.runtime import PlatformAdapter, Runtime

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "feedbackbot.platforms"


class Platform(Protocol):
    """A chat platform's entry into the command line and the runtime."""

    name: str  # "slack", "msteams"
    title: str  # "Slack", "Microsoft Teams"

    def wanted(self, settings: Settings) -> bool:
        """True when the environment sets this platform up (even partly)."""
        ...

    def missing(self, settings: Settings) -> list[str]:
        """The environment variables `serve` still needs for this platform."""
        ...

    def attach(self, runtime: Runtime, settings: Settings) -> PlatformAdapter:
        """Build the platform's adapter on `runtime` and plug it in."""
        ...

    def add_refusals(self, app: web.Application) -> None:
        """Answer the platform's endpoints with 401 when this process doesn't serve it."""
        ...

    def add_commands(self, commands: argparse._SubParsersAction) -> None:
        """Register the platform's own subcommands (e.g. `socket`, `teams-package`)."""
        ...

    async def check_online(self, config: Config, settings: Settings) -> list[ConfigProblem]:
        """Ask the platform about the config's channels and people; return the problems.

        Raises ConnectionError (its message says what to fix) when it can't be asked.
        """
        ...

    async def run_demo(self, *, db_path: str | None) -> int:
        """Play the demo script against a local stand-in of the platform; the exit code."""
        ...


@dataclass
class Platforms:
    """The platforms this installation has, and those it could not load (with why)."""

    available: dict[str, Platform] = field(default_factory=dict)
    unavailable: dict[str, str] = field(default_factory=dict)

    def wanted(self, settings: Settings) -> list[Platform]:
        """The platforms the environment sets up, in a stable order."""
        return [platform for platform in self.available.values() if platform.wanted(settings)]


def refusal_route(path: str, title: str, needs: str) -> web.RouteDef:
    """POST `path` answered 401 without reading or storing anything: `title` isn't set up."""
    # Only `serve` answers HTTP: the other commands need not load aiohttp's server.
    from aiohttp import web

    async def refuse(request: web.Request) -> web.Response:
        return web.json_response(
            {"error": f"{title} is not set up in this deployment ({needs})"}, status=401)

    return web.post(path, refuse)


def load_platforms() -> Platforms:
    """Load every registered platform; a failing import is recorded, not raised."""
    found = Platforms()
    for entry in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        try:
            platform = entry.load()
        except ImportError as error:
            found.unavailable[entry.name] = str(error)
            log.debug("platform %s is not available: %s", entry.name, error)
            continue
        found.available[entry.name] = platform
    return found
