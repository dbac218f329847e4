"""Tests for bot.durations."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.durations import format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", timedelta(seconds=90)),
        ("30m", timedelta(minutes=30)),
        ("2h", timedelta(hours=2)),
        ("8h", timedelta(hours=8)),
        ("3d", timedelta(days=3)),
        ("1w", timedelta(weeks=1)),
        ("1d12h", timedelta(days=1, hours=12)),
        ("1h30m15s", timedelta(hours=1, minutes=30, seconds=15)),
        ("  45m ", timedelta(minutes=45)),
        ("0h30m", timedelta(minutes=30)),
    ],
)
def test_parse_valid(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty duration"),
        ("   ", "empty duration"),
        ("30", "use a number and a unit"),
        ("h", "use a number and a unit"),
        ("1.5h", "use a number and a unit"),
        ("1d12", "use a number and a unit"),
        ("-2h", "use a number and a unit"),
        ("1d 12h", "use a number and a unit"),
        ("3x", "unknown unit 'x'"),
        ("30M", "unknown unit 'M'"),
        ("30mins", "unknown unit 'mins'"),
        ("30m2h", "largest to smallest"),
        ("3m3m", "largest to smallest"),
        ("0m", "longer than zero"),
    ],
)
def test_parse_invalid_names_the_problem(text: str, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment) as info:
        parse_duration(text)
    assert repr(text) in str(info.value) or "empty" in str(info.value)


@pytest.mark.parametrize("value", [30, 1.5, None, True, ["2h"]])
def test_parse_rejects_non_strings(value: object) -> None:
    with pytest.raises(ValueError, match="expected a duration"):
        parse_duration(value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("delta", "expected"),
    [
        (timedelta(0), "0s"),
        (timedelta(seconds=90), "1m30s"),
        (timedelta(hours=2), "2h"),
        (timedelta(days=1, hours=12), "1d12h"),
        (timedelta(weeks=2), "14d"),
        (timedelta(minutes=-45), "-45m"),
    ],
)
def test_format(delta: timedelta, expected: str) -> None:
    assert format_duration(delta) == expected


@pytest.mark.parametrize("text", ["45s", "30m", "1d12h", "3d", "1h1m1s"])
def test_format_round_trips(text: str) -> None:
    assert format_duration(parse_duration(text)) == text
