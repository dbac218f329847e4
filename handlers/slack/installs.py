"""Bolt's installation and OAuth-state stores over our Store, tokens encrypted at rest."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from slack_sdk.oauth.installation_store import Bot, Installation
from slack_sdk.oauth.installation_store.async_installation_store import (
    AsyncInstallationStore,
)
from slack_sdk.oauth.state_store.async_state_store import AsyncOAuthStateStore

from bot.store import Store
from bot.store_installs import BOT, INSTALLATION, InstallRecord
from handlers.slack.context import workspace_key
from handlers.slack.token_cipher import TokenCipher

log = logging.getLogger(__name__)

STATE_LIFETIME = timedelta(minutes=10)
# Fields of an installation that are secrets: stored only encrypted.
SECRET_FIELDS = ("bot_token", "bot_refresh_token", "user_token", "user_refresh_token",
                 "incoming_webhook_url")


def _ids(enterprise_id: str | None, team_id: str | None,
         is_enterprise_install: bool | None) -> tuple[str, str]:
    # An org-wide install is stored and found under its enterprise alone.
    if is_enterprise_install or not team_id:
        return enterprise_id or "", ""
    return enterprise_id or "", team_id


def _split(fields: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(public JSON, secrets) of a to_dict_for_copying() result."""
    hidden = {name: fields.pop(name, None) for name in SECRET_FIELDS}
    public = json.dumps(fields, default=lambda value: value.isoformat()
                        if isinstance(value, datetime) else str(value))
    return public, hidden


