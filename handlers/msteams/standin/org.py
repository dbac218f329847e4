"""The demo's organisation on Teams: its people, teams and channels, seeded into a FakeConnector.

Engineering is the team the bot is installed in (its channels hold the cards, the intake
and the managers' digest). Customers is a team whose channels are shared with the
customers' own organisations, as Teams shared channels are.
"""

from __future__ import annotations

from pathlib import Path

from bot.demo.script import CUSTOMER_PEOPLE, STAFF
from handlers.msteams.connector_fake import TENANT_ID, FakeConnector
from handlers.msteams.standin.activities import PersonInfo, personal_chat_id

DEMO_CONFIG = Path(__file__).resolve().parent / "feedbackbot.yml"
BOT_ID = "28:de0000b0-0000-4000-8000-0000000000b0"
BOT_NAME = "feedbackbot"
DOMAIN = "democo.example"
ACME_TENANT = "acme0000-0000-4000-8000-00000000ac3e"

ENGINEERING = "19:engineering0general@thread.tacv2"  # the team's General channel = its id
CUSTOMERS = "19:customers0general@thread.tacv2"
CHANNELS = {  # id -> name, as people see them
    ENGINEERING: "#General", "19:payments0dev@thread.tacv2": "#payments-dev",
    "19:mobile0dev@thread.tacv2": "#mobile-dev", "19:triage0room@thread.tacv2": "#triage",
    "19:eng0managers@thread.tacv2": "#eng-managers",
    "19:customer0feedback@thread.tacv2": "#customer-feedback",
    CUSTOMERS: "#Customers", "19:shared0acme@thread.tacv2": "#shared-acme",
    "19:shared0globex@thread.tacv2": "#shared-globex",
}
CHANNEL_IDS = {name.lstrip("#"): channel for channel, name in CHANNELS.items()}
TEAM_OF_CHANNEL = {channel: (CUSTOMERS if "shared" in name or channel == CUSTOMERS
                             else ENGINEERING) for channel, name in CHANNELS.items()}
TEAM_CHANNELS = {"19:payments0dev@thread.tacv2", "19:mobile0dev@thread.tacv2",
                 "19:triage0room@thread.tacv2"}
INTAKE = CHANNEL_IDS["customer-feedback"]
MANAGERS = CHANNEL_IDS["eng-managers"]


def _person(number: int, name: str, email: str) -> PersonInfo:
    return {"entra_id": f"de{number:06x}-0000-4000-8000-{number:012x}",
            "name": name, "email": email}


# The script's people by name: staff of Demo Co, and the customer's person at Acme.
DISPLAY_NAMES = {"lena": "Lena Lind", "alice": "Alice Ames", "bob": "Bob Berg",
                 "carol": "Carol Ng", "erin": "Erin Ek", "dan": "Dan Dahl",
                 "sam": "Sam Sato", "priya": "Priya Pai", "wile": "Wile Coyote"}
PEOPLE: dict[str, PersonInfo] = {
    name: _person(number, DISPLAY_NAMES[name], f"{name}@{DOMAIN}")
    for number, name in enumerate(STAFF, start=1)
}
PEOPLE.update({name: _person(100 + number, DISPLAY_NAMES[name],
                             f"{name}@{company.lower()}.example")
               for number, (name, company) in enumerate(CUSTOMER_PEOPLE.items())})
BY_ENTRA_ID = {person["entra_id"]: name for name, person in PEOPLE.items()}
BY_EMAIL = {person["email"]: name for name, person in PEOPLE.items()}


def seed_organisation(connector: FakeConnector) -> None:
    """Teams' side of the organisation: rosters, channel lists and the people's 1:1 chats."""
    def add(conversation: str, person: PersonInfo, tenant: str = TENANT_ID) -> None:
        connector.add_member(conversation, entra_id=person["entra_id"], name=person["name"],
                             email=person["email"], tenant=tenant)

    for channel, team in TEAM_OF_CHANNEL.items():
        connector.add_channel(team, channel, None if channel == team else
                              CHANNELS[channel].lstrip("#"))
    for name, person in PEOPLE.items():
        if name in CUSTOMER_PEOPLE:
            # An Acme employee, a member of the channels Demo Co shares with Acme.
            add(CUSTOMERS, person, ACME_TENANT)
            add(CHANNEL_IDS["shared-acme"], person, ACME_TENANT)
            continue
        add(ENGINEERING, person)
        add(personal_chat_id(person), person)
        if STAFF[name] == "support":
            add(CUSTOMERS, person)
