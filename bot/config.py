"""The `feedbackbot.yml` models and a loader that reports problems by file, line and key."""

from __future__ import annotations

import os
import re
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    field_validator,
    model_validator,
)

from bot.config_problems import ConfigProblem, LoadedConfig
from bot.config_values import (
    Days,
    Duration,
    Emoji,
    Keyword,
    Pattern,
    TimeZone,
    Weekday,
    parse_clock,
)
from bot.durations import parse_duration

Severity = Literal["urgent", "high", "normal", "low"]
Platform = Literal["slack", "msteams"]

WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_MON_FRI: tuple[Weekday, ...] = WEEKDAYS[:5]
DEFAULT_SLA: dict[Severity, str] = {"urgent": "30m", "high": "2h", "normal": "8h", "low": "3d"}

_SECTIONS = frozenset({"admins", "customer_channels", "intake", "acknowledge", "sla", "digests"})
_TEAM_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class _Strict(BaseModel):
    """Base for every config section: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")


class BusinessHours(_Strict):
    """When a team works; SLA timers count only this time."""

    timezone: TimeZone
    days: Days = Field(default_factory=lambda: list(_MON_FRI))
    hours: str = "09:00-17:00"
    holidays: str | None = None

    @field_validator("hours")
    @classmethod
    def _check_hours(cls, value: str) -> str:
        start_text, sep, end_text = value.partition("-")
        if not sep:
            raise ValueError(f'expected hours like "09:00-17:00", got {value!r}')
        start, end = parse_clock(start_text), parse_clock(end_text)
        if start >= end:
            raise ValueError(f"hours {value!r}: the start must be before the end")
        return f"{start:%H:%M}-{end:%H:%M}"

    @field_validator("holidays")
    @classmethod
    def _check_holidays(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Z]{2}", value):
            raise ValueError(f"holidays must be a two-letter country code like 'DE', got {value!r}")
        return value


def _one_is_a_list(value: Any) -> Any:
    """Let a single owner be written without brackets."""
    return [value] if isinstance(value, str) else value


def _strip_all(value: list[str]) -> list[str]:
    """Drop spaces around each entry."""
    return [entry.strip() for entry in value]


def _some_teams_owners(value: list[str]) -> list[str]:
    """Reject an empty owner list on Teams."""
    if not value:
        raise ValueError("team has no owners on Teams; list emails (UPNs) or Entra object IDs")
    return value


Owners = Annotated[list[str], BeforeValidator(_one_is_a_list), AfterValidator(_strip_all)]


class TeamsPlace(_Strict):
    """Where a team lives on Microsoft Teams: the channel for its cards and who answers."""

    channel: str
    owners: Annotated[Owners, AfterValidator(_some_teams_owners)]


class TeamConfig(_Strict):
    """One owning developer team, on Slack (`channel`, `owners`), on Teams (`msteams`) or both."""

    name: str = ""
    channel: str | None = None
    owners: Owners = []
    msteams: TeamsPlace | None = None
    assign: Literal["all", "round_robin"] = "all"
    keywords: list[Keyword] = []
    patterns: list[Pattern] = []
    customers: list[str] = []
    escalate_to: str | None = None
    business_hours: BusinessHours | None = None

    @field_validator("owners")
    @classmethod
    def _owners_not_emptied(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("team has no owners; list user IDs or one user group")
        return value

    @model_validator(mode="after")
    def _lives_somewhere(self) -> TeamConfig:
        if self.channel is None and self.msteams is None:
            raise ValueError("team has no channel: give a Slack `channel` (with `owners`), "
                             "an `msteams:` section (channel and owners), or both")
        if self.channel is not None and not self.owners:
            raise ValueError("team has no owners for its Slack channel; "
                             "list user IDs or one user group under `owners`")
        if self.channel is None and self.owners:
            raise ValueError("`owners` without a Slack `channel`: Teams owners go under "
                             "`msteams.owners`; Slack owners need a Slack `channel`")
        return self

    @property
    def owner_group(self) -> str | None:
        """The Slack user group ID when the Slack owners are exactly one user group."""
        if len(self.owners) == 1 and self.owners[0].startswith("S"):
            return self.owners[0]
        return None

    @property
    def platforms(self) -> tuple[Platform, ...]:
        """The platforms this team lives on, Slack first."""
        found: list[Platform] = []
        if self.channel is not None:
            found.append("slack")
        if self.msteams is not None:
            found.append("msteams")
        return tuple(found)

    def channel_on(self, platform: str) -> str | None:
        """The team's channel on `platform`, or None when it doesn't live there."""
        if platform == "slack":
            return self.channel
        if platform == "msteams" and self.msteams is not None:
            return self.msteams.channel
        return None

    def owners_on(self, platform: str) -> list[str]:
        """The team's owners on `platform` (empty when it doesn't live there)."""
        if platform == "slack":
            return list(self.owners) if self.channel is not None else []
        if platform == "msteams" and self.msteams is not None:
            return list(self.msteams.owners)
        return []


class IntakeConfig(_Strict):
    """Where feedback comes in besides the shortcut and `/feedback`."""

    channels: list[str] = []
    reaction: Emoji | None = "inbox_tray"
    bots: list[str] = []
    msteams_channels: list[str] = []


class AcknowledgeConfig(_Strict):
    """Reactions that count as a developer's acknowledgement."""

    reactions: list[Emoji] = Field(default_factory=lambda: ["eyes"])


