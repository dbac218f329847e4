"""The digest as an Adaptive Card (1.5): the same figures as on Slack, chart as an image."""

from __future__ import annotations

import base64
from typing import Any

from bot.digest import (
    DigestData,
    assignee_phrase,
    date_label,
    headlines,
    human_duration,
    reassignment_line,
    snippet,
    time_split,
    window_label,
)
from bot.digest_themes import NO_THEMES, THEMES_ABOUT, THEMES_TITLE, theme_label
from bot.heard_back_words import HEARD_BACK_ABOUT, HEARD_BACK_TITLE, heard_back_lines
from bot.link_digest import MOST_ASKED_ABOUT, MOST_ASKED_TITLE
from bot.metrics import TeamFigures
from handlers.msteams.cards import CARD_BYTE_LIMIT, CARD_SCHEMA, CARD_VERSION, card_size
from handlers.msteams.text import escape_markdown

COLUMNS = ("team", "new", "median", "p90", "fwd lag", "dev resp", "breach", "waiting")
MAX_TABLE_ROWS = 60
MAX_THEME_LINES = 30  # 5 themes each for 6 teams; the card has a byte limit
CHART_ALT = "Median time to response per team, last 14 days"
FOOTNOTE = ("Time to response runs from the customer's message to the owning team's first"
            " response; SLA timers start when support forwards it.")


