"""Learn routing keywords from reassignments: what would have sent items to the right team."""

from __future__ import annotations

import bisect
import difflib
import io
import itertools
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from bot.config import Config
from bot.models import Item
from bot.safe_regex import compile_pattern

MIN_WORD_LENGTH = 4

# Words that say nothing about which team owns something. Only words of four or more
# letters matter, since shorter ones are never suggested.
_STOPWORD_TEXT = """
    about above after again against also always because been before being below between both
    cannot could does doing down during each every from further have having here hers
    herself himself into itself just more most much myself never only other ours ourselves
    over same should some still such than that their theirs them themselves then there these
    they this those through under until very want wants were what when where which while
    will with would your yours yourself yourselves
"""
# What every forwarded message says, whoever owns it.
_FEEDBACK_WORDS = """
    customer customers says said saying please thanks thank hello today yesterday since
"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split()) | frozenset(_FEEDBACK_WORDS.split())

_WORD = re.compile(r"[^\W_]+")


@dataclass(frozen=True)
class Reassignment:
    """One move of an item from the team it was routed to to another team."""

    item: Item
    from_team: str
    to_team: str


@dataclass(frozen=True)
class Suggestion:
    """A keyword that would have routed `count` reassigned items to `to_team` directly."""

    keyword: str
    from_team: str
    to_team: str
    count: int
    item_ids: tuple[int, ...]

    def sentence(self) -> str:
        """One plain sentence, e.g. "5 items with 'invoice' moved mobile → payments: add …?"."""
        items = "item" if self.count == 1 else "items"
        return (
            f"{self.count} {items} with '{self.keyword}' moved {self.from_team} → {self.to_team}:"
            f" add '{self.keyword}' to {self.to_team}?"
        )


def words(text: str) -> set[str]:
    """The candidate keywords in a text: casefolded words of 4+ letters/digits, no stopwords."""
    found = set()
    for match in _WORD.finditer(text.casefold()):
        word = match.group()
        # Numbers (order ids, years) never describe an owner; they would only add noise.
        if len(word) >= MIN_WORD_LENGTH and not word.isdigit() and word not in STOPWORDS:
            found.add(word)
    return found


def _matched_by_team(word: str, *, keywords: Sequence[str], patterns: Sequence[str]) -> bool:
    """Whether a team's rules already match every word that starts with `word`."""
    # Routing matches keywords at a word's start, so "refund" already covers "refunds".
    if any(word.startswith(keyword.casefold()) for keyword in keywords):
        return True
    return any(compile_pattern(pattern).search(word) for pattern in patterns)


def _blocked(word: str, *, config: Config) -> bool:
    """Whether suggesting `word` would be pointless or would not route items as intended.

    Pointless when the target team already matches it. Unreliable when another team
    matches it too (a tie goes to whichever team is listed first), or when it names a
    customer (customer ownership decides before keywords do).
    """
    if any(
        _matched_by_team(word, keywords=team.keywords, patterns=team.patterns)
        for team in config.teams.values()
    ):
        return True
    customers = [c for team in config.teams.values() for c in team.customers]
    customers += config.customer_channels.values()
    return word in {customer.casefold() for customer in customers}


def _has_prefix(tokens: list[str], prefix: str) -> bool:
    """Whether some token in the sorted list starts with `prefix`."""
    index = bisect.bisect_left(tokens, prefix)
    return index < len(tokens) and tokens[index].startswith(prefix)


def suggest_rules(
    *,
    reassignments: Sequence[Reassignment],
    config: Config,
    min_count: int = 2,
    limit: int = 5,
) -> list[Suggestion]:
    """Keywords that would have routed moved items to the team they were moved to.

    A candidate is a word (see `words`) of items moved from one team to another that
    `_blocked` does not rule out. Its count is the number of those items it would match at
    a word's start, as routing does; it needs at least `min_count`. Most items first, ties
    alphabetical; a keyword whose shorter prefix is already suggested for the same team is
    left out, since the shorter one matches it too.
    """
    if min_count < 1:
        raise ValueError(f"min_count must be at least 1, got {min_count}")
    moved: dict[tuple[str, str], dict[int, Item]] = defaultdict(dict)
    for move in reassignments:
        if move.from_team != move.to_team and move.to_team in config.teams:
            # An item moved the same way twice still counts once.
            moved[(move.from_team, move.to_team)].setdefault(move.item.id, move.item)

    candidates: list[Suggestion] = []
    for (from_team, to_team), by_id in moved.items():
        tokens = {item_id: sorted(words(item.text)) for item_id, item in by_id.items()}
        vocabulary = set().union(*map(set, tokens.values())) if tokens else set()
        for word in vocabulary:
            if _blocked(word, config=config):
                continue
            ids = tuple(sorted(i for i, found in tokens.items() if _has_prefix(found, word)))
            if len(ids) >= min_count:
                candidates.append(Suggestion(word, from_team, to_team, len(ids), ids))

    candidates.sort(key=lambda s: (-s.count, s.keyword, s.from_team, s.to_team))
    chosen: list[Suggestion] = []
    for suggestion in candidates:
        covered = any(
            earlier.to_team == suggestion.to_team and suggestion.keyword.startswith(earlier.keyword)
            for earlier in chosen
        )
        if not covered:
            chosen.append(suggestion)
        if len(chosen) >= limit:
            break
    return chosen


