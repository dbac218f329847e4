"""The core's outcome and refusal codes in Teams' words (Teams markdown: **bold**)."""

from __future__ import annotations

from bot.intake import IntakeRejected
from bot.lifecycle import Outcome

OUTCOMES = {
    "not_found": "That feedback item no longer exists.",
    "not_on_team": ("Noted. You're not on **{team}**, so this doesn't count as the team's"
                    " response."),
    "already_responded": "The team has already responded to this one.",
    "not_yours": ("Not yours: only **{team}**, the person who forwarded it, or an admin can"
                  " do that."),
    "already_resolved": "It's already resolved.",
    "not_resolved": "It isn't resolved.",
    "no_such_team": "There is no team called '{team}'.",
    "already_with_team": "It's already with **{team}**.",
    "not_internal": "Only members of this organisation can follow feedback.",
    "forwarder_follows": "You forwarded it, so you'll hear about it anyway.",
    "already_following": "You already follow feedback #{item_id}.",
    "followed": "You'll hear what **{team}** says about feedback #{item_id}.",
}

REJECTIONS = {
    "no_text": "There is no text to forward.",
    "no_such_team": "There is no team called '{team}'.",
    "bad_severity": "Severity must be one of {severities}.",
    "not_internal": "Only members of this organisation can forward feedback.",
}


def outcome_text(outcome: Outcome) -> str | None:
    """What to tell the person who clicked, or None when the card itself says it."""
    if outcome.code is None:
        return None
    template = OUTCOMES.get(outcome.code)
    return template.format(**outcome.data) if template else None


def rejection_text(rejected: IntakeRejected) -> str:
    """Why forwarding was refused, in words for the person."""
    template = REJECTIONS.get(rejected.code)
    if template is None:
        return str(rejected)
    data = dict(rejected.data)
    if "severities" in data:
        data["severities"] = ", ".join(data["severities"])
    return template.format(**data)
