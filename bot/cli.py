"""The `feedbackbot` command line.

Chat platforms are found at run time (bot/platforms.py), and each adds its own
commands, so the core never imports an adapter or a chat SDK. What only some commands
need (the HTTP server, the runtime, asyncio) is imported inside them, since every command
pays for what this module loads before it starts.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from bot.cli_digest import add_commands
from bot.cli_forget import add_command as add_forget_command
from bot.cli_support import (
    IN_MEMORY_URLS,
    check_config_file,
    fail,
    open_runtime,
    stop_grace_or_fail,
    stop_gracefully,
    stop_signals,
)
from bot.config import Config, load_config
from bot.log_setup import configure_logging
from bot.platforms import Platform, Platforms, load_platforms
from bot.settings import Settings
from bot.store import INBOX_MAX_ATTEMPTS, Store, StoreUnavailable

if TYPE_CHECKING:
    from bot.runtime import Runtime
    from bot.worker_thread import WorkerThread


def cmd_check_config(args: argparse.Namespace, settings: Settings) -> int:
    """Validate the config file, and with --online ask each configured platform too."""
    loaded = load_config(settings.config_path)
    for problem in loaded.problems:
        print(problem)
    if loaded.config is None:
        return 1
    if args.online:
        import asyncio

        platforms = load_platforms().wanted(settings)
        if not platforms:
            return fail("--online needs a platform's credentials (SLACK_BOT_TOKEN)")
        for platform in platforms:
            try:
                problems = asyncio.run(platform.check_online(loaded.config, settings))
            except ConnectionError as error:
                return fail(str(error), 1)
            for online_problem in problems:
                print(online_problem)
            if any(problem.severity == "error" for problem in problems):
                return 1
    count = (len(loaded.warnings) + _warn_about_given_up_requests(settings)
             + _warn_about_missing_teams_installs(settings, loaded.config))
    print(f"{settings.config_path}: OK" + (f" ({count} warning(s))" if count else ""))
    return 0


def _warn_about_given_up_requests(settings: Settings) -> int:
    """Say how many stored requests failed too often to be retried; return 1 if any did."""
    from storage import open_existing_store

    try:
        store = open_existing_store(settings.database_url)
    except ValueError:
        return 0  # no database yet, or none reachable: nothing to report on
    try:
        given_up = store.inbox_given_up_count()
    finally:
        store.close()
    if not given_up:
        return 0
    print(f"DATABASE_URL: warning: {given_up} stored Slack request(s) failed"
          f" {INBOX_MAX_ATTEMPTS} times and are no longer retried. The log says why (look"
          " for 'gave up on stored request'); they are kept in the inbox table.")
    return 1


def _warn_about_missing_teams_installs(settings: Settings, config: Config) -> int:
    """Name the configured Teams channels the bot was not added to; return how many."""
    from bot.install_check import configured_teams_channels, missing_installs
    from storage import open_existing_store

    if not configured_teams_channels(config):
        return 0
    try:
        store: Store | None = open_existing_store(settings.database_url)
    except ValueError:
        store = None  # no database yet: the bot was never added anywhere
    try:
        lines = missing_installs(config, store)
    finally:
        if store is not None:
            store.close()
    for line in lines:
        print(f"{settings.config_path}: {line}")
    return len(lines)


NO_PLATFORM = ("set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET for Slack, or MICROSOFT_APP_ID,"
               " MICROSOFT_APP_PASSWORD and MICROSOFT_APP_TENANT_ID for Microsoft Teams"
               " (see the README's environment table)")


def platforms_to_run(settings: Settings, found: Platforms) -> list[Platform] | str:
    """The platforms the environment sets up, or what is wrong with it."""
    wanted = found.wanted(settings)
    if not wanted:
        return NO_PLATFORM
    for platform in wanted:
        missing = platform.missing(settings)
        if missing:
            return (f"{platform.title} needs {' and '.join(missing)} too (see the README's"
                    " environment table)")
    return wanted


def attach_platforms(runtime: Runtime, settings: Settings,
                     platforms: list[Platform]) -> str | None:
    """Plug each platform into `runtime`; return what is wrong when one can't be built."""
    for platform in platforms:
        try:
            platform.attach(runtime, settings)
        except ImportError as error:
            return (f"{platform.title} support is not installed ({error}); install it with"
                    " pip install 'feedbackbot[teams]'")
    return None


