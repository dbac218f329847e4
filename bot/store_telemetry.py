"""Store reads for /metrics and /healthz: cheap, one query each."""

from __future__ import annotations

import abc
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class OutboxBacklog:
    """How many outbox entries wait to be sent, and when the oldest was queued."""

    pending: int
    oldest: datetime | None


class TelemetryReads(abc.ABC):
    """What the store tells /metrics and /healthz."""

    @abc.abstractmethod
    def outbox_backlog(self) -> OutboxBacklog:
        """Count the pending outbox entries and find the oldest one's creation time."""
