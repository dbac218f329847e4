"""The `feedbackbot` command line.

The chat adapters are imported inside each command, so that importing the core
never loads a chat SDK.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import re
import signal
import sys
from collections.abc import Sequence
from datetime import UTC, datetime

from bot.cli_digest import add_commands
from bot.cli_teams import add_commands as add_teams_commands
from bot.config import Config, load_config
from bot.install_check import configured_teams_channels, missing_installs
from bot.log_setup import configure_logging
from bot.settings import Settings
from bot.store import INBOX_MAX_ATTEMPTS, Store, StoreUnavailable


def _fail(message: str, code: int = 2) -> int:
    print(f"feedbackbot: {message}", file=sys.stderr)
    return code


def _check_config_file(path: str) -> bool:
    """Print the config's problems; return True when it has no errors."""
    loaded = load_config(path)
    for problem in loaded.problems:
        print(problem, file=sys.stderr)
    return loaded.config is not None


def cmd_check_config(args: argparse.Namespace, settings: Settings) -> int:
    """Validate the config file, and with --online ask Slack too."""
    loaded = load_config(settings.config_path)
    for problem in loaded.problems:
        print(problem)
    if loaded.config is None:
        return 1
    if args.online:
        if not settings.bot_token:
            return _fail("--online needs SLACK_BOT_TOKEN")
        from handlers.slack.online_check import TokenRejected, run_online_check

        try:
            problems = asyncio.run(run_online_check(loaded.config, settings))
        except TokenRejected as error:
            return _fail(str(error), 1)
        for online_problem in problems:
            print(f"{settings.config_path}: {online_problem}")
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


def _require(settings: Settings, *names: str) -> str | None:
    missing = [name for name in names if not getattr(settings, _ENV_FIELDS[name])]
    if missing:
        return f"set {' and '.join(missing)} (see the README's environment table)"
    return None


_ENV_FIELDS = {"SLACK_BOT_TOKEN": "bot_token", "SLACK_SIGNING_SECRET": "signing_secret",
               "SLACK_APP_TOKEN": "app_token"}


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    """Serve Slack over HTTP until interrupted."""
    if not _check_config_file(settings.config_path):
        return 1
    problem = _require(settings, "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET")
    if problem:
        return _fail(problem)
    from handlers.slack.app import create_app
    from handlers.slack.http import serve

    port = args.port if args.port is not None else settings.port

    async def run() -> None:
        stop = stop_signals()
        bot = create_app(settings)
        assert settings.signing_secret is not None
        runner = await serve(bot, signing_secret=settings.signing_secret, host=args.host,
                             port=port, scheduler=not args.no_scheduler)
        print(f"feedbackbot serving http://{args.host}:{port}/slack/events", flush=True)
        await stop.wait()
        await bot.stop()
        await runner.cleanup()

    asyncio.run(run())
    return 0


def cmd_socket(args: argparse.Namespace, settings: Settings) -> int:
    """Connect to Slack in Socket Mode until interrupted."""
    if not _check_config_file(settings.config_path):
        return 1
    problem = _require(settings, "SLACK_BOT_TOKEN", "SLACK_APP_TOKEN")
    if problem:
        return _fail(problem)
    from handlers.slack.app import create_app
    from handlers.slack.socket import connect_socket_mode

    async def run() -> None:
        stop = stop_signals()
        bot = create_app(settings)
        assert settings.app_token is not None
        client = await connect_socket_mode(bot, app_token=settings.app_token)
        print("feedbackbot connected in Socket Mode", flush=True)
        await stop.wait()
        await client.close()
        await bot.stop()

    asyncio.run(run())
    return 0


def stop_signals() -> asyncio.Event:
    """An event set when the process is asked to stop (SIGINT or SIGTERM).

    Install it before announcing readiness, so an early signal still stops cleanly.
    """
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


def cmd_manifest(args: argparse.Namespace, settings: Settings) -> int:
    """Print the Slack app manifest."""
    from handlers.slack.manifest import manifest_yaml

    sys.stdout.write(manifest_yaml(url=args.url))
    return 0


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
    """Write every item as JSON or CSV."""
    from bot.export import export_csv, export_json
    from storage import open_existing_store

    try:
        store = open_existing_store(settings.database_url)
    except ValueError as error:
        return _fail(str(error))
    try:
        items = store.list_items(forwarded_since=args.since)
    finally:
        store.close()
    text = export_json(items) + "\n" if args.format == "json" else export_csv(items)
    if args.output:
        with open(args.output, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        print(f"wrote {len(items)} item(s) to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    """Play a scripted half-day against a local stand-in for Slack."""
    from bot.demo.run import run_demo

    return asyncio.run(run_demo(db_path=args.db))


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

    serve = commands.add_parser("serve", help="serve Slack over HTTP (/slack/events, /healthz)")
    serve.add_argument("--port", type=int, help="port to listen on (default: $PORT or 3000)")
    serve.add_argument("--host", default="0.0.0.0", help="address to bind (default: 0.0.0.0)")
    serve.add_argument("--no-scheduler", action="store_true",
                       help="leave digests and reminders to `feedbackbot clock`")
    serve.set_defaults(handler=cmd_serve)

    socket_mode = commands.add_parser("socket", help="connect to Slack in Socket Mode")
    socket_mode.set_defaults(handler=cmd_socket)

    check = commands.add_parser("check-config", help="validate the config file")
    check.add_argument("--online", action="store_true",
                       help="also ask Slack about channels, members and sharing")
    check.set_defaults(handler=cmd_check_config)

    manifest = commands.add_parser("manifest", help="print the Slack app manifest (YAML)")
    manifest.add_argument("--url", help="public base URL; without it, Socket Mode")
    manifest.set_defaults(handler=cmd_manifest)

    export = commands.add_parser("export", help="export every item as JSON or CSV")
    export.add_argument("--format", choices=("json", "csv"), default="json")
    export.add_argument("--since", type=_parse_since,
                        help="only items forwarded on or after this UTC date")
    export.add_argument("--output", "-o", help="write to a file instead of stdout")
    export.set_defaults(handler=cmd_export)

    add_commands(commands)
    add_teams_commands(commands)

    demo = commands.add_parser("demo", help="play a scripted half-day locally, no Slack needed")
    demo.add_argument("--db", help="keep the demo's database in this file")
    demo.set_defaults(handler=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return its exit code."""
    args = build_parser().parse_args(argv)
    configure_logging(verbose=args.verbose, log_payloads=args.log_payloads)
    try:
        settings = Settings.from_env()
    except ValueError as error:
        return _fail(str(error))
    if args.config:
        settings = settings.with_changes(config_path=args.config)
    try:
        code: int = args.handler(args, settings)
    except StoreUnavailable as error:
        return _expected_failure(error, str(error), 1)
    except OSError as error:
        if error.filename is None:
            raise
        # A file named on the command line or in the environment: say which and why.
        return _expected_failure(error, f"{error.filename}: {error.strerror or error}", 1)
    return code


def _expected_failure(error: Exception, message: str, code: int) -> int:
    """One line for a failure the user can fix; the traceback only with -v."""
    logging.getLogger(__name__).debug("details", exc_info=error)
    return _fail(message, code)


if __name__ == "__main__":
    raise SystemExit(main())