def _text(text: str, **extra: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": text, "wrap": True, **extra}


def _cell(text: str, *, bold: bool = False) -> dict[str, Any]:
    return {"type": "TableCell",
            "items": [_text(text, weight="Bolder" if bold else "Default", spacing="None")]}


def team_values(row: TeamFigures) -> tuple[str, ...]:
    """One table row: the same columns as the Slack digest's table."""
    ttr = row.time_to_response
    return (
        row.team, str(row.new), human_duration(ttr.median), human_duration(ttr.p90),
        human_duration(row.forwarding_lag.median), human_duration(row.developer_response.median),
        str(row.sla_breaches), str(row.waiting),
    )


def _table(data: DigestData) -> list[dict[str, Any]]:
    rows = data.figures.teams[:MAX_TABLE_ROWS]
    values = [team_values(row) for row in rows]
    if len(data.figures.teams) != 1:
        values.append(team_values(data.figures.overall))
    table_rows = [{"type": "TableRow", "cells": [_cell(name, bold=True) for name in COLUMNS]}]
    table_rows += [{"type": "TableRow",
                    "cells": [_cell(escape_markdown(value)) for value in row]} for row in values]
    blocks: list[dict[str, Any]] = [{
        "type": "Table", "firstRowAsHeader": True, "showGridLines": False,
        "columns": [{"width": 3}, *({"width": 2} for _ in COLUMNS[1:])], "rows": table_rows,
    }]
    hidden = len(data.figures.teams) - len(rows)
    if hidden > 0:
        blocks.append(_text(f"… and {hidden} more teams; `stats` shows any team",
                            isSubtle=True))
    return blocks


def _item_ref(data: DigestData, item_id: int) -> str:
    """The item's number ("#12"), linked to its card when the digest has an https link."""
    link = data.links.get(item_id)
    return f"[#{item_id}]({link})" if link and link.startswith("https://") else f"#{item_id}"


def _themes(data: DigestData) -> list[dict[str, Any]]:
    """Themes of the week, when this run has them."""
    if data.themes is None:
        return []
    lines = []
    for found in data.themes:
        for theme in found.themes:
            examples = ", ".join(_item_ref(data, item_id) for item_id in theme.examples)
            lines.append(f"- **{escape_markdown(found.team)}**:"
                         f" {escape_markdown(theme_label(theme))}"
                         + (f" · {examples}" if examples else ""))
    if len(lines) > MAX_THEME_LINES:
        hidden = len(lines) - MAX_THEME_LINES + 1
        lines = [*lines[:MAX_THEME_LINES - 1], f"_…and {hidden} more themes._"]
    title = f"**{THEMES_TITLE}** ({THEMES_ABOUT})"
    return [_text("\n".join([title, *(lines or [NO_THEMES])]))]


def _most_asked(data: DigestData) -> list[dict[str, Any]]:
    """The items most customers +1'd in the period; nothing when none was."""
    if not data.most_asked:
        return []
    lines = [f"**{MOST_ASKED_TITLE}** ({MOST_ASKED_ABOUT})"]
    lines += [f"- **{_item_ref(data, asked.item.id)}** · **{escape_markdown(asked.item.team)}**"
              f" · {escape_markdown(asked.label())}: {escape_markdown(snippet(asked.item.text))}"
              for asked in data.most_asked]
    return [_text("\n".join(lines))]


def _waiting(data: DigestData) -> list[dict[str, Any]]:
    total = len(data.figures.waiting)
    if not total:
        return [_text("**Still waiting:** nothing. 🎉")]
    lines = [f"**Still waiting: {total}** ({data.overdue} overdue), the longest first"]
    for waiting in data.longest_waiting:
        item = waiting.item
        ref = _item_ref(data, item.id)
        overdue = " 🔴 overdue" if waiting.overdue else ""
        lines.append(f"- **{ref}** · **{escape_markdown(item.team)}** · waited"
                     f" {human_duration(waiting.age)}{overdue} · {assignee_phrase(item)}:"
                     f" {escape_markdown(snippet(item.text))}")
    if total > len(data.longest_waiting):
        lines.append(f"_…and {total - len(data.longest_waiting)} more._")
    return [_text("\n".join(lines))]


def _chart(png: bytes | None, url: str | None, card: dict[str, Any],
           byte_limit: int) -> dict[str, Any] | None:
    if png is not None:
        inline = {"type": "Image", "altText": CHART_ALT, "size": "Stretch",
                  "url": "data:image/png;base64," + base64.b64encode(png).decode("ascii")}
        if card_size({**card, "body": [*card["body"], inline]}) <= byte_limit:
            return inline
    if url and url.startswith("https://"):
        return {"type": "Image", "altText": CHART_ALT, "size": "Stretch", "url": url}
    return None


def _heard_back(data: DigestData) -> list[dict[str, Any]]:
    """Time until the customer heard back per team, beside its time to response."""
    if data.heard_back is None:
        return []
    return [_text(f"**{HEARD_BACK_TITLE}**"),
            *(_text(f"- **{escape_markdown(team)}**: {escape_markdown(words)}", spacing="None")
              for team, words in heard_back_lines(data.figures, data.heard_back)),
            _text(escape_markdown(HEARD_BACK_ABOUT), isSubtle=True, size="Small")]


def digest_card(
    data: DigestData,
    *,
    chart_png: bytes | None = None,
    chart_url: str | None = None,
    byte_limit: int = CARD_BYTE_LIMIT,
) -> dict[str, Any]:
    """The digest card; the chart inline when the card stays within `byte_limit`, else `chart_url`.

    Without a chart that fits and no https `chart_url`, the card says the chart is left out.
    """
    about = f"{window_label(data)} ({escape_markdown(data.timezone)})"
    if data.late:
        about = "**⌛ posted late** · " + about
    facts = [
        {"title": h.label,
         "value": h.value + (f"  {h.arrow} prev. 7 days: {h.previous}" if h.previous else "")}
        for h in headlines(data)
    ]
    overall = data.figures.overall
    body: list[dict[str, Any]] = [
        _text(f"Feedback digest · {date_label(data.local_date)}", size="Large",
              weight="Bolder"),
        _text(about, isSubtle=True, spacing="None"),
        {"type": "FactSet", "facts": facts},
        _text(f"**Where the time goes:** {time_split(overall)}"),
        *_table(data),
        *_heard_back(data),
        *_themes(data),
        *_most_asked(data),
        *_waiting(data),
        _text(f"**Reassignments:** {reassignment_line(overall)}"),
    ]
    body += [_text("- " + escape_markdown(s.sentence())) for s in data.suggestions]
    card: dict[str, Any] = {"type": "AdaptiveCard", "$schema": CARD_SCHEMA,
                            "version": CARD_VERSION, "body": body,
                            "msteams": {"width": "Full"}}
    body.append(_text(FOOTNOTE, isSubtle=True, size="Small"))
    image = _chart(chart_png, chart_url, card, byte_limit)
    body.insert(-1, image if image else _text("(The 14-day chart did not fit in this card.)",
                                              isSubtle=True))
    return card
