"""Render core records as Slack Block Kit, escaping every piece of customer text."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.models import Item, Status
from bot.ports import Notice

SECTION_LIMIT = 3000  # Block Kit's limit for a section's text
FALLBACK_LIMIT = 3000  # keep notification text short; the blocks carry the rest
MODAL_INPUT_LIMIT = 3000  # plain_text_input's max_length and initial_value limit

ACK_ACTION = "fb_ack"
RESOLVE_ACTION = "fb_resolve"
REASSIGN_ACTION = "fb_reassign"

SEVERITY_ICONS = {"urgent": ":rotating_light:", "high": ":warning:", "normal": "", "low": ""}


def escape(text: str) -> str:
    """Escape &, < and > so that text can never form a mention, link or @channel."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def cut(text: str, limit: int, *, suffix: str = "…") -> tuple[str, bool]:
    """Shorten already-escaped text to `limit` characters without splitting an entity."""
    if len(text) <= limit:
        return text, False
    head = text[: max(limit - len(suffix), 0)]
    amp = head.rfind("&")
    if amp != -1 and ";" not in head[amp:]:
        head = head[:amp]
    return head + suffix, True


def quote(text: str) -> str:
    """Render escaped text as a Slack block quote."""
    return "\n".join(f"&gt; {line}" if line else "&gt;" for line in text.split("\n"))


def slack_date(moment: datetime, *, fallback: str | None = None) -> str:
    """A date that each reader sees in their own time zone."""
    shown = fallback or moment.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(moment.timestamp())}^{{date_short_pretty}} {{time}}|{shown}>"


def mention_list(users: list[str]) -> str:
    """Mention each user ID."""
    return ", ".join(f"<@{user}>" for user in users)


def card_text(item: Item) -> str:
    """The notification fallback of a card: short, escaped, never pinging."""
    body, _ = cut(escape(" ".join(item.text.split())), 200)
    return f"New feedback for {item.team} (#{item.id}): {body}"


def card_blocks(item: Item, *, mentions: list[str], source_link: str | None) -> list[dict[str, Any]]:
    """Blocks for a routed card: who, what, where from, and the response buttons."""
    icon = SEVERITY_ICONS.get(item.severity, "")
    facts = [f"*Severity:* {icon} {item.severity}".replace("  ", " ")]
    if item.customer:
        facts.append(f"*Customer:* {escape(item.customer)}")
    facts.append(f"*Said:* {slack_date(item.received_at)}")
    facts.append(f"*Forwarded by:* <@{item.forwarded_by}>")
    header = f"*Feedback #{item.id}* for *{escape(item.team)}*"
    if mentions:
        header += f"\n{mention_list(mentions)}"
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": header}},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": fact} for fact in facts]},
    ]
    more = f"\n<{source_link}|Read the full message>" if source_link else ""
    body, truncated = cut(quote(escape(item.text or "(no text)")),
                          SECTION_LIMIT - len(more) - 40)
    if truncated:
        body += more or "\n_(shortened; the full text is stored)_"
    blocks.append(
        {"type": "section", "text": {"type": "mrkdwn", "text": body, "verbatim": True}}
    )
    if item.note:
        note, _ = cut(escape(item.note), SECTION_LIMIT - 20)
        blocks.append({"type": "section",
                       "text": {"type": "mrkdwn", "text": f"*Note:* {note}", "verbatim": True}})
    context = []
    if source_link:
        context.append(f"<{source_link}|Source message>")
    if item.source_author:
        context.append(f"Author: <@{item.source_author}>")
    context.append(f"via {item.intake_kind}")
    blocks.append({"type": "context",
                   "elements": [{"type": "mrkdwn", "text": " · ".join(context)}]})
    blocks.append(status_block(item))
    return blocks


def status_block(item: Item) -> dict[str, Any]:
    """The card's buttons, or what already happened to it."""
    value = str(item.id)
    if item.status == Status.RESOLVED.value:
        return {"type": "context", "elements": [{"type": "mrkdwn", "text": ":white_check_mark:"
                                                 f" Resolved {_when(item.resolved_at)}"}]}
    return {
        "type": "actions",
        "block_id": f"fb_item_{item.id}",
        "elements": [
            {"type": "button", "action_id": ACK_ACTION, "value": value, "style": "primary",
             "text": {"type": "plain_text", "text": "Acknowledge"}},
            {"type": "button", "action_id": RESOLVE_ACTION, "value": value,
             "text": {"type": "plain_text", "text": "Resolve"}},
            {"type": "button", "action_id": REASSIGN_ACTION, "value": value,
             "text": {"type": "plain_text", "text": "Reassign"}},
        ],
    }


def _when(moment: datetime | None) -> str:
    return slack_date(moment) if moment else ""


def notice_text(notice: Notice, item: Item | None, *, card_link: str | None) -> str:
    """The words of a notice to a forwarder."""
    ref = f"#{item.id}" if item else ""
    if notice.kind == "routed" and item is not None:
        owners = notice.data.get("assignees") or []
        who = f" {mention_list(owners)} will pick it up." if owners else ""
        where = f" <{card_link}|See the card>." if card_link else ""
        return (f":inbox_tray: Feedback {ref} went to *{escape(item.team)}*.{who}{where}"
                " I'll let you know when they respond.")
    if notice.kind == "failed":
        reason = escape(str(notice.data.get("reason", "an unknown error")))
        subject = f"feedback {ref}" if item else "your feedback"
        return (f":warning: I couldn't deliver {subject}: {reason}. It is stored and will"
                " not be lost; please ask an admin to fix this.")
    if notice.kind == "rejected":
        return f":no_entry: {escape(str(notice.data.get('reason', 'Not forwarded.')))}"
    return escape(str(notice.data.get("text", "")))
