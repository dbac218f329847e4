"""Turn forwarded customer words into a stored, routed item."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from bot.config import Config
from bot.models import SEVERITIES, Event, IntakeKind, IntakeRequest, Item, Status, utcnow
from bot.outbox_kinds import CARD
from bot.ports import ChatPort, Ports
from bot.routing import RouteDecision, Router, card_platform
from bot.store import DuplicateSource, NewOutbox, Store

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]

# Whoever forwards may be a customer or a guest in a shared channel, whichever way they
# forward, so every kind is checked before anything is stored.
_CHECKED_KINDS = set(IntakeKind)


class IntakeRejected(Exception):
    """Forwarding was refused; the message says why in words for the person."""


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
        self.clock = clock
        # Used to check forwarders when `forward` is given no port.
        self.ports = Ports.of(port) if port is not None else Ports()

    def check(self, request: IntakeRequest) -> str | None:
        """What is wrong with a request that needs no platform to tell, or None."""
        if not request.text.strip() and not request.files:
            return "There is no text to forward."
        if request.team and request.team not in self.config.teams:
            return f"There is no team called {request.team!r}."
        if (request.severity or self.config.severity_default) not in SEVERITIES:
            return f"Severity must be one of {', '.join(SEVERITIES)}."
        return None

    def suggest(self, *, text: str, channel: str | None) -> tuple[RouteDecision, str | None]:
        """Return the team and customer the modal should preselect."""
        customer = self.router.detect_customer(text=text, channel=channel)
        return self.router.route(text=text, customer=customer), customer

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
        problem = self.check(request)
        if problem:
            raise IntakeRejected(problem)
        severity = request.severity or self.config.severity_default
        if port is None and request.platform in self.ports:
            port = self.ports.on(request.platform)
        if request.kind in _CHECKED_KINDS and request.forwarded_by not in self.config.intake.bots:
            if port is None:
                # Trusting by default would let customers in: refuse to guess.
                raise ValueError(f"{request.kind.value} intake needs a ChatPort to check"
                                 " that the person is a member of the workspace")
            internal = await port.is_internal_user(
                workspace=request.workspace, user=request.forwarded_by
            )
            if not internal:
                raise IntakeRejected("Only members of this workspace can forward feedback.")
        customer = request.customer or self.router.detect_customer(
            text=request.text, channel=source.channel
        )
        route = self.router.route(text=request.text, customer=customer,
                                  chosen_team=request.team)
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
            card_platform=card_platform(self.config.teams[route.team], request.platform),
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
            },
        )
        try:
            created = self.store.create_item(item=item, event=event,
                                             outbox=[NewOutbox(kind=CARD)])
        except DuplicateSource as duplicate:
            # Two deliveries raced past the lookup above; the first one won.
            return IntakeResult(item=duplicate.item, created=False, route=None)
        log.info("item %s from %s routed to %s (%s)", created.id, request.kind.value,
                 route.team, route.reason)
        return IntakeResult(item=created, created=True, route=route)
