"""The loop closed with the customer on Slack: the "Told the customer" button on notices,
and support's replies in the thread of the customer's own message."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.closed_loop import BUTTON
from bot.lifecycle import Outcome
from bot.models import ts_to_datetime
from handlers.slack.card_actions import answer, parse_item_id
from handlers.slack.context import workspace_from_body
from handlers.slack.deps import Deps, SlackCall, tracked
from handlers.slack.messages import TS_PATTERN
from handlers.slack.render import person, slack_date
from handlers.slack.told_blocks import TOLD_CUSTOMER_ACTION
from handlers.slack.words import OUTCOMES

log = logging.getLogger(__name__)

TOLD = {
    "told": (":white_check_mark: Noted: the customer heard back about feedback #{item_id}."
             " It now counts in the team's time until the customer heard back."),
    "not_responded_yet": ("The team hasn't responded to feedback #{item_id} yet. Mark the"
                          " customer told once they have, so the loop is measured whole."),
    "not_internal": "Only members of this workspace can record that the customer was told.",
    "not_found": OUTCOMES["not_found"],
}

# Replies that are someone's words in a thread (not edits, joins or bot posts).
_REPLY_SUBTYPES = (None, "file_share", "me_message", "thread_broadcast")


def told_text(outcome: Outcome) -> str | None:
    """What to tell the person who clicked, or None."""
    if outcome.code == "already_told":
        data = outcome.data
        by = person(str(data["by"])) if data.get("by") else "Someone"
        when = f" {slack_date(data['at'])}" if data.get("at") else ""
        how = " with the button" if data.get("how") == BUTTON else " by replying in the thread"
        return (f"Already recorded: {by} told the customer about feedback #{data['item_id']}"
                f"{when}{how}. Nothing changed.")
    template = TOLD.get(outcome.code or "")
    return template.format(**outcome.data) if template else None


def is_source_thread_reply(deps: Deps, body: dict[str, Any]) -> bool:
    """A person's reply in a thread outside team and intake channels (no lookup: this runs
    before the ack); whether the thread is an item's source is found out afterwards."""
    event = body.get("event")
    if not isinstance(event, dict) or event.get("type") != "message":
        return False
    if event.get("subtype") not in _REPLY_SUBTYPES or event.get("bot_id"):
        return False
    thread, ts = event.get("thread_ts"), event.get("ts")
    if not isinstance(thread, str) or not isinstance(ts, str) or thread == ts:
        return False
    channel = event.get("channel")
    # Intake channels are internal: a reply there is talk among support, not to the customer.
    config = deps.config_for(workspace_from_body(body))
    team_channels = {team.channel for team in config.teams.values()}
    return channel not in team_channels and channel not in config.intake.channels


def register(app: AsyncApp, deps: Deps) -> None:
    """Add the button listener and the source-thread listener (before intake's)."""

    async def on_told(call: SlackCall) -> None:
        await call.ack()
        actions = call.body.get("actions") or [{}]
        first = actions[0] if isinstance(actions[0], dict) else {}
        item_id = parse_item_id(first.get("value"))
        user = str((call.body.get("user") or {}).get("id") or "")
        if item_id is None:
            outcome = Outcome(None, False, "not_found")
        else:
            outcome = await deps.runtime.closed_loop.told_customer(
                workspace=call.workspace, item_id=item_id, user=user)
        text = told_text(outcome)
        if text and not call.replay:
            channel = (call.body.get("channel") or {}).get("id")
            if channel:  # even in the DM with the bot: only they see it, as in a channel
                deps.runtime.replies.answer_in(workspace=call.workspace,
                                               conversation=str(channel), user=user, text=text)
            else:
                answer(deps, call, text)

    async def on_source_thread(call: SlackCall) -> None:
        event = call.body.get("event") or {}
        user = str(event.get("user") or "")
        ts = str(event.get("ts") or "")
        if not user or user == deps.bot_user_id or not TS_PATTERN.fullmatch(ts):
            return
        outcome = await deps.runtime.closed_loop.source_thread_reply(
            workspace=call.workspace, conversation=str(event.get("channel") or ""),
            thread=str(event.get("thread_ts")), user=user, said_at=ts_to_datetime(ts))
        if outcome.changed:
            log.info("the customer of item %s heard back in its thread", outcome.item.id
                     if outcome.item else None)

    async def source_thread(body: dict[str, Any]) -> bool:
        return is_source_thread_reply(deps, body)

    app.action(TOLD_CUSTOMER_ACTION)(tracked(deps, on_told))
    app.event("message", matchers=[source_thread])(tracked(deps, on_source_thread))
