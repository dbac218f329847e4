"""The demo's closing per-team table, from the stored items, measured as the digest does."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bot.demo.history import load_month_before
from bot.demo.script import Digest
from bot.demo.transcript import Transcript
from bot.digest import human_duration
from bot.digest_service import Claimed
from bot.digest_text import digest_table
from bot.metrics import median
from bot.models import Item

if TYPE_CHECKING:
    from bot.runtime import Runtime


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


@dataclass(frozen=True)
class DayEnd:
    """The demo's last step, begun: the period claimed for the managers' digest."""

    claimed: Claimed | None
    start: datetime
    workspace: str


def end_the_day(runtime: Runtime, *, now: datetime, out: Transcript, step: Digest) -> DayEnd:
    """Print the per-team table, claim the managers' digest and say it goes out."""
    out.write("")
    story = runtime.store.list_items()
    for line in team_table(story, runtime.config.teams):
        out.write(line)
    workspace = runtime.workspace or ""
    loaded = _load_the_month_before(runtime, story, workspace=workspace)
    out.write(f"\nThe store also gets the five weeks before this day ({loaded} answered items),"
              " so the digest compares with the week before and, as the first digest of"
              " the week (here on Tuesdays and Thursdays), shows the themes that rose.")
    start = now - timedelta(days=1)
    claimed = runtime.digests.claim_window(workspace=workspace, index=0, start=start)
    out.step(step.at, "The managers' digest goes out"
             + (f" ({step.aside})." if step.aside else "."))
    return DayEnd(claimed=claimed, start=start, workspace=workspace)


def _load_the_month_before(runtime: Runtime, story: Sequence[Item], *, workspace: str) -> int:
    """Load the month before the story, answered by the story's own people."""
    first = story[0]
    responders: dict[str, list[str]] = {}
    for item in story:
        if item.first_response_by:
            responders.setdefault(item.team, []).append(item.first_response_by)
    fallback = list(runtime.config.admins) or [first.forwarded_by]
    return load_month_before(
        runtime.store, workspace=workspace, forwarded_by=first.forwarded_by,
        answered_by={team: responders.get(team) or fallback for team in runtime.config.teams},
        platform=first.platform)


def print_the_digest(runtime: Runtime, day: DayEnd, *, now: datetime,
                     out: Transcript) -> None:
    """Print the digest the platform got, as its figures stand now."""
    if day.claimed is None:
        return
    data = runtime.digests.build(
        workspace=day.workspace, index=0, local_date=day.claimed.period.local_date,
        late=False, window_start=day.start, window_end=now)
    out.write("\n" + digest_table(data))
