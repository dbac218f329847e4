"""Tests for bot.export: every documented field, in order, as JSON and CSV."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from bot.export import export_csv, export_json, export_record, write_csv, write_json
from bot.models import Item
from tests.fakes import make_item

# Copied from DESIGN.md "Export fields" (and issue 9's `platform`) on purpose: the test
# must not trust the code's list.
DESIGN_FIELDS = [
    "workspace",
    "id",
    "team",
    "status",
    "text",
    "customer",
    "severity",
    "source_channel",
    "source_ts",
    "forwarded_by",
    "received_at",
    "forwarded_at",
    "first_response_at",
    "first_response_by",
    "first_response_kind",
    "resolved_at",
    "resolution_note",
    "reassignments",
    "platform",
    # Issue 12's closed loop: when the customer heard back, by whom, how, and how long after.
    "customer_answered_at",
    "customer_answered_by",
    "customer_answered_how",
    "customer_heard_back_seconds",
    # Issue 12's "+1": the item this one was linked to, and when.
    "linked_to",
    "linked_at",
]
TIME_FIELDS = ["received_at", "forwarded_at", "first_response_at", "resolved_at",
               "customer_answered_at", "linked_at"]
NASTY_TEXT = "He said \"refund, now!\"\nSecond line, with a comma\r\nThird; 'quotes' é 👩\u200d💻"


@pytest.fixture
def resolved_item() -> Item:
    """An item with every exported field filled in, times given in a non-UTC zone."""
    berlin = timezone(timedelta(hours=2))
    return make_item(
        id=42,
        status="resolved",
        text=NASTY_TEXT,
        source_ts="1714980000.000100",
        received_at=datetime(2024, 5, 6, 10, 40, 0, tzinfo=berlin),
        forwarded_at=datetime(2024, 5, 6, 9, 0, 0, 250000, tzinfo=UTC),
        first_response_at=datetime(2024, 5, 6, 9, 30, tzinfo=UTC),
        first_response_by="U0ALICE",
        first_response_kind="reply",
        resolved_at=datetime(2024, 5, 7, 12, 0, tzinfo=berlin),
        resolution_note='Refunded, "twice"\nsorry',
        reassignments=2,
        customer_answered_at=datetime(2024, 5, 6, 10, 0, tzinfo=UTC),
        customer_answered_by="U0SUPPORT",
        customer_answered_how="thread",
        linked_to=7,
        linked_at=datetime(2024, 5, 6, 9, 5, tzinfo=UTC),
    )


@pytest.fixture
def waiting_item() -> Item:
    """An item nobody has answered yet: its response fields are null."""
    return make_item(id=43, status="routed", customer=None, source_channel=None, source_ts=None)


def parse_utc(text: str) -> datetime:
    """Parse an exported time, insisting that it is ISO 8601 in UTC."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    assert moment.utcoffset() == timedelta(0), text
    return moment


# --- JSON --------------------------------------------------------------------------------


def test_json_has_every_documented_field_in_order(resolved_item: Item, waiting_item: Item) -> None:
    records = json.loads(export_json([resolved_item, waiting_item]))
    assert [list(record) for record in records] == [DESIGN_FIELDS, DESIGN_FIELDS]


def test_json_values_match_the_item(resolved_item: Item) -> None:
    (record,) = json.loads(export_json([resolved_item]))
    for name in DESIGN_FIELDS:
        if name not in TIME_FIELDS and name != "customer_heard_back_seconds":
            assert record[name] == getattr(resolved_item, name), name
    assert record["id"] == 42 and record["reassignments"] == 2
    assert record["text"] == NASTY_TEXT


def test_json_times_are_iso_utc(resolved_item: Item) -> None:
    (record,) = json.loads(export_json([resolved_item]))
    for name in TIME_FIELDS:
        assert parse_utc(record[name]) == getattr(resolved_item, name), name
    # Given at 10:40 +02:00, the customer's time is written as 08:40 UTC.
    assert record["received_at"].startswith("2024-05-06T08:40:00")
    assert record["resolved_at"].startswith("2024-05-07T10:00:00")


def test_json_missing_values_are_null(waiting_item: Item) -> None:
    (record,) = json.loads(export_json([waiting_item]))
    for name in [
        "first_response_at",
        "first_response_by",
        "first_response_kind",
        "resolved_at",
        "resolution_note",
        "customer",
        "source_channel",
        "source_ts",
    ]:
        assert record[name] is None, name
    assert record["reassignments"] == 0


def test_json_of_no_items_is_an_empty_list() -> None:
    assert json.loads(export_json([])) == []


# --- CSV ---------------------------------------------------------------------------------


def read_csv(text: str) -> list[dict[str, str]]:
    """Read an export the way the csv docs say to: with newline translation off."""
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_csv_header_is_every_documented_field_in_order(resolved_item: Item) -> None:
    text = export_csv([resolved_item])
    header = next(csv.reader(io.StringIO(text, newline="")))
    assert header == DESIGN_FIELDS


