"""Make text safe for an Adaptive Card TextBlock, which renders markdown and `<at>` mentions."""

from __future__ import annotations

import re
import unicodedata

# Characters that start markdown (links, emphasis, lists, headings, code) or a mention tag.
_MARKDOWN = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~])")
_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")
# Bidi overrides and isolates can make a line read differently from what it says.
_BIDI_CONTROLS = dict.fromkeys(map(ord, "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"))


def clean(text: str) -> str:
    """Drop what can't be sent or would disguise text: lone surrogates, controls, bidi overrides."""
    text = _LONE_SURROGATE.sub("\ufffd", text).translate(_BIDI_CONTROLS)
    return "".join(
        char for char in text
        if char in "\n\t" or unicodedata.category(char) not in ("Cc", "Cs")
    )


def escape_markdown(text: str) -> str:
    """Backslash-escape markdown and `<`/`>` so customer words show as typed, never as links."""
    return _MARKDOWN.sub(r"\\\1", clean(text))


def plain_name(name: str) -> str:
    """A display name fit to sit inside `<at>…</at>`: no tags, no markdown, one line."""
    flat = " ".join(clean(name).replace("<", "").replace(">", "").split())
    return escape_markdown(flat) or "someone"


def cut(text: str, limit: int, *, suffix: str = "…") -> tuple[str, bool]:
    """`text` within `limit` characters, and whether it was shortened (never mid-escape)."""
    if len(text) <= limit:
        return text, False
    shortened = text[: max(limit - len(suffix), 0)]
    trailing = len(shortened) - len(shortened.rstrip("\\"))
    if trailing % 2:  # an escape's backslash without the character it escapes
        shortened = shortened[:-1]
    return shortened + suffix, True
