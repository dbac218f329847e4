"""Render core records as Slack Block Kit, escaping every piece of customer text."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from bot.durations import format_duration
from bot.models import Item, Status
from bot.ports import Notice
from handlers.notice_words import Wording, notice_sentence

SECTION_LIMIT = 3000  # Block Kit's limit for a section's text
FALLBACK_LIMIT = 3000  # keep notification text short; the blocks carry the rest
MODAL_INPUT_LIMIT = 3000  # plain_text_input's max_length and initial_value limit

ACK_ACTION = "fb_ack"
RESOLVE_ACTION = "fb_resolve"
REASSIGN_ACTION = "fb_reassign"
REOPEN_ACTION = "fb_reopen"
FOLLOW_ACTION = "fb_follow"
PLUS_ONE_ACTION = "fb_plus_one"  # on an offer notice: value "<item id>:<offered item id>"
NEW_ACTION = "fb_its_new"  # on an offer notice: value "<item id>"
UNLINK_ACTION = "fb_unlink"  # on a card: a select of its +1s, each option's value an id

SEVERITY_ICONS = {"urgent": ":rotating_light:", "high": ":warning:", "normal": "", "low": ""}


_BARE_AMPERSAND = re.compile(r"&(?!(?:amp|lt|gt);)")


def escape(text: str) -> str:
    """Escape &, < and > so that text can never form a mention, link or @channel.

    Message text from Slack already carries its own &amp;, &lt; and &gt;; those are
    kept rather than escaped twice, so "a < b" shows as typed.
    """
    return _BARE_AMPERSAND.sub("&amp;", text).replace("<", "&lt;").replace(">", "&gt;")


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


def person(ident: str) -> str:
    """A user mention for user IDs; anything else (a bot's B… id) as plain text."""
    return f"<@{ident}>" if ident[:1] in ("U", "W") else escape(ident)


def mention_list(users: list[str]) -> str:
    """Mention each user ID, or user group ID (S…)."""
    return ", ".join(f"<!subteam^{user}>" if user.startswith("S") else f"<@{user}>"
                     for user in users)


def card_text(item: Item) -> str:
    """The notification fallback of a card: short, escaped, never pinging."""
    body, _ = cut(escape(" ".join(item.text.split())), 200)
    return f"New feedback for {item.team} (#{item.id}): {body}"


def card_blocks(
    item: Item,
    *,
    mentions: list[str],
    source_link: str | None,
    moved_to: tuple[str, str | None] | None = None,
    linked: Sequence[Item] = (),
) -> list[dict[str, Any]]:
    """Blocks for a routed card: who, what, where from, and the response buttons.

    `moved_to` (team, link to its card) renders an old card of a reassigned item;
    `linked` are its "+1"s (bot/links.py), counted and named.
    """
    icon = SEVERITY_ICONS.get(item.severity, "")
    facts = [f"*Severity:* {icon} {item.severity}".replace("  ", " ")]
    if item.customer:
        facts.append(f"*Customer:* {escape(item.customer)}")
    facts.append(f"*Said:* {slack_date(item.received_at)}")
    facts.append(f"*Forwarded by:* {person(item.forwarded_by)}")
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
        context.append(f"Author: {person(item.source_author)}")
    context.append(f"via {item.intake_kind}")
    blocks.append({"type": "context",
                   "elements": [{"type": "mrkdwn", "text": " · ".join(context)}]})
    if moved_to is not None:
        team, link = moved_to
        where = f" <{link}|See the new card>." if link else ""
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": (
            f":arrow_right: Moved to *{escape(team)}*.{where}")}]})
        return blocks
    if linked:
        blocks.append(plus_one_block(item, linked))
    blocks.extend(status_blocks(item, linked=linked))
    return blocks


