"""The "Told the customer" part of a forwarder's notice, as Block Kit."""

from __future__ import annotations

from typing import Any

from bot.models import Item
from handlers.slack.render import person, slack_date

TOLD_CUSTOMER_ACTION = "fb_told_customer"

_HOW = {"button": "", "thread": " (a reply in the customer's thread)"}


def told_line(item: Item) -> str | None:
    """Who recorded that the customer heard back, and when; None while nobody has."""
    if item.customer_answered_at is None:
        return None
    by = person(item.customer_answered_by) if item.customer_answered_by else "Someone"
    how = _HOW.get(item.customer_answered_how or "", "")
    return (f":speech_balloon: The customer heard back: {by}"
            f" {slack_date(item.customer_answered_at)}{how}.")


def told_customer_blocks(text: str, item: Item) -> list[dict[str, Any]]:
    """A notice with the "Told the customer" button, or who already told them instead."""
    blocks: list[dict[str, Any]] = [{"type": "section",
                                     "text": {"type": "mrkdwn", "text": text}}]
    done = told_line(item)
    if done is not None:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": done}]})
        return blocks
    blocks.append({"type": "actions", "block_id": f"fb_told_{item.id}", "elements": [
        {"type": "button", "action_id": TOLD_CUSTOMER_ACTION, "value": str(item.id),
         "style": "primary", "text": {"type": "plain_text", "text": "Told the customer"}}]})
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": (
        "Click once you have answered the customer, so the team sees the whole loop.")}]})
    return blocks
