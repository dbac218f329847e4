"""Full-text search over item text, on both backends: the schema and the ranking query.

SQLite: a contentless FTS5 table of `items.text` and workspace (Porter stemming,
accents folded), kept in step by triggers on insert, delete and change of text, ranked
with `bm25()`. PostgreSQL: a stored generated column
`search_vector` (`to_tsvector('english', text)`), which the database keeps in step
itself, tested on the workspace's RECENT_ITEMS newest items and ranked with `ts_rank`.
Both are created, and existing items indexed, by migration 14 (storage/migrations.py).

A query asks for items sharing any two of the terms: one shared word ("app", "login")
is no sign of the same problem, and pairs keep the rows to rank few at a million items.
Only the workspace's NEWEST_HITS newest hits are ranked, so a query costs the same
however long the history (on PostgreSQL, hits among its RECENT_ITEMS newest items).
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bot.store_similar import CANDIDATES, SimilarCandidate
from storage.dialect import Database, Transaction, storable_text
from storage.rows import read_required_time, read_time

# The workspace as one token ("w" and its UTF-8 in hex), so that a query can ask for
# the newest hits of one workspace without ranking every other workspace's too.
_SQLITE_WORKSPACE = "'w' || hex({row}.workspace)"
_SQLITE_SCHEMA = (
    # Contentless: the text stays in items alone; the index keeps only its words.
    "CREATE VIRTUAL TABLE items_fts USING fts5(ws, text, content='',"
    " tokenize='porter unicode61 remove_diacritics 2')",
    # Only a change of text re-indexes a row: status changes are many and leave it alone.
    "CREATE TRIGGER items_fts_insert AFTER INSERT ON items BEGIN"
    " INSERT INTO items_fts (rowid, ws, text)"
    f" VALUES (new.id, {_SQLITE_WORKSPACE.format(row='new')}, new.text); END",
    "CREATE TRIGGER items_fts_delete AFTER DELETE ON items BEGIN"
    " INSERT INTO items_fts (items_fts, rowid, ws, text)"
    f" VALUES ('delete', old.id, {_SQLITE_WORKSPACE.format(row='old')}, old.text); END",
    "CREATE TRIGGER items_fts_update AFTER UPDATE OF workspace, text ON items BEGIN"
    " INSERT INTO items_fts (items_fts, rowid, ws, text)"
    f" VALUES ('delete', old.id, {_SQLITE_WORKSPACE.format(row='old')}, old.text);"
    " INSERT INTO items_fts (rowid, ws, text)"
    f" VALUES (new.id, {_SQLITE_WORKSPACE.format(row='new')}, new.text); END",
    # Index the items there already are.
    "INSERT INTO items_fts (rowid, ws, text)"
    f" SELECT id, {_SQLITE_WORKSPACE.format(row='items')}, text FROM items",
)

# A stored column: a query tests and ranks a workspace's newest items without parsing
# their text again. No GIN index: at a million items, a GIN search for pairs of common
# words visits every matching row before it can keep the newest (150-200 ms); reading
# the newest items in order and testing their stored words takes a few.
_POSTGRES_SCHEMA = (
    "ALTER TABLE items ADD COLUMN search_vector tsvector"
    " GENERATED ALWAYS AS (to_tsvector('english'::regconfig, text)) STORED",
)

SCHEMA = {"sqlite": _SQLITE_SCHEMA, "postgresql": _POSTGRES_SCHEMA}

# Hits ranked per query, newest first: ranking every item that shares two common words
# with the text would grow with the history; the same problem is said again recently.
NEWEST_HITS = 200
# PostgreSQL looks among this many of the workspace's newest items (see _POSTGRES_SCHEMA).
RECENT_ITEMS = 10_000

_PLAIN_WORD = re.compile(r"[^\W_]+")
# A "+1" is never offered itself: the item it joined is (bot/links.py).
_IN_WINDOW = "(i.status <> 'resolved' OR i.resolved_at >= ?) AND i.linked_to IS NULL"
_COLUMNS = ("i.id, i.team, i.status, i.text, i.customer, i.forwarded_at, i.resolved_at,"
            " i.first_response_by")


Terms = Sequence[Sequence[str]]


def _groups(terms: Terms) -> list[tuple[str, ...]]:
    """The terms' groups of plain words (letters and digits only), without empty ones."""
    return sorted({words for words in (
        tuple(sorted({word for word in group if _PLAIN_WORD.fullmatch(word)}))
        for group in terms) if words})


