"""The inbox: every inbound request, stored before it is acknowledged."""

from __future__ import annotations

import json
from collections.abc import Sequence
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
        lease_owner: str | None = None,
        lease_until: datetime | None = None,
    ) -> int | None:
        with self.database.write(nowait=nowait) as tx:
            row = tx.one(
                "INSERT INTO inbox (workspace, kind, dedupe_key, body, headers, received_at,"
                " attempts, platform, lease_owner, lease_until)"
                " VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?, ?)"
                " ON CONFLICT (dedupe_key) DO NOTHING RETURNING id",
                (workspace, kind, dedupe_key, body, json.dumps(headers), received_at,
                 platform, lease_owner, lease_until),
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

    # --- claims: one process finishes a row, however many share the inbox ---------------
    def _claimable(self, platforms: Sequence[str] | None) -> tuple[str, list[object]]:
        where = ("processed = FALSE AND attempts < ?"
                 " AND (lease_owner = ? OR lease_until IS NULL OR lease_until < ?)"
                 " AND received_at <= ?")
        if platforms is not None:
            where += f" AND platform IN ({', '.join('?' for _ in platforms) or 'NULL'})"
        return where, list(platforms or ())

    def inbox_claim(self, *, owner: str, now: datetime, until: datetime,
                    received_before: datetime | None = None,
                    platforms: Sequence[str] | None = None, inbox_id: int | None = None,
                    limit: int = 20,
                    max_attempts: int = INBOX_MAX_ATTEMPTS) -> list[InboxRow]:
        where, extra = self._claimable(platforms)
        params: list[object] = [owner, until, max_attempts, owner, now,
                                received_before or now, *extra]
        if inbox_id is not None:
            where += " AND id = ?"
            params.append(inbox_id)
        dialect = self.database.dialect
        with self.database.write() as tx:
            rows = tx.all(
                "UPDATE inbox SET lease_owner = ?, lease_until = ? WHERE id IN"
                f" (SELECT id FROM inbox WHERE {where} ORDER BY id LIMIT ?"
                f"{dialect.for_update}{dialect.skip_locked}) RETURNING *",
                (*params, limit),
            )
        return sorted((inbox_from_row(row) for row in rows), key=lambda row: row.id)

    def inbox_claimable(self, *, owner: str, now: datetime,
                        platforms: Sequence[str] | None = None,
                        max_attempts: int = INBOX_MAX_ATTEMPTS) -> bool:
        where, extra = self._claimable(platforms)
        with self.database.read() as tx:
            row = tx.one(f"SELECT id FROM inbox WHERE {where} ORDER BY id LIMIT 1",
                         (max_attempts, owner, now, now, *extra))
        return row is not None

    def inbox_release(self, *, owner: str) -> int:
        with self.database.write() as tx:
            return tx.execute(
                "UPDATE inbox SET lease_owner = NULL, lease_until = NULL"
                " WHERE lease_owner = ? AND processed = FALSE", (owner,))
