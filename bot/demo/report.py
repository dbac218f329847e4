"""The demo's closing per-team table, from the stored items, measured as the digest does."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from bot.digest import human_duration
from bot.metrics import median
from bot.models import Item


def team_table(items: Sequence[Item], teams: Iterable[str]) -> list[str]:
    """Lines of the per-team table: items, answered, waiting, and medians over the answered.

    The medians are the digest's (the mean of the middle two for an even count), so the
    table and the digest agree.
    """
    header = (f"  {'team':<10} {'items':>5} {'answered':>8} {'waiting':>7}"
              f"  {'time to response':>16} {'forwarding lag':>14}")
    lines = ["Per team", header, "  " + "-" * (len(header) - 2)]
    by_team: dict[str, list[Item]] = {}
    for item in items:
        by_team.setdefault(item.team, []).append(item)
    for team in teams:
        team_items = by_team.get(team, [])
        answered = [item for item in team_items if item.first_response_at is not None]
        waits = [item.first_response_at - item.received_at  # type: ignore[operator]
                 for item in answered]
        lags = [item.forwarded_at - item.received_at for item in answered]
        wait, lag = (human_duration(median(durations)) for durations in (waits, lags))
        lines.append(f"  {team:<10} {len(team_items):>5} {len(answered):>8}"
                     f" {len(team_items) - len(answered):>7}  {wait:>16} {lag:>14}")
    statuses = Counter(item.status for item in items)
    lines.append(f"\n{len(items)} items: " + ", ".join(
        f"{count} {status}" for status, count in sorted(statuses.items())))
    return lines

