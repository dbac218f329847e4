"""A small Teams world for the Teams port tests: one installed team, its people, a token."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bot.config import Config
from bot.config_loader import parse_config_text
from bot.models import Item
from bot.store import Conversation, Store
from handlers.msteams.connector_fake import TENANT_ID, FakeConnector
from tests.fakes import make_item

TEAM = "19:team0general@thread.tacv2"
CHANNEL = "19:mobile0cards@thread.tacv2"
DIGESTS = "19:managers0digest@thread.tacv2"
UNKNOWN = "19:never0installed@thread.tacv2"
CAROL = "a1b2c3d4-0000-4000-8000-000000000001"
DAVE = "a1b2c3d4-0000-4000-8000-000000000002"
GINA = "a1b2c3d4-0000-4000-8000-000000000003"
EVE = "a1b2c3d4-0000-4000-8000-000000000004"
OTHER_TENANT = "0ther000-0000-4000-8000-000000000000"
TOKEN = "token-from-entra"
WORKSPACE = f"msteams:{TENANT_ID}"
NOW = datetime(2024, 5, 6, 9, 0, tzinfo=UTC)


class FixedToken:
    """A token provider that hands out one token, as MSAL would after acquiring it."""

    def __init__(self, token: str = TOKEN) -> None:
        self.token = token

    async def get_access_token(self, resource_url: str, scopes: list[str],
                               force_refresh: bool = False) -> str:
        return self.token


CONFIG = f"""
teams:
  mobile:
    msteams:
      channel: "{CHANNEL}"
      owners: [carol@example.com]
    keywords: [app]
  payments:
    channel: C0PAYMENTS
    owners: [U0ALICE]
fallback: payments
digests:
  - msteams_channel: "{DIGESTS}"
    at: "09:00"
    timezone: Europe/Berlin
"""


def teams_config() -> Config:
    """Team mobile lives on Teams (owner Carol, by email), payments on Slack."""
    loaded = parse_config_text(CONFIG)
    assert loaded.config is not None, loaded.errors
    return loaded.config


def install(store: Store, fake: FakeConnector, conversation: str, *, kind: str = "channel",
            team: str | None = TEAM, **reference: Any) -> None:
    """Store a conversation as the inbound side does when the app is added there."""
    store.save_conversation(Conversation(
        platform="msteams", conversation_id=conversation, workspace=WORKSPACE, kind=kind,
        service_url=fake.url, tenant=TENANT_ID, team_id=team,
        reference={"bot": {"id": "28:bot-app-id"}, "serviceUrl": fake.url,
                   "conversation": {"id": conversation, "tenantId": TENANT_ID},
                   **reference}), now=NOW)


def install_team(store: Store, fake: FakeConnector) -> None:
    """The app in the team (General, the card channel, the digest channel), with Carol and Dave.

    The fake accepts only the test token.
    """
    fake.require_token(TOKEN)
    for conversation in (TEAM, CHANNEL, DIGESTS):
        install(store, fake, conversation)
    fake.add_member(TEAM, entra_id=CAROL, name="Carol Ng", email="carol@example.com")
    fake.add_member(TEAM, entra_id=DAVE, name="Dave Support", email="dave@example.com")


def card_item(**changes: Any) -> Item:
    """Item #12 for team mobile, forwarded on Teams by Dave, owned by Carol."""
    values: dict[str, Any] = {
        "id": 12, "team": "mobile", "workspace": WORKSPACE, "platform": "msteams",
        "card_platform": "msteams", "forwarded_by": "dave@example.com",
        "assignees": ["carol@example.com"]}
    return make_item(**{**values, **changes})
