"""The trend chart is a real PNG of a fixed size, whatever the data."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import zlib
from datetime import date, timedelta
from pathlib import Path

import pytest

from bot.chart import DPI, HEIGHT_INCHES, WIDTH_INCHES, trend_chart_png

REPO = Path(__file__).resolve().parent.parent
SIGNATURE = b"\x89PNG\r\n\x1a\n"
# A warning (an empty legend, a bad date range) means a chart drawn wrong: fail on it.
pytestmark = pytest.mark.filterwarnings("error")

SIZE = (int(WIDTH_INCHES * DPI), int(HEIGHT_INCHES * DPI))
DAYS = [date(2024, 4, 23) + timedelta(days=n) for n in range(14)]


def png_size(data: bytes) -> tuple[int, int]:
    """Check the signature and the IHDR chunk (with its CRC); return (width, height)."""
    assert data[:8] == SIGNATURE
    length, kind = struct.unpack(">I4s", data[8:16])
    assert (length, kind) == (13, b"IHDR")
    body = data[16 : 16 + length]
    (crc,) = struct.unpack(">I", data[16 + length : 20 + length])
    assert crc == zlib.crc32(kind + body)
    width, height = struct.unpack(">II", body[:8])
    assert data.endswith(b"IEND\xaeB`\x82")
    return width, height


def test_normal_data_is_a_png_of_the_fixed_size():
    trend = {
        "payments": [
            (day, timedelta(hours=n % 5 + 1) if n % 4 else None) for n, day in enumerate(DAYS)
        ],
        "mobile": [(day, timedelta(minutes=30 * n)) for n, day in enumerate(DAYS)],
    }
    data = trend_chart_png(trend, title="Median time to response, 14 days")
    assert png_size(data) == SIZE
    assert len(data) > 5000  # something was drawn


def test_all_none_data_still_renders():
    trend = {"payments": [(day, None) for day in DAYS], "mobile": [(day, None) for day in DAYS]}
    assert png_size(trend_chart_png(trend, title="Nothing yet")) == SIZE


def test_no_teams_at_all_still_renders():
    assert png_size(trend_chart_png({}, title="No teams")) == SIZE


def test_a_single_team_and_a_single_point():
    one = {"payments": [(DAYS[0], timedelta(hours=2))]}
    assert png_size(trend_chart_png(one, title="One point")) == SIZE
    single = {
        "triage": [(day, timedelta(hours=3) if n == 5 else None) for n, day in enumerate(DAYS)]
    }
    assert png_size(trend_chart_png(single, title="Median ($ and %)")) == SIZE


def test_forty_teams_fit():
    trend = {
        f"team{n:02d}": [(day, timedelta(hours=(n + k) % 9)) for k, day in enumerate(DAYS)]
        for n in range(40)
    }
    assert png_size(trend_chart_png(trend, title="Everyone")) == SIZE


def test_same_input_same_bytes_and_data_changes_the_picture():
    trend = {"payments": [(day, timedelta(hours=2)) for day in DAYS]}
    first = trend_chart_png(trend, title="t")
    assert trend_chart_png(trend, title="t") == first
    other = {"payments": [(day, timedelta(hours=9)) for day in DAYS]}
    assert trend_chart_png(other, title="t") != first


def test_headless_without_a_display_and_without_pyplot():
    # A hostile MPLBACKEND and no DISPLAY: the chart must not care, nor load pyplot.
    script = (
        "import sys\n"
        "from datetime import date, timedelta\n"
        "from bot.chart import trend_chart_png\n"
        "png = trend_chart_png({'a': [(date(2024, 5, 1), timedelta(hours=1))]}, title='x')\n"
        "assert png[:8] == b'\\x89PNG\\r\\n\\x1a\\n'\n"
        "print('matplotlib.pyplot' in sys.modules)\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["MPLBACKEND"] = "TkAgg"
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        check=True,
    )
    assert result.stdout.strip() == "False"
