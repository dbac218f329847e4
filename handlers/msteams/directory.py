"""Who is who on Teams: members by email/UPN or Entra id, 1:1 chats, shared conversations.

Teams only answers member lookups within a conversation the bot is in, so a person is
looked up in the rosters of the teams and chats the bot was installed in (which the
core's ConversationBook keeps).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from microsoft_agents.activity import ChannelAccount, ConversationParameters, PagedMembersResult

from bot.conversations import ConversationBook
from bot.ports import ChatError
from bot.store import Conversation
from handlers.msteams.connector import ConnectorAccess
from handlers.shared_lookups import SharedLookups

log = logging.getLogger(__name__)

PLATFORM = "msteams"
MEMBER_TTL_SECONDS = 3600.0
UNKNOWN_MEMBER_TTL_SECONDS = 300.0
SHARED_TTL_SECONDS = 300.0
MEMBER_PAGE_SIZE = 500
MAX_MEMBER_PAGES = 20
GUEST_ROLE = "guest"


@dataclass(frozen=True)
class Member:
    """A Teams user as the connector describes them, and where they were found."""

    id: str  # the connector's "29:…" id
    entra_id: str
    name: str
    upn: str | None
    tenant: str | None
    role: str | None
    service_url: str
    found_in: Conversation

    @property
    def key(self) -> str:
        """How the core names this person: the UPN (email) when known, else the Entra id."""
        return self.upn or self.entra_id


def thread_root(conversation: str) -> str:
    """A channel's id without a thread's ";messageid=…" suffix."""
    return conversation.split(";", 1)[0]


def not_installed(conversation: str) -> ChatError:
    """The permanent error for a conversation the bot never learnt (no install seen)."""
    return ChatError(f"the Teams app isn't installed in the team or chat of {conversation}"
                     " yet: add it there so the bot learns where to send", permanent=True)


def _marked_shared(conversation: Conversation) -> bool:
    """Whether the install activity said this is a shared channel (or a cross-tenant chat)."""
    reference = conversation.reference or {}
    channel_data = reference.get("channelData") or {}
    places = (channel_data.get("channel"), reference.get("channel"),
              reference.get("conversation"))
    return any(isinstance(place, dict) and
               str(place.get("membershipType", "")).lower() == "shared" for place in places)


class TeamsDirectory:
    """Member lookups (cached; concurrent misses share one call), 1:1 chats, shared checks."""

    def __init__(self, *, conversations: ConversationBook, connector: ConnectorAccess,
                 app_id: str | None, tenant_id: str | None,
                 clock: Callable[[], datetime]) -> None:
        self.conversations = conversations
        self.connector = connector
        self.app_id = app_id
        self.tenant_id = tenant_id
        self.clock = clock
        self._members = SharedLookups(found_ttl=MEMBER_TTL_SECONDS,
                                      missing_ttl=UNKNOWN_MEMBER_TTL_SECONDS)
        self._shared = SharedLookups(found_ttl=SHARED_TTL_SECONDS, missing_ttl=0)
        self._chats = SharedLookups(found_ttl=0, missing_ttl=0)

    def conversation(self, conversation_id: str) -> Conversation:
        """The stored conversation (thread suffix ignored); ChatError "not installed" if none."""
        found = self.conversations.find(thread_root(conversation_id))
        if found is None or found.removed_at is not None:
            raise not_installed(thread_root(conversation_id))
        return found

    def _rosters(self, prefer: Conversation | None) -> list[Conversation]:
        """Conversations to look people up in: `prefer`'s team first, then every team/chat."""
        rosters: dict[str, Conversation] = {}
        candidates = [prefer] if prefer else []
        candidates += self.conversations.current(kind="channel")
        candidates += self.conversations.current(kind="groupChat")
        for conversation in candidates:
            if conversation is None:
                continue
            roster = conversation.team_id or conversation.conversation_id
            rosters.setdefault(roster, conversation)
        return [_as_roster(roster, conversation) for roster, conversation in rosters.items()]

    async def member(self, user: str, *, prefer: Conversation | None = None) -> Member | None:
        """The member named by `user` (UPN/email, Entra id or 29: id), or None if unknown.

        Raises ChatError when the connector can't answer now.
        """
        async def look_up() -> Member | None:
            rosters = self._rosters(prefer)
            personal = self.conversations.with_person(user)
            if personal is not None and personal.removed_at is None:
                rosters.append(personal)
            for roster in rosters:
                found = await self._member_in(roster, user)
                if found is not None:
                    return found
            return None

        found: Member | None = await self._members.get(user.lower(), look_up)
        return found

    async def _member_in(self, roster: Conversation, user: str) -> Member | None:
        # The generic operation, not TeamsConnectorClient's: its TeamsChannelAccount
        # refuses the nulls Teams sends for people without an email.
        try:
            found = await self.connector.call(
                roster.service_url, lambda client: client.conversations.get_conversation_member(
                    roster.conversation_id, user), method="get_conversation_member")
        except ChatError as error:
            if error.permanent:  # 404: not in this team (403/400: not askable here)
                return None
            raise
        account = _fields(found)
        entra_id = str(account.get("aadObjectId") or account.get("id") or user)
        upn = account.get("userPrincipalName") or account.get("email")
        return Member(
            id=str(account.get("id") or entra_id), entra_id=entra_id,
            name=str(account.get("name") or upn or user), upn=str(upn) if upn else None,
            tenant=account.get("tenantId"), role=account.get("userRole"),
            service_url=roster.service_url, found_in=roster)

    def home_tenant(self, member: Member) -> str | None:
        """The organisation's tenant: the configured one, else the roster's."""
        return self.tenant_id or member.found_in.tenant

    def is_internal(self, member: Member | None) -> bool:
        """False for unknown people, guests and people of another tenant."""
        if member is None or (member.role or "").lower() == GUEST_ROLE:
            return False
        home = self.home_tenant(member)
        return not (home and member.tenant and member.tenant != home)

    async def names(self, users: list[str | None],
                    prefer: Conversation | None = None) -> dict[str, str]:
        """Display names for ids/UPNs; a person who can't be looked up keeps their id."""
        names: dict[str, str] = {}
        for user in users:
            if not user or user in names:
                continue
            try:
                found = await self.member(user, prefer=prefer)
            except ChatError as error:
                log.info("no display name for a member now (%s)", error.reason)
                found = None
            names[user] = found.name if found else user
        return names

    async def personal_chat(self, *, workspace: str, user: str) -> Conversation:
        """The 1:1 chat with `user`, created (and stored) when the store has none.

        Raises ChatError: permanent when Teams doesn't know the person.
        """
        stored = self.conversations.with_person(user)
        if stored is not None and stored.removed_at is None:
            return stored

        async def create() -> Conversation:
            member = await self.member(user)
            if member is None:
                raise ChatError(f"Teams doesn't know {user} in any team or chat the app is"
                                " installed in", permanent=True)
            for key in (member.upn, member.entra_id):
                known = key and self.conversations.with_person(key)
                if known and known.removed_at is None:
                    return known
            return await self._create_chat(workspace, user, member)

        chat: Conversation = await self._chats.get(user.lower(), create)
        return chat

    def _bot_id(self, roster: Conversation) -> str:
        bot = (roster.reference or {}).get("bot") or {}
        if bot.get("id"):
            return str(bot["id"])
        if self.app_id:
            return f"28:{self.app_id}"
        raise ChatError("the bot's Teams id is unknown: no install seen and no"
                        " MICROSOFT_APP_ID", permanent=True)

    async def _create_chat(self, workspace: str, user: str, member: Member) -> Conversation:
        tenant = member.tenant or self.home_tenant(member)
        bot_id = self._bot_id(member.found_in)
        parameters = ConversationParameters.model_validate({
            "isGroup": False, "bot": {"id": bot_id}, "members": [{"id": member.entra_id}],
            "tenantId": tenant, "channelData": {"tenant": {"id": tenant}}})
        # Teams answers with the same chat when it exists already, so a retry after a
        # lost answer creates nothing twice.
        created = await self.connector.call(
            member.service_url, lambda client: client.conversations.create_conversation(
                parameters), method="create_conversation")
        service_url = created.service_url or member.service_url
        chat = Conversation(
            platform=PLATFORM, conversation_id=created.id, workspace=workspace,
            kind="personal", service_url=service_url, tenant=tenant, user=user,
            reference={"bot": {"id": bot_id}, "channelId": PLATFORM, "serviceUrl": service_url,
                       "conversation": {"id": created.id, "conversationType": "personal",
                                        "tenantId": tenant},
                       "user": {"id": member.id, "aadObjectId": member.entra_id,
                                "name": member.name}})
        self.conversations.remember(chat)
        return chat

    async def is_shared(self, conversation_id: str) -> bool:
        """True when guests or people of another tenant can read the conversation.

        Raises ChatError: permanent for a conversation the bot was never added to, and
        transient when Teams can't say now (the core then treats it as shared).
        """
        stored = self.conversation(conversation_id)
        if _marked_shared(stored):
            return True

        async def look_up() -> bool:
            if stored.kind == "personal":
                person = stored.user or ((stored.reference or {}).get("user") or {}).get("id")
                return not self.is_internal(await self.member(str(person)) if person else None)
            return await self._has_outsiders(stored)

        shared: bool = await self._shared.get(stored.conversation_id, look_up)
        return shared

    async def _has_outsiders(self, conversation: Conversation) -> bool:
        home = self.tenant_id or conversation.tenant
        token: str | None = None

        async def page_after(client: Any) -> PagedMembersResult:
            page: PagedMembersResult = await client.conversations.get_conversation_paged_members(
                conversation.conversation_id, MEMBER_PAGE_SIZE, token)
            return page

        for _ in range(MAX_MEMBER_PAGES):
            page = await self.connector.call(conversation.service_url, page_after,
                                             method="get_conversation_paged_members")
            for member in page.members or []:
                account = _fields(member)
                if str(account.get("userRole") or "").lower() == GUEST_ROLE:
                    return True
                tenant = account.get("tenantId")
                if home and tenant and tenant != home:
                    return True
            token = page.continuation_token
            if not token:
                return False
        raise ChatError(f"{conversation.conversation_id} has more than"
                        f" {MEMBER_PAGE_SIZE * MAX_MEMBER_PAGES} members to check")


def _fields(account: ChannelAccount) -> dict[str, Any]:
    """A member's fields by their wire names, the Teams extras (userRole, email…) included."""
    return account.model_dump(by_alias=True, mode="json")


def _as_roster(roster: str, conversation: Conversation) -> Conversation:
    """`conversation` addressed by its roster id (a channel's team id)."""
    if roster == conversation.conversation_id:
        return conversation
    return Conversation(
        platform=conversation.platform, conversation_id=roster,
        workspace=conversation.workspace, kind=conversation.kind,
        service_url=conversation.service_url, reference=conversation.reference,
        tenant=conversation.tenant, team_id=conversation.team_id)
