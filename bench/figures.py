"""How fast digests, stats, `mine` and suggest-rules answer on a year of history.

    python bench/figures.py                 # 1M items, SQLite (+ PostgreSQL when reachable)
    python bench/figures.py --ten-million   # also 10M items, compared with 1M

Seeds (or reuses) a store of 1M items over a year in 20 teams with bench/seed_history.py,
then measures each figure in a fresh subprocess: its time (median of --runs runs, after
the store is open) and the subprocess's peak RSS (ru_maxrss, interpreter and imports
included). Prints a table next to the targets, the query plans, and records both in
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from figures_baselines import raw_aggregate, raw_medians, rows_alone
from report import Progress, record_section

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
WORKSPACE = "T0DEMO"
# A fixed end of history, so that a seeded store can be reused run after run.
NOW = "2026-11-27T12:00:00+00:00"
TEAMS = 20
DEFAULT_POSTGRES = "postgresql://feedbackbot:feedbackbot@127.0.0.1:5432/feedbackbot_figures"
MEMORY_TARGET_MB = 150

# name, what it is, target in ms (None: the baseline), compared with the baseline?
MEASURES = [
    ("raw", "raw SQL aggregate over the digest's rows (baseline)", None),
    ("raw_medians", "the digest's per-team medians by SQL alone (second baseline)", None),
    ("rows_alone", "of the digest: reading the rows its figures need, alone", None),
    ("digest_figures", "digest figures (window, previous 7 days, trend, suggestions)",
     "≤ 2× raw"),
    ("digest_chart", "whole digest with its chart (`digest --print` path + chart)", 1000.0),
    ("stats", "`/feedback stats` (7 days, all teams)", 300.0),
    ("stats_team", "`/feedback stats payments 30`", 300.0),
    ("mine", "`/feedback mine` (and App Home's list)", 300.0),
    ("suggest", "`suggest-rules --all` (every reassignment: grows with the history)", None),
    ("suggest_default", "`suggest-rules` (the default: the last 90 days)", None),
    ("suggest_recent", "`suggest-rules --days 30`", None),
    ("export", "`export --format csv` (every item, to /dev/null)", None),
]


def bench_config(path: Path) -> Path:
    """A config with the seeded teams: a third keep business hours, the rest the wall clock."""
    sys.path.insert(0, str(BENCH))
    from seed_history import team_names

    lines = ["teams:"]
    for number, name in enumerate(team_names(TEAMS)):
        lines += [f"  {name}:", f"    channel: C0{name.upper()}", "    owners: [U0ALICE]"]
        if name == "payments":
            lines += ["    keywords: [refund, invoice, billing]"]
        if name == "mobile":
            lines += ["    keywords: [app, ios, android]"]
        if number % 3 == 0:
            zone, holidays = [("Europe/Berlin", "DE"), ("America/New_York", "US")][number % 2]
            lines += ["    business_hours:", f"      timezone: {zone}",
                      '      hours: "09:00-17:00"', f"      holidays: {holidays}"]
    lines += ["fallback: triage",
              "digests:", "  - channel: C0MANAGERS", '    at: "09:00"',
              "    timezone: Europe/Berlin",
              "    days: [mon, tue, wed, thu, fri, sat, sun]"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# --- one measure, in its own process -------------------------------------------------


def _timed(action: Callable[[], Any], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def measure(name: str, database_url: str, config_path: str, runs: int) -> dict[str, float]:
    """Run one measure here; return its median time in ms and this process's peak RSS."""
    from bot.config import load_config
    from bot.digest_service import DigestService
    from storage import open_store

    config = load_config(config_path).config
    assert config is not None
    now = datetime.fromisoformat(NOW)
    store = open_store(database_url)
    service = DigestService(store=store, config=config, clock=lambda: now)
    end = now
    start = end - timedelta(days=1)

    def build() -> Any:
        return service.build(workspace=WORKSPACE, index=0, local_date=now.date(), late=False,
                             window_start=start, window_end=end)

    actions: dict[str, Callable[[], Any]] = {
        "raw": lambda: raw_aggregate(store, WORKSPACE, start, end),
        "raw_medians": lambda: raw_medians(store, WORKSPACE, start, end, "Europe/Berlin"),
        "rows_alone": lambda: rows_alone(store, WORKSPACE, start, end),
        "digest_figures": build,
        "digest_chart": lambda: whole_digest(service, store, now),
        "stats": lambda: stats(store, config, now, 7, None),
        "stats_team": lambda: stats(store, config, now, 30, "payments"),
        "mine": lambda: asyncio.run(mine(store, config, now)),
        "suggest": lambda: suggest(service, store, config, None),
        "suggest_default": lambda: suggest(service, store, config, now - timedelta(days=90)),
        "suggest_recent": lambda: suggest(service, store, config, now - timedelta(days=30)),
        "export": lambda: export_csv(store),
    }
    result = _timed(actions[name], 1 if name == "export" else runs)
    store.close()
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"ms": result, "peak_mb": peak_kb / 1024}


