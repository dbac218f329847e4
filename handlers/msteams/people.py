"""Who sent an activity: their key (UPN/email, else Entra object id) and whether they're staff.

Looked up through the turn's connector client (`get_conversation_member`), which works in
every auth mode; the SDK's Teams API client needs a tenant id and fails in anonymous mode.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import aiohttp
from microsoft_agents.hosting.core import ChannelServiceAdapter, TurnContext

from handlers.msteams.services import team_of, tenant_of

log = logging.getLogger(__name__)

CACHE_SECONDS = 300.0


class LookupUnavailable(Exception):
    """Teams could not say who someone is right now (5xx, 429, no connection)."""


@dataclass(frozen=True)
class Sender:
    """A Teams user as the bot knows them; `key` is what items and config name them by."""

    key: str
    entra_id: str | None
    name: str
    internal: bool


def connector_of(context: TurnContext) -> Any:
    """The turn's connector client (talks to the activity's serviceUrl)."""
    return context.turn_state.get(ChannelServiceAdapter._AGENT_CONNECTOR_CLIENT_KEY)


def person_key(*, upn: str | None, email: str | None, entra_id: str | None,
               fallback: str) -> str:
    """The key a Teams person is stored under: UPN or email (lower case), else Entra id."""
    for value in (upn, email):
        if value and "@" in value:
            return value.strip().lower()
    return entra_id or fallback


class People:
    """Member lookups for the turn's sender, cached for a few minutes per person."""

    def __init__(self, *, cache_seconds: float = CACHE_SECONDS) -> None:
        self.cache_seconds = cache_seconds
        self._cache: dict[tuple[str, str], tuple[float, Sender]] = {}

    async def sender(self, context: TurnContext, activity: dict[str, Any]) -> Sender:
        """Who sent `activity`; a person Teams doesn't know here counts as not internal.

        Raises LookupUnavailable when Teams can't answer now (the request is retried).
        """
        sender = activity.get("from") or {}
        member_id = str(sender.get("id") or "")
        entra_id = sender.get("aadObjectId") or None
        name = str(sender.get("name") or "someone")
        tenant = tenant_of(activity)
        # A team's roster answers for all its channels; chats answer for themselves.
        where = team_of(activity) or str(activity["conversation"]["id"]).split(";")[0]
        cache_key = (where, member_id)
        cached = self._cache.get(cache_key)
        if cached and time.monotonic() - cached[0] < self.cache_seconds:
            return cached[1]
        connector = connector_of(context)
        if connector is None or not member_id:
            return Sender(person_key(upn=None, email=None, entra_id=entra_id,
                                     fallback=member_id), entra_id, name, False)
        try:
            member = await connector.conversations.get_conversation_member(where, member_id)
        except aiohttp.ClientResponseError as error:
            if error.status in (400, 403, 404):
                log.info("Teams does not know member %s in %s (%s)", member_id, where,
                         error.status)
                found = Sender(person_key(upn=None, email=None, entra_id=entra_id,
                                          fallback=member_id), entra_id, name, False)
                self._cache[cache_key] = (time.monotonic(), found)
                return found
            raise LookupUnavailable(f"member lookup answered {error.status}") from None
        except (aiohttp.ClientError, TimeoutError, OSError) as error:
            raise LookupUnavailable(f"member lookup failed: {type(error).__name__}") from None
        account = member.model_dump(by_alias=True, exclude_none=True)
        role = str(account.get("userRole") or "user").lower()
        member_tenant = account.get("tenantId")
        internal = role != "guest" and (not tenant or not member_tenant
                                        or member_tenant == tenant)
        found = Sender(
            key=person_key(upn=account.get("userPrincipalName"), email=account.get("email"),
                           entra_id=account.get("aadObjectId") or entra_id,
                           fallback=member_id),
            entra_id=account.get("aadObjectId") or entra_id,
            name=str(account.get("name") or name), internal=internal)
        self._cache[cache_key] = (time.monotonic(), found)
        return found
