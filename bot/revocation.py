"""Which workspaces refuse the bot's token, checked again until it works.

A call refused for the token (invalid_auth, token_revoked...) is not trusted alone: the
platform is asked about the token itself, and only a refusal there marks the workspace
revoked in the store. While marked, its outbox entries wait (kept, never given up) and
the token is tried again with backoff; once it works the mark is cleared and the
waiting entries are made due at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.ports import ChatError, ChatPort, Ports
from bot.store import Store

log = logging.getLogger(__name__)

# How often the token of a workspace marked revoked is tried again: first, and at most.
RECHECK_FIRST = timedelta(minutes=1)
RECHECK_MAX = timedelta(minutes=5)


@dataclass
class _Refused:
    """A workspace whose token the platform refused, and when to ask again."""

    reason: str
    next_check: datetime
    wait: timedelta


class TokenChecks:
    """Confirms, remembers and re-checks refused tokens per workspace of one platform."""

    def __init__(self, *, store: Store, ports: Ports, platform: str,
                 clock: Callable[[], datetime]) -> None:
        self.store = store
        self.ports = ports
        self.platform = platform
        self.clock = clock
        self._refused: dict[str, _Refused] = {}

    def _port(self) -> ChatPort:
        return self.ports.on(self.platform)

    def _mark(self, workspace: str) -> str:
        """The store's key for this platform's token in `workspace` (Slack's is the workspace)."""
        return workspace if self.platform == "slack" else f"{self.platform}:{workspace}"

    def reason(self, workspace: str) -> str | None:
        """Why the platform refuses `workspace`'s token, as last heard here; None if it doesn't."""
        refused = self._refused.get(workspace)
        return refused.reason if refused is not None else None

    def check_soon(self, workspace: str, *, reason: str) -> None:
        """Try `workspace`'s token at the next outbox pass (say, after an uninstall event)."""
        self._refused[workspace] = _Refused(reason=reason, next_check=self.clock(),
                                            wait=timedelta(0))

    def lost(self, workspace: str, *, reason: str) -> None:
        """The platform says the bot lost its token in `workspace` (uninstalled, revoked).

        Sending there stops until the token is tried again, at the next outbox pass.
        """
        self.store.set_workspace_revoked(workspace=self._mark(workspace), revoked_at=self.clock())
        self.check_soon(workspace, reason=reason)

    def accepted(self, workspace: str) -> bool:
        """The token works in `workspace` (say, at start-up): clear its mark; True if it had one."""
        if not self.store.is_workspace_revoked(workspace=self._mark(workspace)):
            return False
        self.store.set_workspace_revoked(workspace=self._mark(workspace), revoked_at=None)
        return True

    def reinstalled(self, workspace: str) -> bool:
        """The app was installed (again) in `workspace`: what waited for it is due now.

        Returns True when the workspace had been marked as refusing the token.
        """
        was_marked = self.accepted(workspace)
        self._refused.pop(workspace, None)
        self.store.outbox_retry_now(now=self.clock())
        return was_marked

    async def confirm(self, workspace: str) -> str | None:
        """After a call was refused for the token, ask about the token itself.

        Returns the refusal and marks the workspace revoked when the token is refused;
        returns None (and marks nothing) when it works. Raises ChatError when the
        platform can't answer now.
        """
        refusal = await self._port().token_refusal(workspace=workspace)
        if refusal is None:
            return None
        now = self.clock()
        log.error("workspace %s refuses the app's token (%s): nothing more is sent there until"
                  " it works again (tried every few minutes, and at start-up); everything"
                  " is kept and sent then", workspace, refusal)
        self.store.set_workspace_revoked(workspace=self._mark(workspace), revoked_at=now)
        self._refused[workspace] = _Refused(reason=refusal, next_check=now + RECHECK_FIRST,
                                            wait=RECHECK_FIRST)
        return refusal

    async def held_back(self, workspace: str) -> bool:
        """True while `workspace` is marked revoked and its token still doesn't work.

        A mark not checked here yet (set by an uninstall event, or by another process)
        is checked at once; a known one when its re-check is due.
        """
        # Asked before every send: in a thread, so that the loop keeps serving meanwhile.
        if not await asyncio.to_thread(self.store.is_workspace_revoked,
                                       workspace=self._mark(workspace)):
            self._refused.pop(workspace, None)
            return False
        refused = self._refused.get(workspace)
        if refused is not None and self.clock() < refused.next_check:
            return True
        return not await self._recheck(workspace)

    async def recheck_due(self) -> None:
        """Try every refused token whose re-check is due; a working one resumes sending."""
        for workspace, refused in list(self._refused.items()):
            if self.clock() < refused.next_check:
                continue
            if self.store.is_workspace_revoked(workspace=self._mark(workspace)):
                await self._recheck(workspace)
            else:
                self._refused.pop(workspace, None)  # cleared elsewhere: start-up, another process

    async def _recheck(self, workspace: str) -> bool:
        """Try `workspace`'s token; when it works, clear the mark and make the outbox due.

        Returns True when the token works. A refusal, or no answer, schedules the next
        try with backoff.
        """
        now = self.clock()
        earlier = self._refused.get(workspace)
        try:
            refusal = await self._port().token_refusal(workspace=workspace)
        except ChatError as error:
            refusal = earlier.reason if earlier is not None else f"unchecked ({error.reason})"
        else:
            if refusal is None:
                self.store.set_workspace_revoked(workspace=self._mark(workspace), revoked_at=None)
                self._refused.pop(workspace, None)
                self.store.outbox_retry_now(now=now)
                log.warning("workspace %s accepts the app's token again: sending resumes and"
                            " everything queued meanwhile is delivered", workspace)
                return True
        wait = (RECHECK_FIRST if earlier is None or not earlier.wait
                else min(earlier.wait * 2, RECHECK_MAX))
        self._refused[workspace] = _Refused(reason=refusal, next_check=now + wait, wait=wait)
        log.info("workspace %s still refuses the app's token (%s); trying again in %s",
                 workspace, refusal, wait)
        return False
