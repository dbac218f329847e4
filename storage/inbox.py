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
        # Storing a request holds up its answer: it goes before the workers' writes.
        with self.database.write(nowait=nowait, urgent=True) as tx:
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
        with self.database.write(synced=False) as tx:
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
    @staticmethod
    def _claimable(*, max_attempts: int, received_before: datetime, now: datetime,
                   platforms: Sequence[str] | None,
                   own: str | None = None) -> tuple[str, list[object]]:
        """The WHERE clause (and its parameters) of rows a process may claim now."""
        free = "lease_until IS NULL OR lease_until < ?"
        params: list[object] = [max_attempts, received_before, now]
        if own is not None:
            free += " OR lease_owner = ?"
            params.append(own)
        where = f"processed = FALSE AND attempts < ? AND received_at <= ? AND ({free})"
        if platforms is not None:
            where += f" AND platform IN ({', '.join('?' for _ in platforms) or 'NULL'})"
            params.extend(platforms)
        return where, params

    def inbox_claim(self, *, owner: str, now: datetime, until: datetime,
                    received_before: datetime | None = None,
                    platforms: Sequence[str] | None = None, inbox_id: int | None = None,
                    limit: int = 20, include_own: bool = False,
                    finished: Sequence[tuple[int, str | None]] = (),
                    max_attempts: int = INBOX_MAX_ATTEMPTS) -> list[InboxRow]:
        where, params = self._claimable(
            max_attempts=max_attempts, received_before=received_before or now, now=now,
            platforms=platforms, own=owner if include_own else None)
        if inbox_id is not None:
            where += " AND id = ?"
            params.append(inbox_id)
        dialect = self.database.dialect
        with self.database.write() as tx:
            for inbox_id_done, error in finished:
                tx.execute("UPDATE inbox SET processed = TRUE, error = ? WHERE id = ?",
                           (error, inbox_id_done))
            if platforms is not None and not platforms:
                return []
            rows = tx.all(
                "UPDATE inbox SET lease_owner = ?, lease_until = ? WHERE id IN"
                f" (SELECT id FROM inbox WHERE {where} ORDER BY id LIMIT ?"
                f"{dialect.for_update}{dialect.skip_locked}) RETURNING *",
                (owner, until, *params, limit),
            )
        return sorted((inbox_from_row(row) for row in rows), key=lambda row: row.id)

    def inbox_claimable(self, *, owner: str, now: datetime,
                        platforms: Sequence[str] | None = None,
                        max_attempts: int = INBOX_MAX_ATTEMPTS) -> bool:
        where, params = self._claimable(max_attempts=max_attempts, received_before=now,
                                        now=now, platforms=platforms)
        with self.database.read() as tx:
            row = tx.one(f"SELECT id FROM inbox WHERE {where} ORDER BY id LIMIT 1", params)
        return row is not None

    def inbox_lease_owners(self) -> list[str]:
        with self.database.read() as tx:
            rows = tx.all("SELECT DISTINCT lease_owner FROM inbox"
                          " WHERE processed = FALSE AND lease_owner IS NOT NULL")
        return sorted(str(row["lease_owner"]) for row in rows)

    def inbox_release(self, *, owner: str) -> int:
        with self.database.write() as tx:
            return tx.execute(
                "UPDATE inbox SET lease_owner = NULL, lease_until = NULL"
                " WHERE lease_owner = ? AND processed = FALSE", (owner,))
