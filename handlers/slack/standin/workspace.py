"""The demo company: people, channels and user groups matching examples/feedbackbot.yml."""

from __future__ import annotations

from handlers.slack.standin.slack_server import FakeSlack

TEAM_ID = "T0DEMO"
CUSTOMER_TEAM_ID = "T0ACME"

PEOPLE = {
    "U0LEAD": "lena (engineering lead)",
    "U0ALICE": "alice (payments)",
    "U0BOB": "bob (payments)",
    "U0CAROL": "carol (mobile)",
    "U0ERIN": "erin (mobile)",
    "U0DAN": "dan (triage)",
    "U0SUPPORT": "sam (support)",
    "U0SUPPORT2": "priya (support)",
}
CUSTOMER = "U0CUSTOMER"  # a person at the customer, Acme, in the shared channel
GUEST = "U0GUEST"  # a single-channel guest: not a member of the company


def seed_workspace(slack: FakeSlack) -> None:
    """Add the demo company's people, channels and groups to a fake workspace."""
    for user_id, label in PEOPLE.items():
        name, _, role = label.partition(" ")
        slack.add_user(user_id, name, real_name=f"{name.title()} {role}".strip())
    slack.add_team(CUSTOMER_TEAM_ID, "Acme Inc")
    slack.add_user(CUSTOMER, "wile", real_name="Wile E. (Acme)", team_id=CUSTOMER_TEAM_ID)
    slack.add_user(GUEST, "guest", real_name="A guest", is_ultra_restricted=True)
    everyone = list(PEOPLE)
    for channel_id, name in (
        ("C0PAYMENTS", "payments-dev"), ("C0MOBILE", "mobile-dev"), ("C0TRIAGE", "triage"),
        ("C0INTAKE", "customer-feedback"), ("C0MANAGERS", "eng-managers"),
        ("C0GENERAL", "general"),
    ):
        slack.add_channel(channel_id, name, members=everyone)
    slack.add_channel("C0ACMESHARED", "shared-acme", is_ext_shared=True,
                      members=[*everyone, CUSTOMER])
    slack.add_channel("C0GLOBEXSHARED", "shared-globex", is_ext_shared=True, members=everyone)
    slack.add_channel("C0SECRET", "no-bot-here", bot_member=False, members=everyone)
    slack.add_usergroup("S0MOBILEDEV", "mobile-devs", ["U0CAROL", "U0ERIN"])
    slack.add_usergroup("S0PAYLEADS", "payments-leads", ["U0LEAD", "U0ALICE"])
