"""Microsoft Teams as a platform of the runtime: its settings, adapter and own commands.

Nothing of the Agents SDK is imported until the adapter is built, so that the platform
is listed (and says what to install) even without the `teams` extra.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from bot.config import Config
from bot.config_problems import ConfigProblem
from bot.platforms import refusal_route
from bot.settings import Settings

if TYPE_CHECKING:
    from aiohttp import web

    from bot.runtime import PlatformAdapter, Runtime


class TeamsPlatform:
    """Microsoft Teams: activities at /api/messages, sent back through the Bot Connector."""

    name = "msteams"
    title = "Microsoft Teams"

    def wanted(self, settings: Settings) -> bool:
        """True when the app registration or local anonymous mode is set."""
        return bool(settings.microsoft_app_id or settings.teams_anonymous)

    def missing(self, settings: Settings) -> list[str]:
        """What `serve` still needs for Teams (anonymous mode needs no credentials)."""
        if settings.microsoft_app_id is None:
            return []
        needed = {"MICROSOFT_APP_PASSWORD": settings.microsoft_app_password,
                  "MICROSOFT_APP_TENANT_ID": settings.microsoft_app_tenant_id}
        return [name for name, value in needed.items() if not value]

    def attach(self, runtime: Runtime, settings: Settings) -> PlatformAdapter:
        """Build the Teams adapter on `runtime` and plug it in.

        Raises ImportError when the `teams` extra is not installed.
        """
        from handlers.msteams.adapter import TeamsAdapter

        adapter = TeamsAdapter(runtime=runtime, settings=settings)
        runtime.add_platform(adapter)
        return adapter

    def add_refusals(self, app: web.Application) -> None:
        """Refuse /api/messages: without an app id no caller's token can be checked."""
        app.router.add_routes([refusal_route("/api/messages", self.title,
                                             "MICROSOFT_APP_ID, or FEEDBACKBOT_TEAMS_ANONYMOUS=1"
                                             " for local testing")])

    def add_commands(self, commands: argparse._SubParsersAction) -> None:
        """Register `teams-package`."""
        add_commands(commands)

    async def check_online(self, config: Config, settings: Settings) -> list[ConfigProblem]:
        """Teams can't be asked about channels the bot is not in; see check-config's notes."""
        return []

    async def run_demo(self, *, db_path: str | None) -> int:
        """Play the demo with a team on Teams, against the local Bot Connector stand-in."""
        from handlers.msteams.standin.demo import run_demo

        return await run_demo(db_path=db_path)


def cmd_teams_package(args: argparse.Namespace, settings: Settings) -> int:
    """Write the Teams app zip (manifest and icons) for upload to Teams."""
    from handlers.msteams.package import PackageError, write_package

    output = Path(args.output)
    try:
        write_package(output, args.app_id, args.url)
    except PackageError as error:
        print(f"feedbackbot: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"feedbackbot: cannot write {output}: {error.strerror}", file=sys.stderr)
        return 1
    print(f"wrote {output}; upload it in Teams (Apps → Manage your apps → Upload an app)")
    return 0


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Register `teams-package` on the CLI."""
    package = commands.add_parser("teams-package", help="write the Teams app package (zip)")
    package.add_argument("--app-id", required=True,
                         help="the bot's Entra app (client) id, MICROSOFT_APP_ID")
    package.add_argument("--url", help="public base URL of the bot (https://…), for validDomains")
    package.add_argument("--output", "-o", default="feedbackbot-teams.zip",
                         help="zip file to write (default: feedbackbot-teams.zip)")
    package.set_defaults(handler=cmd_teams_package)


PLATFORM = TeamsPlatform()