class DigestConfig(_Strict):
    """One scheduled digest subscription, posted in one Slack or one Teams channel."""

    channel: str | None = None
    msteams_channel: str | None = None
    at: str
    timezone: TimeZone = "UTC"
    days: Days = Field(default_factory=lambda: list(_MON_FRI))
    teams: list[str] | None = None
    # "weekly": the first run of each week adds the themes that rose (bot/digest_themes.py).
    themes: Literal["off", "weekly"] = "off"

    @field_validator("at", mode="before")
    @classmethod
    def _check_at(cls, value: Any) -> Any:
        if not isinstance(value, str):
            raise ValueError(f'expected a time like "09:00" (quote it), got {value!r}')
        return f"{parse_clock(value):%H:%M}"

    @model_validator(mode="after")
    def _one_place(self) -> DigestConfig:
        if self.channel is None and self.msteams_channel is None:
            raise ValueError("digest has no channel: give `channel` (Slack) "
                             "or `msteams_channel` (Teams)")
        if self.channel is not None and self.msteams_channel is not None:
            raise ValueError("a digest posts in one place: give `channel` (Slack) "
                             "or `msteams_channel` (Teams), not both; list it twice for both")
        return self

    @property
    def platform(self) -> Platform:
        """Where this digest is posted."""
        return "slack" if self.channel is not None else "msteams"

    @property
    def target(self) -> str:
        """The channel this digest is posted in, on its platform."""
        # _one_place guarantees one of the two.
        return self.channel if self.channel is not None else str(self.msteams_channel)


# Settings a workspace section may give; each replaces the top-level value as a whole.
WORKSPACE_SETTINGS = ("admins", "teams", "fallback", "customer_channels", "intake",
                      "acknowledge", "relay", "severity_default", "sla", "digests",
                      "offer_hold_minutes")
# Settings of the whole deployment, which a section can't change.
_DEPLOYMENT_ONLY = {
    "retention_days": "`retention_days` applies to the whole deployment (one store); "
                      "set it at the top level",
    "workspaces": "sections don't nest; list every workspace under the top-level "
                  "`workspaces:`",
}


def _name_teams(data: Any) -> Any:
    """Give each team of a `teams:` mapping its key as its name."""
    if isinstance(data, dict) and isinstance(data.get("teams"), dict):
        data = {**data, "teams": {
            key: {**team, "name": key} if isinstance(team, dict) else team
            for key, team in data["teams"].items()}}
    return data


