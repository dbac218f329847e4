"""Time until the customer heard back in words, the same on every platform (no markup)."""

from __future__ import annotations

from bot.digest import human_duration
from bot.heard_back import HeardBack, HeardBackFigures
from bot.metrics import Figures

HEARD_BACK_TITLE = "The whole loop: time until the customer heard back"
HEARD_BACK_ABOUT = ("From the customer's words until support told them (Told the customer,"
                    " or a reply in their thread), for the items the team first answered"
                    " in this period. Unknown: answered, but nobody recorded that the"
                    " customer heard back; they never count as fast.")


def heard_back_summary(entry: HeardBack | None) -> str:
    """E.g. "median 5h 20m, p90 1d 2h (12 items); 3 of 15 unknown"."""
    if entry is None or entry.answered == 0:
        return "— (nothing answered)"
    known = entry.heard_back
    if known.count:
        text = (f"median {human_duration(known.median)}, p90 {human_duration(known.p90)}"
                f" ({known.count} {'item' if known.count == 1 else 'items'})")
        business = entry.heard_back_business
        if business is not None and business.count:
            text += f", in business hours median {human_duration(business.median)}"
    else:
        text = "no record yet"
    if entry.unknown:
        text += f"; {entry.unknown} of {entry.answered} unknown"
    return text


def heard_back_lines(figures: Figures, heard: HeardBackFigures) -> list[tuple[str, str]]:
    """(team, words) per team of `figures`, then "all" when there are several, each beside
    the same items' time to response (team names are left for each platform to escape)."""
    rows = [*figures.teams, *([figures.overall] if len(figures.teams) != 1 else [])]
    return [(row.team, f"{heard_back_summary(heard.of(row.team))} · time to response median"
                       f" {human_duration(row.time_to_response.median)}")
            for row in rows]
