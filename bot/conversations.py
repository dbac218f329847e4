"""Where a platform can send: the conversations the bot was added to, as the store keeps them.

Teams tells the bot how to reach a conversation (its service URL and reference) only when
the app is added there, so adapters remember and look them up through here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from bot.models import utcnow
from bot.store import Conversation, Store


class ConversationBook:
    """The conversations of one platform the bot was added to (or removed from)."""

    def __init__(self, *, store: Store, platform: str,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self._store = store
        self.platform = platform
        self.clock = clock

    def find(self, conversation_id: str) -> Conversation | None:
        """The conversation with this id, removed or not; None when never seen."""
        return self._store.get_conversation(platform=self.platform,
                                            conversation_id=conversation_id)

    def current(self, *, kind: str | None = None) -> list[Conversation]:
        """The conversations the bot is in now (of `kind`), oldest first."""
        return self._store.list_conversations(platform=self.platform, kind=kind)

    def with_person(self, user: str) -> Conversation | None:
        """The bot's current 1:1 chat with `user`, if it has one."""
        return self._store.personal_conversation(platform=self.platform, user=user)

    def remember(self, conversation: Conversation) -> None:
        """Keep (or refresh) what the platform said about a conversation."""
        self._store.save_conversation(conversation, now=self.clock())

    def forget(self, conversation_id: str) -> None:
        """Mark a conversation as one the bot was removed from."""
        self._store.remove_conversation(platform=self.platform,
                                        conversation_id=conversation_id, now=self.clock())

    def not_joined(self, conversation_ids: Iterable[str]) -> list[str]:
        """Those of `conversation_ids` the bot is not in now, in the order given."""
        joined = {c.conversation_id for c in self.current()}
        # A team's channels are known by id; a thread suffix names a message, not a place.
        return [cid for cid in conversation_ids if cid.split(";")[0] not in joined]