def whole_digest(service: Any, store: Any, now: datetime) -> None:
    """What `digest --print` does for each workspace, and the chart a posted digest draws."""
    from bot.chart import trend_chart_png
    from bot.digest_text import digest_table

    for workspace in store.item_workspaces():
        data = service.build(workspace=workspace, index=0, local_date=now.date(), late=False,
                             window_end=now)
        digest_table(data)
        trend_chart_png(data.trend, title="Median time to response, last 14 days")


def stats(store: Any, config: Any, now: datetime, days: int, team: str | None) -> None:
    from bot.views import stats as stats_of

    stats_of(store=store, config=config, workspace=WORKSPACE, now=now, days=days, team=team)


async def mine(store: Any, config: Any, now: datetime) -> None:
    from bot.lifecycle import Lifecycle
    from bot.ports import Ports
    from bot.views import mine as mine_of

    # Teams name their owners in the config: no chat call is needed to know them.
    lifecycle = Lifecycle(store=store, config=config, port=Ports(), clock=lambda: now)
    await mine_of(store=store, lifecycle=lifecycle, workspace=WORKSPACE, now=now,
                  user="U0ALICE")


def suggest(service: Any, store: Any, config: Any, since: datetime | None) -> None:
    from bot.suggestions import suggest_rules

    moved = [move for workspace in store.item_workspaces()
             for move in service.reassignments(workspace=workspace, since=since)]
    suggest_rules(reassignments=moved, config=config)


def export_csv(store: Any) -> None:
    from bot.export import write_csv

    with open(os.devnull, "w", encoding="utf-8", newline="") as out:
        write_csv(store.iter_items(), out)


# --- the driver --------------------------------------------------------------------


def run_measure(name: str, database_url: str, config: Path, runs: int) -> dict[str, float]:
    """One measure in a fresh subprocess, so that its peak RSS is its own."""
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--measure", name,
         "--database-url", database_url, "--config-file", str(config), "--runs", str(runs)],
        capture_output=True, text=True, cwd=ROOT, check=False)
    if done.returncode:
        raise RuntimeError(f"measure {name} failed:\n{done.stderr}")
    figures: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def cli_digest_print(database_url: str, config: Path) -> dict[str, float]:
    """`feedbackbot digest --print` as a user runs it: the whole process, start to end."""
    env = {**os.environ, "DATABASE_URL": database_url, "FEEDBACKBOT_CONFIG": str(config)}
    command = [sys.executable, "-c",
               "import resource, sys\nfrom bot.cli import main\ncode = main(['digest',"
               " '--print'])\nprint(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,"
               " file=sys.stderr)\nsys.exit(code)"]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    elapsed = (time.perf_counter() - started) * 1000
    if done.returncode:
        raise RuntimeError(f"digest --print failed:\n{done.stderr}")
    return {"ms": elapsed, "peak_mb": int(done.stderr.strip().splitlines()[-1]) / 1024}