def _guess_indent(text: str) -> tuple[int, int]:
    """The file's mapping indent and block-sequence dash offset, so a re-dump keeps them."""
    lines = [
        (len(line) - len(line.lstrip(" ")), line.strip())
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    nested = [indent for indent, body in lines if indent > 0 and not body.startswith("-")]
    mapping = min(nested, default=2)
    offset = 2
    for previous, current in itertools.pairwise(lines):
        if current[1].startswith("-") and previous[1].endswith(":"):
            offset = max(current[0] - previous[0], 0)
            break
    return mapping, offset


def _yaml(text: str) -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    # Never re-wrap long lines: the diff should touch only the lines that gain a keyword.
    yaml.width = 4096
    mapping, offset = _guess_indent(text)
    yaml.indent(mapping=mapping, sequence=offset + 2, offset=offset)
    return yaml


def _add_keyword(team: CommentedMap, keyword: str) -> bool:
    """Append `keyword` to the team's keywords (creating the list); False if already there."""
    existing = team.get("keywords")
    if isinstance(existing, list):
        if keyword.casefold() in {str(k).casefold() for k in existing}:
            return False
        existing.append(keyword)
        return True
    keywords = CommentedSeq([keyword])
    # Flow style, like the documented examples: `keywords: [invoice]`.
    keywords.fa.set_flow_style()
    # Next to the team's other routing settings rather than after, say, business_hours.
    keys = list(team.keys())
    after = [keys.index(k) for k in ("channel", "owners", "assign") if k in keys]
    position = max(after) + 1 if after else len(keys)
    team.insert(position, "keywords", keywords)
    return True


def config_diff(
    suggestions: Sequence[Suggestion], *, config_text: str, path: str = "feedbackbot.yml",
    sections: Mapping[str, Sequence[Suggestion]] | None = None,
) -> str:
    """A unified diff of `config_text` adding each suggested keyword; "" when nothing changes.

    `suggestions` go to the top-level teams, `sections[KEY]` to the teams of the
    workspace section KEY. The YAML is edited with ruamel.yaml's round trip, so comments
    and order are kept. Both headers name `path` as given, so `patch -p0 < diff` applies
    it where it points.
    """
    if not suggestions and not any((sections or {}).values()):
        return ""
    yaml = _yaml(config_text)
    root: Any = yaml.load(config_text)
    if not isinstance(root, dict):
        return ""
    places: list[tuple[Any, Sequence[Suggestion]]] = [(root.get("teams"), suggestions)]
    workspaces = root.get("workspaces")
    for key, wanted in (sections or {}).items():
        section = workspaces.get(key) if isinstance(workspaces, dict) else None
        places.append((section.get("teams") if isinstance(section, dict) else None, wanted))
    changed = False
    for teams, wanted in places:
        if not isinstance(teams, dict):
            continue
        for suggestion in wanted:
            team = teams.get(suggestion.to_team)
            if isinstance(team, CommentedMap):
                changed = _add_keyword(team, suggestion.keyword) or changed
    if not changed:
        return ""
    out = io.StringIO()
    yaml.dump(root, out)
    # difflib joins a last line without a newline onto the next diff line; end both texts.
    old_text = config_text if config_text.endswith("\n") else config_text + "\n"
    new_text = out.getvalue()
    return "".join(
        difflib.unified_diff(
            old_text.splitlines(keepends=True),
            new_text.splitlines(keepends=True),
            fromfile=path,
            tofile=path,
        )
    )
