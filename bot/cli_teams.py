"""`feedbackbot teams-package`: the Teams adapter is imported only when the command runs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.settings import Settings


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
