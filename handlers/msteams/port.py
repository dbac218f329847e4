"""The Teams implementation of the core's ChatPort, over the Bot Connector.

Sends go through the Agents SDK's connector client at the serviceUrl the store learnt
from the install activities. The Bot Connector can't be searched and assigns activity
ids itself (an id we set on a new activity is ignored), so `find_post` returns None: a
post whose answer was lost (a timeout after sending) is sent again by the outbox and
may show twice. The long request timeout keeps that rare.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from microsoft_agents.activity import Activity

from bot.config import Config
from bot.conversations import ConversationBook
from bot.digest import DigestData
from bot.models import Item, utcnow
from bot.ports import ChatError, Notice, Posted
from bot.settings import Settings
from bot.store import Conversation, Store
from handlers.msteams.cards import Person, item_card
from handlers.msteams.charts import ChartShelf
from handlers.msteams.connector import ConnectorAccess, ConnectorError, token_provider
from handlers.msteams.digest_card import digest_card
from handlers.msteams.directory import PLATFORM, TeamsDirectory, thread_root
from handlers.msteams.notices import (
    message_link,
    moved_card,
    notice_card,
    notice_summary,
    text_card,
)

log = logging.getLogger(__name__)

CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
MENTIONING_NOTICES = frozenset({"reminder", "escalation"})


def _activity(card: dict[str, Any], *, summary: str,
              activity_id: str | None = None) -> Activity:
    body: dict[str, Any] = {
        "type": "message", "channelId": PLATFORM, "summary": summary,
        "attachments": [{"contentType": CARD_CONTENT_TYPE, "content": card}],
    }
    if activity_id:
        body["id"] = activity_id
    return Activity.model_validate(body)


def _in_thread(conversation: str, thread: str | None) -> str:
    """The conversation id that posts into a channel thread (Teams' ";messageid=" form)."""
    if not thread or ";messageid=" in conversation:
        return conversation
    return f"{conversation};messageid={thread}"


def _has_inline_chart(card: dict[str, Any]) -> bool:
    return any(part.get("type") == "Image" and str(part.get("url", "")).startswith("data:")
               for part in card.get("body", []))


class TeamsChatPort:
    """Posts cards, notices and digests to Teams and answers lookups about its people.

    `config` names each team's Teams channel and owners; `charts` serves digest charts
    too big to inline (without it they are left out of the card).
    """

    def __init__(self, *, config: Config, conversations: ConversationBook,
                 connector: ConnectorAccess, app_id: str | None = None,
                 tenant_id: str | None = None, charts: ChartShelf | None = None,
                 clock: Callable[[], datetime] = utcnow,
                 linked_of: Callable[[Item], list[Item]] | None = None) -> None:
        self.config = config
        # An item's "+1"s, shown on its card (bot/links.py); read from the store.
        self.linked_of = linked_of
        self.conversations = conversations
        self.connector = connector
        self.charts = charts
        self.directory = TeamsDirectory(conversations=conversations, connector=connector,
                                        app_id=app_id, tenant_id=tenant_id, clock=clock)

    async def close(self) -> None:
        """Close the connector sessions."""
        await self.connector.close()

    # --- sending --------------------------------------------------------------------

    async def _send(self, conversation: Conversation, target: str,
                    activity: Activity) -> Posted:
        sent = await self.connector.call(
            conversation.service_url,
            lambda client: client.conversations.send_to_conversation(target, activity),
            sending=True, method="send_to_conversation")
        if not sent.id:
            # Teams has been seen answering 202 without a body (MicrosoftDocs/bot-docs#2263):
            # the post probably landed, but nothing can be updated without its id.
            raise ChatError("Teams accepted the message but gave no id", unknown_fate=True)
        return Posted(conversation=target, message=str(sent.id))

    async def _update(self, conversation: str, message: str, activity: Activity) -> None:
        stored = self.directory.conversation(conversation)
        await self.connector.call(
            stored.service_url,
            lambda client: client.conversations.update_activity(conversation, message,
                                                                activity),
            method="update_activity")

    def _team_channel(self, item: Item) -> str:
        team = self.config.for_workspace(item.workspace).teams.get(item.team)
        channel = team.channel_on(PLATFORM) if team else None
        if not channel:
            raise ChatError(f"team {item.team} has no Teams channel", permanent=True)
        return str(channel)

    async def _people(self, users: Sequence[str], prefer: Conversation | None) -> list[Person]:
        """Mentionable people for ids/UPNs; someone Teams doesn't know is left out."""
        people = []
        for user in users:
            member = await self.directory.member(user, prefer=prefer)
            if member is None:
                log.warning("a configured Teams owner is unknown to Teams; not mentioned")
                continue
            people.append(Person(member.entra_id, member.name))
        return people

    async def _item_card(self, item: Item, mentions: Sequence[str],
                         where: Conversation) -> dict[str, Any]:
        owners = await self._people(mentions, where)
        names = await self.directory.names(
            [item.forwarded_by, item.first_response_by, item.resolved_by], where)
        linked = (await asyncio.to_thread(self.linked_of, item)
                  if self.linked_of is not None else [])
        teams = list(self.config.for_workspace(item.workspace).teams)
        return item_card(item, owners=owners, teams=teams, names=names, linked=linked)

    async def post_card(self, *, item: Item, mentions: list[str], outbox_key: str) -> Posted:
        channel = self._team_channel(item)
        where = self.directory.conversation(channel)
        card = await self._item_card(item, mentions, where)
        summary = f"New feedback for {item.team} (#{item.id})"
        return await self._send(where, channel, _activity(card, summary=summary))

    async def update_card(self, *, item: Item) -> None:
        if not (item.card_channel and item.card_ts):
            return
        where = self.directory.conversation(item.card_channel)
        card = await self._item_card(item, item.assignees, where)
        await self._update(item.card_channel, item.card_ts, _activity(
            card, summary=f"Feedback #{item.id} for {item.team}", activity_id=item.card_ts))

    def _card_link(self, item: Item | None) -> str | None:
        if item is None or not (item.card_channel and item.card_ts):
            return None
        if (item.card_platform or PLATFORM) != PLATFORM:
            return None
        stored = self.conversations.find(thread_root(item.card_channel))
        return message_link(item.card_channel, item.card_ts,
                            tenant=stored.tenant if stored else None)

    async def _notice_activity(self, item: Item | None, notice: Notice,
                               where: Conversation, activity_id: str | None = None) -> Activity:
        data = notice.data
        people = [data.get("by"), *(data.get("assignees") or []),
                  data.get("acknowledged_by"), data.get("resolved_by")]
        if item is not None and item.customer_answered_by:
            people.append(item.customer_answered_by)  # named on notices: who told them
        names = await self.directory.names([p for p in people if isinstance(p, str)], where)
        mentions: list[Person] = []
        if notice.kind in MENTIONING_NOTICES:
            mentions = await self._people([str(m) for m in data.get("mentions") or []], where)
        card = notice_card(notice, item, names=names, card_link=self._card_link(item),
                           mentions=mentions)
        return _activity(card, summary=notice_summary(notice, item), activity_id=activity_id)

    async def send_notice(self, *, workspace: str, item: Item | None, notice: Notice,
                          outbox_key: str) -> Posted:
        if notice.conversation:
            where = self.directory.conversation(notice.conversation)
            target = _in_thread(notice.conversation, notice.thread)
        else:
            where = await self.directory.personal_chat(workspace=workspace, user=notice.user)
            target = where.conversation_id
        return await self._send(where, target, await self._notice_activity(item, notice, where))

    async def edit_notice(self, *, workspace: str, conversation: str, message: str,
                          item: Item | None, notice: Notice) -> None:
        where = self.directory.conversation(conversation)
        activity = await self._notice_activity(item, notice, where, activity_id=message)
        await self._update(conversation, message, activity)

    async def mark_card_moved(self, *, item: Item, conversation: str, message: str) -> None:
        card = moved_card(item, card_link=self._card_link(item))
        await self._update(conversation, message, _activity(
            card, summary=f"Feedback #{item.id} moved to {item.team}", activity_id=message))

    async def delete_message(self, *, workspace: str, conversation: str, message: str) -> None:
        where = self.directory.conversation(conversation)
        try:
            await self.connector.call(
                where.service_url,
                lambda client: client.conversations.delete_activity(conversation, message),
                method="delete_activity")
        except ChatError as error:
            if _status(error) != 404:
                raise  # a message already gone is what we wanted

    async def send_ephemeral(self, *, workspace: str, conversation: str, user: str,
                             text: str) -> None:
        # Teams has no ephemeral messages in channels: the person gets it in a 1:1 chat.
        chat = await self.directory.personal_chat(workspace=workspace, user=user)
        await self._send(chat, chat.conversation_id,
                         _activity(text_card(text), summary=text[:80]))

    async def post_digest(self, *, workspace: str, data: DigestData, chart_png: bytes,
                          outbox_key: str, existing: Posted | None,
                          conversation: str) -> Posted:
        if existing is not None:
            return existing  # the chart travels in the card: nothing is left to send
        where = self.directory.conversation(conversation)
        links = dict(data.links)
        for item in data.linked_items:
            link = self._card_link(item)
            if link and item.id not in links:
                links[item.id] = link
        data = dataclasses.replace(data, links=links)
        card = digest_card(data, chart_png=chart_png)
        if chart_png and not _has_inline_chart(card) and self.charts is not None:
            card = digest_card(data, chart_url=self.charts.add(chart_png))
        summary = f"Feedback digest for {data.local_date.isoformat()}"
        return await self._send(where, conversation, _activity(card, summary=summary))

    async def find_post(self, *, workspace: str, conversation: str | None, user: str | None,
                        outbox_key: str, since: datetime | None = None,
                        thread: str | None = None) -> Posted | None:
        # The Bot Connector has no search or history for bots: a post of unknown fate
        # can't be found, so the outbox sends it again (see the module docstring).
        return None

    # --- lookups --------------------------------------------------------------------

    async def group_members(self, *, workspace: str, group: str) -> list[str]:
        return []  # Teams has no user groups the bot could mention

    async def is_internal_user(self, *, workspace: str, user: str) -> bool:
        # A failed lookup raises: guessing would either drop feedback or let guests in.
        return self.directory.is_internal(await self.directory.member(user))

    async def is_shared_conversation(self, *, workspace: str, conversation: str) -> bool:
        return await self.directory.is_shared(conversation)

    async def token_refusal(self, *, workspace: str) -> str | None:
        try:
            await self.connector.token()
            known = (self.conversations.current(kind="channel")
                     or self.conversations.current())
            if not known:
                return None  # nothing to ask the connector about yet
            probe = known[0]
            await self.connector.call(
                probe.service_url,
                lambda client: client.conversations.get_conversation_paged_members(
                    probe.conversation_id, 1),
                method="get_conversation_paged_members")
        except ChatError as error:
            if error.workspace_gone:
                return error.reason
            if _status(error) == 403:
                return error.reason
            if error.permanent:
                return None  # the token was accepted; the conversation itself is gone
            raise
        return None


def create_teams_port(*, config: Config, store: Store, settings: Settings,
                      clock: Callable[[], datetime] = utcnow,
                      linked_of: Callable[[Item], list[Item]] | None = None) -> TeamsChatPort:
    """The Teams port for the environment's app registration (no token without an app id).

    With FEEDBACKBOT_PUBLIC_URL, charts too big to inline are served under it: mount
    `port.charts.add_routes(app)` on the web app. Close the port on stop.
    """
    app_id, tenant_id = settings.microsoft_app_id, settings.microsoft_app_tenant_id
    connector = ConnectorAccess(tokens=token_provider(
        app_id=app_id, password=settings.microsoft_app_password, tenant_id=tenant_id))
    charts = ChartShelf(base_url=settings.public_url) if settings.public_url else None
    conversations = ConversationBook(store=store, platform=PLATFORM, clock=clock)
    return TeamsChatPort(config=config, conversations=conversations, connector=connector,
                         app_id=app_id, tenant_id=tenant_id, charts=charts, clock=clock,
                         linked_of=linked_of)


def _status(error: ChatError) -> int | None:
    return error.status if isinstance(error, ConnectorError) else None