def test_csv_header_alone_for_no_items() -> None:
    rows = list(csv.reader(io.StringIO(export_csv([]), newline="")))
    assert rows == [DESIGN_FIELDS]


def test_csv_round_trips_text_with_newlines_commas_and_quotes(
    resolved_item: Item, waiting_item: Item
) -> None:
    rows = read_csv(export_csv([resolved_item, waiting_item]))
    assert len(rows) == 2
    assert rows[0]["text"] == NASTY_TEXT
    assert rows[0]["resolution_note"] == 'Refunded, "twice"\nsorry'
    assert (rows[0]["id"], rows[0]["reassignments"], rows[1]["id"]) == ("42", "2", "43")


def test_csv_uses_the_same_values_as_json(resolved_item: Item, waiting_item: Item) -> None:
    rows = read_csv(export_csv([resolved_item, waiting_item]))
    records = json.loads(export_json([resolved_item, waiting_item]))
    for row, record in zip(rows, records, strict=True):
        expected = {k: "" if v is None else str(v) for k, v in record.items()}
        assert row == expected


def test_csv_times_are_iso_utc_and_null_is_an_empty_cell(
    resolved_item: Item, waiting_item: Item
) -> None:
    done, waiting = read_csv(export_csv([resolved_item, waiting_item]))
    for name in TIME_FIELDS:
        assert parse_utc(done[name]) == getattr(resolved_item, name), name
    assert waiting["first_response_at"] == ""
    assert waiting["resolved_at"] == ""
    assert waiting["first_response_by"] == ""
    assert parse_utc(waiting["forwarded_at"]) == waiting_item.forwarded_at


def test_csv_round_trips_a_bare_carriage_return() -> None:
    item = make_item(id=1, text="old Mac line\rnext line")
    rows = read_csv(export_csv([item]))
    assert [row["text"] for row in rows] == ["old Mac line\rnext line"]


@pytest.mark.parametrize("hostile", [
    '=HYPERLINK("https://evil.example","x")',
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
])
def test_csv_neutralises_formulas_in_every_text_column(hostile: str) -> None:
    item = make_item(id=7, text=hostile, customer=hostile, resolution_note=hostile,
                     forwarded_by=hostile, first_response_by=hostile)
    row = next(csv.DictReader(io.StringIO(export_csv([item]))))
    for field in ("text", "customer", "resolution_note", "forwarded_by", "first_response_by"):
        assert row[field] == "'" + hostile, field
    # JSON is data, not a spreadsheet: it keeps the words exactly.
    record = json.loads(export_json([item]))[0]
    assert record["text"] == hostile and record["customer"] == hostile



def test_each_item_says_which_platform_it_was_forwarded_on() -> None:
    items = [make_item(id=1), make_item(id=2, platform="msteams",
                                        forwarded_by="carol@example.com")]
    records = json.loads(export_json(items))
    assert [(r["platform"], r["forwarded_by"]) for r in records] == [
        ("slack", items[0].forwarded_by), ("msteams", "carol@example.com")]
    rows = list(csv.DictReader(io.StringIO(export_csv(items))))
    assert [row["platform"] for row in rows] == ["slack", "msteams"]


@pytest.mark.parametrize("count", [0, 1, 3])
def test_json_written_item_by_item_is_exactly_the_whole_array(count: int) -> None:
    items = [make_item(id=number, text=NASTY_TEXT) for number in range(count)]
    whole = json.dumps([export_record(item) for item in items], ensure_ascii=False, indent=2)
    assert export_json(items) == whole


@pytest.mark.parametrize("write", [write_csv, write_json])
def test_export_writes_each_item_as_it_comes(write: Any) -> None:
    pulled: list[int] = []

    def items() -> Iterator[Item]:
        for number in range(3):
            pulled.append(number)
            yield make_item(id=number)

    pulled_at_write: list[int] = []

    class Out(io.StringIO):
        def write(self, text: str) -> int:
            pulled_at_write.append(len(pulled))
            return super().write(text)

    assert write(items(), Out()) == 3
    # Nothing was read ahead: the first item is written before the second is read.
    assert 1 in pulled_at_write and pulled_at_write.index(1) < pulled_at_write.index(2)


def test_the_whole_loop_is_exported_and_empty_when_unknown(resolved_item: Item,
                                                           waiting_item: Item) -> None:
    told, unknown = json.loads(export_json([resolved_item, waiting_item]))
    # Said 08:40 UTC, heard back 10:00 UTC: 80 minutes, on the wall clock.
    assert told["customer_heard_back_seconds"] == 80 * 60
    assert (told["customer_answered_by"], told["customer_answered_how"]) == ("U0SUPPORT",
                                                                              "thread")
    assert [unknown[name] for name in DESIGN_FIELDS[-4:]] == [None, None, None, None]
    done, waiting = read_csv(export_csv([resolved_item, waiting_item]))
    assert done["customer_heard_back_seconds"] == "4800"
    assert waiting["customer_heard_back_seconds"] == "" and waiting["customer_answered_at"] == ""
