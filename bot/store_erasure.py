"""The Store's erasure methods (`feedbackbot forget`, `retention_days`); see bot/erasure.py."""

from __future__ import annotations

import abc
from datetime import datetime

from bot.erasure import ANONYMISE_BATCH, ErasureReport, Person


class ErasureStore(abc.ABC):
    """Erasing a person's words and names while keeping the timings figures are made of."""

    @abc.abstractmethod
    def forget_person(self, *, person: Person, now: datetime,
                      dry_run: bool = False) -> ErasureReport:
        """Erase `person`'s words and names everywhere (see bot/erasure.py for what that
        covers), in one transaction; return what changed. With `dry_run`, change nothing
        and return what would change."""

    @abc.abstractmethod
    def anonymise_items(self, *, forwarded_before: datetime, now: datetime,
                        limit: int = ANONYMISE_BATCH) -> ErasureReport:
        """Erase the words and names of up to `limit` items forwarded before a moment,
        keeping their timings, team, status and severity (their figures stay valid), in
        one transaction. Items already anonymised are left alone. When fewer than `limit`
        were left, the stored requests and drafts that old are erased too."""