def cli_start_up() -> dict[str, float]:
    """Starting Python and importing the CLI, which every `feedbackbot` command pays."""
    command = [sys.executable, "-c", "import resource, sys\nimport bot.cli\n"
               "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)"]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    elapsed = (time.perf_counter() - started) * 1000
    return {"ms": elapsed, "peak_mb": int(done.stderr.strip().splitlines()[-1]) / 1024}


def ensure_seeded(database_url: str, items: int, days: int = 365) -> None:
    """Seed the store unless it already holds `items` items (then it is reused)."""
    from storage import open_store

    if database_url.startswith("postgresql://"):
        _create_postgres_database(database_url)
    elif Path(database_url.removeprefix("sqlite:///")).exists():
        store = open_store(database_url)
        with store.database.read() as tx:  # type: ignore[attr-defined]
            count = tx.one("SELECT COUNT(*) AS n FROM items")["n"]
        store.close()
        if count == items:
            print(f"  reusing {database_url} ({count} items)", file=sys.stderr)
            return
        Path(database_url.removeprefix("sqlite:///")).unlink()
    if database_url.startswith("postgresql://"):
        store = open_store(database_url)
        with store.database.read() as tx:  # type: ignore[attr-defined]
            count = tx.one("SELECT COUNT(*) AS n FROM items")["n"]
        store.close()
        if count == items:
            print(f"  reusing {database_url} ({count} items)", file=sys.stderr)
            return
        if count:
            raise SystemExit(f"{database_url} holds {count} items, not {items}; drop it first")
    started = time.perf_counter()
    subprocess.run([sys.executable, str(BENCH / "seed_history.py"), "--database-url",
                    database_url, "--items", str(items), "--days", str(days), "--teams",
                    str(TEAMS), "--now", NOW], check=True, cwd=ROOT)
    print(f"  seeded {items} items in {time.perf_counter() - started:.1f} s", file=sys.stderr)


def _create_postgres_database(url: str) -> None:
    import psycopg

    base, name = url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True, connect_timeout=5) as admin:
        if admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            return
        admin.execute(f'CREATE DATABASE "{name}"')


def postgres_reachable(url: str) -> bool:
    try:
        _create_postgres_database(url)
    except Exception as error:  # any failure means: measure SQLite only
        print(f"  PostgreSQL not reachable ({error}); measuring SQLite only", file=sys.stderr)
        return False
    return True


def query_plans(database_url: str) -> str:
    """EXPLAIN QUERY PLAN (SQLite) or EXPLAIN ANALYZE (PostgreSQL) of the main reads."""
    from storage import open_store
    from storage.dialect import POSTGRES, SQLITE
    from storage.figures import (
        WAITING,
        answered_sql,
        counts_sql,
        events_with_items_sql,
        item_columns_sql,
    )

    now = datetime.fromisoformat(NOW)
    since = now - timedelta(days=16)
    week = (now - timedelta(days=8), now)
    postgres = database_url.startswith("postgresql://")
    waiting_from = "items" if postgres else "items INDEXED BY items_waiting"
    queries = {
        "items forwarded per team, per window (digest, stats)": (
            counts_sql("forwarded_at", 1, None), [*week, *week, WORKSPACE, *week]),
        "items resolved per team, per window (digest, stats)": (
            counts_sql("resolved_at", 1, None), [*week, WORKSPACE, *week]),
        "items first answered, 16 days (digest durations and trend, stats)": (
            answered_sql(POSTGRES if postgres else SQLITE), [WORKSPACE, since, now]),
        "waiting items (mine, App Home, reminders)": (
            f"SELECT {item_columns_sql()} FROM {waiting_from} WHERE workspace = ? AND {WAITING}"
            " ORDER BY received_at, forwarded_at, id", [WORKSPACE]),
        "reassignments of the last 30 days and the moved items (digest suggestions)": (
            events_with_items_sql(since=True),
            [WORKSPACE, "reassigned", now - timedelta(days=30)]),
        "export page": (
            "SELECT * FROM items WHERE forwarded_at >= ? AND (forwarded_at > ? OR id > ?)"
            " ORDER BY forwarded_at, id LIMIT 1000", [since, since, 0]),
    }
    store = open_store(database_url)
    explain = "EXPLAIN (ANALYZE, BUFFERS) " if postgres else "EXPLAIN QUERY PLAN "
    parts = []
    with store.database.read() as tx:  # type: ignore[attr-defined]
        for title, (sql, params) in queries.items():
            rows = tx.all(explain + sql, params)
            lines = ([row["QUERY PLAN"] for row in rows] if postgres
                     else [f"{'  ' * _depth(rows, row)}{row['detail']}" for row in rows])
            parts += [f"{title}:", "", "```", *lines, "```", ""]
    store.close()
    return "\n".join(parts)


