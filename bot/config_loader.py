"""Load `feedbackbot.yml` (YAML 1.2, with line numbers) and report problems by line and key."""

from __future__ import annotations

import difflib
import os
from typing import Any

from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.reader import ReaderError

from bot.config import (
    _TEAM_NAME,
    AcknowledgeConfig,
    BusinessHours,
    Config,
    DigestConfig,
    IntakeConfig,
    TeamConfig,
    TeamsPlace,
    WorkspaceSection,
)
from bot.config_id_checks import Found, id_checks
from bot.config_problems import ConfigProblem, LoadedConfig
from bot.config_sections import section_checks

Loc = tuple[str | int, ...]


def load_config(path: str | os.PathLike[str]) -> LoadedConfig:
    """Read and validate a config file; every problem, even a missing file, is reported."""
    shown = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        return _failed(shown, "config file not found")
    except (OSError, UnicodeDecodeError) as exc:
        return _failed(shown, f"cannot read config file: {exc}")
    return parse_config_text(text, path=shown)


def parse_config_text(text: str, *, path: str = "feedbackbot.yml") -> LoadedConfig:
    """Validate config text; `path` is only used to label problems."""
    try:
        root = YAML(typ="rt").load(text)
    except YAMLError as exc:
        message, line = _yaml_problem(exc, text)
        return _failed(path, message, line=line)
    if root is None:
        return _failed(path, "config is empty; it needs at least a `teams` section")
    if not isinstance(root, dict):
        return _failed(path, "config must be a mapping of keys like `teams:`", line=1)
    try:
        plain = _plain(root)
    except (TooLarge, RecursionError):
        return _failed(path, f"config expands to more than {MAX_VALUES:,} values; YAML aliases"
                       " (*name) that refer to each other can do that")
    try:
        config = Config.model_validate(plain)
    except ValidationError as exc:
        problems = [_from_pydantic(path, root, err) for err in exc.errors()]
        # Report broken references too, so that one run lists every problem.
        for loc, message in _reference_checks(plain):
            key, line = _locate(root, loc)
            problems.append(ConfigProblem(path, line, key, message, "error"))
        return LoadedConfig(path=path, config=None, problems=_sorted(problems))
    problems = []
    checks = _cross_checks(config, root) + section_checks(config, root, _cross_checks)
    for loc, message, severity in checks:
        key, line = _locate(root, loc)
        problems.append(ConfigProblem(path, line, key, message, severity))
    problems = _sorted(problems)
    ok = not any(p.severity == "error" for p in problems)
    return LoadedConfig(path=path, config=config if ok else None, problems=problems)


def _failed(path: str, message: str, *, line: int | None = None) -> LoadedConfig:
    """A LoadedConfig holding a single file-level error."""
    problem = ConfigProblem(path=path, line=line, key="", message=message, severity="error")
    return LoadedConfig(path=path, config=None, problems=[problem])


def _sorted(problems: list[ConfigProblem]) -> list[ConfigProblem]:
    """File order, with line-less problems last."""
    return sorted(problems, key=lambda p: (p.line is None, p.line or 0))


