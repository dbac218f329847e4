"""Slack as a platform of the runtime: its settings, its adapter and its own commands."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from bot.config import Config
from bot.config_problems import ConfigProblem
from bot.platforms import refusal_route
from bot.settings import Settings

if TYPE_CHECKING:
    from aiohttp import web

    from bot.runtime import Runtime
    from handlers.slack.app import FeedbackApp


class SlackPlatform:
    """Slack: HTTP at /slack/events or Socket Mode, with one bot token or OAuth installs."""

    name = "slack"
    title = "Slack"

    def wanted(self, settings: Settings) -> bool:
        """True when any Slack credential is set."""
        return bool(settings.bot_token or settings.signing_secret or settings.app_token
                    or settings.slack_client_id or settings.slack_client_secret)

    def missing(self, settings: Settings) -> list[str]:
        """What `serve` still needs for Slack over HTTP."""
        if settings.slack_client_id or settings.slack_client_secret:
            return _missing_for_oauth(settings)
        needed = {"SLACK_BOT_TOKEN": settings.bot_token,
                  "SLACK_SIGNING_SECRET": settings.signing_secret}
        return [name for name, value in needed.items() if not value]

    def attach(self, runtime: Runtime, settings: Settings) -> FeedbackApp:
        """Build the Slack adapter on `runtime` (it plugs itself in)."""
        from handlers.slack.app import create_app

        return create_app(settings, runtime=runtime)

    def add_refusals(self, app: web.Application) -> None:
        """Refuse /slack/events: nothing could check Slack's signature."""
        app.router.add_routes([refusal_route("/slack/events", self.title,
                                             "SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET")])

    def add_commands(self, commands: argparse._SubParsersAction) -> None:
        """Register `socket` and `manifest`."""
        socket_mode = commands.add_parser("socket", help="connect to Slack in Socket Mode")
        socket_mode.set_defaults(handler=cmd_socket)
        manifest = commands.add_parser("manifest", help="print the Slack app manifest (YAML)")
        manifest.add_argument("--url", help="public base URL; without it, Socket Mode")
        manifest.add_argument("--oauth", action="store_true",
                              help="with --url: for OAuth installs (redirect URL, org-wide)")
        manifest.set_defaults(handler=cmd_manifest)
        new_key = commands.add_parser(
            "new-secret-key", help="print a new key for FEEDBACKBOT_SECRET_KEY (OAuth mode)")
        new_key.set_defaults(handler=cmd_new_secret_key)
        rotate = commands.add_parser(
            "rotate-key", help="re-encrypt stored Slack tokens with the first key of"
                               " FEEDBACKBOT_SECRET_KEY")
        rotate.set_defaults(handler=cmd_rotate_key)

    async def check_online(self, config: Config, settings: Settings) -> list[ConfigProblem]:
        """Ask Slack whether the bot is in the config's channels and none is shared."""
        from handlers.slack.online_check import TokenRejected, run_online_check

        if not settings.bot_token:
            raise ConnectionError("--online needs SLACK_BOT_TOKEN")
        try:
            found = await run_online_check(config, settings)
        except TokenRejected as error:
            raise ConnectionError(str(error)) from None
        return [ConfigProblem(path=settings.config_path, line=None, key=problem.key,
                              message=problem.message,
                              severity="error" if problem.severity == "error" else "warning")
                for problem in found]

    async def run_demo(self, *, db_path: str | None) -> int:
        """Play the demo against the local Slack stand-in."""
        from handlers.slack.standin.demo import run_demo

        return await run_demo(db_path=db_path)


def _missing_for_oauth(settings: Settings) -> list[str]:
    """What OAuth mode (SLACK_CLIENT_ID and SLACK_CLIENT_SECRET) still needs."""
    from handlers.slack.token_cipher import KEY_VARIABLE, SecretKeyProblem, TokenCipher

    needed = {"SLACK_CLIENT_ID": settings.slack_client_id,
              "SLACK_CLIENT_SECRET": settings.slack_client_secret,
              "SLACK_SIGNING_SECRET": settings.signing_secret}
    missing = [name for name, value in needed.items() if not value]
    if not settings.secret_key:
        missing.append(f"{KEY_VARIABLE} (it encrypts the stored tokens; make one with"
                       " `feedbackbot new-secret-key`)")
    else:
        try:
            TokenCipher(settings.secret_key)
        except SecretKeyProblem as problem:
            missing.append(f"a valid {KEY_VARIABLE} ({problem})")
    return missing


def cmd_socket(args: argparse.Namespace, settings: Settings) -> int:
    """Connect to Slack in Socket Mode until interrupted."""
    import asyncio

    from bot.cli_support import (
        check_config_file,
        fail,
        open_runtime,
        stop_grace_or_fail,
        stop_signals,
    )
    from handlers.slack.app import create_app
    from handlers.slack.socket import connect_socket_mode, stop_socket_mode

    config = check_config_file(settings.config_path)
    if config is None:
        return 1
    missing = [name for name, value in (("SLACK_BOT_TOKEN", settings.bot_token),
                                        ("SLACK_APP_TOKEN", settings.app_token)) if not value]
    if missing:
        return fail(f"set {' and '.join(missing)} (see the README's environment table)")
    grace = stop_grace_or_fail()
    if grace is None:
        return 2

    async def run() -> None:
        stop = stop_signals()
        runtime = open_runtime(settings, config)
        bot = create_app(settings, runtime=runtime)
        assert settings.app_token is not None
        client = await connect_socket_mode(bot, app_token=settings.app_token)
        print("feedbackbot connected in Socket Mode", flush=True)
        await stop.wait()
        await stop_socket_mode(bot, client, grace=grace)

    asyncio.run(run())
    return 0


def cmd_new_secret_key(args: argparse.Namespace, settings: Settings) -> int:
    """Print a new Fernet key."""
    from handlers.slack.token_cipher import new_key

    print(new_key())
    return 0


def cmd_rotate_key(args: argparse.Namespace, settings: Settings) -> int:
    """Re-encrypt every stored installation with the newest key; the older keys may go then."""
    from bot.cli_support import fail
    from handlers.slack.installs import rotate_secret_key
    from handlers.slack.token_cipher import SecretKeyProblem, TokenCipher
    from storage import open_existing_store

    try:
        cipher = TokenCipher(settings.secret_key)
        store = open_existing_store(settings.database_url)
    except (SecretKeyProblem, ValueError) as problem:
        return fail(str(problem))
    try:
        count = rotate_secret_key(store, cipher)
    except SecretKeyProblem as problem:
        return fail(f"{problem}; nothing was changed", 1)
    finally:
        store.close()
    print(f"re-encrypted {count} stored installation(s) with the first key of"
          " FEEDBACKBOT_SECRET_KEY; the other keys can be removed now")
    return 0


def cmd_manifest(args: argparse.Namespace, settings: Settings) -> int:
    """Print the Slack app manifest."""
    from handlers.slack.manifest import manifest_yaml

    sys.stdout.write(manifest_yaml(url=args.url, oauth=args.oauth))
    return 0


PLATFORM = SlackPlatform()
