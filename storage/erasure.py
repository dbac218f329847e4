"""Erasing a person's words everywhere they are stored, keeping the figures' timings.

bot/erasure.py decides what counts as the person's and what stays; this module finds
the rows (items, events, outbox, inbox, drafts, followers, conversations) and changes
them, in one transaction per call.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from bot.erasure import (
    ANONYMISE_BATCH,
    ERASED,
    STAFF_KEYS,
    STRUCTURE_KEYS,
    ErasureReport,
    Matcher,
    Person,
    decode_body,
    erased_item_changes,
    scrub,
    user_item_changes,
)
from bot.store_installs import INSTALLATION
from storage.dialect import Database, Row, SqliteDatabase, Transaction
from storage.items import assignments
from storage.rows import item_columns

EMPTY_BODY = "{}"
_NOT_ANONYMISED = "NOT (text = ? AND forwarded_by = ?)"


class _Changes:
    """Counts the rows an erasure changes, and changes them unless it is a dry run."""

    def __init__(self, tx: Transaction, *, dry_run: bool) -> None:
        self.tx = tx
        self.dry_run = dry_run
        self.report = ErasureReport()

    def run(self, table: str, sql: str, params: tuple[Any, ...], *, rows: int = 1) -> None:
        self.report.rows[table] += rows
        if not self.dry_run:
            self.tx.execute(sql, params)

    def delete(self, table: str, condition: str, params: tuple[Any, ...]) -> None:
        found = self.tx.one(f"SELECT COUNT(*) AS n FROM {table} WHERE {condition}", params)
        count = int(found["n"]) if found else 0
        if count:
            self.run(table, f"DELETE FROM {table} WHERE {condition}", params, rows=count)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _loads(text: str | None) -> Any:
    try:
        return json.loads(text) if text else {}
    except ValueError:
        return ERASED


class ErasureQueries:
    """The erasure part of the Store."""

    database: Database

    def forget_person(self, *, person: Person, now: datetime,
                      dry_run: bool = False) -> ErasureReport:
        with _zeroing_freed_space(self.database, checkpoint="TRUNCATE"):
            return self._forget(person, dry_run=dry_run)

    def _forget(self, person: Person, *, dry_run: bool) -> ErasureReport:
        with self.database.write() as tx:
            changes = _Changes(tx, dry_run=dry_run)
            matcher = Matcher(names=[person.customer] if person.customer else [],
                              user_ids=[person.user] if person.user else [])
            whole = _items_of(tx, person)
            touched = _items_touched_by(tx, person.user) if person.user else []
            for row in whole:
                _learn_item(tx, matcher, row)
            if person.user:
                for event in tx.all("SELECT data FROM events WHERE actor = ?", (person.user,)):
                    matcher.add_words(*_texts_of(_loads(event["data"])))
            keep = STRUCTURE_KEYS | STAFF_KEYS
            # What an erased item keeps is structure and staff ids: only a user's id there
            # is theirs.
            ids = Matcher(user_ids=[person.user]) if person.user else None
            for row in whole:
                _erase_item(changes, row, keep=keep, matcher=ids, staff_too=False)
            whole_ids = {int(row["id"]) for row in whole}
            if person.user:
                _forget_user(changes, person.user, matcher,
                             [row for row in touched if int(row["id"]) not in whole_ids])
            _erase_requests(changes, matcher)
            _erase_drafts(changes, matcher)
            changes.report.items = [(str(row["workspace"]), int(row["id"])) for row in whole]
            if whole and not dry_run:
                _purge_search_index(tx, self.database)
            return changes.report

    def anonymise_items(self, *, forwarded_before: datetime, now: datetime,
                        limit: int = ANONYMISE_BATCH) -> ErasureReport:
        # A passive checkpoint: a running bot must not wait here for readers to finish.
        with _zeroing_freed_space(self.database, checkpoint="PASSIVE"), \
                self.database.write() as tx:
            changes = _Changes(tx, dry_run=False)
            rows = tx.all(f"SELECT * FROM items WHERE forwarded_at < ? AND {_NOT_ANONYMISED}"
                          " ORDER BY id LIMIT ?", (forwarded_before, ERASED, ERASED, limit))
            for row in rows:
                _erase_item(changes, row, keep=STRUCTURE_KEYS, matcher=None, staff_too=True)
            if len(rows) < limit:
                # Stored requests and drafts that old hold words and nothing else.
                _erase_old_requests(changes, forwarded_before)
                changes.delete("drafts", "created_at < ?", (forwarded_before,))
            changes.report.items = [(str(row["workspace"]), int(row["id"])) for row in rows]
            if rows:
                _purge_search_index(tx, self.database)
            return changes.report



def _purge_search_index(tx: Transaction, database: Database) -> None:
    """Rewrite SQLite's full-text index, so that erased words leave it too.

    Its triggers take an erased text out of the index, but FTS5 keeps the old entries in
    its segments until they are merged; `optimize` merges them all now (about 1.4 s at
    a million items). PostgreSQL's search column is recomputed with the text itself.
    """
    if isinstance(database, SqliteDatabase):
        tx.execute("INSERT INTO items_fts (items_fts) VALUES ('optimize')")


@contextmanager
def _zeroing_freed_space(database: Database, *, checkpoint: str) -> Iterator[None]:
    """On SQLite, overwrite what the erasure frees with zeros (else old words stay
    readable in the file's free pages) and copy the log into the file after it."""
    if not isinstance(database, SqliteDatabase) or database.path == ":memory:":
        yield
        return
    with database.read() as tx:
        row = tx.one("PRAGMA secure_delete")
        before = int(next(iter(row.values()))) if row else 0
        tx.execute("PRAGMA secure_delete = ON")
    try:
        yield
    finally:
        with database.read() as tx:
            tx.execute(f"PRAGMA secure_delete = {before}")
            tx.all(f"PRAGMA wal_checkpoint({checkpoint})")


def _items_of(tx: Transaction, person: Person) -> list[Row]:
    """Items whose words are the person's: their customer's, or whose source they wrote."""
    if person.user is not None:
        return tx.all("SELECT * FROM items WHERE source_author = ? AND text <> ? ORDER BY id",
                      (person.user, ERASED))
    named = tx.all("SELECT id, customer FROM items WHERE customer IS NOT NULL AND customer <> ?",
                   (ERASED,))
    ids = [int(row["id"]) for row in named if person.is_customer(row["customer"])]
    return _rows_by_id(tx, "items", ids)


def _rows_by_id(tx: Transaction, table: str, ids: list[int]) -> list[Row]:
    found: list[Row] = []
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        marks = ", ".join("?" for _ in chunk)
        found += tx.all(f"SELECT * FROM {table} WHERE id IN ({marks}) ORDER BY id", chunk)
    return found


def _items_touched_by(tx: Transaction, user: str) -> list[Row]:
    """Items `user` forwarded, answered, resolved, told the customer of, or was assigned to."""
    return tx.all(
        "SELECT * FROM items WHERE forwarded_by = ? OR first_response_by = ?"
        " OR resolved_by = ? OR customer_answered_by = ? OR linked_by = ?"
        " OR assignees LIKE ? ORDER BY id",
        (user, user, user, user, user, f'%"{user}"%'))


def _texts_of(data: Any) -> list[str]:
    """The words an event's data holds (a reply's text, a note, a reason)."""
    if not isinstance(data, dict):
        return []
    return [str(data[key]) for key in ("text", "note", "reason") if data.get(key)]


def _written_by(value: Any, user: str) -> list[str]:
    """The texts of the parts of `value` (decoded JSON) that say `user` wrote them."""
    if isinstance(value, list):
        return [text for inner in value for text in _written_by(inner, user)]
    if not isinstance(value, dict):
        return []
    found = _texts_of(value) if value.get("by") == user else []
    return found + [text for inner in value.values() for text in _written_by(inner, user)]


def _learn_item(tx: Transaction, matcher: Matcher, row: Row) -> None:
    """Teach `matcher` an item's words and the ids of its messages (to find its requests)."""
    matcher.add_words(row["text"], row["note"], row["resolution_note"])
    intake_key = str(row["intake_key"] or "")
    matcher.add_links(row["source_ts"], row["card_ts"], intake_key.partition(":")[2])
    for event in tx.all("SELECT data FROM events WHERE workspace = ? AND item_id = ?",
                        (row["workspace"], row["id"])):
        data = _loads(event["data"])
        matcher.add_words(*_texts_of(data))
        if isinstance(data, dict):
            matcher.add_links(data.get("ts") if data.get("text") else None,
                              data.get("old_card_ts"))


def _erase_item(changes: _Changes, row: Row, *, keep: frozenset[str],
                matcher: Matcher | None, staff_too: bool) -> None:
    """Erase one item's words, its events' and its outbox entries' (timings stay)."""
    workspace, item_id = row["workspace"], row["id"]
    values = item_columns(erased_item_changes(row, staff_too=staff_too))
    changes.run("items", f"UPDATE items SET {assignments(values)} WHERE id = ?",
                (*values.values(), item_id))
    tx = changes.tx
    for event in tx.all("SELECT id, actor, data FROM events WHERE workspace = ? AND item_id = ?",
                        (workspace, item_id)):
        data = scrub(scrub(_loads(event["data"]), keep=keep), matcher=matcher) \
            if matcher else scrub(_loads(event["data"]), keep=keep)
        actor = ERASED if staff_too and event["actor"] else event["actor"]
        if matcher is not None and actor and matcher.says(str(actor)):
            actor = ERASED
        changes.run("events", "UPDATE events SET data = ?, actor = ? WHERE id = ?",
                    (_dumps(data), actor, event["id"]))
    if staff_too:
        # Sent, cancelled and failed entries are kept only to find messages again.
        changes.delete("outbox", "workspace = ? AND item_id = ? AND status <> 'pending'",
                       (workspace, item_id))
        changes.delete("followers", "workspace = ? AND item_id = ?", (workspace, item_id))
    for entry in tx.all("SELECT id, payload, result FROM outbox WHERE workspace = ?"
                        " AND item_id = ?", (workspace, item_id)):
        payload = scrub(_loads(entry["payload"]), keep=keep | STAFF_KEYS)
        result = scrub(_loads(entry["result"]), keep=keep) if entry["result"] else None
        if matcher is not None:
            payload, result = scrub(payload, matcher=matcher), scrub(result, matcher=matcher)
        changes.run("outbox", "UPDATE outbox SET payload = ?, result = ?, last_error = NULL"
                    " WHERE id = ?",
                    (_dumps(payload), None if result is None else _dumps(result), entry["id"]))


def _forget_user(changes: _Changes, user: str, matcher: Matcher, touched: list[Row]) -> None:
    """Take `user`'s id and words out of items others wrote, their events and messages."""
    tx = changes.tx
    # Their relayed replies are kept only in the notices that relay them ("by" them).
    for entry in tx.all("SELECT payload FROM outbox WHERE payload LIKE ?", (f"%{user}%",)):
        matcher.add_words(*_written_by(_loads(entry["payload"]), user))
    for row in touched:
        values = item_columns(user_item_changes(row, user))
        if values:
            changes.report.named_in.append((str(row["workspace"]), int(row["id"])))
            changes.run("items", f"UPDATE items SET {assignments(values)} WHERE id = ?",
                        (*values.values(), row["id"]))
    for event in tx.all("SELECT id, actor, data FROM events WHERE actor = ? OR data LIKE ?",
                        (user, f"%{user}%")):
        data = _loads(event["data"])
        mine = event["actor"] == user
        new = scrub(data, keep=STRUCTURE_KEYS) if mine else scrub(data, matcher=matcher)
        if mine or new != data:
            changes.run("events", "UPDATE events SET data = ?, actor = ? WHERE id = ?",
                        (_dumps(new), ERASED if mine else event["actor"], event["id"]))
    columns = "SELECT id, status, payload, result FROM outbox"
    entries = {int(row["id"]): row for row in tx.all(
        f"{columns} WHERE payload LIKE ? OR result LIKE ?", (f"%{user}%", f"%{user}%"))}
    for row in touched:  # their words may be in their items' messages without their id
        entries.update((int(entry["id"]), entry) for entry in tx.all(
            f"{columns} WHERE workspace = ? AND item_id = ?", (row["workspace"], row["id"])))
    for _, entry in sorted(entries.items()):
        payload, result = _loads(entry["payload"]), _loads(entry["result"])
        new_payload, new_result = scrub(payload, matcher=matcher), scrub(result, matcher=matcher)
        if (new_payload, new_result) == (payload, result):
            continue
        addressed = isinstance(payload, dict) and user in (payload.get("user"),
                                                          payload.get("channel"))
        status = "cancelled" if addressed and entry["status"] == "pending" else entry["status"]
        changes.run("outbox", "UPDATE outbox SET payload = ?, result = ?, status = ?"
                    " WHERE id = ?",
                    (_dumps(new_payload), None if entry["result"] is None else _dumps(new_result),
                     status, entry["id"]))
    changes.delete("followers", '"user" = ?', (user,))
    changes.delete("conversations", '"user" = ?', (user,))
    # Who installed the app, with their own token: the workspace's bot (its own row) stays,
    # so the workspace is still served.
    changes.delete("slack_installations", "kind = ? AND user_id = ?", (INSTALLATION, user))


def _erase_requests(changes: _Changes, matcher: Matcher) -> None:
    """Erase stored requests that hold the person's words or refer to an erased item.

    One that was still to be finished is marked done: finishing it would store the
    words again.
    """
    for row in changes.tx.all("SELECT id, body FROM inbox WHERE body <> ?", (EMPTY_BODY,)):
        if matcher.refers(decode_body(str(row["body"]))):
            changes.run("inbox", "UPDATE inbox SET body = ?, headers = ?, processed = TRUE,"
                        " error = COALESCE(error, 'erased') WHERE id = ?",
                        (EMPTY_BODY, EMPTY_BODY, row["id"]))


def _erase_old_requests(changes: _Changes, before: datetime) -> None:
    found = changes.tx.one("SELECT COUNT(*) AS n FROM inbox WHERE received_at < ?"
                           " AND body <> ?", (before, EMPTY_BODY))
    count = int(found["n"]) if found else 0
    if count:
        changes.run("inbox", "UPDATE inbox SET body = ?, headers = ?, processed = TRUE,"
                    " error = COALESCE(error, 'erased') WHERE received_at < ? AND body <> ?",
                    (EMPTY_BODY, EMPTY_BODY, before, EMPTY_BODY), rows=count)


def _erase_drafts(changes: _Changes, matcher: Matcher) -> None:
    """Erase the modal drafts that hold the person's name, id or words."""
    for row in changes.tx.all("SELECT id, data FROM drafts WHERE data <> ?", (EMPTY_BODY,)):
        if matcher.refers(_loads(row["data"])):
            changes.run("drafts", "UPDATE drafts SET data = ? WHERE id = ?",
                        (EMPTY_BODY, row["id"]))
