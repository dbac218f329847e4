"""Adaptive Cards (1.5) for Teams: an item's card with its Action.Execute buttons."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot.durations import format_duration
from bot.models import Item, Status
from handlers.msteams.text import cut, escape_markdown, plain_name

CARD_VERSION = "1.5"
CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
# Teams refuses a message over ~28 KB; leave room for the activity around the card.
CARD_BYTE_LIMIT = 26 * 1024
NOTE_MAX_LENGTH = 1000
REFRESH_USER_LIMIT = 60  # Teams refreshes a card automatically for at most 60 users
VERB_ACKNOWLEDGE = "acknowledge"
VERB_RESOLVE = "resolve"
VERB_REASSIGN = "reassign"
VERB_FOLLOW = "follow"
VERB_REOPEN = "reopen"
VERB_REFRESH = "refreshCard"
VERB_PLUS_ONE = "plusOne"  # on an offer notice: data {item, match}
VERB_ITS_NEW = "itsNew"  # on an offer notice: data {item}
VERB_UNLINK = "unlink"  # on a card: data {item: the card's}, the +1 chosen in UNLINK_INPUT
UNLINK_INPUT = "unlinkItem"
NOTE_INPUT = "note"
TEAM_INPUT = "team"
SEVERITY_COLORS = {"urgent": "Attention", "high": "Warning"}


@dataclass(frozen=True)
class Person:
    """A Teams user: Entra object id and display name."""

    entra_id: str
    name: str


def card_size(card: Mapping[str, Any]) -> int:
    """The card's size in bytes as it travels (compact UTF-8 JSON)."""
    return len(json.dumps(card, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


def _text(text: str, **extra: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": text, "wrap": True, **extra}


def _execute(verb: str, title: str, item: Item, **extra: Any) -> dict[str, Any]:
    return {"type": "Action.Execute", "verb": verb, "title": title,
            "data": {"item": item.id}, **extra}


def _https(url: str | None) -> str | None:
    return url if url and url.startswith("https://") else None


def _mention(person: Person) -> tuple[str, dict[str, Any]]:
    tag = f"<at>{plain_name(person.name)}</at>"
    return tag, {"type": "mention", "text": tag,
                 "mentioned": {"id": person.entra_id, "name": person.name}}


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _name(ident: str | None, names: Mapping[str, str]) -> str:
    return plain_name(names.get(ident or "", ident or "someone"))


def plus_one_line(item: Item, linked: Sequence[Item]) -> str:
    """How many customers said it ("3 customers: acme, globex, initech") and the +1s."""
    names: dict[str, None] = {}
    for one in (item, *linked):
        if one.customer:
            names.setdefault(one.customer, None)
    said = f"👥 **{len(linked) + 1} customers**"
    if names:
        said += ": " + cut(escape_markdown(", ".join(names)), 1500)[0]
    more = "…" if len(linked) > 40 else ""
    return f"{said} · +1s: {', '.join(f'#{one.id}' for one in linked[:40])}{more}"


def status_lines(item: Item, names: Mapping[str, str]) -> list[str]:
    """What already happened: first response (and the wait), resolution, escalation."""
    lines = []
    if item.first_response_at is not None and item.first_response_by:
        waited = format_duration(item.first_response_at - item.received_at)
        how = {"button": "acknowledged", "reply": "replied"}.get(
            item.first_response_kind or "", "responded")
        lines.append(f"✅ {_name(item.first_response_by, names)} {how} {waited} after the"
                     " customer spoke.")
    if item.customer_answered_at is not None:
        heard = format_duration(item.customer_answered_at - item.received_at)
        lines.append(f"💬 The customer heard back {heard} after they spoke.")
    if item.status == Status.RESOLVED.value:
        line = "🏁 Resolved"
        if item.resolved_by:
            line += f" by {_name(item.resolved_by, names)}"
        if item.resolution_note:
            line += ": " + cut(escape_markdown(item.resolution_note), NOTE_MAX_LENGTH)[0]
        lines.append(line)
    if item.status == Status.REOPENED.value:
        lines.append("↩️ Reopened.")
    if item.escalated_at and item.first_response_at is None:
        lines.append("🚨 Escalated: no response within twice the SLA.")
    if item.failed:
        lines.append("⚠️ " + escape_markdown(item.failed))
    return lines


def _inputs_and_actions(item: Item, teams: Sequence[str]) -> tuple[list[dict], list[dict]]:
    if item.status == Status.RESOLVED.value:
        return [], [_execute(VERB_REOPEN, "Reopen", item), _execute(VERB_FOLLOW, "Follow", item)]
    other_teams = [team for team in teams if team != item.team]
    inputs: list[dict[str, Any]] = [
        {"type": "Input.Text", "id": NOTE_INPUT, "isMultiline": True,
         "maxLength": NOTE_MAX_LENGTH, "label": "Resolution note (optional)",
         "placeholder": "What was done"},
    ]
    if other_teams:
        inputs.append({"type": "Input.ChoiceSet", "id": TEAM_INPUT, "label": "Reassign to",
                       "style": "compact",
                       "choices": [{"title": team, "value": team} for team in other_teams]})
    actions = []
    if item.first_response_at is None:
        actions.append(_execute(VERB_ACKNOWLEDGE, "Acknowledge", item, style="positive"))
    actions.append(_execute(VERB_RESOLVE, "Resolve", item, associatedInputs="auto"))
    if other_teams:
        actions.append(_execute(VERB_REASSIGN, "Reassign", item, associatedInputs="auto"))
    actions.append(_execute(VERB_FOLLOW, "Follow", item))
    return inputs, actions


def item_card(
    item: Item,
    *,
    owners: Sequence[Person] = (),
    teams: Sequence[str] = (),
    names: Mapping[str, str] | None = None,
    byte_limit: int = CARD_BYTE_LIMIT,
    linked: Sequence[Item] = (),
) -> dict[str, Any]:
    """The routed card: owners mentioned, customer, severity, full text within `byte_limit`.

    `teams` are the configured team names (for Reassign); `names` maps ids to display
    names; `linked` are its "+1"s (bot/links.py), counted, named and unlinkable.
    """
    names = names or {}
    mentions = [_mention(person) for person in owners]
    facts = [{"title": "Severity", "value": item.severity}]
    if item.customer:
        facts.append({"title": "Customer", "value": escape_markdown(item.customer)})
    facts.append({"title": "Said", "value": _when(item.received_at)})
    facts.append({"title": "Forwarded by", "value": _name(item.forwarded_by, names)})
    header: list[dict[str, Any]] = [
        _text(f"**Feedback #{item.id}** for **{escape_markdown(item.team)}**",
              size="Medium", color=SEVERITY_COLORS.get(item.severity, "Default")),
    ]
    if mentions:
        header.append(_text(" ".join(tag for tag, _ in mentions)))
    header.append({"type": "FactSet", "facts": facts})
    source = _https(item.source_permalink)
    tail: list[dict[str, Any]] = []
    if item.note:
        tail.append(_text("**Note:** " + cut(escape_markdown(item.note), NOTE_MAX_LENGTH)[0]))
    tail.append(_text(f"via {item.intake_kind}", isSubtle=True, size="Small", spacing="None"))
    if linked:
        tail.append(_text(plus_one_line(item, linked), spacing="Medium"))
    lines = status_lines(item, names)
    if lines:
        tail.append(_text("\n\n".join(lines), spacing="Medium"))
    inputs, actions = _inputs_and_actions(item, teams)
    if linked:
        inputs.append({"type": "Input.ChoiceSet", "id": UNLINK_INPUT, "label": "Unlink a +1",
                       "style": "compact", "choices": [
                           {"title": cut(f"#{one.id} {one.customer or ''}".strip(), 60)[0],
                            "value": str(one.id)} for one in linked[:100]]})
        actions.append(_execute(VERB_UNLINK, "Unlink", item, associatedInputs="auto"))
    if source:
        actions.append({"type": "Action.OpenUrl", "title": "Source message", "url": source})
    refresh_users = [person.entra_id for person in owners][:REFRESH_USER_LIMIT]

    def build(text: str) -> dict[str, Any]:
        body = [*header, {"type": "Container", "style": "emphasis", "items": [_text(text)]},
                *tail, *inputs]
        card: dict[str, Any] = {
            "type": "AdaptiveCard", "$schema": CARD_SCHEMA, "version": CARD_VERSION,
            "body": body, "actions": actions,
            "refresh": {"action": _execute(VERB_REFRESH, "Refresh", item),
                        "userIds": refresh_users},
            "msteams": {"width": "Full", "entities": [entity for _, entity in mentions]},
        }
        return card

    full = escape_markdown(item.text) or "(no text)"
    card = build(full)
    if card_size(card) <= byte_limit:
        return card
    more = " (shortened: open the source message for the rest)" if source else \
        " (shortened; the full text is stored)"
    low, high = 0, len(full)
    while low < high:  # the longest prefix that keeps the card within the limit
        middle = (low + high + 1) // 2
        if card_size(build(cut(full, middle)[0] + more)) <= byte_limit:
            low = middle
        else:
            high = middle - 1
    return build(cut(full, low)[0] + more)
