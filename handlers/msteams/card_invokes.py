"""The card's Action.Execute buttons (adaptiveCard/action) and replies in a card's thread.

Each click is one lifecycle call; the invoke answer is the refreshed card for the person
who clicked, and the lifecycle queues the card update (CARD_UPDATE) for everyone else.
"""

from __future__ import annotations

import logging
from typing import Any

from bot.lifecycle import Outcome
from bot.links import NEW, PLUS_ONE, LinkOutcome
from bot.models import Item
from handlers.msteams import cards
from handlers.msteams.people import Sender
from handlers.msteams.services import (
    CARD_CONTENT_TYPE,
    TeamsServices,
    as_dict,
    channel_of,
    thread_root,
)
from handlers.msteams.told_customer import VERB_TOLD_CUSTOMER, told_customer_action
from handlers.msteams.words import OUTCOMES, outcome_text

log = logging.getLogger(__name__)

MESSAGE_TYPE = "application/vnd.microsoft.activity.message"
MAX_ITEM_ID = 2**63 - 1


def _item_id(data: dict[str, Any]) -> int | None:
    try:
        item_id = int(str(data.get("item")))
    except (TypeError, ValueError):
        return None
    return item_id if 0 < item_id <= MAX_ITEM_ID else None


def message_answer(text: str) -> dict[str, Any]:
    """An invoke answer that shows `text` (Teams markdown) to the person who clicked."""
    return {"statusCode": 200, "type": MESSAGE_TYPE, "value": text}


def card_answer(services: TeamsServices, item: Item) -> dict[str, Any]:
    """An invoke answer carrying the item's card as it is now."""
    links = services.links

    def default(shown: Item) -> dict[str, Any]:
        linked = links.linked(shown) if links is not None else []
        return cards.item_card(
            shown, teams=list(services.config.for_workspace(shown.workspace).teams),
            linked=linked)

    render = services.render_card or default
    return {"statusCode": 200, "type": CARD_CONTENT_TYPE, "value": render(item)}


LINK_WORDS = {
    "linked": "Added as a +1 of #{parent}: you'll hear what the team says about it.",
    "sent_as_new": "Feedback #{item} goes to its team as new.",
    "unlinked": ("Unlinked feedback #{item} from #{parent}: it goes to its team as its own"
                 " item, and its forwarder is told."),
    "already_linked": "Feedback #{item} is already a +1 of #{parent}.",
    "already_new": "Feedback #{item} already went to the team as its own item.",
    "too_late": ("Too late for a +1: feedback #{item} already went to **{team}** as its own"
                 " item."),
    "not_linked": "Feedback #{item} isn't a +1 of another item.",
    "not_found": "There is no such feedback item or offer.",
    "not_yours": "Only whoever forwarded feedback #{item}, **{team}** or an admin can do that.",
}


def _id(value: Any) -> int | None:
    return _item_id({"item": value})


async def link_action(services: TeamsServices, workspace: str, verb: str,
                      data: dict[str, Any], user: str) -> dict[str, Any]:
    """A +1, It's new or Unlink click: the words for the person who clicked."""
    links = services.links
    item_id = _item_id(data)
    outcome = LinkOutcome(False, "not_found")
    if links is not None and item_id is not None:
        if verb == cards.VERB_PLUS_ONE:
            match = _id(data.get("match"))
            if match is not None:
                outcome = await links.answer(workspace=workspace, item_id=item_id, user=user,
                                             choice=PLUS_ONE, match=match)
        elif verb == cards.VERB_ITS_NEW:
            outcome = await links.answer(workspace=workspace, item_id=item_id, user=user,
                                         choice=NEW)
        else:
            chosen = _id(data.get(cards.UNLINK_INPUT))
            if chosen is None:
                return message_answer("Choose the +1 to unlink, then press Unlink.")
            outcome = await links.unlink(workspace=workspace, item_id=chosen, user=user)
    try:
        return message_answer(LINK_WORDS[outcome.code].format(**outcome.data))
    except (KeyError, IndexError):
        return message_answer(LINK_WORDS["not_found"])


async def card_action(services: TeamsServices, activity: dict[str, Any],
                      sender: Sender) -> dict[str, Any]:
    """Apply one Action.Execute click; returns the adaptive-card invoke answer."""
    action = as_dict(as_dict(activity.get("value")).get("action"))
    verb = str(action.get("verb") or "")
    data = as_dict(action.get("data"))
    item_id = _item_id(data)
    if item_id is None:
        return message_answer("That button doesn't belong to a feedback item.")
    workspace = services.workspace_for(activity)
    lifecycle = services.lifecycle
    user = sender.key
    if not sender.internal:
        return message_answer("Only members of this organisation can act on feedback.")
    if verb in (cards.VERB_PLUS_ONE, cards.VERB_ITS_NEW, cards.VERB_UNLINK):
        return await link_action(services, workspace, verb, data, user)
    outcome: Outcome
    if verb == cards.VERB_ACKNOWLEDGE:
        outcome = await lifecycle.acknowledge(workspace=workspace, item_id=item_id, user=user,
                                              kind="button")
    elif verb == cards.VERB_RESOLVE:
        note = data.get(cards.NOTE_INPUT)
        outcome = await lifecycle.resolve(workspace=workspace, item_id=item_id, user=user,
                                          note=str(note)[:cards.NOTE_MAX_LENGTH]
                                          if isinstance(note, str) else None)
    elif verb == cards.VERB_REOPEN:
        outcome = await lifecycle.reopen(workspace=workspace, item_id=item_id, user=user)
    elif verb == cards.VERB_REASSIGN:
        team = data.get(cards.TEAM_INPUT)
        if not isinstance(team, str) or not team.strip():
            return message_answer("Choose the team to reassign it to, then press Reassign.")
        outcome = await lifecycle.reassign(workspace=workspace, item_id=item_id, user=user,
                                           to_team=team.strip())
    elif verb == cards.VERB_FOLLOW:
        outcome = await lifecycle.follow(workspace=workspace, item_id=item_id, user=user,
                                         platform="msteams")
    elif verb == VERB_TOLD_CUSTOMER:
        return message_answer(await told_customer_action(services, activity, sender, item_id))
    elif verb == cards.VERB_REFRESH:
        outcome = Outcome(lifecycle.item(workspace=workspace, item_id=item_id), False)
    else:
        log.info("ignored an unknown card verb %r", verb[:40])
        return message_answer("That button is no longer supported.")
    told = outcome_text(outcome)
    if outcome.item is None:
        return message_answer(told or OUTCOMES["not_found"])
    if told and (not outcome.changed or verb == cards.VERB_FOLLOW):
        return message_answer(told)
    return card_answer(services, outcome.item)


async def thread_reply(services: TeamsServices, activity: dict[str, Any],
                       sender: Sender, text: str) -> Outcome:
    """A reply in a card's thread: the team's first response, a relay, or a comment."""
    channel = channel_of(activity) or ""
    conversation = str(activity["conversation"]["id"])
    root = thread_root(activity) or ""
    outcome = Outcome(None, False)
    # The card is known by its channel or by the thread's own conversation id,
    # depending on how it was posted; look for both.
    for card_channel in dict.fromkeys((channel, conversation, conversation.split(";")[0])):
        if not card_channel:
            continue
        outcome = await services.lifecycle.reply(
            workspace=services.workspace_for(activity), card_channel=card_channel,
            thread_ts=root, user=sender.key, text=text, reply_ts=str(activity["id"]),
            marked=text.startswith("> "))
        if outcome.item is not None:
            break
    return outcome
