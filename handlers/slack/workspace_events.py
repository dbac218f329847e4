"""Events about the workspace itself, and listeners that keep Slack from retrying.

Bolt answers 404 to a request no listener matches, and Slack then retries it, so
every subscribed event (and any stray interaction) gets at least a no-op listener.
These catch-alls are registered last: Bolt runs the first listener that matches.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

from slack_bolt.async_app import AsyncApp

from handlers.slack.deps import Deps, SlackCall, tracked

log = logging.getLogger(__name__)

SUBSCRIBED_EVENTS = (
    "message.channels",
    "message.groups",
    "reaction_added",
    "channel_shared",
    "channel_unshared",
    "app_uninstalled",
    "tokens_revoked",
    "app_home_opened",
)

_ANY = re.compile(r".*")


def register(app: AsyncApp, deps: Deps) -> None:
    """Add sharing, uninstall and token-revocation listeners."""

    async def on_channel_sharing(call: SlackCall) -> None:
        event = call.body.get("event") or {}
        channel = str(event.get("channel") or "")
        if not channel:
            return
        shared = event.get("type") == "channel_shared"
        # Shared until Slack says otherwise: unshared from one organisation may still
        # leave it shared with another.
        deps.port.remember_shared(workspace=call.workspace, channel=channel, shared=True)
        if not shared:
            shared = await deps.port.refresh_shared_channel(workspace=call.workspace,
                                                            channel=channel)
        log.info("channel %s in %s is now %s", channel, call.workspace,
                 "shared with another organisation" if shared else "internal")

    async def on_revoked(call: SlackCall) -> None:
        event = call.body.get("event") or {}
        ours: set[str] = {str(one) for one in (deps.bot_user_id, deps.bot_id) if one}
        if deps.installs is not None:
            ours = await _forget_installation(call, deps, event)
        if event.get("type") == "tokens_revoked" and not _names_our_bot(event, ours):
            log.info("tokens of other users or bots were revoked in %s; the bot's own token"
                     " is unaffected", call.workspace)
            return
        # Trusted only until Slack is asked about the token itself, at the next outbox pass.
        deps.outbox.tokens.lost(call.workspace, reason=str(event.get("type")))
        log.error("feedbackbot was uninstalled from (or lost its token for) workspace %s:"
                  " it stops sending there and keeps every item; sending resumes once"
                  " Slack accepts its token again (checked every few minutes, and at"
                  " start-up)", call.workspace)

    app.event("channel_shared")(tracked(deps, on_channel_sharing))
    app.event("channel_unshared")(tracked(deps, on_channel_sharing))
    app.event("app_uninstalled")(tracked(deps, on_revoked))
    app.event("tokens_revoked")(tracked(deps, on_revoked))


async def _forget_installation(call: SlackCall, deps: Deps, event: dict[str, Any]) -> set[str]:
    """OAuth mode: delete what Slack says is gone; return the ids of the bot it had.

    app_uninstalled deletes the workspace's (or the org's) installations; tokens_revoked
    deletes the installations of the users listed, and the bot when it is listed.
    Items and queued posts stay: they wait for a reinstall.
    """
    installs = deps.installs
    assert installs is not None
    enterprise, team = call.context.enterprise_id, call.context.team_id
    org_wide = call.body.get("is_enterprise_install") in (True, "true")
    bot = await asyncio.to_thread(installs.bot_for, enterprise_id=enterprise, team_id=team)
    ours = {str(one) for one in (bot.bot_user_id, bot.bot_id) if one} if bot else set()
    if event.get("type") == "app_uninstalled":
        await installs.uninstalled(enterprise_id=enterprise, team_id=team, org_wide=org_wide)
        log.warning("feedbackbot was uninstalled from %s: its installation is deleted; items"
                    " stay and wait for a reinstall", call.workspace)
        return ours
    tokens = event.get("tokens")
    listed: dict[str, Any] = tokens if isinstance(tokens, dict) else {}
    users = [str(user) for user in listed.get("oauth") or []]
    bots = {str(user) for user in listed.get("bot") or []}
    await installs.tokens_revoked(enterprise_id=enterprise, team_id=team, org_wide=org_wide,
                                  users=users, bot=bool(bots & ours) or (bool(bots) and not ours))
    return ours


def _names_our_bot(event: dict[str, Any], ours: set[str]) -> bool:
    """True when a tokens_revoked event lists the bot's own token.

    Slack keys revoked tokens by type, each a list of the user IDs they belonged to:
    `{"oauth": ["U..."], "bot": ["U..."]}`. Users' (oauth) tokens don't matter here. A
    `bot` list that can't be checked against the bot's identity counts as ours.
    """
    tokens = event.get("tokens")
    bots = tokens.get("bot") if isinstance(tokens, dict) else None
    if not isinstance(bots, list) or not bots:
        return False
    return not ours or bool(ours & {str(bot) for bot in bots})


def register_catch_alls(app: AsyncApp, deps: Deps) -> None:
    """Acknowledge anything no feature listener claimed, so that nothing is retried."""

    async def ignore_event(call: SlackCall) -> None:
        log.debug("no work for event %s", (call.body.get("event") or {}).get("type"))

    async def ack_only(call: SlackCall) -> None:
        await call.ack()

    app.event(_ANY)(tracked(deps, ignore_event))
    app.action(_ANY)(tracked(deps, ack_only))
    app.view(_ANY)(tracked(deps, ack_only))
    app.shortcut(_ANY)(tracked(deps, ack_only))
    app.view_closed(_ANY)(tracked(deps, ack_only))
    app.options(_ANY)(tracked(deps, ack_only))
