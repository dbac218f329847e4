"""Inbox bookkeeping shared by every platform: count failures, give up loudly, once."""

from __future__ import annotations

import logging

from bot.store import INBOX_MAX_ATTEMPTS, Store

log = logging.getLogger(__name__)


def record_failed_attempt(store: Store, inbox_id: int, *, kind: str, error: str) -> bool:
    """Count one failed attempt at a stored request; return True when it is now given up.

    A given-up request is kept in the inbox but never replayed again, so a request that
    can't be handled can't keep the bot busy forever. Giving up is logged once, at ERROR.
    """
    attempts = store.inbox_failed_attempt(inbox_id, error=error[:500])
    if attempts == INBOX_MAX_ATTEMPTS:
        log.error("gave up on stored request %s (%s) after %d failed attempts: %s. It is"
                  " kept in the inbox table; `feedbackbot check-config` counts such requests.",
                  inbox_id, kind, attempts, error[:200])
        return True
    return False
