"""What a notice says, once for every platform; each adapter brings its own markup.

The sentences are the product's; how a name is emphasised, text escaped or a reply quoted
is the platform's (`Wording`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bot.models import Item
from bot.ports import Notice

NOTE_LIMIT = 1000


@dataclass(frozen=True)
class Wording:
    """A platform's markup for notices.

    `escape` makes text safe to show; `strong` escapes and emphasises a name or team;
    `quote` escapes, quotes and shortens a relayed reply; `clip` shortens escaped text;
    `failure` words why a delivery failed from a failed notice's data (None: its reason).
    """

    icons: Mapping[str, str]
    escape: Callable[[str], str]
    strong: Callable[[str], str]
    quote: Callable[[str], str]
    clip: Callable[[str, int], str]
    failure: Callable[[Mapping[str, Any]], str] | None = None


def notice_sentence(notice: Notice, item: Item | None, wording: Wording, *,
                    names: Mapping[str, str], card_link: str = "",
                    mentions: str = "") -> str:
    """The words of a notice to a forwarder, follower or team.

    `names` maps ids to display names (people are named, not mentioned); `card_link` is
    the platform's " See the card." piece (or ""); `mentions` the people a reminder or
    escalation mentions, already in the platform's markup.
    """
    sentence = _sentence(notice, item, wording, names=names, card_link=card_link,
                         mentions=mentions)
    plus_one = notice.data.get("plus_one")
    if plus_one and notice.kind not in _LINK_KINDS:
        # Told to the forwarder of a +1: the item named is the one theirs joined.
        sentence += f"\n(Your feedback #{plus_one} is a +1 of it.)"
    return sentence


_LINK_KINDS = {"offer", "linked", "sent_as_new", "unlinked"}


def _customers(data: Mapping[str, Any], wording: Wording) -> str:
    count = int(data.get("customers") or 1)
    names = ", ".join(wording.escape(str(name)) for name in data.get("names") or [])
    said = f"{count} customer{'s' if count != 1 else ''}"
    return f"{said}: {names}" if names else said


def _link_sentence(notice: Notice, item: Item | None, wording: Wording, *,
                   names: Mapping[str, str]) -> str:
    """The words of the "+1" notices (bot/links.py)."""
    data = notice.data
    icon = wording.icons.get(notice.kind, "")
    ref = f"#{item.id}" if item else "your feedback"
    match = f"#{data.get('match')}"
    team = wording.strong(str(data.get("team") or (item.team if item else "the team")))

    def name(key: str) -> str:
        person = str(data.get(key) or "")
        return wording.strong(names.get(person, person))

    state = "not answered yet"
    if data.get("resolved_by"):
        state = f"resolved by {name('resolved_by')}"
    elif data.get("acknowledged_by"):
        state = f"acknowledged by {name('acknowledged_by')}"
    if notice.kind == "offer":
        own = wording.strong(item.team) if item else team
        return (f"{icon} Looks like {match} ({team}, {_customers(data, wording)}, {state})."
                f" If feedback {ref} is the same problem, +1 it: you'll hear what the team"
                f" says about {match}. If nobody answers, it goes to {own} as new in"
                f" {data.get('hold_minutes') or 3} minutes.")
    if notice.kind == "linked":
        known = "The team hasn't answered yet; I'll tell you when they do."
        if data.get("resolved_by"):
            note = data.get("note")
            said = f": {wording.clip(wording.escape(str(note)), NOTE_LIMIT)}" if note else ""
            known = f"It was already resolved by {name('resolved_by')}{said}."
        elif data.get("acknowledged_by"):
            known = (f"{name('acknowledged_by')} is already on it; I'll pass on what the"
                     " team says.")
        return (f"{icon} Feedback {ref} was added to {match} ({team}) as a +1:"
                f" {_customers(data, wording)}. {known}")
    if notice.kind == "sent_as_new":
        own = wording.strong(item.team) if item else "the team"
        return f"{icon} Feedback {ref} goes to {own} as new, not as a +1 of {match}."
    by = str(data.get("by") or "")
    who = wording.strong(names.get(by, by)) if by else "Someone"
    own = wording.strong(item.team) if item else "the team"
    return (f"{icon} {who} unlinked feedback {ref} from {match}: it goes to {own} as its"
            " own item now.")


def _sentence(notice: Notice, item: Item | None, wording: Wording, *,
              names: Mapping[str, str], card_link: str, mentions: str) -> str:
    if notice.kind in _LINK_KINDS:
        return _link_sentence(notice, item, wording, names=names)
    data = notice.data
    icon = wording.icons.get(notice.kind, "")
    ref = f"#{item.id}" if item else ""
    by = str(data.get("by") or "")
    who = wording.strong(names.get(by, by)) if by else "Someone"
    team = wording.strong(item.team) if item else "the team"
    if notice.kind == "routed" and item is not None:
        owners = ", ".join(wording.strong(names.get(owner, owner))
                           for owner in data.get("assignees") or [])
        pick = f" {owners} will pick it up." if owners else ""
        return (f"{icon} Feedback {ref} went to {team}.{pick}{card_link} I'll let you know"
                " when they respond.")
    if notice.kind == "failed":
        reason = (wording.failure(data) if wording.failure is not None
                  else wording.escape(str(data.get("reason") or "an unknown error")))
        subject = f"feedback {ref}" if item else "your feedback"
        return (f"{icon} I couldn't deliver {subject}: {reason}. It is stored and will not"
                " be lost; please ask an admin to fix this.")
    if notice.kind == "acknowledged" and item is not None:
        return f"{icon} {who} on {team} is on feedback {ref}.{card_link}"
    if notice.kind == "relay":
        said = wording.quote(str(data.get("text") or ""))
        return f"{icon} {who} on {team} replied about feedback {ref}:\n{said}"
    if notice.kind == "resolved":
        note = data.get("note")
        said = f": {wording.clip(wording.escape(str(note)), NOTE_LIMIT)}." if note else "."
        return f"{icon} Feedback {ref} was resolved by {who}{said}{card_link}"
    if notice.kind == "reopened":
        return f"{icon} Feedback {ref} was reopened by {who}.{card_link}"
    if notice.kind == "reassigned":
        old, new = (wording.strong(str(data.get(key) or "")) for key in ("from", "to"))
        return f"{icon} Feedback {ref} was moved from {old} to {new} by {who}."
    if notice.kind == "reminder" and item is not None:
        severity = wording.escape(str(data.get("severity")))
        return (f"{icon} {mentions} feedback {ref} has waited {data.get('waited')} since it"
                f" was forwarded; the first-response target for {severity} is"
                f" {data.get('sla')}.")
    if notice.kind == "escalation" and item is not None:
        return (f"{icon} Escalating to {mentions}: feedback {ref} has waited"
                f" {data.get('waited')} with no response, twice its {data.get('sla')}"
                " target.")
    if notice.kind == "rejected":
        return f"{icon} {wording.escape(str(data.get('reason') or 'Not forwarded.'))}"
    return wording.escape(str(data.get("text") or ""))


# When the figures can't be read before the chat gives up waiting for the answer.
FIGURES_BUSY = ("The figures are taking longer than usual to add up right now."
                " Please ask again in a minute.")
