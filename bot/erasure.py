"""Erasing a person's words and names while keeping the timings the figures are made of.

`feedbackbot forget` and `retention_days` both come here. An erased item keeps its
workspace, team, status, severity, platform, intake kind, every time (received,
forwarded, first response, resolved, escalated) and its reassignment count, so digests
and stats over any window come out the same; its words become ERASED.

What a request to forget covers (the README says the same):

- `--customer NAME`: items whose customer is NAME (compared case-insensitively after
  Unicode normalisation, otherwise exactly) lose their text, customer, notes, source
  author and link, the words of their events (replies, notes) and of their outbox
  entries. Stored requests (inbox) about those items (found by their message, card,
  command or form ids), or holding NAME, and drafts holding NAME or their words are
  erased. Staff ids (who forwarded, answered, follows) stay.
- `--user ID`: the person with that chat user id. Items whose source message they wrote
  are erased as above. Where they acted on other items, their id becomes ERASED
  (forwarded by, answered by, resolved by, assignees, event actors) and their words go
  (the note they forwarded with, their resolution notes, the texts of their replies,
  relays of those replies). They stop following items; stored requests and drafts
  holding their id, and the bot's Teams conversations with them, are erased; messages
  queued for them are cancelled.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

ERASED = "[erased]"

# JSON keys whose values are structure (ids of conversations, messages, teams; kinds),
# never a person's words: an erased blob keeps them so that what refers to it still works.
STRUCTURE_KEYS = frozenset({
    "kind", "platform", "channel", "thread_ts", "ts", "team", "from", "to", "intake",
    "route_reason", "matches", "owner", "old_card_channel", "old_card_ts", "what", "error",
    "conversation", "reply_ts", "ok", "type", "item_id", "status", "severity", "period",
    "subscription", "waited", "late", "forced",
})
# Staff ids: kept when a customer is forgotten, erased by retention and by `--user`.
STAFF_KEYS = frozenset({"user", "mentions", "by"})
# Old items are anonymised this many at a time (one transaction; the rest go next time).
ANONYMISE_BATCH = 500
# Words shorter than this are found only as a whole string, never inside longer text.
MIN_WORDS_INSIDE = 8

# Item columns holding a person's words, and those holding who did something.
WORD_COLUMNS = ("text", "customer", "note", "resolution_note", "source_author",
                "source_permalink")
STAFF_COLUMNS = ("forwarded_by", "first_response_by", "resolved_by", "customer_answered_by",
                 "linked_by")


def fold(text: str) -> str:
    """`text` as compared: Unicode-normalised (NFKC), invisible format characters (zero
    width spaces, direction marks) dropped, case-folded, outer spaces dropped."""
    visible = "".join(char for char in unicodedata.normalize("NFKC", text)
                      if unicodedata.category(char) != "Cf")
    return visible.casefold().strip()


@dataclass(frozen=True)
class Person:
    """Whom to forget: a customer by name, or a chat user by id (exactly one)."""

    customer: str | None = None
    user: str | None = None

    def __post_init__(self) -> None:
        if (self.customer is None) == (self.user is None):
            raise ValueError("name either a customer or a user, not both or neither")
        if self.customer is not None and not fold(self.customer):
            raise ValueError("the customer's name is empty")
        if self.user is not None and not re.fullmatch(r"[A-Za-z0-9:@._\-]+", self.user):
            raise ValueError(f"{self.user!r} is not a chat user id (like U012ABCDEF)")

    def is_customer(self, customer: str | None) -> bool:
        """True when an item's customer is this person."""
        return (self.customer is not None and customer is not None
                and fold(customer) == fold(self.customer))

    def describe(self) -> str:
        """`customer 'Acme'` or `user U0ALICE`, for messages."""
        return f"customer {self.customer!r}" if self.customer is not None else f"user {self.user}"


