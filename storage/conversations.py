"""Conversations the bot was added to, with what is needed to send there later."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from bot.store import Conversation
from storage.dialect import Database
from storage.rows import read_time

_COLUMNS = ('platform, conversation_id, workspace, kind, tenant, service_url, reference,'
            ' team_id, "user", updated_at, removed_at')


def _conversation(row: dict[str, Any]) -> Conversation:
    return Conversation(
        platform=row["platform"], conversation_id=row["conversation_id"],
        workspace=row["workspace"], kind=row["kind"], service_url=row["service_url"],
        reference=json.loads(row["reference"] or "{}"), tenant=row["tenant"],
        team_id=row["team_id"], user=row["user"], updated_at=read_time(row["updated_at"]),
        removed_at=read_time(row["removed_at"]))


class ConversationQueries:
    """The conversations half of the Store."""

    database: Database

    def save_conversation(self, conversation: Conversation, *, now: datetime) -> None:
        c = conversation
        with self.database.write() as tx:
            tx.execute(
                f"INSERT INTO conversations ({_COLUMNS})"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)"
                " ON CONFLICT (platform, conversation_id) DO UPDATE SET"
                " workspace = excluded.workspace, kind = excluded.kind,"
                " tenant = excluded.tenant, service_url = excluded.service_url,"
                " reference = excluded.reference,"
                " team_id = COALESCE(excluded.team_id, conversations.team_id),"
                ' "user" = COALESCE(excluded."user", conversations."user"),'
                " updated_at = excluded.updated_at, removed_at = NULL",
                (c.platform, c.conversation_id, c.workspace, c.kind, c.tenant, c.service_url,
                 json.dumps(c.reference, ensure_ascii=False), c.team_id, c.user, now),
            )

    def remove_conversation(self, *, platform: str, conversation_id: str,
                            now: datetime) -> None:
        with self.database.write() as tx:
            tx.execute("UPDATE conversations SET removed_at = ? WHERE platform = ?"
                       " AND conversation_id = ?", (now, platform, conversation_id))

    def get_conversation(self, *, platform: str, conversation_id: str) -> Conversation | None:
        with self.database.read() as tx:
            row = tx.one(f"SELECT {_COLUMNS} FROM conversations WHERE platform = ?"
                         " AND conversation_id = ?", (platform, conversation_id))
        return _conversation(row) if row else None

    def list_conversations(self, *, platform: str, kind: str | None = None,
                           include_removed: bool = False) -> list[Conversation]:
        query = f"SELECT {_COLUMNS} FROM conversations WHERE platform = ?"
        params: list[Any] = [platform]
        if kind is not None:
            query += " AND kind = ?"
            params.append(kind)
        if not include_removed:
            query += " AND removed_at IS NULL"
        with self.database.read() as tx:
            rows = tx.all(query + " ORDER BY updated_at, conversation_id", tuple(params))
        return [_conversation(row) for row in rows]

    def personal_conversation(self, *, platform: str, user: str) -> Conversation | None:
        with self.database.read() as tx:
            row = tx.one(f"SELECT {_COLUMNS} FROM conversations WHERE platform = ?"
                         " AND kind = 'personal' AND \"user\" = ? AND removed_at IS NULL"
                         " ORDER BY updated_at DESC", (platform, user))
        return _conversation(row) if row else None
