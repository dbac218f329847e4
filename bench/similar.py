"""Similar items: precision and recall of the offer, and the time to match at a million items.

    python bench/similar.py                      # both backends, 1M items, 200 matches
    python bench/similar.py --items 100000 --no-postgres --no-record

1. Quality: the labelled set tests/data/similar_feedback.yml is matched and stored text
   by text (bot/similar_quality.py) on each backend; precision and recall of the offer
   at thresholds around the shipped one, with the team known (as the intake knows it
   from routing) and from text alone.
2. Speed: a history of --items items over a year, with texts in the many words of real
   phrasing (bench/feedback_texts.py), is seeded once per backend by
   bench/seed_history.py's bulk seeding and kept for later runs (--reseed makes it
   anew); then --matches new texts are matched one at a time (SimilarItems.best_match,
   what the intake calls) and the median and p99 are reported.

The table is printed and written into docs/benchmarks.md (section "similar").
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from feedback_texts import AREAS, feedback_text
from report import Progress, fresh_postgres_database, record_section
from seed_history import WORKSPACE, bulk_seed

from bot import similar
from bot.similar import THRESHOLD, SimilarItems
from bot.similar_quality import arrival_order, load_labelled, quality, run
from bot.store_similar import CANDIDATES
from storage import open_store
from storage.migrations import applied_versions
from storage.similar import NEWEST_HITS, RECENT_ITEMS
from storage.store import SqlStore

ROOT = Path(__file__).resolve().parent.parent
LABELLED = ROOT / "tests" / "data" / "similar_feedback.yml"
# Written after the matcher was tuned on LABELLED, and never used to tune it.
HOLDOUT = ROOT / "tests" / "data" / "similar_feedback_holdout.yml"
POSTGRES_SERVER = "postgresql://feedbackbot:feedbackbot@127.0.0.1:5432"
THRESHOLDS = (0.25, 0.3, THRESHOLD, 0.4, 0.45, 0.5)
TEAMS = list(AREAS)
TARGET_MS = 50.0


@dataclass(frozen=True)
class Timing:
    """Match times of one backend."""

    backend: str
    items: int
    median_ms: float
    p99_ms: float
    max_ms: float
    offered: int
    matches: int


def measure_quality(backend: str, url: str, labelled: Path,
                    thresholds: tuple[float, ...]) -> list[str]:
    """Markdown rows of precision and recall per threshold and mode, on one backend."""
    texts = arrival_order(load_labelled(labelled))
    rows = []
    for team_known in (True, False):
        store = open_store(url)
        try:
            outcomes = run(store, texts, workspace=f"T0EVAL{labelled.stem}{int(team_known)}",
                           now=datetime.now(UTC), with_team=team_known)
        finally:
            store.close()
        for threshold in thresholds:
            measured = quality(outcomes, threshold)
            shipped = " (shipped)" if threshold == THRESHOLD else ""
            rows.append(f"| {labelled.stem} | {backend}"
                        f" | {'routed team' if team_known else 'text only'}"
                        f" | {threshold:.2f}{shipped} | {measured.precision:.3f}"
                        f" | {measured.recall:.3f} | {measured.right} | {measured.wrong}"
                        f" | {measured.missed} |")
    return rows


# What each signal beside the shared words adds: the matcher with it set to no effect.
SIGNALS = (("product words weigh 0.4", "PRODUCT_WEIGHT", 1.0),
           ("questions vs faults", "OTHER_INTENT", 1.0),
           ("routed team", "OTHER_TEAM", 1.0),
           ("typos forgiven", "_TYPO_RATIO", 101))


def measure_signals() -> list[str]:
    """Markdown rows: precision and recall at the shipped threshold without each signal."""
    rows = []
    for label, name, neutral in (("all (shipped)", "THRESHOLD", THRESHOLD), *SIGNALS):
        shipped_value = getattr(similar, name)
        setattr(similar, name, neutral)
        try:
            cells = []
            for labelled in (LABELLED, HOLDOUT):
                store = open_store("sqlite:///:memory:")
                measured = quality(run(store, arrival_order(load_labelled(labelled)),
                                       workspace="T0EVAL", now=datetime.now(UTC)), THRESHOLD)
                store.close()
                cells.append(f"{measured.precision:.3f} | {measured.recall:.3f}")
        finally:
            setattr(similar, name, shipped_value)
        rows.append(f"| {label if name == 'THRESHOLD' else 'without ' + label}"
                    f" | {' | '.join(cells)} |")
    return rows


def _seeded_count(url: str) -> int:
    """How many items the database holds with the full-text index built; 0 when unusable."""
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        return 0
    if url.startswith("postgresql://") and not _postgres_database_exists(url):
        return 0
    try:
        store = open_store(url)
    except Exception:  # not there yet, or not a store: seed it
        return 0
    try:
        if not isinstance(store, SqlStore) or 14 not in applied_versions(store.database):
            return 0
        with store.database.read() as tx:
            row = tx.one("SELECT count(*) AS n FROM items")
        return int(row["n"]) if row else 0
    finally:
        store.close()


def _postgres_database_exists(url: str) -> bool:
    import psycopg

    base, name = url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", connect_timeout=5) as admin:
        return admin.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                             (name,)).fetchone() is not None


def ensure_history(backend: str, url: str, items: int, *, reseed: bool) -> None:
    """Seed `items` items into `url` unless it already holds exactly them."""
    if not reseed and _seeded_count(url) == items:
        print(f"  {backend}: reusing the {items} items at {url.split('@')[-1]}", file=sys.stderr)
        return
    if backend == "sqlite":
        path = Path(url.removeprefix("sqlite:///"))
        path.parent.mkdir(parents=True, exist_ok=True)
        for leftover in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            leftover.unlink(missing_ok=True)
    else:
        fresh_postgres_database(url)
    started = time.monotonic()
    bulk_seed(url, items=items, days=365, teams=TEAMS, now=datetime.now(UTC).replace(
        microsecond=0), seed=12, varied=True)
    print(f"  {backend}: seeded in {time.monotonic() - started:.0f} s", file=sys.stderr)


def measure_speed(backend: str, url: str, items: int, matches: int) -> Timing:
    """Time `matches` best_match calls of new texts against the seeded history."""
    store = open_store(url)
    try:
        assert isinstance(store, SqlStore)
        with store.database.read() as tx:
            row = tx.one("SELECT max(forwarded_at) AS last FROM items")
        last = row["last"] if row else None
        now = (last if isinstance(last, datetime)
               else datetime.fromisoformat(str(last).replace("Z", "+00:00")))
        matcher = SimilarItems(store, clock=lambda: now)
        rng = random.Random(2026)
        texts = [(feedback_text(rng, team), team)
                 for team in (rng.choice(TEAMS) for _ in range(matches + 20))]
        for text, team in texts[:20]:  # warm the caches
            matcher.best_match(workspace=WORKSPACE, text=text, team=team)
        progress = Progress(f"{backend}: matching", matches)
        times, offered = [], 0
        for text, team in texts[20:]:
            started = time.perf_counter()
            match = matcher.best_match(workspace=WORKSPACE, text=text, team=team)
            times.append((time.perf_counter() - started) * 1000)
            offered += match is not None
            progress.tick()
        progress.finish()
    finally:
        store.close()
    times.sort()
    return Timing(backend=backend, items=items, median_ms=statistics.median(times),
                  p99_ms=times[min(len(times) - 1, round(len(times) * 0.99) - 1)],
                  max_ms=times[-1], offered=offered, matches=matches)


def main(argv: list[str] | None = None) -> int:
    """Measure, print the table, and record it in docs/benchmarks.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1_000_000, help="items in the history")
    parser.add_argument("--matches", type=int, default=200, help="timed matches per backend")
    parser.add_argument("--sqlite", default=None, help="the SQLite history file (default:"
                        " feedbackbot-similar-<items>.db in the temp folder, kept)")
    parser.add_argument("--postgres-server", default=POSTGRES_SERVER,
                        help="a PostgreSQL server URL without a database name")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument("--reseed", action="store_true", help="seed the histories anew")
    parser.add_argument("--no-record", action="store_true", help="don't write the doc")
    args = parser.parse_args(argv)
    if args.items < 1 or args.matches < 1:
        parser.error("--items and --matches take a number of 1 or more")
    sqlite_path = args.sqlite or os.path.join(tempfile.gettempdir(),
                                              f"feedbackbot-similar-{args.items}.db")
    backends = {"sqlite": f"sqlite:///{sqlite_path}"}
    if not args.no_postgres:
        backends["postgresql"] = f"{args.postgres_server}/feedbackbot_bench_similar_{args.items}"

    quality_rows: list[str] = []
    with tempfile.TemporaryDirectory() as scratch:
        for backend in backends:
            url = (f"sqlite:///{scratch}/quality.db" if backend == "sqlite" else
                   fresh_postgres_database(f"{args.postgres_server}/feedbackbot_bench_similar_q"))
            print(f"  {backend}: matching the labelled set", file=sys.stderr)
            quality_rows += measure_quality(backend, url, LABELLED, THRESHOLDS)
            quality_rows += measure_quality(backend, url, HOLDOUT, (THRESHOLD,))
    print("  sqlite: each signal left out", file=sys.stderr)
    signal_rows = measure_signals()
    timings = []
    for backend, url in backends.items():
        ensure_history(backend, url, args.items, reseed=args.reseed)
        timings.append(measure_speed(backend, url, args.items, args.matches))

    load = os.getloadavg()
    body = "\n".join([
        f"Labelled set: {len(load_labelled(LABELLED))} texts (tests/data/{LABELLED.name}), on"
        f" which the matcher's words, weights and threshold ({THRESHOLD}) were chosen;"
        f" targets: precision ≥ 0.9, recall ≥ 0.7. Held-out set:"
        f" {len(load_labelled(HOLDOUT))} texts (tests/data/{HOLDOUT.name}), written after"
        " the tuning and never used for it. \"team\": the matcher is told the team the"
        " text is routed to, as the intake knows it, or only the text. Recall counts the"
        " texts that had an earlier text of their cluster to be offered.",
        "",
        "| set | backend | team | threshold | precision | recall | right offers"
        " | wrong offers | missed |",
        "|---|---|---|---|---|---|---|---|---|",
        *quality_rows,
        "",
        "What each signal beside the shared words adds (SQLite, routed team, shipped"
        " threshold; the customer is not a signal: preferring or avoiding the same"
        " customer's items changed no offer):",
        "",
        "| matcher | precision | recall | held-out precision | held-out recall |",
        "|---|---|---|---|---|",
        *signal_rows,
        "",
        f"Match time: one `SimilarItems.best_match`, what the intake calls (query terms;"
        " the store's query for the workspace's open and last-90-days items sharing two of"
        f" them, the newest {NEWEST_HITS} hits ranked, on PostgreSQL among its newest"
        f" {RECENT_ITEMS:,} items; scoring the best {CANDIDATES}), {args.matches} new texts"
        f" after 20 untimed, against a year of one workspace's history ({len(TEAMS)} teams,"
        f" varied texts). Target: under {TARGET_MS:.0f} ms. Load average (1 / 5 min) at"
        f" the end of the run: {load[0]:.1f} / {load[1]:.1f} on"
        f" {os.cpu_count()} cores shared with other work.",
        "",
        "| backend | items | median ms | p99 ms | max ms | offered |",
        "|---|---|---|---|---|---|",
        *(f"| {t.backend} | {t.items:,} | {t.median_ms:.1f} | {t.p99_ms:.1f} | {t.max_ms:.1f}"
          f" | {t.offered}/{t.matches} |" for t in timings),
    ])
    print(body)
    if not args.no_record:
        record_section("similar", "Similar items: precision, recall and match time"
                       " (`bench/similar.py`)", body,
                       command="python bench/similar.py" + (
                           f" --items {args.items}" if args.items != 1_000_000 else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
