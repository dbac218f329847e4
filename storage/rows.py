"""Conversions between core records and table rows, shared by every SQL backend."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from typing import Any

from bot.models import Event, Item, iso, parse_iso

ITEM_COLUMNS = tuple(field.name for field in dataclasses.fields(Item))
_TIME_COLUMNS = {
    field.name
    for field in dataclasses.fields(Item)
    if "datetime" in str(field.type)
}
_LIST_COLUMNS = {"assignees"}


def item_to_row(item: Item) -> dict[str, Any]:
    """Flatten an item into column values (times as ISO 8601 UTC text)."""
    row = dataclasses.asdict(item)
    for column in _TIME_COLUMNS:
        row[column] = iso(row[column])
    for column in _LIST_COLUMNS:
        row[column] = json.dumps(row[column])
    return row


def item_from_row(row: dict[str, Any]) -> Item:
    """Build an item from its row."""
    values = {column: row[column] for column in ITEM_COLUMNS if column in row}
    for column in _TIME_COLUMNS:
        values[column] = parse_iso(values.get(column))
    for column in _LIST_COLUMNS:
        values[column] = json.loads(values.get(column) or "[]")
    return Item(**values)


def event_from_row(row: dict[str, Any]) -> Event:
    """Build an event from its row."""
    at = parse_iso(row["at"])
    assert isinstance(at, datetime)
    return Event(
        item_id=row["item_id"],
        kind=row["kind"],
        actor=row["actor"],
        at=at,
        data=json.loads(row["data"] or "{}"),
    )
