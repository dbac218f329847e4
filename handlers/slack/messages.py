"""Read the parts of a Slack message that intake needs: words, author, time, files."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

# A message ts: seconds, optionally with a fraction ("1712345678.000100").
TS_PATTERN = re.compile(r"\d{1,12}(\.\d{1,9})?")

# Subtypes that are a person (or an allowed bot) saying something new.
# A person's new words: plain posts, posts with files, `/me` posts, and integrations' posts.
NEW_MESSAGE_SUBTYPES = frozenset({None, "file_share", "me_message", "bot_message"})


@dataclass(frozen=True)
class ForwardedWords:
    """What a message says, and whose words and time they are."""

    text: str
    author: str | None
    source_channel: str | None
    source_ts: str
    said_ts: str
    permalink: str | None
    note: str | None
    files: tuple[str, ...]


# A message link: https://team.slack.com/archives/C0123/p1700000000000100
_MESSAGE_URL = re.compile(r"/archives/([A-Z0-9]+)/p(\d{10})(\d{6})\b")


def shared_original(message: dict[str, Any]) -> dict[str, Any] | None:
    """Return the attachment holding a message shared with Slack's "Forward message".

    Older shares mark it `is_share`; current forwards and pasted message links mark it
    `is_msg_unfurl`, with the original also in `message_blocks`.
    """
    for attachment in message.get("attachments") or []:
        if isinstance(attachment, dict) and (
                attachment.get("is_share") or attachment.get("is_msg_unfurl")):
            return attachment
    return None


def _original_source(original: dict[str, Any]) -> tuple[str | None, str | None]:
    """The (channel, ts) of a shared original, from its fields, blocks or link."""
    block = next((entry for entry in original.get("message_blocks") or []
                  if isinstance(entry, dict)), {})
    channel = original.get("channel_id") or block.get("channel")
    ts = _ts_text(original.get("ts")) or _ts_text(block.get("ts"))
    for key in ("from_url", "original_url"):
        link = _MESSAGE_URL.search(str(original.get(key) or ""))
        if link:
            channel = channel or link.group(1)
            ts = ts or f"{link.group(2)}.{link.group(3)}"
    return (str(channel) if isinstance(channel, str) and channel else None), ts


def _original_text(original: dict[str, Any]) -> str:
    """The original's words: its text, else its blocks, else Slack's fallback line."""
    text = str(original.get("text") or "").strip()
    if text:
        return text
    for entry in original.get("message_blocks") or []:
        message = entry.get("message") if isinstance(entry, dict) else None
        if isinstance(message, dict):
            text = blocks_text(message)
            if text:
                return text
    return str(original.get("fallback") or "").strip()


def file_names(message: dict[str, Any]) -> tuple[str, ...]:
    """Names of the files attached to a message."""
    names = []
    for file in message.get("files") or []:
        if isinstance(file, dict):
            names.append(str(file.get("title") or file.get("name") or file.get("id") or "file"))
    return tuple(names)


def _ts_text(value: Any) -> str | None:
    """A message ts as text, or None when `value` is not one."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    text = str(value)
    return text if TS_PATTERN.fullmatch(text) else None


def attachment_text(message: dict[str, Any]) -> str:
    """The words of a message's attachments, as integrations (ticketing, forms) post them."""
    parts = []
    for attachment in message.get("attachments") or []:
        if isinstance(attachment, dict):
            words = [str(attachment.get(key) or "").strip()
                     for key in ("pretext", "title", "text")]
            words = [word for word in words if word]
            if not words and attachment.get("fallback"):
                words = [str(attachment["fallback"]).strip()]
            parts.append("\n".join(words))
    return "\n\n".join(part for part in parts if part)


def blocks_text(message: dict[str, Any]) -> str:
    """The plain words in a message's section and rich-text blocks (when `text` is empty)."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") in ("text", "plain_text", "mrkdwn") and isinstance(
                    node.get("text"), str):
                found.append(node["text"])
                return
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(message.get("blocks") or [])
    return " ".join(" ".join(found).split())


def words_of(message: dict[str, Any], *, channel: str | None) -> ForwardedWords:
    """Extract the customer's words from a message, following a shared original.

    For a forwarded ("shared") message the original's text, author and time win, and
    the forwarder's own text becomes the note.
    """
    own_text = str(message.get("text") or "").strip()
    files = file_names(message)
    original = shared_original(message)
    if original is not None:
        original_text = _original_text(original)
        original_channel, original_ts = _original_source(original)
        # One item per customer message: key by the original when Slack names it.
        keyed_by_original = bool(original_ts and original_channel)
        return ForwardedWords(
            text=original_text or own_text,
            author=original.get("author_id") or message.get("user"),
            source_channel=str(original_channel) if keyed_by_original else channel,
            source_ts=str(original_ts) if keyed_by_original else str(message.get("ts")),
            said_ts=original_ts or str(message.get("ts")),
            permalink=original.get("from_url") or original.get("original_url"),
            note=own_text or None,
            files=files,
        )
    text = own_text or attachment_text(message) or blocks_text(message)
    if not text and files:
        text = "(shared files: " + ", ".join(files) + ")"
    return ForwardedWords(
        text=text,
        author=message.get("user") or message.get("bot_id"),
        source_channel=channel,
        source_ts=str(message.get("ts")),
        said_ts=str(message.get("ts")),
        permalink=None,
        note=None,
        files=files,
    )
