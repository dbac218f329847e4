"""Turn forwarded customer words into a stored, routed item."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.config import Config
from bot.links import OFFER, Links
from bot.log_context import REQUEST_ID, current_request_id
from bot.models import SEVERITIES, Event, IntakeKind, IntakeRequest, Item, Status, utcnow
from bot.outbox_entries import forwarder_notice, notice_entry
from bot.outbox_kinds import CARD
from bot.ports import ChatPort, Ports
from bot.routing import RouteDecision, Router, card_platform
from bot.store import DuplicateSource, NewOutbox, Store
from bot.telemetry import ITEMS_RECEIVED, item_counted

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]

# Whoever forwards may be a customer or a guest in a shared channel, whichever way they
# forward, so every kind is checked before anything is stored.
_CHECKED_KINDS = set(IntakeKind)


class IntakeRejected(Exception):
    """Forwarding was refused: `code` (with `data`) says why; str() is plain words.

    Codes: no_text, no_such_team (data: team), bad_severity (data: severities),
    not_internal (a guest, or someone from another organisation), no_such_item (data:
    item; the item chosen to +1 is gone).
    """

    def __init__(self, message: str, *, code: str = "rejected",
                 data: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.data = data or {}


@dataclass(frozen=True)
class IntakeResult:
    """The item for a forwarded message, and whether this call created it."""

    item: Item
    created: bool
    route: RouteDecision | None


class IntakeService:
    """Validates, routes and stores forwarded feedback; the card goes out via the outbox."""

    def __init__(self, *, store: Store, config: Config, clock: Clock = utcnow,
                 port: ChatPort | Ports | None = None) -> None:
        self.store = store
        self.config = config
        self.router = Router(config)
        # Each workspace's own router, for the settings its config section gives.
        self._routers: dict[int, Router] = {id(config): self.router}
        self.clock = clock
        # Used to check forwarders when `forward` is given no port.
        self.ports = Ports.of(port) if port is not None else Ports()
        self.links = Links(store=store, config=config, clock=clock)

    def problem(self, request: IntakeRequest) -> IntakeRejected | None:
        """What is wrong with a request that needs no platform to tell, or None."""
        if not request.text.strip() and not request.files:
            return IntakeRejected("There is no text to forward.", code="no_text")
        config = self.config.for_workspace(request.workspace)
        if request.team and request.team not in config.teams:
            return IntakeRejected(f"There is no team called {request.team!r}.",
                                  code="no_such_team", data={"team": request.team})
        if (request.severity or config.severity_default) not in SEVERITIES:
            return IntakeRejected(f"Severity must be one of {', '.join(SEVERITIES)}.",
                                  code="bad_severity", data={"severities": list(SEVERITIES)})
        return None

    def check(self, request: IntakeRequest) -> str | None:
        """What is wrong with a request that needs no platform to tell, in plain words, or None."""
        problem = self.problem(request)
        return str(problem) if problem is not None else None

    def router_for(self, workspace: str | None) -> Router:
        """The router of `workspace`'s config (built once per config)."""
        config = self.config.for_workspace(workspace)
        router = self._routers.get(id(config))
        if router is None:
            router = self._routers[id(config)] = Router(config)
        return router

    def suggest(self, *, text: str, channel: str | None,
                workspace: str | None = None) -> tuple[RouteDecision, str | None]:
        """Return the team and customer the modal should preselect."""
        router = self.router_for(workspace)
        customer = router.detect_customer(text=text, channel=channel)
        return router.route(text=text, customer=customer), customer

    async def may_forward(self, *, workspace: str, user: str, platform: str = "slack",
                          from_outside: bool = False, port: ChatPort | None = None) -> bool:
        """True when `user` (a person, or a bot listed in `intake.bots`) may forward feedback.

        Only people of the organisation may: never a guest or someone from another one.
        `from_outside` says the platform already knows the person is from another
        organisation. Raises ChatError when the platform can't tell now, and ValueError
        when no port of `platform` can check the person.
        """
        if user in self.config.for_workspace(workspace).intake.bots:
            return True
        if from_outside:
            return False
        if port is None and platform in self.ports:
            port = self.ports.on(platform)
        if port is None:
            # Trusting by default would let customers in: refuse to guess.
            raise ValueError(f"intake on {platform} needs a ChatPort to check that the"
                             " person is a member of the workspace")
        return await port.is_internal_user(workspace=workspace, user=user)

    def already_forwarded(self, *, workspace: str, conversation: str, message: str
                          ) -> Item | None:
        """The item already made from the message `message` in `conversation`, or None."""
        return self.store.find_item_by_source(workspace=workspace, channel=conversation,
                                              ts=message)

    def keep_draft(self, *, workspace: str, data: dict[str, Any]) -> int:
        """Keep what a person is about to forward (while a form is open); return its id."""
        return self.store.save_draft(workspace=workspace, data=data, now=self.clock())

    def draft(self, *, workspace: str, draft_id: int) -> dict[str, Any] | None:
        """A draft kept by `keep_draft`, or None when it is gone."""
        return self.store.get_draft(workspace=workspace, draft_id=draft_id)

    async def forward(
        self, request: IntakeRequest, *, port: ChatPort | None = None
    ) -> IntakeResult:
        """Store an item for `request`, or return the one already stored for its source.

        Raises IntakeRejected for empty text, an unknown team or severity, or a person
        outside the workspace (a customer or guest); ValueError when there is no `port`
        to check the person. Nothing is stored then. Bots listed in `intake.bots` need no
        check.
        """
        if "\x00" in request.text or "\x00" in (request.note or ""):
            # NUL is never meaningful in chat text, and PostgreSQL text can't hold it.
            request = dataclasses.replace(request, text=request.text.replace("\x00", ""),
                                          note=(request.note or "").replace("\x00", "")
                                          or None)
        source = request.source
        if source.channel and source.ts:
            existing = self.store.find_item_by_source(
                workspace=request.workspace, channel=source.channel, ts=source.ts
            )
            if existing is not None:
                return IntakeResult(item=existing, created=False, route=None)
        if request.intake_key:
            existing = self.store.find_item_by_intake_key(
                workspace=request.workspace, key=request.intake_key
            )
            if existing is not None:
                return IntakeResult(item=existing, created=False, route=None)
        problem = self.problem(request)
        if problem is not None:
            raise problem
        config = self.config.for_workspace(request.workspace)
        severity = request.severity or config.severity_default
        if port is None and request.platform in self.ports:
            port = self.ports.on(request.platform)
        if request.kind in _CHECKED_KINDS and not await self.may_forward(
                workspace=request.workspace, user=request.forwarded_by,
                platform=request.platform, port=port):
            raise IntakeRejected("Only members of this workspace can forward feedback.",
                                 code="not_internal")
        customer = request.customer or self.router_for(request.workspace).detect_customer(
            text=request.text, channel=source.channel
        )
        route = self.router_for(request.workspace).route(text=request.text, customer=customer,
                                  chosen_team=request.team)
        joined = offer = None
        if request.link_to is not None:
            joined = self.links.chosen(workspace=request.workspace, item_id=request.link_to)
            if joined is None:
                raise IntakeRejected(f"Feedback #{request.link_to} can't be found.",
                                     code="no_such_item", data={"item": request.link_to})
        elif not request.as_new:
            offer = self.links.offer(workspace=request.workspace, text=request.text,
                                     team=route.team)
        item = Item(
            workspace=request.workspace,
            id=0,
            team=route.team,
            status=Status.RECEIVED.value,
            text=request.text,
            customer=customer,
            severity=severity,
            source_channel=source.channel,
            source_ts=source.ts,
            forwarded_by=request.forwarded_by,
            received_at=request.received_at,
            forwarded_at=request.forwarded_at,
            intake_kind=request.kind.value,
            source_author=source.author,
            source_permalink=source.permalink,
            note=request.note,
            reply_channel=request.reply_channel,
            reply_thread_ts=request.reply_thread_ts,
            intake_key=request.intake_key,
            platform=request.platform,
            card_platform=card_platform(config.teams[route.team], request.platform),
        )
        event = Event(
            item_id=0,
            kind="received",
            actor=request.forwarded_by,
            at=request.forwarded_at,
            data={
                "intake": request.kind.value,
                "team": route.team,
                "route_reason": route.reason,
                "matches": list(route.matches),
                "files": list(request.files),
                **({"offer": offer["match"]} if offer else {}),
            },
        )
        try:
            # The card's entry keeps the request id, so its post is logged under it too.
            request_id = current_request_id()
            payload = {REQUEST_ID: request_id} if request_id else {}
            outbox = [NewOutbox(kind=CARD, payload=payload)]
            if offer is not None or joined is not None:
                # Held while its forwarder may +1; it goes out as new if nobody answers.
                outbox = [self.links.held_card(self.clock(), payload, workspace=item.workspace,
                                               offered=offer is not None)]
            if offer is not None:
                # First: the card held behind it must not hold the offer back too.
                outbox.insert(0, notice_entry(forwarder_notice(item, OFFER, **offer)))
            created = self.store.create_item(item=item, event=event, outbox=outbox)
        except DuplicateSource as duplicate:
            # Two deliveries raced past the lookup above; the first one won.
            return IntakeResult(item=duplicate.item, created=False, route=None)
        item_counted(ITEMS_RECEIVED, team=created.team, platform=created.platform)
        if joined is not None:
            created = self.links.link(created, joined, by=request.forwarded_by) or created
        log.info("item %s from %s routed to %s (%s)", created.id, request.kind.value,
                 route.team, route.reason, extra={"item_id": created.id})
        return IntakeResult(item=created, created=True, route=route)
