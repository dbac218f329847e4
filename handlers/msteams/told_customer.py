"""The loop closed with the customer on Teams: "Told the customer" on the forwarder's notice
cards (an Action.Execute verb), and support's replies in the thread of the customer's post."""

from __future__ import annotations

import logging
from typing import Any

from bot.closed_loop import BUTTON
from bot.lifecycle import Outcome
from bot.models import Item
from handlers.msteams.forward import intake_channels, sent_at
from handlers.msteams.people import Sender
from handlers.msteams.services import TeamsServices, channel_of, thread_root
from handlers.msteams.text import escape_markdown, plain_name
from handlers.msteams.words import OUTCOMES

log = logging.getLogger(__name__)

PLATFORM = "msteams"
VERB_TOLD_CUSTOMER = "toldCustomer"

TOLD = {
    "told": ("✅ Noted: the customer heard back about feedback #{item_id}. It now counts in"
             " the team's time until the customer heard back."),
    "not_responded_yet": ("The team hasn't responded to feedback #{item_id} yet. Mark the"
                          " customer told once they have, so the loop is measured whole."),
    "not_internal": "Only members of this organisation can record that the customer was told.",
    "not_found": OUTCOMES["not_found"],
}


def when(item: Item) -> str:
    """When the customer heard back, in UTC (cards can't be sure of the reader's zone)."""
    moment = item.customer_answered_at
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else ""


def told_text(outcome: Outcome, names: dict[str, str] | None = None) -> str | None:
    """What to tell the person who clicked (Teams markdown), or None."""
    if outcome.code == "already_told" and outcome.item is not None:
        by = str(outcome.data.get("by") or "")
        who = f"**{plain_name((names or {}).get(by, by))}**" if by else "Someone"
        how = " with the button" if outcome.data.get("how") == BUTTON else \
            " by replying in the thread"
        return (f"Already recorded: {who} told the customer about feedback"
                f" #{outcome.item.id} on {when(outcome.item)}{how}. Nothing changed.")
    template = TOLD.get(outcome.code or "")
    return template.format(**outcome.data) if template else None


def told_blocks(item: Item, names: dict[str, str]) -> tuple[list[dict[str, Any]],
                                                            list[dict[str, Any]]]:
    """The notice card's extra body blocks and actions: the button, or who already told."""
    if item.customer_answered_at is None:
        return ([{"type": "TextBlock", "wrap": True, "isSubtle": True, "size": "Small",
                  "text": ("Press once you have answered the customer, so the team sees"
                           " the whole loop.")}],
                [{"type": "Action.Execute", "verb": VERB_TOLD_CUSTOMER,
                  "title": "Told the customer", "style": "positive",
                  "data": {"item": item.id}}])
    by = item.customer_answered_by or ""
    how = " (a reply in the customer's thread)" if item.customer_answered_how == "thread" \
        else ""
    name = escape_markdown(plain_name(names.get(by, by))) if by else "Someone"
    return ([{"type": "TextBlock", "wrap": True, "isSubtle": True,
              "text": f"💬 The customer heard back: **{name}**, {when(item)}{how}."}], [])


async def told_customer_action(services: TeamsServices, activity: dict[str, Any],
                               sender: Sender, item_id: int) -> str:
    """Record a Told the customer click; returns the words for the person who clicked."""
    closed_loop = services.closed_loop
    if closed_loop is None:
        return "That button is no longer supported."
    outcome = await closed_loop.told_customer(
        workspace=services.workspace_for(activity), item_id=item_id, user=sender.key,
        platform=PLATFORM, internal=sender.internal)
    return told_text(outcome) or OUTCOMES["not_found"]


async def source_thread_reply(services: TeamsServices, activity: dict[str, Any],
                              sender: Sender) -> Outcome:
    """A reply in a channel thread that is no card's: support answering the customer when
    the thread's post is an item's source, outside intake channels."""
    channel = channel_of(activity) or str(activity["conversation"]["id"]).split(";")[0]
    if services.closed_loop is None or channel in intake_channels(services):
        return Outcome(None, False)
    outcome = await services.closed_loop.source_thread_reply(
        workspace=services.workspace_for(activity), conversation=channel,
        thread=thread_root(activity) or "", user=sender.key,
        said_at=sent_at(activity, services.clock()), platform=PLATFORM,
        internal=sender.internal)
    if outcome.changed:
        log.info("the customer of item %s heard back in its thread",
                 outcome.item.id if outcome.item else None)
    return outcome
