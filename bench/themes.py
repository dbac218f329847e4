"""How long the themes of the week take on a year of history (1M items), read-only.

    python bench/themes.py [--db /tmp/feedbackbot-figures-1000000.db] [--runs 3]

Opens a store seeded by bench/figures.py (bench/seed_history.py) read-only, never
migrating or writing it, and times weekly_themes for the whole workspace and for one
team at the end of the history: the 35 days' items are streamed, page by page, into
counts per team. Prints the time (median of --runs), the rows read and the peak RSS
(ru_maxrss, interpreter included), and records them in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import resource
import sqlite3
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

from report import record_section

from bot.digest_themes import BASELINE_DAYS, THEME_DAYS, weekly_themes
from storage.dialect import SQLITE, Transaction, _SqliteTransaction
from storage.figures import FigureQueries
from storage.themes import ThemeQueries

DEFAULT_DB = Path("/tmp/feedbackbot-figures-1000000.db")
WORKSPACE = "T0DEMO"
END = datetime.fromisoformat("2026-11-27T12:00:00+00:00")  # bench/figures.py's NOW


class _ReadOnlyDatabase:
    """Just enough of storage.dialect.Database over a read-only SQLite connection."""

    dialect = SQLITE

    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)

    @contextmanager
    def read(self) -> Iterator[Transaction]:
        yield _SqliteTransaction(self.conn)


class _ThemesReader(ThemeQueries, FigureQueries):
    """The Store's themes and item reads, over the read-only database."""

    def __init__(self, database: _ReadOnlyDatabase) -> None:
        self.database = database  # type: ignore[assignment]


def _time(reader: _ThemesReader, teams: list[str] | None, runs: int) -> tuple[float, int, int]:
    seconds = []
    found = []
    for _ in range(runs):
        started = time.perf_counter()
        found = weekly_themes(reader, workspace=WORKSPACE, end=END,  # type: ignore[arg-type]
                              teams=teams)
        seconds.append(time.perf_counter() - started)
    since = END - timedelta(days=THEME_DAYS + BASELINE_DAYS)
    rows = sum(1 for _ in reader.said_forwarded(workspace=WORKSPACE, since=since, until=END,
                                                teams=teams))
    return statistics.median(seconds), rows, sum(len(team.themes) for team in found)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, default=DEFAULT_DB)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-record", action="store_true", help="print only")
    args = parser.parse_args()
    if not args.db.exists():
        raise SystemExit(f"{args.db} does not exist: seed it with bench/figures.py first")
    reader = _ThemesReader(_ReadOnlyDatabase(args.db))
    lines = ["| scope | items read (35 days) | themes found | time (median) |",
             "|---|---:|---:|---:|"]
    for label, teams in (("one team (payments)", ["payments"]), ("all 20 teams", None)):
        seconds, rows, themes = _time(reader, teams, args.runs)
        lines.append(f"| {label} | {rows} | {themes} | {seconds * 1000:.0f} ms |")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    body = "\n".join([
        f"Themes of the week on {args.db.name} (1M items over a year), ending {END:%Y-%m-%d}:"
        " id, team and text of the 35 days' items streamed in pages of 2000 into term"
        " counts per team. SQLite, read-only.", "", *lines, "",
        f"Peak RSS of the whole run: {peak:.0f} MB."])
    print(body)
    if not args.no_record:
        record_section("themes", "Themes of the week", body,
                       command="python bench/themes.py")


if __name__ == "__main__":
    main()
