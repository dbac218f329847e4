"""Render a digest as Block Kit, within Slack's limits, escaping every piece of text."""

from __future__ import annotations

from typing import Any

from bot.digest import (
    DigestData,
    assignee_phrase,
    date_label,
    headlines,
    human_duration,
    reassignment_line,
    time_split,
    window_label,
)
from bot.digest_themes import NO_THEMES, THEMES_ABOUT, THEMES_TITLE, theme_label
from bot.heard_back_words import HEARD_BACK_ABOUT, HEARD_BACK_TITLE, heard_back_lines
from bot.link_digest import MOST_ASKED_ABOUT, MOST_ASKED_TITLE
from bot.metrics import TeamFigures, WaitingItem
from handlers.slack.render import SECTION_LIMIT, cut, escape

MAX_BLOCKS = 50
HEADER_LIMIT = 150
FIELD_LIMIT = 2000
MAX_FIELDS = 10
MAX_CONTEXT_ELEMENTS = 10
SNIPPET_LIMIT = 100
TEAM_NAME_WIDTH = 16
LATE_MARKER = ":hourglass: posted late"
# A table longer than this many sections (~200 teams) is no longer a digest one reads.
MAX_TABLE_SECTIONS = 5
# Themes: at most 5 per team; past this many sections (~60 lines) the rest are counted.
MAX_THEME_SECTIONS = 3

_COLUMNS = ("team", "new", "median", "p90", "fwd lag", "dev resp", "breach", "waiting")
_WIDTHS = (TEAM_NAME_WIDTH, 5, 8, 8, 8, 8, 6, 7)


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text}


def _section(text: str) -> dict[str, Any]:
    # verbatim: Slack must not turn customer words into links or mentions on its own.
    body, _ = cut(text, SECTION_LIMIT)
    return {"type": "section", "text": {"type": "mrkdwn", "text": body, "verbatim": True}}


def _context(*texts: str) -> dict[str, Any]:
    elements = [_mrkdwn(cut(text, FIELD_LIMIT)[0]) for text in texts if text]
    return {"type": "context", "elements": elements[:MAX_CONTEXT_ELEMENTS]}


def _cell(text: str, width: int, *, left: bool = False) -> str:
    """Pad the raw text, then escape it, so entities don't throw the columns off."""
    if len(text) > width:
        text = text[: width - 1] + "…"
    padded = text.ljust(width) if left else text.rjust(width)
    return escape(padded)


def _row(values: tuple[str, ...]) -> str:
    return " ".join(
        _cell(value, width, left=index == 0)
        for index, (value, width) in enumerate(zip(values, _WIDTHS, strict=True))
    )


def _team_values(row: TeamFigures) -> tuple[str, ...]:
    ttr = row.time_to_response
    return (
        row.team,
        str(row.new),
        human_duration(ttr.median),
        human_duration(ttr.p90),
        human_duration(row.forwarding_lag.median),
        human_duration(row.developer_response.median),
        str(row.sla_breaches),
        str(row.waiting),
    )


def _table_blocks(rows: list[TeamFigures], overall: TeamFigures, budget: int) -> list[dict]:
    """The per-team table as monospace sections, split to fit 3000 characters each."""
    lines = [_row(_team_values(row)) for row in rows]
    if len(rows) != 1:
        lines.append(_row(_team_values(overall)))
    header = _row(_COLUMNS)
    room = SECTION_LIMIT - len(header) - 10  # the fences, newlines and a spare
    chunks: list[list[str]] = [[]]
    for line in lines:
        if sum(len(x) + 1 for x in chunks[-1]) + len(line) + 1 > room:
            chunks.append([])
        chunks[-1].append(line)
    if len(chunks) > budget:
        shown = sum(len(chunk) for chunk in chunks[: budget - 1])
        more = f"… and {len(lines) - shown} more rows; /feedback stats shows any team"
        chunks = [*chunks[: budget - 1], [more]]
    return [_section("```" + "\n".join([header, *chunk]) + "```") for chunk in chunks]


def _item_ref(data: DigestData, item_id: int) -> str:
    """The item's number ("#12"), linked to its card when the digest has the link."""
    link = data.links.get(item_id)
    return f"<{escape(link).replace('|', '%7C')}|#{item_id}>" if link else f"#{item_id}"


def _waiting_line(data: DigestData, waiting: WaitingItem) -> str:
    item = waiting.item
    ref = _item_ref(data, item.id)
    overdue = " :red_circle: overdue" if waiting.overdue else ""
    text, _ = cut(escape(" ".join(item.text.split()) or "(no text)"), SNIPPET_LIMIT)
    return (
        f"*{ref}* · *{escape(item.team)}* · waited {human_duration(waiting.age)}{overdue}"
        f" · {assignee_phrase(item)}\n&gt; {text}"
    )


def _waiting_blocks(data: DigestData) -> list[dict[str, Any]]:
    total = len(data.figures.waiting)
    if not total:
        return [_section("*Still waiting:* nothing. :tada:")]
    title = f"*Still waiting: {total}* ({data.overdue} overdue), the longest first"
    lines = [title, *(_waiting_line(data, w) for w in data.longest_waiting)]
    if total > len(data.longest_waiting):
        lines.append(f"_…and {total - len(data.longest_waiting)} more._")
    return [_section("\n".join(lines))]