class StoreInstallationStore(AsyncInstallationStore):
    """Installations and bots in our Store, newest per enterprise/team (/user) first.

    Org-wide Grid installs live under their enterprise with team_id None. Store calls
    run in a thread, so a slow database never holds up the event loop.
    """

    def __init__(self, *, store: Store, cipher: TokenCipher,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.store = store
        self.cipher = cipher
        self.clock = clock

    @property
    def logger(self) -> logging.Logger:
        return log

    async def async_save(self, installation: Installation) -> None:
        """Store the installation and its bot (when it has one)."""
        public, hidden = _split(installation.to_dict_for_copying())
        enterprise, team = _ids(installation.enterprise_id, installation.team_id,
                                installation.is_enterprise_install)
        record = InstallRecord(
            kind=INSTALLATION, enterprise_id=enterprise, team_id=team,
            user_id=installation.user_id or "",
            is_enterprise_install=bool(installation.is_enterprise_install),
            installed_at=self.clock(), data=public, secrets=self.cipher.seal(hidden))
        await asyncio.to_thread(self.store.install_save, record)
        if installation.bot_token is not None:
            await self.async_save_bot(installation.to_bot())

    async def async_save_bot(self, bot: Bot) -> None:
        """Store a bot; it is the workspace's bot from now on."""
        public, hidden = _split(bot.to_dict_for_copying())
        enterprise, team = _ids(bot.enterprise_id, bot.team_id, bot.is_enterprise_install)
        record = InstallRecord(
            kind=BOT, enterprise_id=enterprise, team_id=team, user_id="",
            is_enterprise_install=bool(bot.is_enterprise_install), installed_at=self.clock(),
            data=public, secrets=self.cipher.seal(hidden))
        await asyncio.to_thread(self.store.install_save, record)

    def find_bot_now(self, *, enterprise_id: str | None, team_id: str | None,
                     is_enterprise_install: bool | None = False) -> Bot | None:
        """The newest bot of a workspace (or org), read in this thread."""
        enterprise, team = _ids(enterprise_id, team_id, is_enterprise_install)
        record = self.store.install_find(kind=BOT, enterprise_id=enterprise, team_id=team)
        if record is None:
            return None
        fields = {**json.loads(record.data), **self.cipher.open(record.secrets)}
        fields.pop("incoming_webhook_url", None)
        fields.pop("user_token", None)
        fields.pop("user_refresh_token", None)
        return Bot(**fields)

    async def async_find_bot(self, *, enterprise_id: str | None, team_id: str | None,
                             is_enterprise_install: bool | None = False) -> Bot | None:
        return await asyncio.to_thread(
            self.find_bot_now, enterprise_id=enterprise_id, team_id=team_id,
            is_enterprise_install=is_enterprise_install)

    async def async_find_installation(
        self, *, enterprise_id: str | None, team_id: str | None,
        user_id: str | None = None, is_enterprise_install: bool | None = False,
    ) -> Installation | None:
        enterprise, team = _ids(enterprise_id, team_id, is_enterprise_install)
        record = await asyncio.to_thread(
            self.store.install_find, kind=INSTALLATION, enterprise_id=enterprise,
            team_id=team, user_id=user_id)
        if record is None:
            return None
        installation = Installation(**{**json.loads(record.data),
                                       **self.cipher.open(record.secrets)})
        if user_id is not None or installation.bot_token is None:
            # The installer's row may predate the newest bot: take the newest bot's token.
            bot = await self.async_find_bot(enterprise_id=enterprise_id, team_id=team_id,
                                            is_enterprise_install=is_enterprise_install)
            if bot is not None:
                installation.bot_token = bot.bot_token
                installation.bot_id = bot.bot_id
                installation.bot_user_id = bot.bot_user_id
                installation.bot_scopes = bot.bot_scopes
                installation.bot_refresh_token = bot.bot_refresh_token
                installation.bot_token_expires_at = bot.bot_token_expires_at
        return installation

    def installed_keys(self) -> list[str]:
        """The workspace key of every workspace with its own bot (org-wide ones left out:
        their workspaces are known by their items)."""
        return [workspace_key(team_id=found.team_id, enterprise_id=found.enterprise_id or None)
                for found in self.store.installed_workspaces() if found.team_id]

    async def async_delete_bot(self, *, enterprise_id: str | None,
                               team_id: str | None) -> None:
        enterprise, team = _ids(enterprise_id, team_id, None)
        await asyncio.to_thread(self.store.install_delete, kind=BOT, enterprise_id=enterprise,
                                team_id=team)

    async def async_delete_installation(self, *, enterprise_id: str | None,
                                        team_id: str | None,
                                        user_id: str | None = None) -> None:
        enterprise, team = _ids(enterprise_id, team_id, None)
        await asyncio.to_thread(self.store.install_delete, kind=INSTALLATION,
                                enterprise_id=enterprise, team_id=team, user_id=user_id)

    async def async_delete_all(self, *, enterprise_id: str | None,
                               team_id: str | None) -> None:
        enterprise, team = _ids(enterprise_id, team_id, None)
        await asyncio.to_thread(self.store.install_delete, kind=None,
                                enterprise_id=enterprise, team_id=team)


class StoreOAuthStateStore(AsyncOAuthStateStore):
    """OAuth `state` values in our Store: each valid for 10 minutes and consumed once."""

    def __init__(self, *, store: Store, lifetime: timedelta = STATE_LIFETIME,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.store = store
        self.lifetime = lifetime
        self.clock = clock

    @property
    def logger(self) -> logging.Logger:
        return log

    async def async_issue(self, *args: Any, **kwargs: Any) -> str:
        state = secrets.token_urlsafe(32)
        await asyncio.to_thread(self.store.oauth_state_issue, state=state,
                                expires_at=self.clock() + self.lifetime)
        return state

    async def async_consume(self, state: str) -> bool:
        if not state:
            return False
        return await asyncio.to_thread(self.store.oauth_state_consume, state=state,
                                       now=self.clock())


def rotate_secret_key(store: Store, cipher: TokenCipher) -> int:
    """Re-encrypt every stored installation with the newest key; return how many rows.

    Raises SecretKeyProblem (changing nothing) when a row opens with none of the keys.
    """
    rows = store.install_secrets()
    store.install_set_secrets([(row_id, cipher.rotate(sealed)) for row_id, sealed in rows])
    return len(rows)
