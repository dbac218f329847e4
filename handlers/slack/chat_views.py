"""Figures and waiting items in chat: `/feedback stats`, `/feedback mine`, and App Home."""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from typing import Any

from slack_bolt.async_app import AsyncApp

from bot import views
from bot.config import Config
from bot.durations import format_duration
from bot.heard_back import HeardBackFigures
from bot.heard_back_words import heard_back_summary
from bot.metrics import Durations, TeamFigures
from bot.models import Item
from bot.store import StoreBusy
from handlers.notice_words import FIGURES_BUSY
from handlers.slack.deps import Deps, SlackCall, tracked
from handlers.slack.render import cut, escape, status_blocks

log = logging.getLogger(__name__)

STATS = re.compile(r"^stats(?:\s+(?P<team>[^\s]+?))?(?:\s+(?P<days>7d|30d))?$", re.IGNORECASE)
MINE = re.compile(r"^mine$", re.IGNORECASE)
MAX_LISTED = 15


def parse_stats(text: str, config: Config) -> tuple[str | None, int] | None:
    """(team or None, days) when the whole text is a stats subcommand, else None.

    "stats broken" is feedback, not stats: the word must name a team.
    """
    match = STATS.match(text.strip())
    if not match:
        return None
    team: str | None = match.group("team")
    period = match.group("days") or "7d"
    if team is not None and team.lower() in ("7d", "30d"):
        team, period = None, team  # "stats 30d": a period, not a team
    days = int(period[:-1])
    if team is not None and team not in config.teams:
        return None
    return team, days


def _duration(value: timedelta | None) -> str:
    return format_duration(value) if value is not None else "—"


def _durations(figures: Durations) -> str:
    return f"median {_duration(figures.median)}, p90 {_duration(figures.p90)}"


def figures_text(row: TeamFigures, *, days: int) -> str:
    """One team's figures as a few lines of mrkdwn."""
    name = "All teams" if row.team == "all" else f"*{escape(row.team)}*"
    within = f"{row.within_sla:.0%}" if row.within_sla is not None else "—"
    lines = [
        f"{name}, last {days} days: {row.new} new, {row.responded} responded,"
        f" {row.resolved} resolved, {row.waiting} waiting now",
        f"• Time to response: {_durations(row.time_to_response)}"
        f" ({row.time_to_response.count} items); within SLA: {within}",
        f"• Where it goes: forwarding {_durations(row.forwarding_lag)};"
        f" developers {_durations(row.developer_response)}",
    ]
    if row.time_to_response_business is not None:
        lines.append(f"• In business hours: {_durations(row.time_to_response_business)}")
    if row.reassignment_rate is not None:
        lines.append(f"• Reassigned: {row.reassignment_rate:.0%} of new items")
    return "\n".join(lines)


async def stats_text(deps: Deps, *, workspace: str, team: str | None, days: int) -> str:
    """The figures `/feedback stats` shows; a short apology when they can't be read in time."""
    try:
        data = await deps.views.stats(workspace=workspace, days=days, team=team)
    except StoreBusy:
        return FIGURES_BUSY
    return "\n\n".join(figures_text(row, days=data.days)
                       + heard_back_line(data.heard_back, row.team) for row in data.rows)


def heard_back_line(heard: HeardBackFigures | None, team: str) -> str:
    """The stats line for time until the customer heard back ("" when it wasn't read)."""
    if heard is None:
        return ""
    return f"\n• Until the customer heard back: {heard_back_summary(heard.of(team))}"


def item_line(item: Item, *, now: Any, link: str | None = None) -> str:
    """One waiting item: number, team, age and the start of the text."""
    ref = f"<{link}|#{item.id}>" if link else f"#{item.id}"
    text, _ = cut(escape(" ".join(item.text.split())), 90)
    return (f"{ref} · *{escape(item.team)}* · waiting {format_duration(now - item.received_at)}"
            f" · {text}")


