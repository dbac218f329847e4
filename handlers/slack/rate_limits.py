"""Slack's rate limits as the bot learnt them: what is held back, and until when.

Slack limits each Web API method per workspace, and chat.postMessage also per channel
(about one message a second, in bursts). A 429 for chat.postMessage holds only that
channel, unless another channel of the same workspace is already held, which means
the workspace-wide limit was hit; a 429 for any other method holds that method in that
workspace. Calls into a held scope fail at once, without reaching Slack, so one
team's rate limit delays nobody else's messages.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from bot.ports import CONVERSATION, WORKSPACE, ChatError

PER_CHANNEL_METHODS = frozenset({"chat.postMessage"})


class RateLimits:
    """Holds per (workspace, method) and per (workspace, method, channel); monotonic time."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._until: dict[tuple[str, str, str], float] = {}

    def _remaining(self, key: tuple[str, str, str]) -> float | None:
        until = self._until.get(key)
        if until is None:
            return None
        left = until - self.clock()
        if left <= 0:
            del self._until[key]
            return None
        return left

    def check(self, workspace: str, method: str, channel: str | None) -> None:
        """Raise a rate-limit ChatError when this call's scope is still held."""
        left = self._remaining((workspace, method, ""))
        if left is not None:
            raise ChatError("ratelimited", retry_after=left, limited=WORKSPACE)
        if channel and method in PER_CHANNEL_METHODS:
            left = self._remaining((workspace, method, channel))
            if left is not None:
                raise ChatError("ratelimited", retry_after=left, limited=CONVERSATION)

    def limited(self, workspace: str, method: str, channel: str | None,
                retry_after: float) -> str:
        """Record Slack's 429 for a call; return what it holds (WORKSPACE or CONVERSATION)."""
        until = self.clock() + retry_after
        if channel and method in PER_CHANNEL_METHODS:
            others = [key for key in list(self._until)
                      if key[:2] == (workspace, method) and key[2] not in ("", channel)
                      and self._remaining(key) is not None]
            if not others:
                self._hold((workspace, method, channel), until)
                return CONVERSATION
        self._hold((workspace, method, ""), until)
        return WORKSPACE

    def _hold(self, key: tuple[str, str, str], until: float) -> None:
        self._until[key] = max(until, self._until.get(key, until))
