"""What every Slack listener needs, and the wrapper that ties a listener to its inbox row."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiohttp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import Config
from bot.intake import Clock, IntakeService
from bot.lifecycle import Lifecycle
from bot.outbox import OutboxWorker
from bot.ports import ChatError
from bot.runtime import Runtime
from bot.views import Views
from handlers.slack.context import workspace_key
from handlers.slack.port import SlackChatPort

if TYPE_CHECKING:
    from handlers.slack.oauth import SlackInstalls

log = logging.getLogger(__name__)

TRANSIENT_ERRORS = (ChatError, SlackApiError, aiohttp.ClientError, TimeoutError)


def is_transient(error: BaseException) -> bool:
    """True for failures that go away: outages, rate limits, timeouts, a refused token.

    A refused token is fixed in Slack or by a restart with a new one; until then the
    request waits in the inbox rather than counting as a failure.
    """
    if isinstance(error, ChatError):
        return not error.permanent
    if isinstance(error, SlackApiError):
        status = getattr(error.response, "status_code", 200)
        return status == 429 or status >= 500
    return isinstance(error, aiohttp.ClientError | TimeoutError)


@dataclass
class Deps:
    """The services listeners call; built once by create_app.

    Listeners reach the store only through the core's services, never directly.
    """

    runtime: Runtime
    port: SlackChatPort
    bot_user_id: str | None = None
    bot_id: str | None = None
    team_url: str | None = None  # e.g. https://acme.slack.com/, for links built locally
    in_flight: int = 0  # listeners running now; lets a caller wait for quiet
    installs: SlackInstalls | None = None  # OAuth mode: the workspaces' installations

    @property
    def config(self) -> Config:
        """The deployment's (top-level) config."""
        return self.runtime.config

    def config_for(self, workspace: str | None) -> Config:
        """The config workspace `workspace` uses (its section over the top level)."""
        return self.runtime.config.for_workspace(workspace)

    @property
    def clock(self) -> Clock:
        """The runtime's clock."""
        return self.runtime.clock

    @property
    def intake(self) -> IntakeService:
        """Forwarding: checks, routing, drafts."""
        return self.runtime.intake

    @property
    def lifecycle(self) -> Lifecycle:
        """Responses, relays, resolve, reassign, follow."""
        return self.runtime.lifecycle

    @property
    def views(self) -> Views:
        """Figures and waiting lists."""
        return self.runtime.views

    @property
    def outbox(self) -> OutboxWorker:
        """The outbox worker (to wake it, and its token checks)."""
        return self.runtime.outbox


@dataclass
class SlackCall:
    """One request as a listener sees it."""

    ack: Callable[..., Awaitable[Any]]  # Bolt's AsyncAck, or AckThenStop in the ack-only phase
    body: dict[str, Any]
    context: AsyncBoltContext
    client: AsyncWebClient
    respond: AsyncRespond | None

    @property
    def workspace(self) -> str:
        """The workspace key of this request."""
        return workspace_key(team_id=self.context.team_id,
                             enterprise_id=self.context.enterprise_id)

    @property
    def replay(self) -> bool:
        """True when the request is being finished after a restart, long after Slack sent it."""
        return bool(self.context.get("replay"))


Handler = Callable[[SlackCall], Awaitable[None]]


# Set in a request's context once its failure is counted, so that it is counted once.
FAILURE_RECORDED = "feedbackbot_failure_recorded"
# Set in a request's context when only its answer is wanted here: a worker does the rest.
ACK_ONLY = "feedbackbot_ack_only"


class AckSent(BaseException):
    """The ack-only phase is over once the listener has acknowledged; a worker does the rest.

    A BaseException, so that a listener's own `except Exception` can't swallow it.
    """


class AckThenStop:
    """An ack that answers Slack, then stops the listener (raises AckSent)."""

    def __init__(self, ack: AsyncAck) -> None:
        self._ack = ack

    async def __call__(self, *args: Any, **kwargs: Any) -> None:
        await self._ack(*args, **kwargs)
        raise AckSent


async def _acknowledge_only(handler: Handler, call: SlackCall, ack: AsyncAck) -> None:
    """Run `handler` up to its ack: what the answer says (a routing message, a form's
    errors) is worked out as usual, and nothing after it runs here."""
    if call.body.get("type") == "event_callback":
        return  # Bolt acknowledges events by itself; listeners only do work
    try:
        await handler(call)
    except AckSent:
        return
    except Exception:  # the worker handles the request (and records its failure)
        log.exception("working out the answer to a %s failed; answered plainly",
                      call.body.get("type") or "command")
    if ack.response is None:
        await ack()

def tracked(deps: Deps, handler: Handler) -> Callable[..., Awaitable[None]]:
    """Wrap `handler` as a Bolt listener that marks its inbox row done when it finishes.

    A handler that raises leaves the row pending (with the error counted), so the work
    is retried after a restart instead of being lost.
    """

    async def listener(
        ack: AsyncAck,
        body: dict[str, Any],
        context: AsyncBoltContext,
        client: AsyncWebClient,
        respond: AsyncRespond,
    ) -> None:
        inbox_id = context.get("inbox_id")
        if context.get(ACK_ONLY):
            await _acknowledge_only(handler, SlackCall(
                ack=AckThenStop(ack), body=body, context=context, client=client,
                respond=respond), ack)
            return
        call = SlackCall(ack=ack, body=body, context=context, client=client, respond=respond)
        deps.in_flight += 1
        try:
            await handler(call)
        except TRANSIENT_ERRORS as error:
            if not is_transient(error):
                raise
            # Slack is unreachable or busy: the request stays in the inbox untouched and
            # is finished when Slack answers again.
            log.warning("deferred %s until Slack answers again: %s", body.get("type"),
                        getattr(error, "reason", None) or error)
            return
        except Exception as error:
            if inbox_id is not None:
                deps.runtime.request_failed(inbox_id, kind=str(body.get("type")),
                                            error=repr(error))
                context[FAILURE_RECORDED] = True
            log.exception("handling %s failed; it stays in the inbox for a retry",
                          body.get("type"))
            raise
        finally:
            deps.in_flight -= 1
        if inbox_id is not None:
            deps.runtime.request_done(inbox_id)
        deps.outbox.wake()

    listener.__name__ = getattr(handler, "__name__", "listener")
    return listener


def tell(deps: Deps, workspace: str, user: str, text: str) -> None:
    """Queue a DM telling `user` something (why nothing happened, or what to do)."""
    deps.runtime.replies.tell(workspace=workspace, user=user, text=text)
