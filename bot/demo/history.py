"""The four weeks before the demo's day: answered feedback the weekly themes compare against.

The month is ordinary except for its last week, when login trouble in the mobile app
starts to come in; the story's own "crashes on login" item joins it, so the managers'
digest shows "login" as the theme that rose. Every item of the month is answered and
resolved, so nothing of it waits or shows in the day's figures.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from bot.config import Config
from bot.demo.script import DAY, TIMEZONE
from bot.models import Event, IntakeKind, Item, Status
from bot.store import Store

MONTH_DAYS = 35  # the week the themes look at, and the four weeks before it

# What each team hears about on an ordinary day: (customer, words).
ORDINARY = {
    "payments": [
        ("acme", "Please resend the invoice copy for last quarter"),
        ("globex", "Where do we add our VAT number on invoices?"),
        ("initech", "A card was declined although the bank approved it"),
        ("acme", "How long does a refund take to reach the customer?"),
        ("globex", "Can invoices go to a shared finance mailbox?"),
        ("initech", "Receipts show the wrong company address"),
    ],
    "mobile": [
        ("globex", "Dark mode makes the charts hard to read"),
        ("acme", "Push notifications arrive twice on Android"),
        ("initech", "The iPad layout wastes half the screen"),
        ("globex", "Please let us change the font size in the app"),
        ("acme", "Offline mode loses drafts after a restart"),
        ("initech", "Widgets do not refresh on the home screen"),
    ],
    "triage": [
        ("acme", "Is there an API limit for the reporting export?"),
        ("initech", "Which regions host our data?"),
        ("globex", "Can we get a copy of the security questionnaire?"),
    ],
}

# The last week's new trouble, a few items spread over its days.
RISING = [
    ("initech", "Users cannot login on Android since this week's update"),
    ("acme", "The login screen spins forever on iPad"),
    ("globex", "Face ID login fails after the update"),
    ("initech", "Login with single sign-on loops back to the start page"),
    ("acme", "Since the update the login button does nothing on some phones"),
]
RISING_DAYS = 4  # the working days before the story that hear of it


@dataclass(frozen=True)
class Forwarded:
    """One item of the month: which team, whose words, and when the customer said them."""

    team: str
    customer: str
    text: str
    said_at: datetime


def with_weekly_themes(config: Config) -> Config:
    """The demo's config, its managers' digest on Tuesdays and Thursdays with the week's themes.

    The story's day is a Tuesday, so its digest is the first of the week: the one that
    carries the themes.
    """
    managers = config.digests[0].model_copy(update={"days": ["tue", "thu"],
                                                    "themes": "weekly"})
    return config.model_copy(update={"digests": [managers, *config.digests[1:]]})


def month_before(day: date = DAY) -> list[Forwarded]:
    """The items of the four weeks before `day`, oldest first (the same list every run)."""
    chance = random.Random(20260310)
    month: list[Forwarded] = []
    working_days = [day - timedelta(days=back) for back in range(MONTH_DAYS, 0, -1)
                    if (day - timedelta(days=back)).weekday() < 5]
    for local_day in working_days:
        for team, lines in ORDINARY.items():
            for _ in range(chance.randint(2, 3)):
                customer, text = chance.choice(lines)
                month.append(Forwarded(team, customer, text, _during(local_day, chance)))
    for number, (customer, text) in enumerate(RISING):
        local_day = working_days[len(working_days) - RISING_DAYS + number % RISING_DAYS]
        month.append(Forwarded("mobile", customer, text, _during(local_day, chance)))
    return sorted(month, key=lambda forwarded: forwarded.said_at)


def _during(local_day: date, chance: random.Random) -> datetime:
    opening = datetime.combine(local_day, time(9), tzinfo=TIMEZONE)
    return opening + timedelta(minutes=chance.randint(0, 6 * 60))


def load_month_before(store: Store, *, workspace: str, forwarded_by: str,
                      answered_by: Mapping[str, Sequence[str]], platform: str = "slack") -> int:
    """Store the month before the story as answered, resolved items; return how many.

    Each is forwarded within minutes and answered within hours, by one of its team's
    `answered_by` people.
    """
    chance = random.Random(4411)
    month = month_before()
    for forwarded in month:
        forwarded_at = forwarded.said_at + timedelta(minutes=chance.randint(2, 40))
        answered_at = forwarded_at + timedelta(minutes=chance.randint(20, 240))
        responder = chance.choice(list(answered_by[forwarded.team]))
        item = Item(
            workspace=workspace, id=0, team=forwarded.team, status=Status.RESOLVED.value,
            text=forwarded.text, customer=forwarded.customer, severity="normal",
            source_channel=None, source_ts=None, forwarded_by=forwarded_by,
            received_at=forwarded.said_at, forwarded_at=forwarded_at,
            intake_kind=IntakeKind.COMMAND.value, first_response_at=answered_at,
            first_response_by=responder, first_response_kind="reply",
            resolved_at=answered_at + timedelta(hours=1), resolved_by=responder,
            platform=platform, card_platform=platform)
        store.create_item(item=item, event=Event(item_id=0, kind="received",
                                                 actor=forwarded_by, at=forwarded_at,
                                                 data={"intake": "command",
                                                       "team": forwarded.team}),
                          outbox=[])
    return len(month)
