"""Activities shaped as Teams sends them to a bot (Bot Framework v3 schema, Teams channelData).

One `TeamsSender` per stand-in organisation: its tenant, the bot's account, the
serviceUrl (a FakeConnector's) and a clock for the activities' timestamps. The tests
and the demo build what they post to /api/messages from here.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

PersonInfo = dict[str, str]  # entra_id, name, email

_ids = itertools.count(1_717_000_000_000)


def new_id() -> str:
    """An activity/message id as Teams makes them (epoch milliseconds)."""
    return str(next(_ids))


def member_id(person: PersonInfo) -> str:
    """The person's Teams member id (29:…), as `from` and the member API carry it."""
    return f"29:1{person['entra_id'].replace('-', '')}"


def personal_chat_id(person: PersonInfo) -> str:
    """The id of the person's 1:1 chat with the bot."""
    return f"a:1{person['entra_id'].replace('-', '')}"


def account(person: PersonInfo) -> dict[str, Any]:
    """`from` as Teams sends it: the 29: member id, name and Entra object id."""
    return {"id": member_id(person), "name": person["name"],
            "aadObjectId": person["entra_id"]}


def teams_time(moment: datetime) -> str:
    """A moment as Teams writes timestamps (UTC, milliseconds, Z)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + \
        f"{moment.microsecond // 1000:03d}Z"


def _fixed_time() -> datetime:
    return datetime(2024, 5, 6, 8, 55, 0, 123000, tzinfo=UTC)


@dataclass
class TeamsSender:
    """Builds the activities Teams would post to the bot for one organisation."""

    service_url: str
    tenant: str
    bot_id: str
    bot_name: str
    team_id: str  # the team's General channel id, which is the team's id
    clock: Callable[[], datetime] = field(default=_fixed_time)

    def base(self, conversation: dict[str, Any], *, sender: PersonInfo,
             channel_data: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
        """The envelope every Teams activity has."""
        return {
            "id": new_id(), "channelId": "msteams", "serviceUrl": self.service_url,
            "timestamp": teams_time(self.clock()), "locale": "en-US",
            "from": account(sender), "recipient": {"id": self.bot_id, "name": self.bot_name},
            "conversation": {"tenantId": self.tenant, **conversation},
            "channelData": {"tenant": {"id": self.tenant}, **(channel_data or {})},
            **fields,
        }

    def team_update(self, event: str, *, sender: PersonInfo, team_name: str = "Payments",
                    aad_group_id: str | None = None, **fields: Any) -> dict[str, Any]:
        """A conversationUpdate in the team's General channel (where Teams sends team events)."""
        fields.setdefault("type", "conversationUpdate")
        extra = fields.pop("channel_data", {})
        team = {"id": self.team_id, "name": team_name}
        if aad_group_id:
            team["aadGroupId"] = aad_group_id
        return self.base({"conversationType": "channel", "isGroup": True, "id": self.team_id},
                         sender=sender, channel_data={"eventType": event, "team": team, **extra},
                         **fields)

    def bot_added_to_team(self, *, sender: PersonInfo, team_name: str) -> dict[str, Any]:
        """The app added to the team: the bot among `membersAdded`, in General."""
        return self.team_update("teamMemberAdded", sender=sender, team_name=team_name,
                                membersAdded=[{"id": self.bot_id}])

    def personal(self, text: str, *, sender: PersonInfo) -> dict[str, Any]:
        """A 1:1 message to the bot."""
        conversation = {"conversationType": "personal", "id": personal_chat_id(sender)}
        return self.base(conversation, sender=sender, type="message", text=text,
                         textFormat="plain")

    def channel_post(self, text_html: str, *, channel: str, sender: PersonInfo,
                     mention: bool = True, root: str | None = None) -> dict[str, Any]:
        """A channel message (a post, or a reply in thread `root`), maybe @mentioning the bot."""
        activity_id = new_id()
        tag = f"<at>{self.bot_name}</at>"
        entities = [{"type": "mention", "text": tag,
                     "mentioned": {"id": self.bot_id, "name": self.bot_name}}] if mention else []
        activity = self.base(
            {"conversationType": "channel", "isGroup": True,
             "id": f"{channel};messageid={root or activity_id}"},
            sender=sender, type="message", textFormat="plain",
            text=(tag + " " if mention else "") + text_html, entities=entities,
            channel_data={"teamsChannelId": channel, "teamsTeamId": self.team_id,
                          "channel": {"id": channel}, "team": {"id": self.team_id}})
        activity["id"] = activity_id
        if root:
            activity["replyToId"] = root
        return activity

    def message_action(self, name: str, *, html: str, channel: str, sender: PersonInfo,
                       author: PersonInfo, created: datetime,
                       data: dict[str, Any] | None = None,
                       message_id: str = "1717171717171") -> dict[str, Any]:
        """composeExtension/fetchTask or submitAction on a channel message (Teams' shape).

        `author` wrote message `message_id` in `channel` at `created`; `sender` runs the
        action on it.
        """
        value: dict[str, Any] = {
            "commandId": "forwardFeedback", "commandContext": "message",
            "context": {"theme": "default"},
            "messagePayload": {
                "id": message_id, "replyToId": None, "messageType": "message",
                "createdDateTime": teams_time(created), "lastModifiedDateTime": None,
                "deleted": False, "subject": None, "summary": None, "importance": "normal",
                "locale": "en-us", "linkToMessage":
                    f"https://teams.microsoft.com/l/message/{channel}/{message_id}",
                "from": {"device": None, "conversation": None, "application": None,
                         "user": {"userIdentityType": "aadUser", "id": author["entra_id"],
                                  "displayName": author["name"]}},
                "body": {"contentType": "html", "content": html},
                "attachmentLayout": None, "attachments": [], "mentions": [],
                "reactions": [], "policyViolation": None},
        }
        if data is not None:
            value["data"] = data
        return self.base(
            {"conversationType": "channel", "isGroup": True,
             "id": f"{channel};messageid={message_id}"},
            sender=sender, type="invoke", name=name, value=value,
            channel_data={"channel": {"id": channel}, "team": {"id": self.team_id},
                          "source": {"name": "message"}})

    def card_click(self, verb: str, item_id: int, *, channel: str, card_message: str,
                   sender: PersonInfo, **inputs: Any) -> dict[str, Any]:
        """An Action.Execute click (adaptiveCard/action) on a card posted in `channel`."""
        return self.base(
            {"conversationType": "channel", "isGroup": True,
             "id": f"{channel};messageid={card_message}"},
            sender=sender, type="invoke", name="adaptiveCard/action", replyToId=card_message,
            value={"action": {"type": "Action.Execute", "verb": verb,
                              "data": {"item": item_id, **inputs}},
                   "trigger": "manual"},
            channel_data={"channel": {"id": channel}, "team": {"id": self.team_id}})