def plus_one_block(item: Item, linked: Sequence[Item]) -> dict[str, Any]:
    """How many customers said it ("3 customers: acme, globex, initech") and the +1s."""
    names: dict[str, None] = {}
    for one in (item, *linked):
        if one.customer:
            names.setdefault(one.customer, None)
    count = len(linked) + 1
    said = f":busts_in_silhouette: *{count} customers*"
    if names:
        shown, _ = cut(escape(", ".join(names)), 1500)
        said += f": {shown}"
    ids = ", ".join(f"#{one.id}" for one in linked[:40])
    more = "…" if len(linked) > 40 else ""
    return {"type": "context", "elements": [{"type": "mrkdwn",
                                             "text": f"{said} · +1s: {ids}{more}"}]}


def unlink_select(linked: Sequence[Item]) -> dict[str, Any]:
    """A menu on the card to make one of its +1s its own item again."""
    options = []
    for one in linked[:100]:
        label, _ = cut(f"#{one.id} {one.customer or ''}".strip(), 75)
        options.append({"text": {"type": "plain_text", "text": label}, "value": str(one.id)})
    return {"type": "static_select", "action_id": UNLINK_ACTION,
            "placeholder": {"type": "plain_text", "text": "Unlink a +1"}, "options": options}


def offer_blocks(text: str, item: Item | None, notice: Notice) -> list[dict[str, Any]]:
    """An offer notice: its words, then "+1 to #123" and "It's new"."""
    blocks: list[dict[str, Any]] = [{"type": "section",
                                     "text": {"type": "mrkdwn", "text": text}}]
    match = notice.data.get("match")
    if item is None or not isinstance(match, int):
        return blocks
    blocks.append({"type": "actions", "block_id": f"fb_offer_{item.id}", "elements": [
        {"type": "button", "action_id": PLUS_ONE_ACTION, "style": "primary",
         "value": f"{item.id}:{match}",
         "text": {"type": "plain_text", "text": f"+1 to #{match}"}},
        {"type": "button", "action_id": NEW_ACTION, "value": str(item.id),
         "text": {"type": "plain_text", "text": "It's new"}}]})
    return blocks


def _button(action: str, item: Item, text: str, *, style: str | None = None) -> dict[str, Any]:
    button: dict[str, Any] = {"type": "button", "action_id": action, "value": str(item.id),
                              "text": {"type": "plain_text", "text": text}}
    if style:
        button["style"] = style
    return button


def response_line(item: Item) -> str | None:
    """Who responded first, and how long the customer had waited by then."""
    if item.first_response_at is None or not item.first_response_by:
        return None
    waited = format_duration(item.first_response_at - item.received_at)
    how = {"button": "acknowledged", "reaction": "acknowledged with an emoji",
           "reply": "replied"}.get(item.first_response_kind or "", "responded")
    return (f":white_check_mark: <@{item.first_response_by}> {how} {waited} after the"
            " customer spoke.")


def status_blocks(item: Item, *, linked: Sequence[Item] = ()) -> list[dict[str, Any]]:
    """What already happened to the card, and the buttons that still make sense."""
    lines = []
    responded = response_line(item)
    if responded:
        lines.append(responded)
    if item.customer_answered_at is not None:
        heard = format_duration(item.customer_answered_at - item.received_at)
        lines.append(f":speech_balloon: The customer heard back {heard} after they spoke.")
    if item.status == Status.RESOLVED.value:
        resolved = f":checkered_flag: Resolved {_when(item.resolved_at)}"
        if item.resolved_by:
            resolved += f" by <@{item.resolved_by}>"
        if item.resolution_note:
            note, _ = cut(escape(item.resolution_note), 1000)
            resolved += f": {note}"
        lines.append(resolved)
    if item.status == Status.REOPENED.value:
        lines.append(":leftwards_arrow_with_hook: Reopened.")
    if item.escalated_at and item.first_response_at is None:
        lines.append(f":rotating_light: Escalated {_when(item.escalated_at)}: no response"
                     " within twice the SLA.")
    if item.failed:
        lines.append(f":warning: {escape(item.failed)}")
    blocks: list[dict[str, Any]] = []
    if lines:
        blocks.append({"type": "context",
                       "elements": [{"type": "mrkdwn", "text": "\n".join(lines)}]})
    if item.status == Status.RESOLVED.value:
        buttons = [_button(REOPEN_ACTION, item, "Reopen"), _button(FOLLOW_ACTION, item, "Follow")]
    else:
        buttons = []
        if item.first_response_at is None:
            buttons.append(_button(ACK_ACTION, item, "Acknowledge", style="primary"))
        buttons += [_button(RESOLVE_ACTION, item, "Resolve"),
                    _button(REASSIGN_ACTION, item, "Reassign"),
                    _button(FOLLOW_ACTION, item, "Follow")]
    if linked:
        buttons.append(unlink_select(linked))
    blocks.append({"type": "actions", "block_id": f"fb_item_{item.id}", "elements": buttons})
    return blocks


