"""What the bot sent to the fake Bot Connector, and what it answered invokes, in words."""

from __future__ import annotations

import re
from typing import Any

from handlers.msteams.connector_fake import ConnectorCall
from handlers.msteams.notices import ICONS
from handlers.msteams.standin.org import (
    BY_ENTRA_ID,
    CHANNELS,
    INTAKE,
    MANAGERS,
    TEAM_CHANNELS,
)

MESSAGE_TYPE = "application/vnd.microsoft.activity.message"
# How the +1 offer's notices begin (handlers/msteams/notices.py ICONS).
OFFER_ICONS = tuple(ICONS[kind] for kind in ("offer", "linked", "sent_as_new", "unlinked"))


def person_name(ident: str) -> str:
    """"@sam" for a person the stand-in knows by Entra id, member id or 1:1 chat id."""
    bare = ident.removeprefix("a:1").removeprefix("29:1").removesuffix("-1on1")
    for entra_id, name in BY_ENTRA_ID.items():
        if bare in (entra_id, entra_id.replace("-", "")):
            return "@" + name
    return ident


def plain(text: str) -> str:
    """Card markdown as a line of the transcript: mentions as @name, no bold, one line."""
    text = re.sub(r"<at>([^<]*)</at>", lambda match: "@" + _first_name(match.group(1)), text)
    text = re.sub(r"\\([\\`*_{}\[\]()#+\-.!>~|])", r"\1", text.replace("**", ""))
    return " ".join(text.split())


def _first_name(display: str) -> str:
    return display.split(" ")[0].lower()


def _card(body: Any) -> dict[str, Any]:
    attachments = (body or {}).get("attachments") or [{}]
    return dict(attachments[0].get("content") or {})


def _texts(card: dict[str, Any]) -> list[str]:
    found: list[str] = []

    def walk(elements: list[dict[str, Any]]) -> None:
        for element in elements:
            if element.get("type") == "TextBlock":
                found.append(str(element.get("text", "")))
            walk(element.get("items") or [])

    walk(card.get("body") or [])
    return found


def status_line(card: dict[str, Any]) -> str:
    """The card's record of what happened: first response (with the wait) and resolution."""
    for text in _texts(card):
        if text.startswith(("✅", "🏁")):
            return plain(text.replace("\n\n", " / "))
    return "updated"


def describe(call: ConnectorCall) -> str | None:
    """One outbound call as a line of the transcript; None for bookkeeping calls."""
    if call.status >= 300 or call.operation not in ("send_to_conversation", "update_activity"):
        return None
    conversation = call.path.split("/")[3]
    channel = conversation.split(";")[0]
    where = CHANNELS.get(channel, channel)
    card = _card(call.body)
    if call.operation == "update_activity":
        texts = _texts(card)
        if texts and " moved to " in texts[0]:
            return f"→ the old card in {where} is marked as moved, with a link to the new one"
        if ((channel == INTAKE or conversation.startswith("a:")) and texts
                and texts[0].startswith(OFFER_ICONS)):
            # A notice rewritten: an answered +1 offer.
            return f"→ the offer in {where} now says: {plain(' '.join(texts[:1]))}"
        if conversation.startswith("a:"):  # a notice edited in a 1:1 chat
            return (f"→ the notice in the 1:1 chat with {person_name(conversation)} now"
                    f" says: {plain(' / '.join(texts[1:]))}")
        return f"→ the card in {where} is updated for everyone: {status_line(card)}"
    if channel in TEAM_CHANNELS and ";messageid=" not in conversation:
        mentioned = [_first_name(str(entity["mentioned"]["name"]))
                     for entity in (card.get("msteams") or {}).get("entities") or []]
        return (f"→ Adaptive Card in {where} for "
                + (", ".join("@" + name for name in mentioned) or "the team")
                + " (buttons: " + ", ".join(str(action.get("title"))
                                            for action in card.get("actions") or []) + ")"
                + ("\n           (its “@channel” is plain text on the card: nobody is pinged)"
                   if "@channel" in str(card.get("body")) else ""))
    if channel == MANAGERS:
        images = [str(part.get("url")) for part in card.get("body") or []
                  if part.get("type") == "Image"]
        chart = ("inline" if any(url.startswith("data:") for url in images) else
                 "linked" if images else
                 "left out (too big for the card, and no public URL to serve it from)")
        return f"→ digest card posted in {where}; its 14-day trend chart: {chart}"
    text = plain(" ".join(_texts(card)[:1]))
    if channel == INTAKE:
        return f"→ in the intake thread: {text}"
    if conversation.startswith("a:"):
        return f"→ 1:1 chat with {person_name(conversation)}: {text}"
    return f"→ in {where}: {text}"


def describe_answer(body: Any, clicker: str) -> str | None:
    """What Teams shows only the person who invoked: a message answer; None for a card."""
    if not isinstance(body, dict):
        return None
    task = body.get("task")
    if isinstance(task, dict) and task.get("type") == "message":
        return f"→ Teams shows only @{clicker}: {plain(str(task.get('value')))}"
    if body.get("type") == MESSAGE_TYPE:
        return f"→ only @{clicker} sees: {plain(str(body.get('value')))}"
    return None


def form_fields(body: Any) -> dict[str, str]:
    """The fields of the task module a fetchTask answer opens (id -> prefilled value)."""
    card = body["task"]["value"]["card"]["content"]
    return {element["id"]: str(element.get("value") or "")
            for element in card.get("body") or [] if "id" in element}

