"""Small state kept per workspace: modal drafts, channel checks, uninstalls."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from storage.dialect import Database


class WorkspaceQueries:
    """The per-workspace part of the Store."""

    database: Database

    def save_draft(self, *, workspace: str, data: dict[str, Any], now: datetime) -> int:
        with self.database.write() as tx:
            row = tx.one(
                "INSERT INTO drafts (workspace, data, created_at) VALUES (?, ?, ?) RETURNING id",
                (workspace, json.dumps(data, ensure_ascii=False), now),
            )
        if row is None:
            raise RuntimeError("the database returned no id for a new draft")
        return int(row["id"])

    def get_draft(self, *, workspace: str, draft_id: int) -> dict[str, Any] | None:
        with self.database.read() as tx:
            row = tx.one(
                "SELECT data FROM drafts WHERE workspace = ? AND id = ?", (workspace, draft_id)
            )
        return json.loads(row["data"]) if row else None

    def get_channel_shared(self, *, workspace: str, channel: str) -> bool | None:
        with self.database.read() as tx:
            row = tx.one(
                "SELECT shared FROM channels WHERE workspace = ? AND channel = ?",
                (workspace, channel),
            )
        return bool(row["shared"]) if row else None

    def set_channel_shared(
        self, *, workspace: str, channel: str, shared: bool, now: datetime
    ) -> None:
        with self.database.write() as tx:
            tx.execute(
                "INSERT INTO channels (workspace, channel, shared, checked_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (workspace, channel) DO UPDATE SET shared = excluded.shared,"
                " checked_at = excluded.checked_at",
                (workspace, channel, shared, now),
            )

    def set_workspace_revoked(self, *, workspace: str, revoked_at: datetime | None) -> None:
        with self.database.write() as tx:
            tx.execute(
                "INSERT INTO workspaces (workspace, revoked_at) VALUES (?, ?)"
                " ON CONFLICT (workspace) DO UPDATE SET revoked_at = excluded.revoked_at",
                (workspace, revoked_at),
            )

    def is_workspace_revoked(self, *, workspace: str) -> bool:
        with self.database.read() as tx:
            row = tx.one("SELECT revoked_at FROM workspaces WHERE workspace = ?", (workspace,))
        return bool(row and row["revoked_at"])