def _depth(rows: list[dict[str, Any]], row: dict[str, Any]) -> int:
    parents = {entry["id"]: entry["parent"] for entry in rows}
    depth, parent = 0, row["parent"]
    while parent:
        depth, parent = depth + 1, parents.get(parent, 0)
    return depth


def _verdict(name: str, figures: dict[str, float], raw_ms: float,
             medians_ms: float | None = None) -> tuple[str, str]:
    target = next(target for key, _, target in MEASURES if key == name)
    if target is None:
        return "—", ""
    if isinstance(target, str):
        ratio = figures["ms"] / raw_ms if raw_ms else float("inf")
        verdict = f"{ratio:.1f}× raw {'✓' if ratio <= 2 else '✗'}"
        if medians_ms:
            ratio = figures["ms"] / medians_ms
            verdict += f"; {ratio:.1f}× SQL medians {'✓' if ratio <= 2 else '✗'}"
        return target, verdict
    return f"< {target:.0f} ms", "✓" if figures["ms"] < target else "✗"


def table(results: dict[str, dict[str, dict[str, float]]]) -> str:
    """Markdown: one row per measure, one column group per store."""
    stores = list(results)
    head = "| measure | target | " + " | ".join(
        f"{store} time | {store} vs target | {store} peak RSS" for store in stores) + " |"
    rows = [head, "|" + "---|" * (2 + 3 * len(stores))]
    names = [(key, label) for key, label, _ in MEASURES] + [
        ("cli", "`feedbackbot digest --print`, whole process (start-up included)"),
        ("start_up", "of which: Python start-up and imports alone")]
    for key, label in names:
        cells = []
        target_text = ""
        for store in stores:
            figures = results[store].get(key)
            if figures is None:
                cells += ["—", "—", "—"]
                continue
            if key == "cli":
                target, verdict = "< 1000 ms", "✓" if figures["ms"] < 1000 else "✗"
            elif key == "start_up":
                target, verdict = "—", ""
            else:
                target, verdict = _verdict(key, figures, results[store]["raw"]["ms"],
                                           results[store].get("raw_medians", {}).get("ms"))
            target_text = target
            memory = f"{figures['peak_mb']:.0f} MB" + (
                " ✓" if figures["peak_mb"] < MEMORY_TARGET_MB else " ✗")
            cells += [f"{figures['ms']:.1f} ms", verdict, memory]
        rows.append(f"| {label} | {target_text} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def measure_store(label: str, database_url: str, config: Path, runs: int,
                  skip: set[str]) -> dict[str, dict[str, float]]:
    names = [key for key, _, _ in MEASURES if key not in skip
             # Exporting ten years takes minutes and has no 10M target.
             and not (key == "export" and "10,000,000" in label)]
    progress = Progress(f"measuring {label}", len(names) + 1)
    figures = {}
    for name in names:
        figures[name] = run_measure(name, database_url, config, runs)
        progress.tick()
    figures["cli"] = cli_digest_print(database_url, config)
    figures["start_up"] = cli_start_up()
    progress.tick()
    progress.finish()
    return figures