class WorkspaceSection(_Strict):
    """What the config says about one workspace (or Teams tenant) of a many-workspace bot.

    Either `same_as` (this key's items live under another key, and use its settings),
    or any of WORKSPACE_SETTINGS, each replacing the top-level value for this workspace.
    """

    # Another workspace key whose items this one shares, e.g. a Teams tenant
    # ("msteams:<tenant id>") joined to its company's Slack workspace ("T0123").
    same_as: str | None = Field(default=None, min_length=1)
    admins: list[str] = []
    teams: dict[str, TeamConfig] = {}
    fallback: str | None = None
    customer_channels: dict[str, str] = {}
    intake: IntakeConfig = Field(default_factory=IntakeConfig)
    acknowledge: AcknowledgeConfig = Field(default_factory=AcknowledgeConfig)
    relay: Literal["all", "marked"] = "all"
    severity_default: Severity = "normal"
    sla: dict[Severity, Duration] = Field(default_factory=lambda: dict(DEFAULT_SLA))
    digests: list[DigestConfig] = []
    offer_hold_minutes: int = Field(default=3, ge=0, le=15, strict=True)

    @model_validator(mode="before")
    @classmethod
    def _prepare(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        for key, why in _DEPLOYMENT_ONLY.items():
            if key in data:
                raise ValueError(why)
        data = {k: v for k, v in data.items() if v is not None or k not in _SECTIONS}
        return _name_teams(data)

    @field_validator("teams")
    @classmethod
    def _some_teams(cls, value: dict[str, TeamConfig]) -> dict[str, TeamConfig]:
        if not value:
            raise ValueError("no teams in this section; leave `teams` out to use the "
                             "top-level teams")
        return value

    @field_validator("sla", mode="before")
    @classmethod
    def _fill_sla(cls, value: Any) -> Any:
        return {**DEFAULT_SLA, **value} if isinstance(value, dict) else value

    @model_validator(mode="after")
    def _joined_or_own(self) -> WorkspaceSection:
        own = self.overrides()
        if self.same_as is not None and own:
            raise ValueError(
                f"`same_as` joins this key to {self.same_as!r}, whose settings it then "
                f"uses; it can't also give its own ({', '.join(own)}): move them to the "
                f"{self.same_as!r} section, or remove `same_as`")
        if self.same_as is None and not own:
            raise ValueError("empty workspace section: give `same_as` or settings of its "
                             f"own ({', '.join(WORKSPACE_SETTINGS)})")
        return self

    def overrides(self) -> list[str]:
        """The settings this section gives, in WORKSPACE_SETTINGS order."""
        return [key for key in WORKSPACE_SETTINGS if key in self.model_fields_set]


class Config(_Strict):
    """The whole `feedbackbot.yml`."""

    admins: list[str] = []
    teams: dict[str, TeamConfig]
    fallback: str | None = None
    customer_channels: dict[str, str] = {}
    intake: IntakeConfig = Field(default_factory=IntakeConfig)
    acknowledge: AcknowledgeConfig = Field(default_factory=AcknowledgeConfig)
    relay: Literal["all", "marked"] = "all"
    # How long a forward that looks like an existing item waits for a "+1" (bot/links.py);
    # 0 offers nothing: every forward goes out as new at once.
    offer_hold_minutes: int = Field(default=3, ge=0, le=15, strict=True)
    severity_default: Severity = "normal"
    sla: dict[Severity, Duration] = Field(default_factory=lambda: dict(DEFAULT_SLA))
    retention_days: int = Field(default=365, gt=0, le=36500, strict=True)
    digests: list[DigestConfig] = []
    workspaces: dict[str, WorkspaceSection] = {}
    # for_workspace's cache, and (in a workspace's config) the top-level config.
    _resolved: dict[str, Config] = PrivateAttr(default_factory=dict)
    _root: Config | None = PrivateAttr(default=None)

    @model_validator(mode="before")
    @classmethod
    def _prepare(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        # An emptied section ("intake:" with everything commented out) means "use the defaults".
        data = {k: v for k, v in data.items() if v is not None or k not in _SECTIONS}
        return _name_teams(data)

    @field_validator("teams")
    @classmethod
    def _some_teams(cls, value: dict[str, TeamConfig]) -> dict[str, TeamConfig]:
        if not value:
            raise ValueError("no teams configured; feedback needs somewhere to go")
        for key, team in value.items():
            team.name = team.name or key
        return value

    @field_validator("sla", mode="before")
    @classmethod
    def _fill_sla(cls, value: Any) -> Any:
        return {**DEFAULT_SLA, **value} if isinstance(value, dict) else value

    def __eq__(self, other: object) -> bool:
        """Equal when every setting is; for_workspace's cache doesn't count (it refers
        back to this config, which pydantic's comparison would follow for ever)."""
        if not isinstance(other, Config):
            return NotImplemented
        return self.__dict__ == other.__dict__

    __hash__ = None  # type: ignore[assignment]  # mutable, like every pydantic model

    def joined_workspace(self, key: str) -> str:
        """The workspace key items of `key` live under: its `same_as`, else `key` itself."""
        section = self.workspaces.get(key)
        return section.same_as if section is not None and section.same_as else key

    def section_key(self, key: str) -> str | None:
        """The `workspaces:` key whose settings workspace `key` uses, or None (top level).

        `key` itself (after `same_as`), else for a Grid workspace ("E…:T…") its
        enterprise's section ("E…"), which covers every workspace of the org
        without a section of its own.
        """
        key = self.joined_workspace(key)
        if key in self.workspaces:
            return key
        enterprise, joined, _team = key.partition(":")
        if joined and enterprise != "msteams" and enterprise in self.workspaces:
            return enterprise
        return None

    def for_workspace(self, key: str | None) -> Config:
        """The settings workspace `key` uses: its section over the top-level values.

        Each setting its section gives replaces the top-level one as a whole; the rest,
        and every setting of a workspace without a section, are the top level's.
        Worked out once per key, then cached.
        """
        root = self._root or self
        if not key or not root.workspaces:
            return root
        found = root._resolved.get(key)
        if found is None:
            section = root.section_key(key)
            found = root if section is None else root._resolved.get(section)
            if found is None:
                found = root._merged(root.workspaces[str(section)])
                root._resolved[str(section)] = found
            root._resolved[key] = found
        return found

    def _merged(self, section: WorkspaceSection) -> Config:
        """A copy of this (top-level) config with the section's settings in their place."""
        merged = self.model_copy(update={key: getattr(section, key)
                                         for key in section.overrides()})
        merged._root = self
        merged._resolved = {}
        return merged

    def every_workspace_config(self) -> list[tuple[str, Config]]:
        """The top-level config and each section's own, once each, with where each is
        written in the file ("" for the top level, "workspaces.KEY." for a section)."""
        configs: list[tuple[str, Config]] = [("", self)]
        for key, section in self.workspaces.items():
            if section.same_as is None:
                configs.append((f"workspaces.{key}.", self.for_workspace(key)))
        return configs

    def sla_for(self, severity: Severity) -> timedelta:
        """The first-response target for a severity."""
        return parse_duration(self.sla[severity])

    def team_for_channel(self, channel_id: str, platform: str = "slack") -> TeamConfig | None:
        """The first team (in config order) whose channel on `platform` is `channel_id`."""
        return next((team for team in self.teams.values()
                     if team.channel_on(platform) == channel_id), None)


def load_config(path: str | os.PathLike[str]) -> LoadedConfig:
    """Read and validate a config file; every problem, even a missing file, is reported."""
    # Imported here: the loader needs these models, so it can't be imported above them.
    from bot.config_loader import load_config as load

    return load(path)


def parse_config_text(text: str, *, path: str = "feedbackbot.yml") -> LoadedConfig:
    """Validate config text; `path` is only used to label problems."""
    from bot.config_loader import parse_config_text as parse

    return parse(text, path=path)

__all__ = [
    "DEFAULT_SLA",
    "WEEKDAYS",
    "AcknowledgeConfig",
    "BusinessHours",
    "Config",
    "ConfigProblem",
    "DigestConfig",
    "IntakeConfig",
    "LoadedConfig",
    "Platform",
    "Severity",
    "TeamConfig",
    "TeamsPlace",
    "Weekday",
    "WorkspaceSection",
    "load_config",
    "parse_config_text",
]
