"""Routing patterns from the config, run by RE2: linear time whatever the text.

Python's `re` backtracks, so a pattern such as `(a+)+$` can spend minutes on one
customer message and freeze the bot. RE2 never backtracks; what it cannot run in
linear time (backreferences, lookaround) it refuses to compile, and so does the config.
"""

from __future__ import annotations

from typing import Any, Protocol

import re2

# Plenty for any routing rule; a pattern that needs more is refused, not run.
MAX_PATTERN_MEMORY = 8 << 20


class CompiledPattern(Protocol):
    """The part of a compiled pattern that routing uses."""

    def search(self, text: str) -> Any: ...

    def findall(self, text: str) -> list[Any]: ...


class UnsafePattern(ValueError):
    """The pattern can't be run in linear time (or isn't a valid pattern at all)."""


def compile_pattern(pattern: str) -> CompiledPattern:
    """Compile a case-insensitive routing pattern with RE2; raise UnsafePattern if it can't."""
    options = re2.Options()
    options.case_sensitive = False
    options.log_errors = False
    options.max_mem = MAX_PATTERN_MEMORY
    try:
        compiled: CompiledPattern = re2.compile(pattern, options)
    except re2.error as error:
        reason = error.args[0] if error.args else error
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise UnsafePattern(
            f"{reason}; patterns use RE2 syntax, which runs in linear time: no"
            " backreferences or lookaround") from None
    return compiled