def _warn_about_platforms_not_running(config: Config, running: list[Platform]) -> None:
    """Say which teams and digests wait for a platform this process does not serve."""
    names = {platform.name for platform in running}
    for prefix, each in config.every_workspace_config():
        # A section's teams and digests are its own only when it gives them.
        own_teams = each.teams if not prefix or each.teams is not config.teams else {}
        own_digests = each.digests if not prefix or each.digests is not config.digests else []
        for name, team in own_teams.items():
            if not set(team.platforms) & names:
                print(f"feedbackbot: warning: team {prefix}{name} lives on"
                      f" {', '.join(team.platforms)}, which this process does not serve:"
                      " its cards wait until it does", file=sys.stderr)
        for index, digest in enumerate(own_digests):
            if digest.platform not in names:
                print(f"feedbackbot: warning: {prefix}digests[{index}] is posted on"
                      f" {digest.platform}, which this process does not serve",
                      file=sys.stderr)


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    """Serve every configured platform over HTTP on one port until interrupted."""
    import asyncio

    from aiohttp import web

    from bot.collector import freeze_start_up_objects
    from bot.worker_thread import work_on_a_thread

    config = check_config_file(settings.config_path)
    if config is None:
        return 1
    found = load_platforms()
    platforms = platforms_to_run(settings, found)
    if isinstance(platforms, str):
        return fail(platforms)
    _warn_about_platforms_not_running(config, platforms)
    port = args.port if args.port is not None else settings.port
    grace = stop_grace_or_fail()
    if grace is None:
        return 2

    async def run() -> int:
        stop = stop_signals()
        runtime = open_runtime(settings, config)
        problem = attach_platforms(runtime, settings, platforms)
        if problem:
            await runtime.stop()
            return fail(problem)
        app = runtime.web_app()
        for name, platform in found.available.items():
            if name not in runtime.adapters:
                platform.add_refusals(app)
        # Requests already being handled when the site stops get the whole grace.
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=grace)
        await runner.setup()
        try:
            await web.TCPSite(runner, args.host, port).start()
        except OSError as error:
            await runtime.stop()
            await runner.cleanup()
            return fail(f"cannot listen on {args.host}:{port}: {error.strerror or error}", 1)
        worker: WorkerThread | None = None
        if not args.no_worker and settings.database_url not in IN_MEMORY_URLS:
            # The one-command case: the work runs as a worker would, on a thread of its own.
            started = await work_on_a_thread(
                runtime, lambda: _worker_runtime(settings, config, platforms))
            if isinstance(started, str):
                await runtime.stop()
                await runner.cleanup()
                return fail(started, 1)
            worker = started
        if args.no_worker or worker is not None:
            # Answer here; the worker finishes the requests and sends the outbox.
            runtime.finishes_requests = False
            await runtime.start(scheduler=not args.no_scheduler, outbox=False, inbox=False)
        else:
            await runtime.start(scheduler=not args.no_scheduler)
        paths = {"slack": "/slack/events", "msteams": "/api/messages"}
        served = ", ".join(f"http://{args.host}:{port}{paths.get(p.name, '/')}"
                           for p in platforms)
        print(f"feedbackbot serving {served}", flush=True)
        freeze_start_up_objects()
        code = 0
        if worker is None:
            await stop.wait()
        elif await worker.ended_before(stop):
            # Answered requests would only pile up: stop, so that a restart takes over.
            logging.getLogger(__name__).error(
                "the worker thread stopped on its own; stopping the server too")
            code = 1
        deadline = asyncio.get_running_loop().time() + grace
        drained = await stop_gracefully(runtime, grace, runner=runner, say=worker is None)
        if worker is not None:
            # No request comes in any more: the worker finishes what is left, then stops.
            left = max(0.0, deadline - asyncio.get_running_loop().time())
            drained.plus(await worker.stop(left)).log(grace=grace)
        return code

    return asyncio.run(run())


