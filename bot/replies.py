"""Short answers to one person (why nothing happened, what to do), queued in the outbox."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from bot.outbox import notice_entry
from bot.outbox_kinds import EPHEMERAL
from bot.ports import Notice
from bot.store import NewOutbox, Store


class Replies:
    """Queues answers for the outbox, which sends them (and retries) like everything else."""

    def __init__(self, *, store: Store, clock: Callable[[], datetime],
                 wake: Callable[[], None] = lambda: None) -> None:
        self.store = store
        self.clock = clock
        self.wake = wake

    def tell(self, *, workspace: str, user: str, text: str, platform: str = "slack") -> None:
        """Queue a 1:1 message telling `user` (a person on `platform`) `text`, worded there."""
        self.store.outbox_enqueue(workspace=workspace, item_id=None, now=self.clock(),
                                  entry=notice_entry(Notice(kind="rejected", user=user,
                                                            data={"reason": text},
                                                            platform=platform)))
        self.wake()

    def answer_in(self, *, workspace: str, conversation: str, user: str, text: str,
                  platform: str = "slack") -> None:
        """Queue `text` for `user` alone in `conversation` (never sent if outsiders can read it)."""
        self.store.outbox_enqueue(workspace=workspace, item_id=None, now=self.clock(),
                                  entry=NewOutbox(kind=EPHEMERAL, payload={
                                      "channel": conversation, "user": user, "text": text,
                                      "platform": platform}))
        self.wake()
