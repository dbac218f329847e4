"""Notices to a person (or a card's thread) worded for Teams, as small Adaptive Cards.

Every piece of customer or user text is escaped, so it shows as typed and mentions no one;
only reminders and escalations mention people, through mention entities.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote, urlencode

from bot.closed_loop import offers_told_customer
from bot.models import Item
from bot.ports import Notice
from handlers.msteams.cards import (
    CARD_SCHEMA,
    CARD_VERSION,
    VERB_FOLLOW,
    VERB_ITS_NEW,
    VERB_PLUS_ONE,
    Person,
)
from handlers.msteams.text import cut, escape_markdown, plain_name
from handlers.msteams.told_customer import told_blocks
from handlers.notice_words import Wording, notice_sentence

RELAY_LIMIT = 3000
ICONS = {"routed": "📥", "acknowledged": "👀", "relay": "💬", "resolved": "🏁",
         "reopened": "↩️", "reassigned": "➡️", "failed": "⚠️", "rejected": "⛔",
         "reminder": "⏰", "escalation": "🚨", "offer": "☝️", "linked": "➕",
         "sent_as_new": "📥", "unlinked": "✂️"}


def message_link(conversation: str, message: str, *, tenant: str | None = None) -> str:
    """A Teams deep link to a channel message (a card) that opens it in its thread."""
    channel = conversation.split(";", 1)[0]
    query = {"parentMessageId": message}
    if tenant:
        query["tenantId"] = tenant
    return (f"https://teams.microsoft.com/l/message/{quote(channel, safe='')}/"
            f"{quote(message, safe='')}?{urlencode(query)}")


def _mention(person: Person) -> tuple[str, dict[str, Any]]:
    tag = f"<at>{plain_name(person.name)}</at>"
    return tag, {"type": "mention", "text": tag,
                 "mentioned": {"id": person.entra_id, "name": person.name}}


def _quote(text: str) -> str:
    said = cut(escape_markdown(text), RELAY_LIMIT)[0]
    return "\n" + "\n".join(f"> {line}" for line in said.split("\n"))


TEAMS_WORDING = Wording(
    icons=ICONS,
    escape=escape_markdown,
    strong=lambda text: f"**{plain_name(text)}**",
    quote=_quote,
    clip=lambda text, limit: cut(text, limit)[0],
)


def notice_summary(notice: Notice, item: Item | None) -> str:
    """A short plain line for Teams' notification preview (no customer words)."""
    ref = f" #{item.id}" if item else ""
    words = {"routed": "went to its team", "acknowledged": "was acknowledged",
             "relay": "has a reply", "resolved": "was resolved", "reopened": "was reopened",
             "reassigned": "was moved", "failed": "could not be delivered",
             "rejected": "was not forwarded", "reminder": "is waiting",
             "escalation": "is escalated", "offer": "looks like another item",
             "linked": "was added as a +1", "sent_as_new": "goes to its team as new",
             "unlinked": "was unlinked"}
    return f"Feedback{ref} {words.get(notice.kind, 'was updated')}"


def notice_card(notice: Notice, item: Item | None, *, names: Mapping[str, str],
                card_link: str | None = None,
                mentions: Sequence[Person] = ()) -> dict[str, Any]:
    """A notice as an Adaptive Card: its words, a link to the item's card, Follow when routed."""
    tagged = [_mention(person) for person in mentions]
    text = notice_sentence(notice, item, TEAMS_WORDING, names=names,
                           mentions=", ".join(tag for tag, _ in tagged))
    actions: list[dict[str, Any]] = []
    if card_link:
        actions.append({"type": "Action.OpenUrl", "title": "See the card", "url": card_link})
    if notice.kind == "routed" and item is not None:
        actions.append({"type": "Action.Execute", "verb": VERB_FOLLOW, "title": "Follow",
                        "data": {"item": item.id}})
    body: list[dict[str, Any]] = [{"type": "TextBlock", "text": text, "wrap": True}]
    if item is not None and offers_told_customer(item, notice.kind, notice.user):
        told_body, told_actions = told_blocks(item, dict(names))
        body += told_body
        actions = told_actions + actions
    match = notice.data.get("match")
    if notice.kind == "offer" and item is not None and isinstance(match, int):
        actions += [{"type": "Action.Execute", "verb": VERB_PLUS_ONE, "style": "positive",
                     "title": f"+1 to #{match}", "data": {"item": item.id, "match": match}},
                    {"type": "Action.Execute", "verb": VERB_ITS_NEW, "title": "It's new",
                     "data": {"item": item.id}}]
    card: dict[str, Any] = {
        "type": "AdaptiveCard", "$schema": CARD_SCHEMA, "version": CARD_VERSION,
        "body": body,
        "msteams": {"entities": [entity for _, entity in tagged]},
    }
    if actions:
        card["actions"] = actions
    return card


def moved_card(item: Item, *, card_link: str | None) -> dict[str, Any]:
    """An old card of a reassigned item: what it was, and where it went (no buttons)."""
    body = [
        {"type": "TextBlock", "wrap": True, "size": "Medium",
         "text": f"**Feedback #{item.id}** moved to **{escape_markdown(item.team)}**"},
        {"type": "TextBlock", "wrap": True, "isSubtle": True,
         "text": cut(escape_markdown(" ".join(item.text.split())) or "(no text)", 300)[0]},
    ]
    card: dict[str, Any] = {"type": "AdaptiveCard", "$schema": CARD_SCHEMA,
                            "version": CARD_VERSION, "body": body}
    if card_link:
        card["actions"] = [{"type": "Action.OpenUrl", "title": "See the new card",
                            "url": card_link}]
    return card


def text_card(text: str) -> dict[str, Any]:
    """Plain words (already worded by the caller) as a one-block card, escaped."""
    return {"type": "AdaptiveCard", "$schema": CARD_SCHEMA, "version": CARD_VERSION,
            "body": [{"type": "TextBlock", "text": escape_markdown(text), "wrap": True}]}
