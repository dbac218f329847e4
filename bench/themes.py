"""How long the themes of the week take on a year of history (1M items), read-only.

    python bench/themes.py [--db /tmp/feedbackbot-figures-1000000.db] [--runs 3]
        [--database-url postgresql://feedbackbot:feedbackbot@127.0.0.1:5432/feedbackbot_figures]

Opens a store seeded by bench/figures.py (bench/seed_history.py) read-only, never
migrating or writing it (SQLite opened read-only; PostgreSQL only SELECTed), and times
weekly_themes for the whole workspace and for one team at the end of the history: the 35
days' items are streamed, page by page, into counts per team. Prints the time (median of
--runs), the rows read and the peak RSS (ru_maxrss, interpreter included), and records
them in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
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
from storage.postgres import PostgresDatabase
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

    def __init__(self, database: _ReadOnlyDatabase | PostgresDatabase) -> None:
        self.database = database  # type: ignore[assignment]


def _time(reader: _ThemesReader, teams: list[str] | None,
          runs: int) -> tuple[float, float, int, int]:
    seconds = []
    found = []
    for _ in range(runs):
        started = time.perf_counter()
        found = weekly_themes(reader, workspace=WORKSPACE, end=END,  # type: ignore[arg-type]
                              teams=teams)
        seconds.append(time.perf_counter() - started)
    since = END - timedelta(days=THEME_DAYS + BASELINE_DAYS)
    reading = []
    for _ in range(runs):
        started = time.perf_counter()
        rows = sum(1 for _ in reader.said_forwarded(workspace=WORKSPACE, since=since,
                                                    until=END, teams=teams))
        reading.append(time.perf_counter() - started)
    return (statistics.median(seconds), statistics.median(reading), rows,
            sum(len(team.themes) for team in found))


def _table(reader: _ThemesReader, runs: int) -> list[str]:
    lines = []
    for label, teams in (("one team (payments)", ["payments"]), ("all 20 teams", None)):
        seconds, reading, rows, themes = _time(reader, teams, runs)
        lines.append(f"| {label} | {rows} | {themes} | {seconds * 1000:.0f} ms"
                     f" | {reading * 1000:.0f} ms |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, default=DEFAULT_DB)
    parser.add_argument("--database-url", help="also a seeded PostgreSQL database")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-record", action="store_true", help="print only")
    args = parser.parse_args()
    if not args.db.exists():
        raise SystemExit(f"{args.db} does not exist: seed it with bench/figures.py first")
    lines = ["| backend | scope | items read (35 days) | themes found | time (median)"
             " | of which reading the rows |", "|---|---|---:|---:|---:|---:|"]
    lines += [f"| SQLite | {row[2:]}" for row in _table(
        _ThemesReader(_ReadOnlyDatabase(args.db)), args.runs)]
    if args.database_url:
        postgres = PostgresDatabase(args.database_url)
        try:
            lines += [f"| PostgreSQL | {row[2:]}" for row in _table(
                _ThemesReader(postgres), args.runs)]
        finally:
            postgres.close()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    body = "\n".join([
        f"Themes of the week on 1M items over a year ({args.db.name}), ending {END:%Y-%m-%d}:"
        " id, team and text of the 35 days' items streamed in pages of 2000 into term"
        " counts per team, then scored. Read-only. Most of the time is splitting the texts"
        " into terms (Python), not the database.", "", *lines, "",
        f"Peak RSS of the whole run: {peak:.0f} MB (interpreter included).",
        f"Load average when measured: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores."])
    print(body)
    if not args.no_record:
        record_section("themes", "Themes of the week", body,
                       command="python bench/themes.py --database-url …/feedbackbot_figures")


if __name__ == "__main__":
    main()
