"""The scheduled-work commands: `digest`, `clock` and `suggest-rules`.

Chat platforms are found at run time (bot/platforms.py); the core never imports one.
"""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta
from typing import TYPE_CHECKING

from bot.cli_support import fail, open_runtime, stop_grace_or_fail, stop_gracefully, stop_signals
from bot.config import Config, load_config
from bot.digest_post import DEFAULT_WAIT_SECONDS, post_digests
from bot.digest_service import DigestService
from bot.models import utcnow
from bot.platforms import load_platforms
from bot.settings import Settings
from bot.store import Store
from bot.suggestions import Reassignment, config_diff, suggest_rules
from storage import open_existing_store

if TYPE_CHECKING:
    from bot.runtime import Runtime

_DAY = timedelta(days=1)


_fail = fail


def _config(settings: Settings) -> Config | None:
    loaded = load_config(settings.config_path)
    for problem in loaded.problems:
        print(problem, file=sys.stderr)
    return loaded.config


def _workspaces(store: Store) -> list[str]:
    return store.item_workspaces()


def cmd_digest(args: argparse.Namespace, settings: Settings) -> int:
    """Print the current digests, or post them now (once per period unless forced)."""
    config = _config(settings)
    if config is None:
        return 1
    if not any(each.digests for _, each in config.every_workspace_config()):
        print("No digests are configured (see `digests:` in the config).")
        return 0
    if args.print:
        return _print_digests(config, settings)
    if args.wait < 0:
        return _fail("--wait takes a number of seconds, 0 or more")
    import asyncio

    platforms = load_platforms().wanted(settings)
    if not platforms:
        return _fail("--post needs a platform to post on: SLACK_BOT_TOKEN, or MICROSOFT_APP_ID"
                     " for Teams (see the README's environment table)")

    async def run() -> int:
        runtime = _runtime_with_platforms(settings, config)
        if isinstance(runtime, str):
            return _fail(runtime)
        try:
            return await post_digests(runtime, force=args.force, wait=args.wait)
        finally:
            await runtime.stop()

    return asyncio.run(run())


def _runtime_with_platforms(settings: Settings, config: Config) -> Runtime | str:
    """A runtime with every platform the environment sets up, or what went wrong."""
    runtime = open_runtime(settings, config)
    for platform in load_platforms().wanted(settings):
        try:
            platform.attach(runtime, settings)
        except ImportError as error:
            return (f"{platform.title} support is not installed ({error}); install it with"
                    " pip install 'feedbackbot[teams]'")
    return runtime


def _print_digests(config: Config, settings: Settings) -> int:
    from bot.digest_text import digest_table

    try:
        store = open_existing_store(settings.database_url)
    except ValueError as error:
        return _fail(str(error))
    try:
        service = DigestService(store=store, config=config, clock=utcnow)
        workspaces = _workspaces(store) or [""]
        # Each workspace's digests are those of its config (its section, else the top level).
        for workspace in workspaces:
            digests = config.for_workspace(workspace).digests
            for index, period in enumerate(service.current_periods(workspace)):
                subscription = digests[index]
                if period is None:
                    print(f"{subscription.target}: no digest today in {subscription.timezone}"
                          f" (it runs on {', '.join(subscription.days)})\n")
                    continue
                data = service.build(workspace=workspace, index=index,
                                     local_date=period.local_date, late=False,
                                     window_end=min(utcnow(), period.window_end))
                print(digest_table(data))
    finally:
        store.close()
    return 0


def cmd_clock(args: argparse.Namespace, settings: Settings) -> int:
    """Run only the scheduled work (digests and reminders) until interrupted."""
    import asyncio

    config = _config(settings)
    if config is None:
        return 1
    if not load_platforms().wanted(settings):
        return _fail("set SLACK_BOT_TOKEN, or MICROSOFT_APP_ID for Teams (see the README's"
                     " environment table)")
    if settings.database_url.startswith("sqlite:"):
        print("feedbackbot clock: warning: with a SQLite DATABASE_URL, `serve` and `clock`"
              " must share that file, which means running on the same host.", file=sys.stderr)
    grace = stop_grace_or_fail()
    if grace is None:
        return 2

    async def run() -> int:
        stop = stop_signals()
        runtime = _runtime_with_platforms(settings, config)
        if isinstance(runtime, str):
            return _fail(runtime)
        # Only the scheduled work: the web process sends what it queues.
        await runtime.start(outbox=False, scheduler=True, inbox=False)
        print("feedbackbot clock running (digests and reminders)", flush=True)
        await stop.wait()
        await stop_gracefully(runtime, grace)
        return 0

    return asyncio.run(run())


