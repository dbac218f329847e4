"""The digest's trend chart: median time to response per team per day, as PNG bytes."""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta

WIDTH_INCHES = 10.0
HEIGHT_INCHES = 5.0
DPI = 100
# Ten distinct colours, then the same colours dashed, dotted, …: 40 teams stay tellable.
_STYLES = ("-", "--", ":", "-.")


def _hours(value: timedelta | None) -> float:
    """Hours as a float; NaN for a day without responses, which leaves a gap in the line."""
    return math.nan if value is None else value.total_seconds() / 3600


def _plain(text: str) -> str:
    """Text shown literally: a "$" would otherwise start matplotlib's math mode."""
    return text.replace("$", r"\$")


def trend_chart_png(
    trend: Mapping[str, Sequence[tuple[date, timedelta | None]]], *, title: str
) -> bytes:
    """Render one line per team (hours on the y axis, gaps on days without data) as a PNG."""
    # Imported here: matplotlib takes a third of a second and tens of MB to load, and
    # only digests draw. Figure + FigureCanvasAgg instead of pyplot: the Agg backend is
    # chosen per figure, so nothing needs a display, no global backend is switched, and
    # no figure is left open.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.dates import DateFormatter, DayLocator, date2num
    from matplotlib.figure import Figure

    figure = Figure(figsize=(WIDTH_INCHES, HEIGHT_INCHES), dpi=DPI)
    FigureCanvasAgg(figure)
    axes = figure.add_axes((0.07, 0.16, 0.68, 0.74))
    axes.set_title(_plain(title), fontsize=12, loc="left")
    axes.set_ylabel("median time to response (hours)")
    axes.grid(True, axis="y", alpha=0.3)

    days = sorted({day for series in trend.values() for day, _ in series})
    plotted = 0
    for index, (team, series) in enumerate(trend.items()):
        if not series or all(value is None for _, value in series):
            continue
        xs = date2num([datetime(day.year, day.month, day.day) for day, _ in series])
        ys = [_hours(value) for _, value in series]
        # Markers keep a lone day between two gaps visible; a line needs two neighbours.
        axes.plot(
            xs,
            ys,
            marker="o",
            markersize=3,
            linewidth=1.5,
            color=f"C{index % 10}",
            linestyle=_STYLES[(index // 10) % len(_STYLES)],
            label=_plain(team),
        )
        plotted += 1

    if days:
        first = datetime(days[0].year, days[0].month, days[0].day)
        last = datetime(days[-1].year, days[-1].month, days[-1].day)
        axes.set_xlim(
            float(date2num(first - timedelta(hours=12))),
            float(date2num(last + timedelta(hours=12))),
        )
        # About seven labels whatever the span, so they never overlap.
        axes.xaxis.set_major_locator(DayLocator(interval=max(1, math.ceil(len(days) / 7))))
        axes.xaxis.set_major_formatter(DateFormatter("%a %d %b"))
        for label in axes.get_xticklabels():
            label.set_rotation(30)
            label.set_horizontalalignment("right")
    axes.set_ylim(bottom=0)
    if plotted:
        columns = math.ceil(plotted / 18)
        axes.legend(
            loc="upper left",
            bbox_to_anchor=(1.01, 1.0),
            fontsize=8 if columns == 1 else 6,
            ncols=columns,
            frameon=False,
        )
    else:
        axes.set_ylim(0, 1)
        axes.text(
            0.5,
            0.5,
            "No responses in this period",
            transform=axes.transAxes,
            ha="center",
            va="center",
            color="0.4",
        )

    buffer = io.BytesIO()
    # No "Software" text chunk: the bytes then depend on the drawing, not the version.
    figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()
