"""The card's buttons (Acknowledge, Resolve, Reopen, Reassign, Follow) and their modals."""

from __future__ import annotations

import json
import logging
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError

from bot.lifecycle import Lifecycle, Outcome
from handlers.slack.card_events import plain_reply, split_mark
from handlers.slack.chat_views import home_view
from handlers.slack.deps import Deps, SlackCall, tell, tracked
from handlers.slack.intake_modal import TRY_AGAIN, state_value
from handlers.slack.render import (
    ACK_ACTION,
    FOLLOW_ACTION,
    REASSIGN_ACTION,
    REOPEN_ACTION,
    RESOLVE_ACTION,
)
from handlers.slack.words import OUTCOMES, outcome_text

log = logging.getLogger(__name__)

RESOLVE_CALLBACK = "fb_resolve_submit"
REASSIGN_CALLBACK = "fb_reassign_submit"
REPLY_TO_SUPPORT_CALLBACK = "reply_to_support"


def _user(body: dict[str, Any]) -> str:
    return str((body.get("user") or {}).get("id") or "")


MAX_ITEM_ID = 2**63 - 1  # the largest id a database row can have


def parse_item_id(value: object) -> int | None:
    """An item id from a button value or modal metadata, or None when it can't be one."""
    try:
        item_id = int(str(value))
    except (TypeError, ValueError):
        return None
    return item_id if 0 < item_id <= MAX_ITEM_ID else None


def _item_id(body: dict[str, Any]) -> int | None:
    actions = body.get("actions") or [{}]
    first = actions[0] if isinstance(actions[0], dict) else {}
    return parse_item_id(first.get("value"))


def _where(body: dict[str, Any]) -> str | None:
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get(
        "channel_id")
    return str(channel) if channel else None


def answer(deps: Deps, call: SlackCall, text: str) -> None:
    """Tell the person who clicked, and only them: ephemeral in the channel, else by DM."""
    channel, user = _where(call.body), _user(call.body)
    if channel and not channel.startswith("D"):
        deps.runtime.replies.answer_in(workspace=call.workspace, conversation=channel,
                                       user=user, text=text)
    else:
        tell(deps, call.workspace, user, text)


def _metadata(view: dict[str, Any]) -> dict[str, Any]:
    try:
        data = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _from_home(body: dict[str, Any]) -> bool:
    return (body.get("view") or {}).get("type") == "home"


def _item_modal(*, callback: str, verb: str, item_id: int, channel: str | None,
                from_home: bool, block: dict[str, Any]) -> dict[str, Any]:
    """A one-input modal about an item; its metadata says where it was opened from."""
    return {
        "type": "modal", "callback_id": callback,
        "title": {"type": "plain_text", "text": f"{verb} #{item_id}"},
        "submit": {"type": "plain_text", "text": verb},
        "close": {"type": "plain_text", "text": "Cancel"},
        "private_metadata": json.dumps({"item": item_id, "channel": channel,
                                        "home": from_home}),
        "blocks": [block],
    }


def resolve_modal(item_id: int, channel: str | None, *, from_home: bool = False
                  ) -> dict[str, Any]:
    """The modal asking for an optional resolution note."""
    return _item_modal(callback=RESOLVE_CALLBACK, verb="Resolve", item_id=item_id,
                       channel=channel, from_home=from_home, block={
        "type": "input", "block_id": "note", "optional": True,
        "label": {"type": "plain_text", "text": "Resolution note"},
        "hint": {"type": "plain_text",
                 "text": "For example: fixed in 2.4.1, won't fix, answered."},
        "element": {"type": "plain_text_input", "action_id": "value", "multiline": True,
                    "max_length": 2000},
    })


def reassign_modal(deps: Deps, item_id: int, current: str, channel: str | None, *,
                   from_home: bool = False, workspace: str | None = None) -> dict[str, Any]:
    """The modal asking which team should own the item instead."""
    options = [{"text": {"type": "plain_text", "text": name[:75]}, "value": name[:150]}
               for name in deps.config_for(workspace).teams if name != current][:100]
    return _item_modal(callback=REASSIGN_CALLBACK, verb="Reassign", item_id=item_id,
                       channel=channel, from_home=from_home, block={
        "type": "input", "block_id": "team",
        "label": {"type": "plain_text", "text": f"Move from {current} to"},
        "element": {"type": "static_select", "action_id": "value", "options": options},
    })