def _theme_blocks(data: DigestData) -> list[dict[str, Any]]:
    """Themes of the week, when this run has them; sections of whole lines, never cut links."""
    if data.themes is None:
        return []
    title = f"*{THEMES_TITLE}* ({THEMES_ABOUT})"
    lines = [
        f"• *{escape(found.team)}*: {escape(theme_label(theme))}"
        + (f" · {', '.join(_item_ref(data, item_id) for item_id in theme.examples)}"
           if theme.examples else "")
        for found in data.themes for theme in found.themes
    ]
    if not lines:
        return [{"type": "divider"}, _section(f"{title}\n{NO_THEMES}")]
    chunks: list[list[str]] = [[title]]
    for line in lines:
        if sum(len(kept) + 1 for kept in chunks[-1]) + len(line) > SECTION_LIMIT - 50:
            chunks.append([])
        chunks[-1].append(line)
    if len(chunks) > MAX_THEME_SECTIONS:
        chunks = chunks[:MAX_THEME_SECTIONS]
        shown = sum(len(chunk) for chunk in chunks) - 1
        chunks[-1].append(f"_…and {len(lines) - shown} more themes._")
    return [{"type": "divider"}, *(_section("\n".join(chunk)) for chunk in chunks)]


def _most_asked_blocks(data: DigestData) -> list[dict[str, Any]]:
    """The items most customers +1'd in the period; nothing when none was."""
    if not data.most_asked:
        return []
    lines = [f"*{MOST_ASKED_TITLE}* ({MOST_ASKED_ABOUT})"]
    for asked in data.most_asked:
        text, _ = cut(escape(" ".join(asked.item.text.split()) or "(no text)"), SNIPPET_LIMIT)
        label, _ = cut(escape(asked.label()), 300)
        lines.append(f"• *{_item_ref(data, asked.item.id)}* · *{escape(asked.item.team)}* ·"
                     f" {label}\n&gt; {text}")
    return [{"type": "divider"}, _section("\n".join(lines))]


def _reassignment_blocks(data: DigestData) -> list[dict[str, Any]]:
    lines = [f"*Reassignments:* {reassignment_line(data.figures.overall)}"]
    lines += [f"• {escape(s.sentence())}" for s in data.suggestions]
    if data.suggestions:
        lines.append("_`feedbackbot suggest-rules` prints these as a config change._")
    return [_section("\n".join(lines))]


def _heard_back_blocks(data: DigestData) -> list[dict[str, Any]]:
    """Time until the customer heard back per team, beside its time to response."""
    if data.heard_back is None:
        return []
    lines = [f"• *{escape(team)}*: {escape(words)}"
             for team, words in heard_back_lines(data.figures, data.heard_back)]
    text, _ = cut(f"*{HEARD_BACK_TITLE}*\n" + "\n".join(lines), SECTION_LIMIT)
    return [{"type": "divider"}, _section(text), _context(escape(HEARD_BACK_ABOUT))]


def digest_blocks(data: DigestData) -> list[dict[str, Any]]:
    """The digest as Block Kit: header, headline, where time goes, teams, waiting, rules."""
    title, _ = cut(f"Feedback digest · {date_label(data.local_date)}", HEADER_LIMIT)
    about = [f"{window_label(data)} ({escape(data.timezone)})"]
    if data.late:
        about.insert(0, f"*{LATE_MARKER}*")
    overall = data.figures.overall
    fields = [
        _mrkdwn(
            cut(
                f"*{h.label}*\n{h.value}"
                + (f"  {h.arrow} _prev. 7 days: {h.previous}_" if h.previous else ""),
                FIELD_LIMIT,
            )[0]
        )
        for h in headlines(data)
    ]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": title, "emoji": True}},
        _context(*about),
        {"type": "section", "fields": fields[:MAX_FIELDS]},
        _section(f"*Where the time goes:* {time_split(overall)}"),
        {"type": "divider"},
    ]
    tail = [
        *_heard_back_blocks(data),
        *_theme_blocks(data),
        *_most_asked_blocks(data),
        {"type": "divider"},
        *_waiting_blocks(data),
        {"type": "divider"},
        *_reassignment_blocks(data),
        _context(
            "Time to response runs from the customer's message to the owning team's first"
            " response; SLA timers start when support forwards it."
        ),
    ]
    budget = max(min(MAX_BLOCKS - len(blocks) - len(tail), MAX_TABLE_SECTIONS), 1)
    blocks += _table_blocks(data.figures.teams, overall, budget)
    return blocks + tail


def digest_text(data: DigestData) -> str:
    """The notification fallback: a one-line summary, never pinging anyone."""
    overall = data.figures.overall
    late = " (posted late)" if data.late else ""
    text = (
        f"Feedback digest for {date_label(data.local_date)}{late}: {overall.new} new,"
        f" median time to response {human_duration(overall.time_to_response.median)},"
        f" {overall.waiting} waiting ({data.overdue} overdue)."
    )
    return escape(text)