def _worker_runtime(settings: Settings, config: Config,
                    platforms: list[Platform]) -> Runtime | str:
    """A worker's runtime on this store, with `platforms` plugged in, or what is wrong."""
    runtime = open_runtime(settings, config)
    problem = attach_platforms(runtime, settings, platforms)
    return problem or runtime


WORKER_NICENESS = 10


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    """Finish the requests `serve --no-worker` answered, and send the outbox, until stopped."""
    import asyncio

    from aiohttp import web

    from bot.collector import freeze_start_up_objects

    config = check_config_file(settings.config_path)
    if config is None:
        return 1
    platforms = platforms_to_run(settings, load_platforms())
    if isinstance(platforms, str):
        return fail(platforms)
    _warn_about_platforms_not_running(config, platforms)

    grace = stop_grace_or_fail()
    if grace is None:
        return 2
    # On a host it shares with `serve`, answering Slack within its deadline comes first.
    os.nice(WORKER_NICENESS)

    async def run() -> int:
        stop = stop_signals()
        runtime = open_runtime(settings, config)
        problem = attach_platforms(runtime, settings, platforms)
        if problem:
            await runtime.stop()
            return fail(problem)
        status = None
        if args.metrics_port is not None:
            # This process's own figures: the outbox and the work finished here.
            status = web.AppRunner(runtime.status_app(), access_log=None)
            await status.setup()
            try:
                await web.TCPSite(status, args.host, args.metrics_port).start()
            except OSError as error:
                await runtime.stop()
                await status.cleanup()
                return fail(f"cannot listen on {args.host}:{args.metrics_port}:"
                            f" {error.strerror or error}", 1)
        await runtime.start(scheduler=False, worker=True)
        print(f"feedbackbot worker finishing {', '.join(p.title for p in platforms)}"
              " requests and sending the outbox", flush=True)
        freeze_start_up_objects()
        await stop.wait()
        await stop_gracefully(runtime, grace)
        if status is not None:
            await status.cleanup()
        return 0

    return asyncio.run(run())


# Items can't predate the product, and a year past the next is a typo.
EARLIEST_SINCE_YEAR = 2000
ISO_DATE_START = re.compile(r"\d{4}-\d{2}-\d{2}(?:$|[T ])")


def _parse_since(text: str) -> datetime:
    """Read --since as an ISO 8601 date or time (UTC unless it says otherwise)."""
    usage = f"--since takes a date like 2026-01-31 (UTC) or 2026-01-31T09:00Z, not {text!r}"
    if not ISO_DATE_START.match(text.strip()):
        raise argparse.ArgumentTypeError(usage)
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(usage) from None
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    latest = datetime.now(UTC).year + 1
    if not EARLIEST_SINCE_YEAR <= moment.year <= latest:
        raise argparse.ArgumentTypeError(
            f"--since {text!r} is not a plausible date: give one between"
            f" {EARLIEST_SINCE_YEAR} and {latest}")
    return moment


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    """Write every item as JSON or CSV, streamed page by page."""
    from bot.export import write_csv, write_json
    from storage import open_existing_store

    try:
        store = open_existing_store(settings.database_url)
    except ValueError as error:
        return fail(str(error))
    write = write_json if args.format == "json" else write_csv
    try:
        items = store.iter_items(forwarded_since=args.since)
        if args.workspace:
            items = (item for item in items if item.workspace == args.workspace)
        if args.output:
            with open(args.output, "w", encoding="utf-8", newline="") as handle:
                count = write(items, handle)
                if args.format == "json":
                    handle.write("\n")
            print(f"wrote {count} item(s) to {args.output}", file=sys.stderr)
        else:
            write(items, sys.stdout)
            if args.format == "json":
                sys.stdout.write("\n")
    finally:
        store.close()
    return 0


DEMO_PLATFORM_ALIASES = {"teams": "msteams"}


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    """Play a scripted half-day against a local stand-in for the chosen platform."""
    import asyncio

    found = load_platforms()
    name = DEMO_PLATFORM_ALIASES.get(args.platform, args.platform)
    platform = found.available.get(name)
    if platform is None:
        why = found.unavailable.get(name, "not installed")
        return fail(f"the {name} demo is not available: {why}")
    return asyncio.run(platform.run_demo(db_path=args.db))


