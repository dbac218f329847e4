"""The Teams digest card shows the Slack digest's figures; the chart inline only if it fits."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from bot.chart import trend_chart_png
from handlers.msteams.cards import CARD_BYTE_LIMIT, card_size
from handlers.msteams.digest_card import digest_card
from tests.test_digest import build
from tests.test_digest_blocks import huge_digest

CHART_URL = "https://feedback.example.com/charts/3f9a0c6b1d2e"


def _texts(element: object) -> list[str]:
    found: list[str] = []
    if isinstance(element, dict):
        if element.get("type") == "TextBlock":
            found.append(element["text"])
        found += [f"{f['title']}: {f['value']}" for f in element.get("facts", [])]
        for value in element.values():
            if isinstance(value, (dict, list)):
                found += _texts(value)
    elif isinstance(element, list):
        for value in element:
            found += _texts(value)
    return found


def _images(card: dict) -> list[dict]:
    return [e for e in card["body"] if e["type"] == "Image"]


def test_the_digest_card_shows_the_same_figures_as_the_slack_digest():
    card = digest_card(build())
    assert card["version"] == "1.5"
    shown = "\n".join(_texts(card))
    assert "Feedback digest · Mon 6 May 2024" in shown
    assert "Fri 3 May 09:00 → Mon 6 May 09:00 (Europe/Berlin)" in shown
    assert "New: 9 (3.0/day)  ↑ prev. 7 days: 0.6/day" in shown
    assert "Median time to response: 2h 15m  ↓ prev. 7 days: 5h" in shown
    assert "forwarding lag (support) median 20m" in shown
    assert "developer response median 1h 30m" in shown
    assert "2 of 9 new items reassigned (22%)" in shown
    assert "2 items with 'renewal' moved mobile → payments: add 'renewal' to payments?" in shown
    table = next(e for e in card["body"] if e["type"] == "Table")
    rows = [[cell["items"][0]["text"] for cell in row["cells"]] for row in table["rows"]]
    assert rows[0] == ["team", "new", "median", "p90", "fwd lag", "dev resp", "breach",
                       "waiting"]
    assert {row[0] for row in rows[1:]} >= {"payments", "mobile", "all"}


def test_a_small_chart_goes_inline_as_a_data_uri():
    icons = Path(__file__).parent.parent / "handlers" / "msteams" / "icons"
    png = (icons / "color.png").read_bytes()
    card = digest_card(build(), chart_png=png, chart_url=CHART_URL)
    (image,) = _images(card)
    assert base64.b64decode(image["url"].removeprefix("data:image/png;base64,")) == png
    assert card_size(card) <= CARD_BYTE_LIMIT


def test_todays_full_size_chart_is_too_big_to_inline_and_is_linked():
    data = build()
    png = trend_chart_png(data.trend, title="Median time to response")
    card = digest_card(data, chart_png=png, chart_url=CHART_URL)
    (image,) = _images(card)
    assert image["url"] == CHART_URL
    assert card_size(card) <= CARD_BYTE_LIMIT


def test_a_chart_that_would_overflow_the_card_is_linked_instead():
    card = digest_card(build(), chart_png=b"\x89PNG" + bytes(30_000), chart_url=CHART_URL)
    (image,) = _images(card)
    assert image["url"] == CHART_URL
    assert card_size(card) <= CARD_BYTE_LIMIT


def test_without_room_or_url_the_card_says_the_chart_is_left_out():
    card = digest_card(build(), chart_png=bytes(30_000), chart_url="http://plain.example/c")
    assert _images(card) == []
    assert "(The 14-day chart did not fit in this card.)" in _texts(card)


def test_hostile_digest_text_is_escaped_and_long_tables_are_capped():
    card = digest_card(huge_digest(80, text_length=500))
    dumped = json.dumps(card, ensure_ascii=False)
    assert "<!channel>" not in dumped and "\\\\<\\\\!channel\\\\>" in dumped
    table = next(e for e in card["body"] if e["type"] == "Table")
    assert len(table["rows"]) == 1 + 60 + 1  # header, 60 teams, the total
    assert "… and 20 more teams; `stats` shows any team" in _texts(card)
