"""Themes of the week: the words and phrases whose share of a team's feedback rose most.

Each term is scored by the log-odds ratio with an informative Dirichlet prior of Monroe,
Colaresi & Quinn (2008, "Fightin' Words"): its share this week against its share in the
weeks before, shrunk towards its share in both together, divided by its standard error.
A term said once by one customer can't win, and neither can one said every week.

Terms are counted once per item (how many items said it), so one long message can't
make a theme. Stop-words, and anything with a digit in it (invoice and build numbers,
ids, versions, times), never make a theme.
"""

from __future__ import annotations

import functools
import itertools
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

# Words that say nothing about a problem: function words and the chat pleasantries of
# support messages. Lower case, without accents.
_STOP_WORDS_TEXT = """
a about above after again against all also am an and any are aren't as at be because been
before being below between both but by can can't cannot could couldn't did didn't do does
doesn't doing don't down during each few for from further get gets getting got had hadn't
has hasn't have haven't having he her here hers herself him himself his how i i'm i've if
in into is isn't it it's its itself just let's like me more most mustn't my myself no nor
not now of off on once only or other ought our ours ourselves out over own same she
should shouldn't so some such than that that's the their theirs them themselves then
there there's these they they're this those through to too under until up us very was
wasn't we we're were weren't what what's when where which while who whom why will with
won't would wouldn't you you're your yours yourself yourselves
hi hello hey thanks thank please pls ok okay yes yeah hey regards cheers team customer
customers user users says said asked asks ask still again also one two since today
yesterday tomorrow week day days time times really just even though anyone someone see
something anything everything way new now via per etc able unable use using used
"""
STOP_WORDS = frozenset(_STOP_WORDS_TEXT.split())

# URLs, e-mail addresses and chat mentions (<@U123>, <#C123|name>) are not words.
_NOT_WORDS = re.compile(r"https?://\S+|\S+@\S+\.\S+|<[@#!][^>]*>")
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?")
MIN_ITEMS = 3
MAX_THEMES = 5
# A theme's score must be this many standard errors above no change. Dozens of terms are
# tested each week, so the bar is above 1.96: on a steady simulated history, 1 week in 200
# showed a theme by chance (1 in 18 at 1.96), while a problem that 6 of 46 items raised
# for the first time showed in 99 weeks of 100.
MIN_SCORE = 2.5


@dataclass(frozen=True)
class Theme:
    """A term that rose: how many items said it this week, and two of them.

    `also` holds other terms said by the same items, lower-scoring, without a word of
    `term`: one problem is one theme, not five ("apple pay" also "checkout fails").
    """

    term: str
    items: int
    score: float
    examples: tuple[int, ...]
    also: tuple[str, ...] = ()


@dataclass(frozen=True)
class Said:
    """One item's text and id, for counting its terms."""

    item_id: int
    text: str


def _plain(word: str) -> str:
    """Lower case, accents removed, curly apostrophe made straight."""
    if word.isascii():
        return word.lower()
    word = unicodedata.normalize("NFKD", word.casefold().replace("’", "'"))
    return "".join(char for char in word if not unicodedata.combining(char))


def terms(text: str) -> set[str]:
    """The words and two-word phrases of a text that may make a theme."""
    kept = [_term_of(word) for word in _WORD.findall(_NOT_WORDS.sub(" ", text))]
    found = {word for word in kept if word}
    # A phrase is two neighbouring kept words: "payment failed", not "failed for the".
    found.update(f"{first} {second}" for first, second in itertools.pairwise(kept)
                 if first and second and first != second)
    return found


# Words repeat across a month of feedback, so each is judged once: a digest reads ~100k
# texts, and judging every word afresh took most of its 2 s.
@functools.lru_cache(maxsize=1 << 16)
def _term_of(word: str) -> str | None:
    """The word made plain when it may make a theme, else None."""
    plain = _plain(word)
    return plain if _is_term(plain) else None


