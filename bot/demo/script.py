"""The demo's story as plain data: who says what where, who forwards it how, who answers, when.

Nothing here knows a chat platform. People and places are plain names; each platform's
stand-in maps them to its own ids and acts the steps out with its own payloads.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Literal
from zoneinfo import ZoneInfo

# A Tuesday: a working day for every team, with no public holiday in Germany.
DAY = date(2026, 3, 10)
TIMEZONE = ZoneInfo("Europe/Berlin")

# Everyone in the story, by name: staff with their team, and the customer's person.
STAFF = {
    "lena": "engineering lead", "alice": "payments", "bob": "payments", "carol": "mobile",
    "erin": "mobile", "dan": "triage", "sam": "support", "priya": "support",
}
CUSTOMER_PEOPLE = {"wile": "Acme"}


def at(clock_face: str) -> datetime:
    """The story's day at a local "HH:MM" (in TIMEZONE), as an aware UTC datetime."""
    hour, minute = (int(part) for part in clock_face.split(":"))
    return datetime.combine(DAY, time(hour, minute), tzinfo=TIMEZONE).astimezone(UTC)


def clock_face(moment: datetime) -> str:
    """A moment of the story as the local "HH:MM" people read in the transcript."""
    return moment.astimezone(TIMEZONE).strftime("%H:%M")


@dataclass(frozen=True)
class Says:
    """Someone writes a message in a place; later steps name it by `key`."""

    at: datetime
    key: str
    by: str
    place: str
    text: str
    aside: str | None = None


ForwardHow = Literal["reaction", "intake_post", "command", "shortcut", "share"]


@dataclass(frozen=True)
class Forward:
    """Someone hands customer words to the bot, in one of the ways in.

    `message` names a `Says` step being forwarded; `text` is what the forwarder types
    (an intake post, a command, a comment on a shared message). `delivered_twice` has the
    platform deliver it again, which must change nothing.
    """

    at: datetime
    by: str
    how: ForwardHow
    place: str
    message: str | None = None
    text: str | None = None
    severity: str | None = None
    note: str | None = None
    delivered_twice: bool = False
    aside: str | None = None


RespondHow = Literal["acknowledge", "reply", "react", "resolve", "reassign",
                     # Closing the loop: support answers in the customer's own thread, or
                     # clicks Told the customer on the notice about the item.
                     "source_reply", "told_customer",
                     # The forwarder of a held item answers its offer with "+1" (bot/links.py).
                     "plus_one"]


@dataclass(frozen=True)
class Respond:
    """A developer (or someone else) acts on a routed item, numbered in forwarding order.

    `text` is a reply or a resolution note; `team` is where a reassignment moves the item.
    """

    at: datetime
    by: str
    how: RespondHow
    item: int
    text: str | None = None
    team: str | None = None
    aside: str | None = None


@dataclass(frozen=True)
class Digest:
    """The managers' digest goes out, covering the day so far."""

    at: datetime
    aside: str | None = None


Step = Says | Forward | Respond | Digest

SCRIPT: tuple[Step, ...] = (
    Says(at("09:05"), key="double-charge", by="wile", place="shared-acme",
         text="We were double charged on invoice 4411 this month!", aside="shared with Acme"),
    Forward(at("09:06"), by="wile", how="reaction", place="shared-acme",
            message="double-charge", aside="intake is for staff only"),
    Forward(at("09:12"), by="sam", how="reaction", place="shared-acme",
            message="double-charge"),
    Forward(at("09:31"), by="priya", how="intake_post", place="customer-feedback",
            text="Globex: the iOS app crashes on login since 5.2, every time.",
            delivered_twice=True),
    Says(at("09:40"), key="android-logout", by="priya", place="shared-globex",
         text="Globex reports the Android app logs them out hourly"),
    Forward(at("09:48"), by="sam", how="command", place="general",
            text="Customer asks whether the Enterprise plan includes SAML single sign-on"),
    Says(at("10:11"), key="refunds-500", by="wile", place="shared-acme",
         text="Refunds page shows a 500 error @channel"),
    Forward(at("10:20"), by="priya", how="shortcut", place="shared-globex",
            message="android-logout", severity="high", note="Their admins are blocked"),
    Forward(at("10:41"), by="sam", how="share", place="customer-feedback",
            message="refunds-500", text="Second time this week",
            aside="the customer's text tries to ping everyone"),
    Respond(at("10:55"), by="alice", how="acknowledge", item=1),
    Respond(at("11:02"), by="carol", how="reply", item=2,
            text="Reproduced. The fix ships in 5.2.1 today."),
    Respond(at("11:10"), by="carol", how="resolve", item=1,
            aside="it belongs to payments"),
    Respond(at("11:20"), by="sam", how="source_reply", item=1,
            text="Sorry, Wile: our payments team has it, the duplicate will be refunded."),
    Respond(at("11:30"), by="dan", how="reassign", item=3, team="payments",
            aside="plans are theirs"),
    Respond(at("11:45"), by="bob", how="react", item=5),
    Respond(at("12:05"), by="erin", how="reply", item=4,
            text="Found it: the token refresh races. Fix in review."),
    Respond(at("12:15"), by="priya", how="told_customer", item=4,
            aside="after passing it on to Globex"),
    Respond(at("12:30"), by="alice", how="resolve", item=1,
            text="Refunded the duplicate; fixed in 2.4.1"),
    Forward(at("12:40"), by="sam", how="intake_post", place="customer-feedback",
            text="Initech: the iOS app crashes at login since they updated to 5.2",
            aside="the same problem as #2"),
    Respond(at("12:41"), by="sam", how="plus_one", item=6),
    Digest(at("17:00"), aside="it normally runs at 09:00"),
)
