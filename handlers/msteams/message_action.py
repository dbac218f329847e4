"""The "Send to developers" message action (command `forwardFeedback`): its form and its payload.

Teams' `messagePayload` carries nulls where the Agents SDK's MessagingExtensionAction
model wants strings (replyToId, subject, …), so it is read here, leniently, as JSON.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.config import Config
from bot.models import SEVERITIES, parse_iso
from handlers.msteams.html_text import html_to_text
from handlers.msteams.services import CARD_CONTENT_TYPE, as_dict
from handlers.msteams.text import clean

COMMAND_ID = "forwardFeedback"
TITLE = "Send to developers"
CUSTOMER_MAX = 200
NOTE_MAX = 1000


@dataclass(frozen=True)
class ForwardedMessage:
    """The message the action was used on: its id, words, time, author and link."""

    message_id: str | None
    text: str
    created_at: datetime | None
    author: str | None
    link: str | None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def read_message(value: Any) -> ForwardedMessage | None:
    """The forwarded message from an invoke's `value`, or None when there is none."""
    if not isinstance(value, dict) or not isinstance(value.get("messagePayload"), dict):
        return None
    payload = value["messagePayload"]
    body = as_dict(payload.get("body"))
    content = _str(body.get("content")) or ""
    if str(body.get("contentType") or "html").lower() == "html":
        text = html_to_text(content)
    else:
        text = content
    user = as_dict(as_dict(payload.get("from")).get("user"))
    try:
        created = parse_iso(_str(payload.get("createdDateTime")))
    except ValueError:
        created = None
    return ForwardedMessage(
        message_id=_str(payload.get("id")), text=clean(text), created_at=created,
        author=_str(user.get("id")) or _str(user.get("displayName")),
        link=_str(payload.get("linkToMessage")))


def command_id(value: Any) -> str | None:
    """The message-extension command an invoke is for."""
    return _str(value.get("commandId")) if isinstance(value, dict) else None


def form_data(value: Any) -> dict[str, str]:
    """The inputs submitted from the task module (strings only)."""
    data = value.get("data") if isinstance(value, dict) else None
    if not isinstance(data, dict):
        return {}
    return {key: item.strip() for key, item in data.items() if isinstance(item, str)}


SAME_INPUT = "same"  # "new", or "link:<item id>" for a +1 chosen in the form
NEW_CHOICE = "new"
LINK_PREFIX = "link:"


def forward_form(config: Config, *, team: str, customer: str | None,
                 message: ForwardedMessage,
                 choices: Sequence[tuple[int, str]] = ()) -> dict[str, Any]:
    """The task module (an Adaptive Card) asking for team, customer, severity and note.

    `choices` are items the message may be a +1 of, listed under "It's new" (the default).
    """
    preview = message.text if len(message.text) <= 300 else message.text[:299] + "…"
    card: dict[str, Any] = {
        "type": "AdaptiveCard", "version": "1.5",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "body": [
            {"type": "TextBlock", "text": preview or "(no text)", "wrap": True,
             "isSubtle": True},
            {"type": "Input.ChoiceSet", "id": "team", "label": "Team", "value": team,
             "isRequired": True, "errorMessage": "Choose a team",
             "choices": [{"title": name, "value": name} for name in config.teams]},
            {"type": "Input.Text", "id": "customer", "label": "Customer",
             "value": customer or "", "maxLength": CUSTOMER_MAX},
            {"type": "Input.ChoiceSet", "id": "severity", "label": "Severity",
             "value": config.severity_default,
             "choices": [{"title": name, "value": name} for name in SEVERITIES]},
            {"type": "Input.Text", "id": "note", "label": "Note for the developers",
             "isMultiline": True, "maxLength": NOTE_MAX},
        ],
        "actions": [{"type": "Action.Submit", "title": "Send"}],
    }
    if choices:
        card["body"].insert(1, {
            "type": "Input.ChoiceSet", "id": SAME_INPUT, "label": "Already reported?",
            "style": "expanded", "value": NEW_CHOICE,
            "choices": [{"title": "It's new", "value": NEW_CHOICE},
                        *({"title": label, "value": f"{LINK_PREFIX}{item_id}"}
                          for item_id, label in choices[:9])]})
    return {"task": {"type": "continue", "value": {
        "title": TITLE, "height": "medium", "width": "medium",
        "card": {"contentType": CARD_CONTENT_TYPE, "content": card}}}}


def task_message(text: str) -> dict[str, Any]:
    """A task module answer that shows `text` to the person and closes the form."""
    return {"task": {"type": "message", "value": text}}