def _pairs(terms: Terms) -> list[tuple[tuple[str, ...], ...]]:
    groups = _groups(terms)
    if len(groups) == 1:
        return [(groups[0],)]
    return list(itertools.combinations(groups, 2))


def fts5_query(terms: Terms) -> str:
    """An FTS5 query for rows holding a word of any two groups of `terms`; words quoted."""
    return " OR ".join(
        "(" + " AND ".join("(" + " OR ".join(f'"{word}"' for word in group) + ")"
                           for group in pair) + ")"
        for pair in _pairs(terms))


def tsquery_text(terms: Terms) -> str:
    """A `to_tsquery` text for rows holding a word of any two groups; words quoted lexemes."""
    return " | ".join(
        "(" + " & ".join("(" + " | ".join(f"'{word}'" for word in group) + ")"
                         for group in pair) + ")"
        for pair in _pairs(terms))


def _sqlite_candidates(tx: Transaction, workspace: str, terms: Terms, resolved_since: datetime,
                       limit: int) -> list[tuple[Any, ...]]:
    """The workspace's newest hits by two terms, ranked with bm25 over all the terms.

    Two steps, because bm25 weighs each phrase of its query by how many rows hold it,
    reading every phrase's whole list once per query: a query of all pairs names each
    word many times, one of the words names each once.
    """
    hits = [row[0] for row in tx.tuples(
        "SELECT rowid FROM items_fts WHERE items_fts MATCH ? ORDER BY rowid DESC LIMIT ?",
        (f'ws : "w{storable_text(workspace).encode().hex()}" AND text : ({fts5_query(terms)})',
         NEWEST_HITS))]
    if not hits:
        return []
    any_word = " OR ".join(f'"{word}"' for group in _groups(terms)
                           for word in group)
    # `+rowid`: the list filters the rows; only the range is handed to FTS5, so that bm25's
    # counts are made once for the statement, not once per listed row.
    return tx.tuples(
        f"SELECT {_COLUMNS}, hits.rank FROM (SELECT rowid AS id, -bm25(items_fts, 0.0, 1.0)"
        " AS rank FROM items_fts WHERE items_fts MATCH ? AND rowid >= ?"
        " AND +rowid IN (SELECT value FROM json_each(?))) hits JOIN items i ON i.id = hits.id"
        f" WHERE i.workspace = ? AND {_IN_WINDOW} ORDER BY hits.rank DESC, i.id DESC LIMIT ?",
        (f"text : ({any_word})", min(hits), json.dumps(hits), workspace, resolved_since, limit))


class SimilarItemQueries:
    """The similar-items part of the Store."""

    database: Database

    def similar_candidates(self, *, workspace: str, terms: Terms, resolved_since: datetime,
                           limit: int = CANDIDATES) -> list[SimilarCandidate]:
        if not _pairs(terms) or limit < 1:
            return []
        with self.database.read() as tx:
            if self.database.dialect.name == "sqlite":
                rows = _sqlite_candidates(tx, workspace, terms, resolved_since, limit)
            else:
                any_word = " | ".join(f"'{word}'" for group in _groups(terms) for word in group)
                rows = tx.tuples(
                    f"SELECT {_COLUMNS}, ts_rank(i.search_vector, to_tsquery('english'::regconfig,"
                    " ?)) AS rank FROM (SELECT * FROM (SELECT * FROM items WHERE workspace = ?"
                    " ORDER BY forwarded_at DESC LIMIT ?) i"
                    " WHERE search_vector @@ to_tsquery('english'::regconfig, ?)"
                    " AND ts_match_vq(search_vector, to_tsquery('english'::regconfig, ?))"
                    f" AND {_IN_WINDOW} ORDER BY forwarded_at DESC LIMIT ?) i"
                    " ORDER BY rank DESC, i.id DESC LIMIT ?",
                    (any_word, workspace, RECENT_ITEMS, any_word, tsquery_text(terms),
                     resolved_since, NEWEST_HITS, limit))
        return [
            SimilarCandidate(item_id=int(row[0]), team=row[1], status=row[2], text=row[3],
                             customer=row[4], forwarded_at=read_required_time(row[5],
                                                                              "forwarded_at"),
                             resolved_at=read_time(row[6]), first_response_by=row[7],
                             rank=float(row[8]))
            for row in rows
        ]