def _yaml_problem(exc: YAMLError, text: str) -> tuple[str, int | None]:
    """A one-line description of a YAML syntax error and the 1-based line it points at."""
    if isinstance(exc, MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        # Duplicate-key errors quote both whole values, which can be pages long.
        problem = str(exc.problem or "").split(" with value ", 1)[0]
        context = f" ({exc.context})" if exc.context else ""
        return f"YAML syntax error: {problem}{context}", None if mark is None else mark.line + 1
    if isinstance(exc, ReaderError) and isinstance(exc.position, int):
        char = exc.character if isinstance(exc.character, int) else ord(exc.character)
        line = text.count("\n", 0, exc.position) + 1
        return f"YAML syntax error: unacceptable character #x{char:04x}", line
    return f"YAML syntax error: {str(exc).splitlines()[0]}", None


MAX_VALUES = 100_000  # far beyond any real config; stops YAML alias "bombs"


class TooLarge(Exception):
    """The config expands to more values than any real config has."""


def _plain(node: Any, budget: list[int] | None = None) -> Any:
    """Convert ruamel's round-trip nodes into plain Python values for pydantic.

    Raises TooLarge past MAX_VALUES values: aliases can make a tiny file expand
    exponentially.
    """
    budget = budget if budget is not None else [MAX_VALUES]
    budget[0] -= 1
    if budget[0] < 0:
        raise TooLarge
    if isinstance(node, dict):
        return {_plain(k, budget): _plain(v, budget) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(item, budget) for item in node]
    for kind in (bool, str, int, float):
        if isinstance(node, kind):
            return kind(node)
    return node


def _locate(root: Any, loc: Loc) -> tuple[str, int | None]:
    """Walk the YAML tree along `loc`; return the dotted key and the nearest known 1-based line."""
    key, line, node = "", None, root
    for part in loc:
        if isinstance(node, dict) and isinstance(part, str) and part != "[key]":
            key = f"{key}.{part}" if key else part
            if part not in node:
                break
            # Keys pulled in by a merge (<<:) may have no position data at all.
            where = ((node.lc.data or {}).get(part) if isinstance(node, CommentedMap)
                     else None)
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            key = f"{key}[{part}]"
            where = ((node.lc.data or {}).get(part) if isinstance(node, CommentedSeq)
                     else None)
        else:
            break
        # ruamel has no position for keys pulled in by a merge (<<:); keep the parent's line.
        line = where[0] + 1 if where else line
        node = node[part]
    return key, line


def _from_pydantic(path: str, root: Any, err: Any) -> ConfigProblem:
    """Turn one pydantic error into a ConfigProblem at the right key and line."""
    loc: Loc = tuple(err["loc"])
    key, line = _locate(root, loc)
    kind, msg, value = err["type"], str(err["msg"]), err.get("input")
    if kind == "missing":
        message = f"missing required key {loc[-1]!r}"
    elif kind == "extra_forbidden":
        message = f"unknown key {loc[-1]!r}" + _suggest(loc)
    elif kind in ("value_error", "assertion_error"):
        message = msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    else:
        message = _TYPE_MESSAGES.get(kind) or msg.replace("Input should be ", "expected ", 1)
        if not isinstance(value, dict | list):
            message += f", got {_describe(value)}"
    return ConfigProblem(path=path, line=line, key=key, message=message, severity="error")


_TYPE_MESSAGES = {
    "string_type": "expected text",
    "int_type": "expected a whole number",
    "dict_type": "expected a mapping",
    "model_type": "expected a mapping",
    "list_type": "expected a list",
}


def _describe(value: Any) -> str:
    """Show a YAML value the way the user wrote it."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


def _suggest(loc: Loc) -> str:
    """A "did you mean" hint for a misspelt key, from the fields of the section it is in."""
    parent = loc[:-1]
    if parent[:1] == ("workspaces",) and len(parent) >= 2:
        parent = parent[2:] or ("workspaces", "*")  # a section's keys are the top level's
    if parent[:1] in (("teams",), ("digests",)) and len(parent) > 1:
        parent = (parent[0], "*", *parent[2:])
    model = _SECTION_MODELS.get(parent)
    if model is None or not isinstance(loc[-1], str):
        return ""
    close = difflib.get_close_matches(loc[-1], [f for f in model.model_fields if f != "name"], 1)
    return f" (did you mean {close[0]!r}?)" if close else ""


_SECTION_MODELS: dict[Loc, type[BaseModel]] = {
    (): Config,
    ("teams", "*"): TeamConfig,
    ("teams", "*", "business_hours"): BusinessHours,
    ("teams", "*", "msteams"): TeamsPlace,
    ("intake",): IntakeConfig,
    ("acknowledge",): AcknowledgeConfig,
    ("digests", "*"): DigestConfig,
    ("workspaces", "*"): WorkspaceSection,
}




def _reference_checks(data: Any) -> list[tuple[Loc, str]]:
    """Team names used by `fallback` and `digests` that no team has, on unvalidated data."""
    teams = data.get("teams") if isinstance(data, dict) else None
    if not isinstance(teams, dict):
        return []
    known = f" (teams: {', '.join(map(str, teams))})"
    found: list[tuple[Loc, str]] = []
    fallback = data.get("fallback")
    if isinstance(fallback, str) and fallback not in teams:
        found.append((("fallback",), f"fallback names unknown team {fallback!r}{known}"))
    digests = data.get("digests")
    for d_index, digest in enumerate(digests if isinstance(digests, list) else []):
        names = digest.get("teams") if isinstance(digest, dict) else None
        for t_index, name in enumerate(names if isinstance(names, list) else []):
            if isinstance(name, str) and name not in teams:
                found.append(
                    (
                        ("digests", d_index, "teams", t_index),
                        f"digest names unknown team {name!r}{known}",
                    )
                )
    return found


def _cross_checks(config: Config, root: Any) -> list[Found]:
    """Checks that need the whole, already type-valid config; returns (loc, message, severity)."""
    found = id_checks(config)
    known = f" (teams: {', '.join(config.teams)})"
    keywords: dict[str, str] = {}
    customers: dict[str, str] = {}
    for name, team in config.teams.items():
        here: Loc = ("teams", name)
        if isinstance(root["teams"].get(name), dict) and "name" in root["teams"][name]:
            found.append(((*here, "name"), "remove `name`: a team's name is its key", "error"))
        if not _TEAM_NAME.match(name):
            message = f"team name {name!r} must be one word (letters, digits, '_', '-', '.')"
            found.append((here, message, "error"))
        groups = [owner for owner in team.owners if owner.startswith("S")]
        if len(groups) > 1:
            found.append(((*here, "owners"), "owners may name only one user group", "error"))
        elif groups and len(team.owners) > 1:
            message = f"owners mix user group {groups[0]!r} with users; use one or the other"
            found.append(((*here, "owners"), message, "error"))
        for index, keyword in enumerate(team.keywords):
            first = keywords.setdefault(keyword.casefold(), name)
            if first != name:
                message = (
                    f"keyword {keyword!r} is claimed by both {first!r} and {name!r}; "
                    f"{first!r} wins because it is listed first"
                )
                found.append(((*here, "keywords", index), message, "warning"))
        for index, customer in enumerate(team.customers):
            first = customers.setdefault(customer.casefold(), name)
            if first != name:
                message = f"customer {customer!r} is owned by both {first!r} and {name!r}"
                found.append(((*here, "customers", index), message, "error"))
    for channel, customer in config.customer_channels.items():
        if customer.casefold() not in customers:
            message = (
                f"customer {customer!r} is owned by no team; "
                "its feedback is routed by keywords, then to the fallback"
            )
            found.append((("customer_channels", channel), message, "warning"))
    if config.fallback is None:
        message = "no fallback team: feedback that matches no team has nowhere to go"
        found.append((("fallback",), message, "warning"))
    elif config.fallback not in config.teams:
        message = f"fallback names unknown team {config.fallback!r}{known}"
        found.append((("fallback",), message, "error"))
    for d_index, digest in enumerate(config.digests):
        for t_index, team_name in enumerate(digest.teams or []):
            if team_name not in config.teams:
                message = f"digest names unknown team {team_name!r}{known}"
                found.append((("digests", d_index, "teams", t_index), message, "error"))
    return found