# A quarter: enough moves to learn from, and routing that changed long ago is left out.
SUGGEST_DAYS = 90


def cmd_suggest_rules(args: argparse.Namespace, settings: Settings) -> int:
    """Print keyword suggestions learned from reassignments, as a config diff."""
    config = _config(settings)
    if config is None:
        return 1
    try:
        store = open_existing_store(settings.database_url)
    except ValueError as error:
        return _fail(str(error))
    if args.days < 1:
        store.close()
        return _fail("--days takes a number of days, 1 or more")
    since = None if args.all else utcnow() - timedelta(days=args.days)
    # Moves are learned from per set of teams: the top level's, or a section's own.
    moved: dict[str | None, list[Reassignment]] = {}
    try:
        service = DigestService(store=store, config=config, clock=utcnow)
        for workspace in _workspaces(store):
            moved.setdefault(_teams_section(config, workspace), []).extend(
                service.reassignments(workspace=workspace, since=since))
    finally:
        store.close()
    found = {section: suggest_rules(reassignments=moves,
                                    config=config.for_workspace(section),
                                    min_count=args.min_count)
             for section, moves in moved.items()}
    if not any(found.values()):
        print(f"No suggestions: no keyword appears in {args.min_count} or more items moved"
              " between the same two teams.")
        return 0
    for section, suggestions in found.items():
        for suggestion in suggestions:
            where = f"workspaces.{section}: " if section else ""
            print(f"# {where}{suggestion.sentence()}")
    with open(settings.config_path, encoding="utf-8") as handle:
        sys.stdout.write(config_diff(found.get(None, []), config_text=handle.read(),
                                     path=settings.config_path,
                                     sections={key: value for key, value in found.items()
                                               if key is not None}))
    return 0


def _teams_section(config: Config, workspace: str) -> str | None:
    """The workspace section whose `teams` a workspace uses; None for the top level's."""
    section = config.section_key(workspace)
    if section is not None and "teams" in config.workspaces[section].overrides():
        return section
    return None


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Register `digest`, `clock` and `suggest-rules` on the CLI."""
    digest = commands.add_parser("digest", help="print or post the digests now")
    mode = digest.add_mutually_exclusive_group(required=True)
    mode.add_argument("--print", action="store_true",
                      help="render the current digests in the terminal; touches nothing")
    mode.add_argument("--post", action="store_true",
                      help="post each digest for its current period (once per period)")
    digest.add_argument("--force", action="store_true", help="with --post: post again")
    digest.add_argument("--wait", type=float, default=DEFAULT_WAIT_SECONDS, metavar="SECONDS",
                        help="with --post: how long to keep trying to deliver"
                        f" (default: {DEFAULT_WAIT_SECONDS:.0f})")
    digest.set_defaults(handler=cmd_digest)

    clock = commands.add_parser("clock", help="run only digests and reminders")
    clock.set_defaults(handler=cmd_clock)

    suggest = commands.add_parser("suggest-rules",
                                  help="suggest routing keywords learned from reassignments")
    suggest.add_argument("--min-count", type=int, default=2,
                         help="items a keyword must appear in (default: 2)")
    window = suggest.add_mutually_exclusive_group()
    window.add_argument("--days", type=int, default=SUGGEST_DAYS,
                        help="learn from the reassignments of the last DAYS days"
                        f" (default: {SUGGEST_DAYS})")
    window.add_argument("--all", action="store_true",
                        help="learn from every reassignment ever stored (reads the whole"
                        " history)")
    suggest.set_defaults(handler=cmd_suggest_rules)