def card_link(deps: Deps, item: Item) -> str | None:
    """A link to an item's card, built without a Web API call."""
    base = deps.team_url
    if not (base and item.card_channel and item.card_ts):
        return None
    return f"{base.rstrip('/')}/archives/{item.card_channel}/p{item.card_ts.replace('.', '')}"


async def mine_text(deps: Deps, *, workspace: str, user: str) -> str:
    """The list `/feedback mine` shows."""
    data = await deps.views.mine(workspace=workspace, user=user)
    if data.empty:
        return ":tada: Nothing is waiting on you, and nothing you forwarded is waiting."
    parts = []
    for title, items in (("Waiting for your team's response", data.theirs),
                         ("You forwarded, still waiting", data.forwarded)):
        if items:
            lines = [item_line(item, now=data.now, link=card_link(deps, item))
                     for item in items[:MAX_LISTED]]
            more = f"\n…and {len(items) - MAX_LISTED} more" if len(items) > MAX_LISTED else ""
            parts.append(f"*{title}* ({len(items)})\n" + "\n".join(lines) + more)
    return "\n\n".join(parts)


STAFF_ONLY = ("Feedback figures and items are for members of this workspace only, not for"
              " guests or people from other organisations.")
CANT_CHECK = "I couldn't check your account with Slack just now. Please try again in a minute."
_REFUSALS = {views.NOT_INTERNAL: STAFF_ONLY, views.CANT_CHECK: CANT_CHECK}


async def staff_only(deps: Deps, *, workspace: str, user: str) -> str | None:
    """Why `user` may not see internal figures (a guest, another organisation), or None."""
    refusal = await deps.views.refusal(workspace=workspace, user=user)
    return _REFUSALS[refusal] if refusal else None


async def home_view(deps: Deps, *, workspace: str, user: str) -> dict[str, Any]:
    """The App Home tab: the user's waiting items with their buttons, and their teams' figures."""
    refusal = await staff_only(deps, workspace=workspace, user=user)
    if refusal:
        return {"type": "home", "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": "Customer feedback"}},
            {"type": "section", "text": {"type": "mrkdwn", "text": refusal}}]}
    data = await deps.views.mine(workspace=workspace, user=user)
    mine, forwarded, now = data.theirs, data.forwarded, data.now
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": "Customer feedback"}}]
    blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": (
        f"*Waiting for your response* ({len(mine)})" if mine else
        "*Nothing is waiting for your response.* :tada:")}})
    for item in mine[:10]:  # each item takes two blocks; a home tab allows 100
        blocks.append({"type": "section", "text": {
            "type": "mrkdwn", "text": item_line(item, now=now, link=card_link(deps, item))}})
        blocks.extend(block for block in status_blocks(item) if block["type"] == "actions")
    if forwarded:
        lines = [item_line(item, now=now, link=card_link(deps, item)) for item in forwarded[:10]]
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": cut(
            f"*You forwarded, still waiting* ({len(forwarded)})\n" + "\n".join(lines),
            3000)[0]}})
    try:
        figures = await deps.views.my_teams_stats(workspace=workspace, user=user, days=7)
    except StoreBusy:  # the lists above still help; the figures come with the next visit
        figures = views.StatsData(days=7, rows=[])
    if figures.rows:
        blocks.append({"type": "divider"})
        for row in figures.rows:
            blocks.append({"type": "section", "text": {
                "type": "mrkdwn", "text": cut(figures_text(row, days=figures.days), 3000)[0]}})
    return {"type": "home", "blocks": blocks[:100]}


def register(app: AsyncApp, deps: Deps) -> None:
    """Add the App Home listener."""

    async def on_home_opened(call: SlackCall) -> None:
        event = call.body.get("event") or {}
        user = str(event.get("user") or "")
        if event.get("tab") != "home" or not user or call.replay:
            return  # a stale home view is refreshed the next time it is opened
        view = await home_view(deps, workspace=call.workspace, user=user)
        await call.client.views_publish(user_id=user, view=view)

    app.event("app_home_opened")(tracked(deps, on_home_opened))