def _when(moment: datetime | None) -> str:
    return slack_date(moment) if moment else ""


def follow_blocks(text: str, item: Item) -> list[dict[str, Any]]:
    """A notice with a Follow button, so others in an intake thread can follow too."""
    return [{"type": "section", "text": {"type": "mrkdwn", "text": text}},
            {"type": "actions", "block_id": f"fb_notice_{item.id}",
             "elements": [_button(FOLLOW_ACTION, item, "Follow")]}]


FAILURES = {
    "channel_not_found": "the channel {channel} doesn't exist or the bot can't see it",
    "not_in_channel": "the bot isn't a member of {channel}; invite it with /invite",
    "is_archived": "the channel {channel} is archived",
    "user_not_found": "the person could not be found",
    "cannot_dm_bot": "the person is a bot and can't get messages",
    "channel_is_shared": ("the channel {channel} is shared with another organisation, and"
                          " the bot never posts where customers can read"),
}


def failure_text(data: Mapping[str, Any]) -> str:
    """Why something could not be delivered, as escaped mrkdwn linking the channel.

    `data` is a failed notice's: the platform's `error` and the `channel`, or (for
    notices queued before those were kept) only the `reason` in words.
    """
    error = data.get("error")
    if not error:
        return escape(str(data.get("reason") or "an unknown error"))
    channel = data.get("channel")
    template = FAILURES.get(str(error), "the chat platform refused the message ({error})")
    return template.format(channel=f"<#{escape(str(channel))}>" if channel else "the channel",
                           error=escape(str(error)))


SLACK_WORDING = Wording(
    icons={"routed": ":inbox_tray:", "failed": ":warning:", "acknowledged": ":eyes:",
           "relay": ":speech_balloon:", "resolved": ":checkered_flag:",
           "reopened": ":leftwards_arrow_with_hook:", "reassigned": ":arrow_right:",
           "reminder": ":alarm_clock:", "escalation": ":rotating_light:",
           "rejected": ":no_entry:", "offer": ":point_up:", "linked": ":heavy_plus_sign:",
           "sent_as_new": ":inbox_tray:", "unlinked": ":scissors:"},
    escape=escape,
    strong=lambda text: f"*{escape(text)}*",
    quote=lambda text: cut(quote(escape(text)), SECTION_LIMIT - 200)[0],
    clip=lambda text, limit: cut(text, limit)[0],
    failure=failure_text,
)


def notice_text(notice: Notice, item: Item | None, *, card_link: str | None,
                names: dict[str, str] | None = None) -> str:
    """The words of a notice to a forwarder or follower.

    `names` maps user IDs to display names, so that relays name people without
    mentioning (and so pinging) them.
    """
    link = f" <{card_link}|See the card>." if card_link else ""
    mentions = mention_list(list(notice.data.get("mentions") or []))
    return notice_sentence(notice, item, SLACK_WORDING, names=names or {}, card_link=link,
                           mentions=mentions)

