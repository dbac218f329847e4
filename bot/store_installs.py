"""The Store's part for chat installations (OAuth mode) and OAuth state, platform-neutral."""

from __future__ import annotations

import abc
from dataclasses import dataclass
from datetime import datetime

# What a stored installation row is: a whole install, or only its bot.
INSTALLATION = "installation"
BOT = "bot"


@dataclass(frozen=True)
class InstallRecord:
    """One stored installation or bot; `secrets` is already encrypted, `data` is JSON text.

    '' stands for "none" in the ids (an org-wide install has team_id '').
    """

    kind: str  # INSTALLATION or BOT
    enterprise_id: str
    team_id: str
    user_id: str
    is_enterprise_install: bool
    installed_at: datetime
    data: str
    secrets: str


@dataclass(frozen=True)
class InstalledWorkspace:
    """A workspace (or a whole Grid org, with team_id '') that has a bot installed."""

    enterprise_id: str
    team_id: str
    is_enterprise_install: bool


class InstallStore(abc.ABC):
    """Installations and OAuth state; every method is one transaction."""

    @abc.abstractmethod
    def install_save(self, record: InstallRecord) -> None:
        """Add an installation or bot row (older rows stay; the newest one wins)."""

    @abc.abstractmethod
    def install_find(self, *, kind: str, enterprise_id: str, team_id: str,
                     user_id: str | None = None) -> InstallRecord | None:
        """The newest row of `kind` for enterprise/team (and `user_id` when given), or None."""

    @abc.abstractmethod
    def install_delete(self, *, kind: str | None, enterprise_id: str, team_id: str,
                       user_id: str | None = None) -> int:
        """Delete the rows of `kind` (every kind when None) for enterprise/team (/user);
        return how many."""

    @abc.abstractmethod
    def installed_workspaces(self) -> list[InstalledWorkspace]:
        """Every enterprise/team that has a bot row, in a stable order."""

    @abc.abstractmethod
    def install_secrets(self) -> list[tuple[int, str]]:
        """(row id, encrypted secrets) of every row, to re-encrypt them under a new key."""

    @abc.abstractmethod
    def install_set_secrets(self, changed: list[tuple[int, str]]) -> None:
        """Replace the encrypted secrets of the given rows, in one transaction."""

    @abc.abstractmethod
    def oauth_state_issue(self, *, state: str, expires_at: datetime) -> None:
        """Remember an OAuth state handed out to a browser until `expires_at`."""

    @abc.abstractmethod
    def oauth_state_consume(self, *, state: str, now: datetime) -> bool:
        """True once for a state issued and not expired at `now`; it is gone afterwards.

        Expired states are deleted on the way.
        """
