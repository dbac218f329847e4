"""Conversions between core records and table rows, for every dialect."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from typing import Any

from bot.models import Event, Item, parse_iso
from bot.store import InboxRow, OutboxEntry

ITEM_COLUMNS = tuple(field.name for field in dataclasses.fields(Item))
_TIME_COLUMNS = {
    field.name
    for field in dataclasses.fields(Item)
    if "datetime" in str(field.type)
}
_LIST_COLUMNS = {"assignees"}


def read_time(value: str | datetime | None) -> datetime | None:
    """A stored time as an aware UTC datetime: SQLite gives `…Z` text, PostgreSQL a datetime."""
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return parse_iso(value)


def read_required_time(value: str | datetime | None, column: str) -> datetime:
    """Like read_time, for a NOT NULL column; raises ValueError when it is empty anyway."""
    moment = read_time(value)
    if moment is None:
        raise ValueError(f"stored row has no {column}")
    return moment


def item_columns(changes: dict[str, Any]) -> dict[str, Any]:
    """Item fields as column values: lists become JSON text; times stay datetimes.

    Raises ValueError naming any field that is not an item column.
    """
    unknown = set(changes) - set(ITEM_COLUMNS)
    if unknown:
        raise ValueError(f"unknown item columns: {sorted(unknown)}")
    return {
        column: json.dumps(value) if column in _LIST_COLUMNS else value
        for column, value in changes.items()
    }


def item_from_row(row: dict[str, Any]) -> Item:
    """Build an item from its row."""
    values = {column: row[column] for column in ITEM_COLUMNS if column in row}
    for column in _TIME_COLUMNS:
        values[column] = read_time(values.get(column))
    for column in _LIST_COLUMNS:
        values[column] = json.loads(values.get(column) or "[]")
    return Item(**values)


def event_from_row(row: dict[str, Any]) -> Event:
    """Build an event from its row."""
    return Event(
        item_id=row["item_id"],
        kind=row["kind"],
        actor=row["actor"],
        at=read_required_time(row["at"], "at"),
        data=json.loads(row["data"] or "{}"),
    )


def inbox_from_row(row: dict[str, Any]) -> InboxRow:
    """Build an inbox row from its table row."""
    return InboxRow(
        id=row["id"],
        workspace=row["workspace"],
        kind=row["kind"],
        dedupe_key=row["dedupe_key"],
        body=row["body"],
        headers=json.loads(row["headers"] or "{}"),
        received_at=read_required_time(row["received_at"], "received_at"),
        attempts=row["attempts"],
        platform=row.get("platform") or "slack",
    )


def outbox_from_row(row: dict[str, Any]) -> OutboxEntry:
    """Build an outbox entry from its row."""
    return OutboxEntry(
        id=row["id"],
        workspace=row["workspace"],
        item_id=row["item_id"],
        kind=row["kind"],
        payload=json.loads(row["payload"] or "{}"),
        status=row["status"],
        attempts=row["attempts"],
        next_attempt_at=read_required_time(row["next_attempt_at"], "next_attempt_at"),
        unknown_fate=bool(row["unknown_fate"]),
        last_error=row["last_error"],
        created_at=read_required_time(row["created_at"], "created_at"),
        result=json.loads(row["result"]) if row["result"] else None,
    )
