"""What loading a config found: the model when valid, and every problem by line and key."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from bot.config import Config


@dataclass(frozen=True)
class ConfigProblem:
    """One error or warning found in a config file."""

    path: str
    line: int | None
    key: str
    message: str
    severity: Literal["error", "warning"]

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        key = f" {self.key}:" if self.key else ""
        return f"{where}:{key} {self.severity}: {self.message}"


@dataclass
class LoadedConfig:
    """The outcome of loading a config: the model (when valid) and every problem found."""

    path: str
    config: Config | None
    problems: list[ConfigProblem] = field(default_factory=list)

    @property
    def errors(self) -> list[ConfigProblem]:
        """Problems that make the config unusable."""
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[ConfigProblem]:
        """Problems worth fixing that don't stop the bot."""
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def ok(self) -> bool:
        """True when there are no errors."""
        return not self.errors
