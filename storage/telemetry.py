"""SQL for /metrics and /healthz: the outbox backlog in one indexed read."""

from __future__ import annotations

from bot.store_telemetry import OutboxBacklog
from storage.dialect import Database
from storage.rows import read_time


class TelemetryQueries:
    """The outbox backlog: its size and its oldest entry."""

    database: Database

    def outbox_backlog(self) -> OutboxBacklog:
        # The (status, next_attempt_at) index finds the pending rows; few are pending.
        with self.database.read() as tx:
            row = tx.one("SELECT COUNT(*) AS n, MIN(created_at) AS oldest FROM outbox"
                         " WHERE status = 'pending'")
        if row is None:
            return OutboxBacklog(pending=0, oldest=None)
        return OutboxBacklog(pending=int(row["n"]), oldest=read_time(row["oldest"]))
