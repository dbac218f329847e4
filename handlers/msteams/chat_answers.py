"""`stats`, `mine` and `help` in a 1:1 chat with the bot: the figures `/feedback` shows on Slack.

The figures and lists come from the core (`bot.views`); only the wording is Teams'.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from bot.config import Config
from bot.durations import format_duration
from bot.heard_back import HeardBackFigures
from bot.heard_back_words import heard_back_summary
from bot.metrics import Durations, TeamFigures
from bot.models import Item
from bot.store import StoreBusy
from bot.views import Views
from handlers.msteams.text import cut, escape_markdown
from handlers.notice_words import FIGURES_BUSY

STATS = re.compile(r"^stats(?:\s+(?P<team>\S+?))?(?:\s+(?P<days>7d|30d))?$", re.IGNORECASE)
MAX_LISTED = 15
HELP = ("Send me a customer's words and I'll pass them to the team that owns them.\n\n"
        "- **stats** [team] [7d|30d]: how fast feedback gets a response\n"
        "- **mine**: what is waiting for you or your team\n"
        "- On any message in a channel: **…** → **Send to developers**")


def parse_stats(text: str, config: Config) -> tuple[str | None, int] | None:
    """(team or None, days) when the whole text is a stats request, else None ("stats broken")."""
    match = STATS.match(text.strip())
    if not match:
        return None
    team: str | None = match.group("team")
    period: str = match.group("days") or "7d"
    if team is not None and team.lower() in ("7d", "30d"):
        period, team = team.lower(), None  # "stats 30d": a period, not a team
    if team is not None and team not in config.teams:
        return None
    return team, int(period[:-1])


def command_of(text: str, config: Config) -> str | None:
    """"stats", "mine" or "help" when the whole message is that command, else None."""
    words = " ".join(text.split()).lower()
    if words in ("mine", "help"):
        return words
    return "stats" if parse_stats(text, config) is not None else None


def _durations(figures: Durations) -> str:
    def one(value: timedelta | None) -> str:
        return format_duration(value) if value is not None else "—"
    return f"median {one(figures.median)}, p90 {one(figures.p90)}"


def figures_text(row: TeamFigures, *, days: int) -> str:
    """One team's figures as Teams markdown."""
    name = "All teams" if row.team == "all" else f"**{escape_markdown(row.team)}**"
    within = f"{row.within_sla:.0%}" if row.within_sla is not None else "—"
    lines = [
        f"{name}, last {days} days: {row.new} new, {row.responded} responded,"
        f" {row.resolved} resolved, {row.waiting} waiting now",
        f"- Time to response: {_durations(row.time_to_response)}"
        f" ({row.time_to_response.count} items); within SLA: {within}",
        f"- Where it goes: forwarding {_durations(row.forwarding_lag)};"
        f" developers {_durations(row.developer_response)}",
    ]
    if row.time_to_response_business is not None:
        lines.append(f"- In business hours: {_durations(row.time_to_response_business)}")
    if row.reassignment_rate is not None:
        lines.append(f"- Reassigned: {row.reassignment_rate:.0%} of new items")
    return "\n".join(lines)


async def stats_text(*, views: Views, config: Config, workspace: str, text: str) -> str:
    """The figures for a `stats` message (computed by the core, as on Slack)."""
    team, days = parse_stats(text, config) or (None, 7)
    try:
        data = await views.stats(workspace=workspace, days=days, team=team)
    except StoreBusy:
        return FIGURES_BUSY
    return "\n\n".join(figures_text(row, days=data.days)
                       + heard_back_line(data.heard_back, row.team) for row in data.rows)


def heard_back_line(heard: HeardBackFigures | None, team: str) -> str:
    """The stats line for time until the customer heard back ("" when it wasn't read)."""
    if heard is None:
        return ""
    return f"\n- Until the customer heard back: {heard_back_summary(heard.of(team))}"


def _line(item: Item, now: datetime) -> str:
    text, _ = cut(escape_markdown(" ".join(item.text.split())), 90)
    return (f"- #{item.id} · **{escape_markdown(item.team)}** · waiting"
            f" {format_duration(now - item.received_at)} · {text}")


async def mine_text(*, views: Views, workspace: str, user: str) -> str:
    """What waits on `user`'s teams, and what they forwarded that still waits."""
    data = await views.mine(workspace=workspace, user=user, platform="msteams")
    if data.empty:
        return "🎉 Nothing is waiting on you, and nothing you forwarded is waiting."
    parts = []
    for title, items in (("Waiting for your team's response", data.theirs),
                         ("You forwarded, still waiting", data.forwarded)):
        if items:
            lines = [_line(item, data.now) for item in items[:MAX_LISTED]]
            more = f"\n…and {len(items) - MAX_LISTED} more" if len(items) > MAX_LISTED else ""
            parts.append(f"**{title}** ({len(items)})\n" + "\n".join(lines) + more)
    return "\n\n".join(parts)
