"""Parse and format short durations such as "30m", "8h", "3d" or "1d12h"."""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS: dict[str, int] = {"w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1}
_ORDER = "wdhms"
_PART = re.compile(r"(\d+)([a-zA-Z]+)")
_EXAMPLES = '"90s", "30m", "2h", "3d" or "1d12h"'


def parse_duration(text: str) -> timedelta:
    """Parse a duration like "30m" or "1d12h" into a timedelta; raise ValueError if malformed."""
    if isinstance(text, bool) or not isinstance(text, str):
        raise ValueError(f"expected a duration such as {_EXAMPLES}, got {text!r}")
    compact = text.strip()
    if not compact:
        raise ValueError(f"empty duration; use a number and a unit, e.g. {_EXAMPLES}")
    total = 0
    position = 0
    last_rank = -1
    for match in _PART.finditer(compact):
        if match.start() != position:
            break
        number, unit = match.groups()
        if unit not in _UNITS:
            raise ValueError(
                f"bad duration {text!r}: unknown unit {unit!r}; "
                f"use w, d, h, m or s (e.g. {_EXAMPLES})"
            )
        rank = _ORDER.index(unit)
        # Descending, non-repeating units keep "1h30m" unambiguous and reject typos like "3m3m".
        if rank <= last_rank:
            raise ValueError(
                f"bad duration {text!r}: units must go from largest to smallest, each at most once"
            )
        last_rank = rank
        total += int(number) * _UNITS[unit]
        position = match.end()
    if position != len(compact) or position == 0:
        raise ValueError(f"bad duration {text!r}: use a number and a unit, e.g. {_EXAMPLES}")
    if total == 0:
        raise ValueError(f"bad duration {text!r}: must be longer than zero")
    return timedelta(seconds=total)


def format_duration(delta: timedelta) -> str:
    """Format a timedelta compactly in the same notation, e.g. "1d12h" or "45m"; "0s" for zero."""
    seconds = int(delta.total_seconds())
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    parts: list[str] = []
    for unit in "dhms":
        amount, seconds = divmod(seconds, _UNITS[unit])
        if amount:
            parts.append(f"{amount}{unit}")
    return sign + ("".join(parts) or "0s")
