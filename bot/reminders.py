"""SLA reminders and escalations: nothing sits silently past its first-response target."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from bot.business_hours import clock_for, sla_deadline
from bot.config import Config
from bot.durations import format_duration
from bot.models import Event, Item, Status
from bot.outbox import card_platform_of, notice_entry
from bot.outbox_kinds import CARD_UPDATE
from bot.ports import Notice
from bot.store import NewOutbox, Store

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]

REMINDED = "reminded"
ESCALATED = "escalated"
_WAITING = {Status.RECEIVED.value, Status.ROUTED.value, Status.REOPENED.value}


@dataclass(frozen=True)
class Nudges:
    """How many reminders and escalations one check sent."""

    reminded: int = 0
    escalated: int = 0


def escalation_deadline(*, item: Item, config: Config) -> datetime:
    """Twice the first-response target, counted like the target itself."""
    target = config.sla_for(item.severity)  # type: ignore[arg-type]
    team = config.teams.get(item.team)
    if item.severity == "urgent" or team is None:
        return item.forwarded_at + 2 * target
    return clock_for(team).add(item.forwarded_at, 2 * target)


class Reminders:
    """Reminds the assignee at the SLA target and escalates at twice it, once per item."""

    def __init__(self, *, store: Store, config: Config, clock: Clock) -> None:
        self.store = store
        self.config = config
        self.clock = clock

    def check(self, *, workspace: str) -> Nudges:
        """Send the reminders and escalations that are due now; each happens once per item."""
        now = self.clock()
        reminded = escalated = 0
        # Only what waits (a partial index), never the whole history, on every tick.
        config = self.config.for_workspace(workspace)
        for item in self.store.waiting_items(workspace=workspace):
            if (item.first_response_at is not None or item.status not in _WAITING
                    or not item.card_ts or item.team not in config.teams):
                continue  # answered, resolved, or not yet on a card: never nagged
            if now >= sla_deadline(item=item, config=config) and self._remind(item, now):
                reminded += 1
            if now >= escalation_deadline(item=item, config=config) and self._escalate(
                    item, now):
                escalated += 1
        if reminded or escalated:
            log.info("sent %d reminder(s) and %d escalation(s)", reminded, escalated)
        return Nudges(reminded=reminded, escalated=escalated)

    def _thread_notice(self, item: Item, kind: str, mentions: list[str], now: datetime
                       ) -> NewOutbox:
        target = self.config.for_workspace(item.workspace).sla_for(
            item.severity)  # type: ignore[arg-type]
        return notice_entry(Notice(
            kind=kind, user=mentions[0] if mentions else item.forwarded_by,
            conversation=item.card_channel, thread=item.card_ts,
            platform=card_platform_of(item),
            data={"mentions": mentions, "waited": format_duration(now - item.forwarded_at),
                  "sla": format_duration(target), "severity": item.severity}))

    def _remind(self, item: Item, now: datetime) -> bool:
        team = self.config.for_workspace(item.workspace).teams[item.team]
        mentions = item.assignees or [owner for owner in team.owners
                                      if not owner.startswith("S")]
        # Per team: a team that receives the item by reassignment is reminded too.
        return self.store.set_flag_once(
            workspace=item.workspace, item_id=item.id, flag=f"{REMINDED}:{item.team}", now=now,
            event=Event(item_id=item.id, kind="reminded", actor=None, at=now,
                        data={"mentions": mentions}),
            outbox=[self._thread_notice(item, "reminder", mentions, now)])

    def _escalate(self, item: Item, now: datetime) -> bool:
        team = self.config.for_workspace(item.workspace).teams[item.team]
        mentions = [team.escalate_to] if team.escalate_to else list(team.owners)
        return self.store.set_flag_once(
            workspace=item.workspace, item_id=item.id, flag=f"{ESCALATED}:{item.team}", now=now,
            changes={"escalated_at": now},
            event=Event(item_id=item.id, kind="escalated", actor=None, at=now,
                        data={"mentions": mentions}),
            outbox=[self._thread_notice(item, "escalation", mentions, now),
                    NewOutbox(kind=CARD_UPDATE)])
