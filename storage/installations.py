"""SQL for installations and OAuth state (bot/store_installs.py), both dialects."""

from __future__ import annotations

from datetime import datetime

from bot.store_installs import InstalledWorkspace, InstallRecord
from storage.dialect import Database, Row

_COLUMNS = ("kind, enterprise_id, team_id, user_id, is_enterprise_install, installed_at,"
            " data, secrets")


class InstallationQueries:
    """The installation part of the Store."""

    database: Database

    def install_save(self, record: InstallRecord) -> None:
        with self.database.write() as tx:
            tx.execute(
                f"INSERT INTO slack_installations ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (record.kind, record.enterprise_id, record.team_id, record.user_id,
                 record.is_enterprise_install, record.installed_at, record.data,
                 record.secrets))

    def install_find(self, *, kind: str, enterprise_id: str, team_id: str,
                     user_id: str | None = None) -> InstallRecord | None:
        sql = (f"SELECT id, {_COLUMNS} FROM slack_installations"
               " WHERE kind = ? AND enterprise_id = ? AND team_id = ?")
        params: list[object] = [kind, enterprise_id, team_id]
        if user_id is not None:
            sql += " AND user_id = ?"
            params.append(user_id)
        sql += " ORDER BY installed_at DESC, id DESC LIMIT 1"
        with self.database.read() as tx:
            row = tx.one(sql, params)
        return _record(row) if row else None

    def install_delete(self, *, kind: str | None, enterprise_id: str, team_id: str,
                       user_id: str | None = None) -> int:
        sql = "DELETE FROM slack_installations WHERE enterprise_id = ? AND team_id = ?"
        params: list[object] = [enterprise_id, team_id]
        if kind is not None:
            sql += " AND kind = ?"
            params.append(kind)
        if user_id is not None:
            sql += " AND user_id = ?"
            params.append(user_id)
        with self.database.write() as tx:
            return tx.execute(sql, params)

    def installed_workspaces(self) -> list[InstalledWorkspace]:
        with self.database.read() as tx:
            rows = tx.all(
                "SELECT DISTINCT enterprise_id, team_id, is_enterprise_install"
                " FROM slack_installations WHERE kind = 'bot'"
                " ORDER BY enterprise_id, team_id")
        return [InstalledWorkspace(enterprise_id=row["enterprise_id"], team_id=row["team_id"],
                                   is_enterprise_install=bool(row["is_enterprise_install"]))
                for row in rows]

    def install_secrets(self) -> list[tuple[int, str]]:
        with self.database.read() as tx:
            rows = tx.all("SELECT id, secrets FROM slack_installations ORDER BY id")
        return [(int(row["id"]), str(row["secrets"])) for row in rows]

    def install_set_secrets(self, changed: list[tuple[int, str]]) -> None:
        with self.database.write() as tx:
            for row_id, secrets in changed:
                tx.execute("UPDATE slack_installations SET secrets = ? WHERE id = ?",
                           (secrets, row_id))

    def oauth_state_issue(self, *, state: str, expires_at: datetime) -> None:
        with self.database.write() as tx:
            tx.execute("INSERT INTO oauth_states (state, expires_at) VALUES (?, ?)",
                       (state, expires_at))

    def oauth_state_consume(self, *, state: str, now: datetime) -> bool:
        with self.database.write() as tx:
            consumed = tx.execute(
                "DELETE FROM oauth_states WHERE state = ? AND expires_at > ?", (state, now))
            tx.execute("DELETE FROM oauth_states WHERE expires_at <= ?", (now,))
        return consumed > 0


def _record(row: Row) -> InstallRecord:
    return InstallRecord(
        kind=row["kind"], enterprise_id=row["enterprise_id"], team_id=row["team_id"],
        user_id=row["user_id"], is_enterprise_install=bool(row["is_enterprise_install"]),
        installed_at=row["installed_at"], data=row["data"], secrets=row["secrets"])
