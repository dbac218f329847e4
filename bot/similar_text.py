"""Feedback text as the words that say what it is about: the query terms of a similarity search.

Customer text is arbitrary: quotes, full-text operators (AND, NEAR, `text:`), odd
Unicode and whole pasted logs. Only runs of letters and digits ever leave this module,
so no search syntax of any database can be written with them.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import snowballstemmer

# Past this, pasted logs or mail threads add nothing but cost.
MAX_TEXT_CHARS = 4000
# Words per query: enough for a paraphrase to meet, few enough that the query stays cheap.
MAX_TERMS = 10
_LONGEST_WORD = 40

_WORD = re.compile(r"[^\W_]+")
_INVISIBLE = re.compile("[\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")
# Long numbers and codes with many digits are ids (invoice numbers, builds, orders): each
# customer has their own, so they say nothing about the problem.
_ID_LIKE = re.compile(r"^(?=(?:\D*\d){4})\w+$")

# English function words, and the words of support phrasing that every item has.
_STOP_WORDS = """
a about above after again against all also am an and any anyone are aren as at be
because been before being below between both but by can cannot could couldn did didn
do does doesn doing don down during each either else even ever every few for from
further get gets getting got had has hasn have haven having he her here hers him his
how i if in into is isn it its itself just let lets like ll may me might more most
much must mustn my myself no nor not now of off on once only or other our ours out
over own re same says said see seems she should shouldn since so some still such than
that the their theirs them then there these they this those though through to too
under until up upon us ve very via was wasn we were weren what when where whether
which while who whom why will with within without won would wouldn yet you your yours
anymore again already always hi hello hey thanks thank please pls plz asap urgent
customer customers client clients user users someone somebody reports reported report
reporting tells told telling mentions mentioned asks asked asking wrote writes saying
say says seeing saw issue issues problem problems help today yesterday since morning
still keeps keep kept getting one two lot lots really something anything thing things
"""
STOP_WORDS = frozenset(_STOP_WORDS.split())

_STEMMER = snowballstemmer.stemmer("english")

# Phrases that support people write for one thing, as that one word.
_PHRASES = [(re.compile(pattern), word) for pattern, word in (
    (r"\b(?:log|logg|sign)(?:s|ed|ing)? ?(?:in|on)\b", "login"),
    (r"\b(?:log|logg|sign)(?:s|ed|ing)? ?(?:out|off)\b", "logout"),
    (r"\bsingle[- ]?sign[- ]?on\b", "sso"),
    (r"\b(?:two|2)[- ]?(?:factor|step)\b", "2fa"),
    (r"\btim(?:e|es|ed|ing)[- ]?out\b", "timeout"),
    (r"\btwo times\b", "twice"),
    (r"\bdaylight saving(?: time)?\b", "dst"),
    (r"\bstart[- ]?up\b", "startup"),
)]

# Words that support people use for one thing; the first names it.
_SYNONYMS = (
    ("ios", "iphone", "ipad"),
    ("twice", "double", "duplicate", "duplicated", "doubled"),
    ("email", "mail", "emails", "mails"),
    ("arrive", "receive", "received", "delivered", "reach", "reached"),
    ("lost", "disappear", "vanish", "vanishes", "gone", "lose"),
    ("decline", "declined", "rejected", "refused", "reject"),
    ("start", "startup", "launch", "launching"),
    ("empty", "blank"),
    ("photo", "picture", "image", "pic", "photos"),
    ("large", "big", "bigger", "larger", "huge"),
    ("disabled", "greyed", "grayed"),
    ("garbled", "mangled", "mangles", "scrambled"),
    ("slow", "forever", "ages"),
    ("crash", "crashes", "crashing", "crashed"),
    ("coupon", "promo", "voucher", "discount"),
    ("invalid", "incorrect", "wrong"),
    ("mfa", "2fa", "authenticator"),
    ("timeout", "hangs", "hang", "spins"),
)



def clean_text(text: str) -> str:
    """The text in Unicode NFKC, casefolded, cut to MAX_TEXT_CHARS (never raises)."""
    if not isinstance(text, str):
        return ""
    # Lone surrogates (from JSON) can't be normalised or stored: drop them.
    text = text[:MAX_TEXT_CHARS].encode("utf-8", "ignore").decode("utf-8")
    # Invisible format characters (zero-width spaces, direction marks) split no words.
    text = _INVISIBLE.sub("", text)
    return unicodedata.normalize("NFKC", text).casefold()


def words(text: str) -> list[str]:
    """The content words of `text`, in order: no stop words, ids or one-letter words.

    Phrases of one meaning ("log in", "two-factor", "timed out") come as one word.
    """
    cleaned = clean_text(text)
    for pattern, word in _PHRASES:
        cleaned = pattern.sub(f" {word} ", cleaned)
    found = []
    for word in _WORD.findall(cleaned):
        if len(word) < 2 or len(word) > _LONGEST_WORD or word in STOP_WORDS:
            continue
        if (word.isdigit() and len(word) > 3) or _ID_LIKE.match(word):
            continue
        found.append(word)
    return found


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """The word's English (Snowball) stem, as PostgreSQL's `english` configuration makes it."""
    return str(_STEMMER.stemWord(word))


_CONCEPT = {stem(word): stem(group[0]) for group in _SYNONYMS for word in group}
_SAID_AS = {stem(group[0]): group for group in _SYNONYMS}


def concept(word: str) -> str:
    """What the word stands for: its stem, or its synonyms' first word's stem."""
    word_stem = stem(word)
    return _CONCEPT.get(word_stem, word_stem)


def query_terms(text: str, *, limit: int = MAX_TERMS) -> list[tuple[str, ...]]:
    """At most `limit` things the text names, each as the words that say it, longest first.

    Every word is letters and digits only, so any database may quote it as a plain word.
    """
    by_concept: dict[str, str] = {}
    for word in words(text):
        by_concept.setdefault(concept(word), word)
    chosen = sorted(by_concept.items(), key=lambda pair: (-len(pair[1]), pair[1]))[:limit]
    return sorted(tuple(sorted({word, *_SAID_AS.get(key, ())})) for key, word in chosen)


_REQUEST = re.compile(
    r"\?\s*$"
    r"|^\W*(?:question\W+)?(?:how|can|could|where|when|which|what|whether|does|do|is there"
    r"|will|would|are there)\b(?!['’]|n['’]?t\b|\s*not\b)"
    r"|\bfeature request\b|\bplease (?:add|offer)\b"
    r"|\b(?:asks?|wonders?) (?:whether|if|how)\b|\bshould\b")


def is_request(text: str) -> bool:
    """Whether the text asks a question or for a feature, rather than reports a fault."""
    return bool(_REQUEST.search(clean_text(text)))


# The product's nouns: they say where a problem is (and which team owns it), not what
# it is, so two texts sharing only these are rarely the same problem.
_PRODUCT_WORDS = """
account address android api app application attachment billing browser button calendar
card change channel charge checkout chrome code comment company connection contact
credit customer dashboard data date day default document download email error export
feature field file format ios ipad iphone integration invoice item language link list
log login mail message mobile month notification option order page password payment
phone plan price product profile push question refund report request screen
search settings setup show sign slack subscription support table team text time update
upload use user web website week work
"""
PRODUCT_STEMS = frozenset(concept(word) for word in _PRODUCT_WORDS.split())