def build_parser() -> argparse.ArgumentParser:
    """The argument parser, with one subcommand per command in the README."""
    parser = argparse.ArgumentParser(
        prog="feedbackbot",
        description="Route customer feedback from chat to the developers who own it.")
    parser.add_argument("--config", help="config file (default: $FEEDBACKBOT_CONFIG or"
                        " feedbackbot.yml)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug detail")
    parser.add_argument("--log-payloads", action="store_true",
                        help="with -v, also log the chat libraries' request and response"
                        " bodies, customer words included (for debugging only)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser(
        "serve", help="serve Slack and Teams over HTTP (/slack/events, /api/messages, /healthz)")
    serve.add_argument("--port", type=int, help="port to listen on (default: $PORT or 3000)")
    serve.add_argument("--host", default="0.0.0.0", help="address to bind (default: 0.0.0.0)")
    serve.add_argument("--no-scheduler", action="store_true",
                       help="leave digests and reminders to `feedbackbot clock`")
    serve.add_argument("--no-worker", action="store_true",
                       help="only store and answer requests; `feedbackbot worker` finishes"
                       " them and sends the outbox")
    serve.set_defaults(handler=cmd_serve)

    worker = commands.add_parser(
        "worker", help="finish stored requests and send the outbox (beside `serve --no-worker`)")
    worker.add_argument("--metrics-port", type=int,
                        help="also serve /healthz and /metrics on this port")
    worker.add_argument("--host", default="0.0.0.0",
                        help="address for --metrics-port (default: 0.0.0.0)")
    worker.set_defaults(handler=cmd_worker)

    check = commands.add_parser("check-config", help="validate the config file")
    check.add_argument("--online", action="store_true",
                       help="also ask the platforms about channels, members and sharing")
    check.set_defaults(handler=cmd_check_config)

    export = commands.add_parser("export", help="export every item as JSON or CSV")
    export.add_argument("--format", choices=("json", "csv"), default="json")
    export.add_argument("--since", type=_parse_since,
                        help="only items forwarded on or after this UTC date")
    export.add_argument("--output", "-o", help="write to a file instead of stdout")
    export.add_argument("--workspace", help="only this workspace's items (its key, as in the"
                        " export's `workspace` field)")
    export.set_defaults(handler=cmd_export)

    add_commands(commands)
    add_forget_command(commands)
    for platform in load_platforms().available.values():
        platform.add_commands(commands)

    demo = commands.add_parser("demo", help="play a scripted half-day locally, no chat"
                               " account needed")
    demo.add_argument("--db", help="keep the demo's database in this file")
    demo.add_argument("--platform", choices=("slack", "msteams", *DEMO_PLATFORM_ALIASES),
                      default="slack",
                      help="where the owning team lives in the story (default: slack)")
    demo.set_defaults(handler=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return its exit code."""
    args = build_parser().parse_args(argv)
    configure_logging(verbose=args.verbose, log_payloads=args.log_payloads)
    try:
        settings = Settings.from_env()
    except ValueError as error:
        return fail(str(error))
    if args.config:
        settings = settings.with_changes(config_path=args.config)
    try:
        code: int = args.handler(args, settings)
    except BrokenPipeError:
        # The reader went away (`feedbackbot export | head`): what it wanted it has.
        _silence_stdout()
        return 0
    except StoreUnavailable as error:
        return _expected_failure(error, str(error), 1)
    except OSError as error:
        if error.filename is None:
            raise
        # A file named on the command line or in the environment: say which and why.
        return _expected_failure(error, f"{error.filename}: {error.strerror or error}", 1)
    return code


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so that flushing it at exit raises nothing more."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def _expected_failure(error: Exception, message: str, code: int) -> int:
    """One line for a failure the user can fix; the traceback only with -v."""
    logging.getLogger(__name__).debug("details", exc_info=error)
    return fail(message, code)


if __name__ == "__main__":
    raise SystemExit(main())
