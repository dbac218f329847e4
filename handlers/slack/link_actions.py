"""The "+1" buttons on an offer notice, and unlinking a +1 from a card (bot/links.py)."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.links import NEW, PLUS_ONE, LinkOutcome
from handlers.slack.card_actions import answer, parse_item_id
from handlers.slack.deps import Deps, SlackCall, tracked
from handlers.slack.render import NEW_ACTION, PLUS_ONE_ACTION, UNLINK_ACTION

# What the person who clicked is told; None: the edited notice or card says it.
LINK_WORDS: dict[str, str | None] = {
    "linked": None,
    "sent_as_new": None,
    "unlinked": ("Unlinked feedback #{item} from #{parent}: it goes to its team as its own"
                 " item, and its forwarder is told."),
    "already_linked": "Feedback #{item} is already a +1 of #{parent}.",
    "already_new": "Feedback #{item} already went to the team as its own item.",
    "too_late": ("Too late for a +1: feedback #{item} already went to *{team}* as its own"
                 " item."),
    "not_linked": "Feedback #{item} isn't a +1 of another item.",
    "not_found": "There is no such feedback item or offer.",
    "not_yours": "Only whoever forwarded feedback #{item}, *{team}* or an admin can do that.",
}


def link_text(outcome: LinkOutcome) -> str | None:
    """What to tell the person who asked, or None."""
    words = LINK_WORDS.get(outcome.code)
    if words is None:
        return None
    try:
        return words.format(**outcome.data)
    except (KeyError, IndexError):
        return LINK_WORDS["not_found"]


def _action(body: dict[str, Any]) -> dict[str, Any]:
    actions = body.get("actions") or [{}]
    return actions[0] if isinstance(actions[0], dict) else {}


def _user(body: dict[str, Any]) -> str:
    return str((body.get("user") or {}).get("id") or "")


def register(app: AsyncApp, deps: Deps) -> None:
    """Add the +1, It's new and Unlink listeners."""

    def report(call: SlackCall, outcome: LinkOutcome) -> None:
        text = link_text(outcome)
        if text and not call.replay:
            answer(deps, call, text)

    async def on_plus_one(call: SlackCall) -> None:
        await call.ack()
        item_text, _, match_text = str(_action(call.body).get("value") or "").partition(":")
        item_id, match = parse_item_id(item_text), parse_item_id(match_text)
        if item_id is None or match is None:
            report(call, LinkOutcome(False, "not_found"))
            return
        report(call, await deps.runtime.links.answer(
            workspace=call.workspace, item_id=item_id, user=_user(call.body),
            choice=PLUS_ONE, match=match))
        deps.runtime.outbox.wake()

    async def on_new(call: SlackCall) -> None:
        await call.ack()
        item_id = parse_item_id(_action(call.body).get("value"))
        if item_id is None:
            report(call, LinkOutcome(False, "not_found"))
            return
        report(call, await deps.runtime.links.answer(
            workspace=call.workspace, item_id=item_id, user=_user(call.body), choice=NEW))
        deps.runtime.outbox.wake()

    async def on_unlink(call: SlackCall) -> None:
        await call.ack()
        chosen = (_action(call.body).get("selected_option") or {}).get("value")
        item_id = parse_item_id(chosen)
        if item_id is None:
            report(call, LinkOutcome(False, "not_found"))
            return
        report(call, await deps.runtime.links.unlink(
            workspace=call.workspace, item_id=item_id, user=_user(call.body)))
        deps.runtime.outbox.wake()

    app.action(PLUS_ONE_ACTION)(tracked(deps, on_plus_one))
    app.action(NEW_ACTION)(tracked(deps, on_new))
    app.action(UNLINK_ACTION)(tracked(deps, on_unlink))
