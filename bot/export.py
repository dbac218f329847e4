"""Export every item with the documented fields, as JSON or CSV, streamed item by item."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from typing import Any, TextIO

from bot.models import Item, iso

EXPORT_FIELDS = (
    "workspace", "id", "team", "status", "text", "customer", "severity",
    "source_channel", "source_ts", "forwarded_by",
    "received_at", "forwarded_at",
    "first_response_at", "first_response_by", "first_response_kind",
    "resolved_at", "resolution_note", "reassignments", "platform",
    "customer_answered_at", "customer_answered_by", "customer_answered_how",
    "customer_heard_back_seconds", "linked_to", "linked_at",
)


def export_record(item: Item) -> dict[str, Any]:
    """Return one item as the export's flat record (times in ISO 8601 UTC, or None)."""
    return {
        "workspace": item.workspace,
        "id": item.id,
        "team": item.team,
        "status": item.status,
        "text": item.text,
        "customer": item.customer,
        "severity": item.severity,
        "source_channel": item.source_channel,
        "source_ts": item.source_ts,
        "forwarded_by": item.forwarded_by,
        "received_at": iso(item.received_at),
        "forwarded_at": iso(item.forwarded_at),
        "first_response_at": iso(item.first_response_at),
        "first_response_by": item.first_response_by,
        "first_response_kind": item.first_response_kind,
        "resolved_at": iso(item.resolved_at),
        "resolution_note": item.resolution_note,
        "reassignments": item.reassignments,
        # Where it was forwarded: the platform `forwarded_by` and `source_*` belong to.
        "platform": item.platform,
        # The whole loop: when the customer heard back, who said so and how (button or
        # thread), and the wall-clock seconds since the customer spoke; empty when unknown.
        "customer_answered_at": iso(item.customer_answered_at),
        "customer_answered_by": item.customer_answered_by,
        "customer_answered_how": item.customer_answered_how,
        "customer_heard_back_seconds": (
            None if item.customer_answered_at is None
            else int((item.customer_answered_at - item.received_at).total_seconds())),
        # A "+1": the item this one says the same as, whose answers it shares, and since when.
        "linked_to": item.linked_to,
        "linked_at": iso(item.linked_at),
    }


def export_json(items: Iterable[Item]) -> str:
    """Render items as a JSON array."""
    buffer = io.StringIO()
    write_json(items, buffer)
    return buffer.getvalue()


def write_json(items: Iterable[Item], out: TextIO) -> int:
    """Write items as a JSON array, one at a time, as json.dumps(indent=2) would; return how many.

    Memory stays that of one item, however many there are.
    """
    count = 0
    for item in items:
        text = json.dumps(export_record(item), ensure_ascii=False, indent=2)
        out.write(("[\n" if not count else ",\n") + "\n".join(
            "  " + line for line in text.split("\n")))
        count += 1
    out.write("\n]" if count else "[]")
    return count


# Spreadsheets run a cell that starts with one of these as a formula (OWASP: CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: Any) -> Any:
    """Prefix text a spreadsheet would run as a formula with a quote; leave the rest."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def export_csv(items: Iterable[Item]) -> str:
    """Render items as CSV with a header row; empty cells stand for null.

    Every text cell that a spreadsheet would run as a formula starts with a quote
    instead; the JSON export keeps the text exactly.
    """
    buffer = io.StringIO()
    write_csv(items, buffer)
    return buffer.getvalue()


def write_csv(items: Iterable[Item], out: TextIO) -> int:
    """Write items as export_csv does, row by row as they come; return how many."""
    # The default \r\n terminator (RFC 4180) makes csv quote a bare \r inside text too.
    writer = csv.DictWriter(out, fieldnames=EXPORT_FIELDS)
    writer.writeheader()
    count = 0
    for item in items:
        record = export_record(item)
        writer.writerow({field: spreadsheet_safe(value) for field, value in record.items()})
        count += 1
    return count