def main(argv: list[str] | None = None) -> int:
    """Seed or reuse the stores, measure every figure, print and record the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--sqlite", default=str(Path(tempfile.gettempdir())
                                                / "feedbackbot-figures-{items}.db"),
                        help="SQLite file to seed or reuse ({items} is filled in)")
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES,
                        help="PostgreSQL database to seed or reuse ('' to skip)")
    parser.add_argument("--ten-million", action="store_true",
                        help="also seed and measure 10M items (ten years, SQLite) against"
                        " the 1M times")
    parser.add_argument("--runs", type=int, default=3, help="runs per measure (median)")
    parser.add_argument("--skip", default="", help="measures to leave out, comma-separated")
    parser.add_argument("--no-record", action="store_true",
                        help="print only; leave docs/benchmarks.md alone")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--database-url", help=argparse.SUPPRESS)
    parser.add_argument("--config-file", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:
        print(json.dumps(measure(args.measure, args.database_url, args.config_file,
                                 args.runs)))
        return 0
    skip = {name for name in args.skip.split(",") if name}
    config = bench_config(Path(tempfile.gettempdir()) / "feedbackbot-figures.yml")
    stores = {f"SQLite {args.items:,}": f"sqlite:///{args.sqlite.format(items=args.items)}"}
    if args.ten_million:
        stores["SQLite 10,000,000"] = f"sqlite:///{args.sqlite.format(items=10_000_000)}"
    if args.postgres and postgres_reachable(args.postgres):
        stores[f"PostgreSQL {args.items:,}"] = args.postgres
    results: dict[str, dict[str, dict[str, float]]] = {}
    for label, url in stores.items():
        if "10,000,000" in label:
            # Ten times the history at the same pace: ten years. A window then holds as
            # many items as at 1M, and only the history around it has grown.
            ensure_seeded(url, 10_000_000, days=3650)
        else:
            ensure_seeded(url, args.items)
        results[label] = measure_store(label, url, config, args.runs, skip)
    text = table(results)
    if args.ten_million:
        text += "\n\n" + scale_table(results, f"SQLite {args.items:,}", "SQLite 10,000,000")
    print(text)
    plans = {label: query_plans(url) for label, url in stores.items()
             if "10,000,000" not in label}
    plan_text = "\n".join(f"#### Query plans, {label}\n\n{body}" for label, body in plans.items())
    print(plan_text)
    if not args.no_record:
        record_section(
            "figures", "Figures where the data lives (digest, stats, mine, suggest-rules)",
            f"{NOTES}\n\n{text}\n\n{plan_text}",
            command=" ".join(["python bench/figures.py", *(argv if argv is not None
                                                             else sys.argv[1:])]))
    return 0


def scale_table(results: dict[str, dict[str, dict[str, float]]], small: str, big: str) -> str:
    rows = ["| measure | 1M | 10M | 10M / 1M (target ≤ 1.3×) |", "|---|---|---|---|"]
    for key, label, _ in MEASURES:
        if key in results[small] and key in results[big] and key not in ("export", "suggest"):
            ratio = results[big][key]["ms"] / results[small][key]["ms"]
            rows.append(f"| {label} | {results[small][key]['ms']:.1f} ms |"
                        f" {results[big][key]['ms']:.1f} ms | {ratio:.2f}×"
                        f" {'✓' if ratio <= 1.3 else '✗'} |")
    return "\n".join(rows)


NOTES = """Store: one year of feedback, 20 teams (a third with business hours and public
holidays), one workspace, seeded by `bench/seed_history.py` (fixed end of history, so a
store is reused between runs). Each measure runs in a fresh subprocess after the store
is open: time is the median of 3 runs; peak memory is that subprocess's peak RSS
(`ru_maxrss`, interpreter and imports included, matplotlib for the chart). The digest's
window is the last day; its figures also read the 7 days before and the 14-day trend."""


if __name__ == "__main__":
    raise SystemExit(main())