def register(app: AsyncApp, deps: Deps, lifecycle: Lifecycle) -> None:
    """Add the button, modal and "Reply to support" listeners."""

    def _report(call: SlackCall, outcome: Outcome) -> None:
        text = outcome_text(outcome)
        if text and not call.replay:
            answer(deps, call, text)

    async def refresh_home(call: SlackCall, user: str) -> None:
        """Show the change on the App Home tab the person clicked from."""
        if call.replay:
            return
        view = await home_view(deps, workspace=call.workspace, user=user)
        await call.client.views_publish(user_id=user, view=view)

    async def on_ack(call: SlackCall) -> None:
        await call.ack()
        item_id = _item_id(call.body)
        if item_id is None:
            return
        outcome = await lifecycle.acknowledge(workspace=call.workspace, item_id=item_id,
                                              user=_user(call.body), kind="button")
        _report(call, outcome)
        if _from_home(call.body):
            await refresh_home(call, _user(call.body))

    async def open_modal(call: SlackCall, build: Any) -> None:
        await call.ack()
        item_id = _item_id(call.body)
        user = _user(call.body)
        allowed = await lifecycle.check_manage(workspace=call.workspace,
                                               item_id=item_id or 0, user=user)
        item = allowed.item
        if item is None or allowed.code:
            answer(deps, call, outcome_text(allowed) or OUTCOMES["not_found"])
            return
        if call.replay:
            tell(deps, call.workspace, user, TRY_AGAIN)
            return
        try:
            await call.client.views_open(
                trigger_id=call.body["trigger_id"],
                view=build(item, _where(call.body), _from_home(call.body)))
        except SlackApiError as error:
            if error.response.get("error") in ("expired_trigger_id", "invalid_trigger_id"):
                tell(deps, call.workspace, user, TRY_AGAIN)
                return
            raise

    async def on_resolve(call: SlackCall) -> None:
        await open_modal(call, lambda item, channel, home: resolve_modal(
            item.id, channel, from_home=home))

    async def on_reassign(call: SlackCall) -> None:
        await open_modal(call, lambda item, channel, home: reassign_modal(
            deps, item.id, item.team, channel, from_home=home, workspace=item.workspace))

    async def on_reopen(call: SlackCall) -> None:
        await call.ack()
        item_id = _item_id(call.body)
        if item_id is None:
            return
        outcome = await lifecycle.reopen(workspace=call.workspace, item_id=item_id,
                                         user=_user(call.body))
        _report(call, outcome)
        if _from_home(call.body):
            await refresh_home(call, _user(call.body))

    async def on_follow(call: SlackCall) -> None:
        await call.ack()
        item_id = _item_id(call.body)
        if item_id is None:
            return
        outcome = await lifecycle.follow(workspace=call.workspace, item_id=item_id,
                                         user=_user(call.body))
        _report(call, outcome)

    async def after_submit(call: SlackCall, meta: dict[str, Any], outcome: Outcome) -> None:
        text = outcome_text(outcome)
        if text and not call.replay:
            tell(deps, call.workspace, _user(call.body), text)
        if meta.get("home"):
            await refresh_home(call, _user(call.body))

    async def on_resolve_submit(call: SlackCall) -> None:
        view = call.body.get("view") or {}
        meta = _metadata(view)
        note = state_value((view.get("state") or {}).get("values") or {}, "note")
        await call.ack()
        outcome = await lifecycle.resolve(workspace=call.workspace,
                                          item_id=parse_item_id(meta.get("item")) or 0,
                                          user=_user(call.body), note=note)
        await after_submit(call, meta, outcome)

    async def on_reassign_submit(call: SlackCall) -> None:
        view = call.body.get("view") or {}
        meta = _metadata(view)
        team = state_value((view.get("state") or {}).get("values") or {}, "team") or ""
        if team not in deps.config_for(call.workspace).teams:
            await call.ack(response_action="errors", errors={"team": "Pick a team."})
            return
        await call.ack()
        outcome = await lifecycle.reassign(workspace=call.workspace,
                                           item_id=parse_item_id(meta.get("item")) or 0,
                                           user=_user(call.body), to_team=team)
        await after_submit(call, meta, outcome)

    async def on_reply_to_support(call: SlackCall) -> None:
        await call.ack()
        message = call.body.get("message") or {}
        channel = str((call.body.get("channel") or {}).get("id") or "")
        user = _user(call.body)
        thread = message.get("thread_ts")
        if not thread or thread == message.get("ts"):
            tell(deps, call.workspace, user, "Use *Reply to support* on a reply in the"
                  " thread of a feedback card.")
            return
        text, _ = split_mark(str(message.get("text") or ""))
        outcome = await lifecycle.reply(
            workspace=call.workspace, card_channel=channel, thread_ts=str(thread),
            user=str(message.get("user") or user),
            text=await plain_reply(deps, call.workspace, text),
            reply_ts=str(message.get("ts")), marked=True)
        if outcome.item is None and not call.replay:
            tell(deps, call.workspace, user, "That thread isn't a feedback card's.")

    app.action(ACK_ACTION)(tracked(deps, on_ack))
    app.action(RESOLVE_ACTION)(tracked(deps, on_resolve))
    app.action(REASSIGN_ACTION)(tracked(deps, on_reassign))
    app.action(REOPEN_ACTION)(tracked(deps, on_reopen))
    app.action(FOLLOW_ACTION)(tracked(deps, on_follow))
    app.view(RESOLVE_CALLBACK)(tracked(deps, on_resolve_submit))
    app.view(REASSIGN_CALLBACK)(tracked(deps, on_reassign_submit))
    app.shortcut(REPLY_TO_SUPPORT_CALLBACK)(tracked(deps, on_reply_to_support))

