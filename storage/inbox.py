"""The inbox: every inbound request, stored before it is acknowledged."""

from __future__ import annotations

import json
from datetime import datetime

from bot.store import INBOX_MAX_ATTEMPTS, InboxRow
from storage.dialect import Database
from storage.rows import inbox_from_row


class InboxQueries:
    """The inbox half of the Store."""

    database: Database

    def inbox_add(
        self,
        *,
        workspace: str,
        kind: str,
        dedupe_key: str | None,
        body: str,
        headers: dict[str, str],
        received_at: datetime,
        nowait: bool = False,
        platform: str = "slack",
    ) -> int | None:
        with self.database.write(nowait=nowait) as tx:
            row = tx.one(
                "INSERT INTO inbox (workspace, kind, dedupe_key, body, headers, received_at,"
                " attempts, platform) VALUES (?, ?, ?, ?, ?, ?, 0, ?)"
                " ON CONFLICT (dedupe_key) DO NOTHING RETURNING id",
                (workspace, kind, dedupe_key, body, json.dumps(headers), received_at,
                 platform),
            )
        return int(row["id"]) if row else None

    def inbox_set_workspace(self, inbox_id: int, workspace: str) -> None:
        with self.database.write() as tx:
            tx.execute("UPDATE inbox SET workspace = ? WHERE id = ?", (workspace, inbox_id))

    def inbox_done(self, inbox_id: int, *, error: str | None = None) -> None:
        with self.database.write() as tx:
            tx.execute(
                "UPDATE inbox SET processed = TRUE, error = ? WHERE id = ?", (error, inbox_id)
            )

    def inbox_failed_attempt(self, inbox_id: int, *, error: str) -> int:
        with self.database.write() as tx:
            row = tx.one(
                "UPDATE inbox SET attempts = attempts + 1, error = ? WHERE id = ?"
                " RETURNING attempts",
                (error, inbox_id),
            )
        return int(row["attempts"]) if row else 0

    def inbox_given_up_count(self, *, max_attempts: int = INBOX_MAX_ATTEMPTS) -> int:
        with self.database.read() as tx:
            row = tx.one(
                "SELECT COUNT(*) AS n FROM inbox WHERE processed = FALSE AND attempts >= ?",
                (max_attempts,),
            )
        return int(row["n"]) if row else 0

    def inbox_pending(self, *, max_attempts: int = INBOX_MAX_ATTEMPTS) -> list[InboxRow]:
        with self.database.read() as tx:
            rows = tx.all(
                "SELECT * FROM inbox WHERE processed = FALSE AND attempts < ? ORDER BY id",
                (max_attempts,),
            )
        return [inbox_from_row(row) for row in rows]

    def inbox_prune(self, *, before: datetime) -> int:
        with self.database.write() as tx:
            return tx.execute(
                "DELETE FROM inbox WHERE processed = TRUE AND received_at < ?", (before,)
            )