class Matcher:
    """Says whether a piece of text holds a person's name, id or words, or refers to an
    erased item (its message, card, command or form ids)."""

    def __init__(self, *, names: Iterable[str] = (), user_ids: Iterable[str] = ()) -> None:
        self.names = {fold(name) for name in names if fold(name)}
        ids = sorted(set(user_ids), key=len, reverse=True)
        self._user_pattern = (re.compile(r"(?<![A-Za-z0-9])(?:" + "|".join(
            re.escape(user) for user in ids) + r")(?![A-Za-z0-9])") if ids else None)
        self.words: set[str] = set()
        self.links: set[str] = set()
        # Long words by their first characters: finding them inside a text then costs one
        # look-up per position, however many words there are.
        self._long_words: dict[str, list[str]] = {}

    def add_words(self, *texts: str | None) -> None:
        """Also match these texts (an erased item's text, note, replies)."""
        for text in texts:
            word = fold(text) if text and text != ERASED else ""
            if word and word not in self.words:
                self.words.add(word)
                if len(word) >= MIN_WORDS_INSIDE:
                    self._long_words.setdefault(word[:MIN_WORDS_INSIDE], []).append(word)

    def add_links(self, *ids: str | None) -> None:
        """Also match strings equal to these ids (of an erased item's messages)."""
        self.links.update(value for value in ids if value)

    def says(self, text: str) -> bool:
        """True when `text` is the name (exactly, in any case), holds the user id (as a
        whole token) or the words."""
        if text == ERASED or not text:
            return False
        if self._user_pattern is not None and self._user_pattern.search(text):
            return True
        folded = fold(text)
        if folded in self.names or folded in self.words:
            return True
        for start in range(len(folded) - MIN_WORDS_INSIDE + 1):
            found = self._long_words.get(folded[start:start + MIN_WORDS_INSIDE])
            if found and any(folded.startswith(word, start) for word in found):
                return True
        return False

    def refers(self, value: Any) -> bool:
        """True when any string in `value` (decoded JSON) says or links to what is erased."""
        return any(text in self.links or self.says(text) for text in _strings(value))


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, inner in value.items():
            yield str(key)
            yield from _strings(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _strings(inner)


def scrub(value: Any, *, keep: frozenset[str] = STRUCTURE_KEYS,
          matcher: Matcher | None = None, key: str | None = None) -> Any:
    """`value` (decoded JSON) with words replaced by ERASED.

    Without `matcher` every string is erased except under `keep` keys; with one, only
    the strings it `says` are.
    """
    if isinstance(value, dict):
        return {name: scrub(inner, keep=keep, matcher=matcher, key=name)
                for name, inner in value.items()}
    if isinstance(value, list):
        return [scrub(inner, keep=keep, matcher=matcher, key=key) for inner in value]
    if not isinstance(value, str) or not value or value == ERASED:
        return value
    if matcher is None:
        return value if key in keep else ERASED
    return ERASED if matcher.says(value) else value


def scrub_json(text: str | None, **options: Any) -> str | None:
    """A JSON text scrubbed by `scrub` (text that is not JSON is erased whole)."""
    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return json.dumps(ERASED)
    return json.dumps(scrub(value, **options), ensure_ascii=False)


def decode_body(body: str) -> Any:
    """A stored request body as data: JSON, or a form (its `payload` field decoded)."""
    from urllib.parse import parse_qs

    try:
        return json.loads(body)
    except ValueError:
        pass
    form = {key: values[-1] for key, values in parse_qs(body, keep_blank_values=True).items()}
    if "payload" in form:
        try:
            return {**form, "payload": json.loads(form["payload"])}
        except ValueError:
            return form
    return form


def erased_item_changes(row: Mapping[str, Any], *, staff_too: bool) -> dict[str, Any]:
    """The changes that erase an item's words (and, with `staff_too`, who acted on it)."""
    changes: dict[str, Any] = {"text": ERASED}
    for column in WORD_COLUMNS[1:]:
        if row.get(column):
            changes[column] = ERASED
    if staff_too:
        for column in STAFF_COLUMNS:
            if row.get(column):
                changes[column] = ERASED
        if row.get("assignees") not in (None, "", "[]"):
            changes["assignees"] = [ERASED]
    return changes


def user_item_changes(row: Mapping[str, Any], user: str) -> dict[str, Any]:
    """The changes that take `user`'s id and words out of an item someone else wrote."""
    changes: dict[str, Any] = {}
    if row.get("forwarded_by") == user:
        changes["forwarded_by"] = ERASED
        if row.get("note"):
            changes["note"] = ERASED
    if row.get("first_response_by") == user:
        changes["first_response_by"] = ERASED
    if row.get("customer_answered_by") == user:
        changes["customer_answered_by"] = ERASED
    if row.get("linked_by") == user:
        changes["linked_by"] = ERASED
    if row.get("resolved_by") == user:
        changes["resolved_by"] = ERASED
        if row.get("resolution_note"):
            changes["resolution_note"] = ERASED
    assignees = json.loads(row.get("assignees") or "[]")
    if user in assignees:
        changes["assignees"] = [ERASED if name == user else name for name in assignees]
    return changes


@dataclass
class ErasureReport:
    """What an erasure changed (or, in a dry run, would change): rows per table, item ids."""

    rows: Counter[str] = field(default_factory=Counter)
    items: list[tuple[str, int]] = field(default_factory=list)  # (workspace, item id)
    named_in: list[tuple[str, int]] = field(default_factory=list)  # a user's id went

    @property
    def empty(self) -> bool:
        """True when nothing was (or would be) changed."""
        return not any(self.rows.values())

    def lines(self, *, dry_run: bool) -> list[str]:
        """The report as printed by `feedbackbot forget`."""
        verb = "would erase" if dry_run else "erased"
        lines = [f"{verb} in {table}: {count} row(s)"
                 for table, count in sorted(self.rows.items()) if count]
        if self.items:
            ids = ", ".join(f"{workspace}/{item_id}" for workspace, item_id in self.items)
            lines.append(f"items with words {verb}: {ids}")
        if self.named_in:
            ids = ", ".join(f"{workspace}/{item_id}" for workspace, item_id in self.named_in)
            lines.append(f"items the user's id and words {verb} from: {ids}")
        return lines
