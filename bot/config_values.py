"""Validated value types of `feedbackbot.yml`: clock times, zones, days, emoji, durations, rules."""

from __future__ import annotations

import re
import zoneinfo
from datetime import time
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator

from bot.durations import parse_duration
from bot.safe_regex import UnsafePattern, compile_pattern

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]

_CLOCK = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def parse_clock(text: str) -> time:
    """Parse "HH:MM" (24-hour) into a time; raise ValueError otherwise."""
    match = _CLOCK.match(text.strip())
    if not match:
        raise ValueError(f'expected a 24-hour time like "09:00", got {text!r}')
    return time(int(match.group(1)), int(match.group(2)))


def _check_timezone(name: str) -> str:
    """Accept only IANA time zone names that zoneinfo knows."""
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {name!r}; use an IANA name like 'Europe/Berlin'"
        ) from None
    return name


def _check_days(value: Any) -> Any:
    """Let "Mon" mean "mon", drop repeats, and reject an empty week."""
    if not isinstance(value, list):
        return value
    if not value:
        raise ValueError("list at least one day, e.g. [mon, tue, wed, thu, fri]")
    return list(dict.fromkeys(d.strip().lower() if isinstance(d, str) else d for d in value))


def _strip_colons(name: str) -> str:
    """Turn ":inbox_tray:" into "inbox_tray"."""
    stripped = name.strip().strip(":").strip()
    if not stripped:
        raise ValueError("emoji name is empty")
    return stripped


def _check_duration(value: Any) -> Any:
    """Validate an SLA duration with bot.durations."""
    parse_duration(value)
    return value.strip()


def _check_keyword(value: str) -> str:
    """Reject blank keywords, which would match every message."""
    if not value.strip():
        raise ValueError("keyword is empty")
    return value.strip()


def _check_regex(value: str) -> str:
    """Compile the pattern the way routing will, so a bad or unsafe one fails at load time."""
    if not value:
        raise ValueError("pattern is empty")
    try:
        re.compile(value, re.IGNORECASE)
    except re.error as exc:
        raise ValueError(f"bad regex {value!r}: {exc.msg}") from None
    try:
        compile_pattern(value)
    except UnsafePattern as exc:
        raise ValueError(f"regex {value!r} can't be run safely on customer text: {exc}") from None
    return value


Days = Annotated[list[Weekday], BeforeValidator(_check_days)]
Emoji = Annotated[str, AfterValidator(_strip_colons)]
Duration = Annotated[str, BeforeValidator(_check_duration)]
Keyword = Annotated[str, AfterValidator(_check_keyword)]
Pattern = Annotated[str, AfterValidator(_check_regex)]
TimeZone = Annotated[str, AfterValidator(_check_timezone)]