def _is_term(word: str) -> bool:
    return (len(word) > 1 and word not in STOP_WORDS
            and not any(char.isdigit() for char in word))


class TermTally:
    """How many items of one period said each term; with examples, the two newest ids.

    Items are added one at a time, so a period's texts can be streamed, never held.
    """

    def __init__(self, *, examples: bool = False) -> None:
        self.counts: Counter[str] = Counter()
        # Term -> the highest two item ids that said it, highest first.
        self.examples: dict[str, list[int]] | None = {} if examples else None

    def add(self, said: Said) -> None:
        """Count the terms of one item."""
        found = terms(said.text)
        self.counts.update(found)
        if self.examples is None:
            return
        for term in found:
            newest = self.examples.setdefault(term, [])
            if len(newest) < 2:
                newest.append(said.item_id)
                newest.sort(reverse=True)
            elif said.item_id > newest[1]:
                newest[1] = said.item_id
                newest.sort(reverse=True)


def rising_themes(this_week: Sequence[Said], before: Iterable[Said], *,
                  limit: int = MAX_THEMES, min_items: int = MIN_ITEMS) -> list[Theme]:
    """The terms whose share of `this_week`'s items rose most against `before`'s.

    Only terms said in at least `min_items` items this week and scoring at least
    MIN_SCORE; at most `limit`, highest score first. A term that shares a word with a
    higher-scoring one is left out, so "refund" does not repeat "refund delayed".
    """
    now = TermTally(examples=True)
    for said in this_week:
        now.add(said)
    then = TermTally()
    for said in before:
        then.add(said)
    return rising_from_tallies(now, then, limit=limit, min_items=min_items)


def rising_from_tallies(now: TermTally, then: TermTally, *, limit: int = MAX_THEMES,
                        min_items: int = MIN_ITEMS) -> list[Theme]:
    """rising_themes over counts already made; `now` must keep examples."""
    now_counts, then_counts = now.counts, then.counts
    examples = now.examples or {}
    now_total, then_total = sum(now_counts.values()), sum(then_counts.values())
    if not now_total:
        return []
    # The prior: each term's share of both periods together, worth as many
    # observations as the smaller period has, so it steadies rare terms without
    # drowning what either period says.
    prior_total = float(min(now_total, then_total) or now_total)
    both_total = now_total + then_total
    scored: list[Theme] = []
    for term, now_count in now_counts.items():
        if now_count < min_items:
            continue
        then_count = then_counts.get(term, 0)
        prior = prior_total * (now_count + then_count) / both_total
        now_odds = (now_count + prior) / (now_total + prior_total - now_count - prior)
        then_odds = (then_count + prior) / (then_total + prior_total - then_count - prior)
        variance = 1 / (now_count + prior) + 1 / (then_count + prior)
        score = (math.log(now_odds) - math.log(then_odds)) / math.sqrt(variance)
        if score >= MIN_SCORE:
            scored.append(Theme(term=term, items=now_count, score=round(score, 2),
                                examples=tuple(examples.get(term, ())[:2])))
    # On a tie a phrase goes first: "apple pay" says more than "apple".
    scored.sort(key=lambda theme: (-theme.score, -theme.items, -theme.term.count(" "),
                                   theme.term))
    chosen: list[Theme] = []
    for theme in scored:
        if any(_overlaps(theme.term, term) for kept in chosen
               for term in (kept.term, *kept.also)):
            continue
        # The same count and the same newest items: the same items said both terms.
        same = next((number for number, kept in enumerate(chosen)
                     if (kept.items, kept.examples) == (theme.items, theme.examples)), None)
        if same is not None:
            kept = chosen[same]
            chosen[same] = replace(kept, also=(*kept.also, theme.term))
        elif len(chosen) < limit:
            chosen.append(theme)
    return chosen


def _overlaps(term: str, other: str) -> bool:
    """Whether one term is a word of the other phrase."""
    return term in other.split(" ") or other in term.split(" ")
