"""Seed a database with realistic feedback history, for digests, charts and benchmarks.

    python bench/seed_history.py --db /tmp/history.db --days 30 --chart docs/digest-chart.png
    python bench/seed_history.py --db /tmp/big.db --items 1000000 --days 365 --teams 20
    python bench/seed_history.py --database-url postgresql://u:p@127.0.0.1/db --items 1000000

Then, for example: DATABASE_URL=sqlite:////tmp/history.db FEEDBACKBOT_CONFIG=examples/
feedbackbot.yml feedbackbot digest --print. The data is deterministic for a given --seed
and --now. Rows go in with bulk inserts (executemany in large transactions on SQLite,
COPY on PostgreSQL), so a million items take seconds, not hours.
"""

from __future__ import annotations

import argparse
import itertools
import json
import multiprocessing
import random
import sqlite3
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from feedback_texts import feedback_text
from report import Progress

from bot.chart import trend_chart_png
from bot.config import load_config
from bot.digest_service import DigestService
from storage import open_store

ROOT = Path(__file__).resolve().parent.parent
WORKSPACE = "T0DEMO"
TEXTS = {
    "payments": ["refund not received for order {n}", "invoice {n} shows the wrong VAT",
                 "double charged on card ending {n}", "billing page times out"],
    "mobile": ["iOS app crashes on login (build {n})", "android app logs out every hour",
               "push notifications arrive twice", "app crash when uploading a photo"],
    "triage": ["does the Enterprise plan include SSO?", "question about data retention",
               "how do I export my data?", "feature request: dark mode"],
}
GENERIC_TEXTS = ["{team}: page {n} loads slowly", "{team}: error {n} after the update",
                 "{team}: setting is not saved", "{team}: wrong total in report {n}"]
MISROUTED = ["receipt email from the app is missing", "the app receipt total is off by {n}",
             "cannot download a receipt in the app", "receipt {n} not shown in the app"]
# Typical minutes from the customer speaking to support forwarding, and to a response.
LAG = {"payments": (20, 90), "mobile": (10, 240), "triage": (30, 600)}
RESPONSE = {"payments": (15, 180), "mobile": (30, 480), "triage": (60, 1440)}
GENERIC_LAG, GENERIC_RESPONSE = (15, 180), (30, 720)
# Support closes what nobody answered after a while; only recent items stay waiting.
STALE_AFTER = timedelta(days=14)
BATCH = 20_000
WORKERS = 2

ITEM_COLUMNS = ("id", "workspace", "team", "status", "text", "customer", "severity",
                "source_channel", "source_ts", "forwarded_by", "received_at",
                "forwarded_at", "intake_kind", "assignees", "card_channel", "card_ts",
                "first_response_at", "first_response_by", "first_response_kind",
                "resolved_at", "resolved_by", "resolution_note", "reassignments", "platform")
EVENT_COLUMNS = ("workspace", "item_id", "kind", "actor", "at", "data")


def team_names(count: int) -> list[str]:
    """The seeded teams: payments, mobile and triage first, then team04, team05, …"""
    named = list(TEXTS)[:count]
    return named + [f"team{number:02d}" for number in range(len(named) + 1, count + 1)]


@dataclass(frozen=True)
class Chunk:
    """One batch of the history: `count` items from id `first_id`, said in [low, high) minutes."""

    seed: str
    first_id: int
    count: int
    low: float
    high: float
    start: datetime  # naive UTC: minute 0
    now: datetime  # naive UTC
    teams: tuple[str, ...]
    sqlite: bool
    varied: bool = False  # texts of bench/feedback_texts.py instead of the few templates


Rows = tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]
# How many items, then the item rows and the event rows as COPY text.
CopyText = tuple[int, bytes, bytes]


def make_chunk(chunk: Chunk) -> Rows | CopyText:
    """The chunk's item rows and event rows, times in the form its database keeps.

    For PostgreSQL, the rows are already COPY text, so that the process writing them
    only passes bytes on.
    """
    items: list[tuple[Any, ...]] = []
    events: list[tuple[Any, ...]] = []
    rng = random.Random(chunk.seed)
    for row, more in generate(chunk, rng, _sqlite_time if chunk.sqlite else _postgres_time):
        items.append(row)
        events.extend(more)
    if chunk.sqlite:
        return items, events
    return len(items), _copy_text(items), _copy_text(events)


def _copy_text(rows: list[tuple[Any, ...]]) -> bytes:
    """Rows in COPY's text format: tab-separated, \\N for NULL, specials escaped."""
    def field(value: Any) -> str:
        if value is None:
            return "\\N"
        text = str(value)
        if any(special in text for special in "\\\t\n\r"):
            text = (text.replace("\\", "\\\\").replace("\t", "\\t")
                    .replace("\n", "\\n").replace("\r", "\\r"))
        return text

    return "".join("\t".join(map(field, row)) + "\n" for row in rows).encode("utf-8")


def generate(chunk: Chunk, rng: random.Random, stamp: Callable[[datetime], Any]
             ) -> Iterator[tuple[tuple[Any, ...], list[tuple[Any, ...]]]]:
    """Item rows with their events, oldest first; times as `stamp` makes them for the database."""
    teams, now = list(chunk.teams), chunk.now
    weights = [5, 4, 2][:len(teams)] + [3] * max(0, len(teams) - 3)
    offsets = sorted(rng.uniform(chunk.low, chunk.high) for _ in range(chunk.count))
    for number, offset in enumerate(offsets, start=chunk.first_id):
        said = chunk.start + timedelta(minutes=offset)
        team = rng.choices(teams, weights=weights)[0]
        lag = LAG.get(team, GENERIC_LAG)
        forwarded = said + timedelta(minutes=rng.triangular(1, lag[1], lag[0]))
        texts = TEXTS.get(team, GENERIC_TEXTS)
        text = (feedback_text(rng, team) if chunk.varied
                else rng.choice(texts).format(n=rng.randint(1000, 9999), team=team))
        # Receipt questions name the app, so keywords send them to mobile first;
        # payments owns them, and the digest learns that from the reassignments.
        moved = team == "payments" and "mobile" in teams and rng.random() < 0.15
        if moved:
            text = rng.choice(MISROUTED).format(n=rng.randint(1000, 9999))
        events: list[tuple[Any, ...]] = [(WORKSPACE, number, "received", "U0SUPPORT",
                                          stamp(forwarded), "{}")]
        if moved:
            events.append((WORKSPACE, number, "reassigned", "U0CAROL",
                           stamp(forwarded + timedelta(minutes=rng.randint(5, 60))),
                           json.dumps({"from": "mobile", "to": "payments"})))
        response = RESPONSE.get(team, GENERIC_RESPONSE)
        responded: datetime | None = forwarded + timedelta(minutes=rng.triangular(
            1, response[1], response[0]))
        status, resolved, kind = "routed", None, None
        if responded is not None and responded < now and rng.random() < 0.97:
            status, kind = "responded", rng.choice(["button", "reaction", "reply"])
            events.append((WORKSPACE, number, "responded", "U0ALICE", stamp(responded),
                           "{}"))
            resolved = responded + timedelta(hours=rng.randint(1, 72))
        else:
            responded = None
            resolved = forwarded + STALE_AFTER + timedelta(hours=rng.randint(0, 72))
        if resolved < now:
            status = "resolved"
        else:
            resolved = None
        row = (number, WORKSPACE, team, status, text, rng.choice([None, "acme", "globex"]),
               rng.choice(["normal", "normal", "high", "low", "urgent"]), "C0INTAKE",
               f"{said.timestamp():.0f}.{number:07d}",
               rng.choice(["U0SUPPORT", "U0SUPPORT2"]), stamp(said), stamp(forwarded),
               "channel", '["U0ALICE"]', "C0PAYMENTS", f"{forwarded.timestamp() + 1:.6f}",
               responded and stamp(responded), "U0ALICE" if responded else None, kind,
               resolved and stamp(resolved),
               "U0ALICE" if resolved else None, "fixed" if resolved else None,
               1 if moved else 0, "slack")
        yield row, events


def _sqlite_time(moment: datetime) -> str:
    # The store's own format for SQLite: ISO 8601 UTC with microseconds and a Z.
    return moment.isoformat(timespec="microseconds") + "Z"


def _postgres_time(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds") + "+00:00"


def bulk_seed(database_url: str, *, items: int, days: int, teams: list[str], now: datetime,
              seed: int, varied: bool = False) -> int:
    """Write `items` items over `days` days ending at `now`, in bulk; return how many.

    Worker processes make the rows, chunk by chunk, while this one writes them. With
    `varied`, texts have the spread of words of real phrasing (bench/feedback_texts.py).
    """
    open_store(database_url).close()  # creates the schema (every migration)
    progress = Progress("seeding items", items)
    sqlite = database_url.startswith("sqlite:///")
    naive_now = now.astimezone(UTC).replace(tzinfo=None)
    minutes = days * 24 * 60
    chunks = [Chunk(seed=f"{seed}-{first}", first_id=first + 1,
                    count=min(BATCH, items - first), low=minutes * first / items,
                    high=minutes * min(items, first + BATCH) / items,
                    start=naive_now - timedelta(days=days), now=naive_now,
                    teams=tuple(teams), sqlite=sqlite, varied=varied)
              for first in range(0, items, BATCH)]
    with multiprocessing.get_context("spawn").Pool(WORKERS) as pool:
        batches = _in_order(pool, chunks)
        if sqlite:
            _seed_sqlite(database_url.removeprefix("sqlite:///"), batches, progress)
        else:
            _seed_postgres(database_url, batches, progress)
    progress.finish()
    return items


def _in_order(pool: Any, chunks: list[Chunk]) -> Iterator[Any]:
    """The chunks' rows in order (ids and times grow as in a live store), few at a time.

    At most two chunks per worker are made ahead, so memory stays flat however many.
    """
    pending: deque[Any] = deque()
    waiting = iter(chunks)
    for chunk in itertools.islice(waiting, WORKERS * 2):
        pending.append(pool.apply_async(make_chunk, (chunk,)))
    while pending:
        rows = pending.popleft().get()
        following = next(waiting, None)
        if following is not None:
            pending.append(pool.apply_async(make_chunk, (following,)))
        yield rows


def _seed_sqlite(path: str, batches: Iterator[Rows], progress: Progress) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    # A scratch database: no fsync per transaction; a crash means seeding again.
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("PRAGMA cache_size = -200000")
    insert_item = (f"INSERT INTO items ({', '.join(ITEM_COLUMNS)})"
                   f" VALUES ({', '.join('?' for _ in ITEM_COLUMNS)})")
    insert_event = (f"INSERT INTO events ({', '.join(EVENT_COLUMNS)})"
                    f" VALUES ({', '.join('?' for _ in EVENT_COLUMNS)})")
    for item_rows, event_rows in batches:
        conn.execute("BEGIN")
        conn.executemany(insert_item, item_rows)
        conn.executemany(insert_event, event_rows)
        conn.execute("COMMIT")
        progress.tick(len(item_rows))
    conn.execute("ANALYZE")
    conn.close()


def _seed_postgres(url: str, batches: Iterator[CopyText], progress: Progress) -> None:
    import psycopg

    with psycopg.connect(url) as conn:
        with conn.cursor() as cursor:
            # One transaction: the secondary indexes are dropped, the rows copied, and
            # the indexes built once at the end (much cheaper than maintaining them row
            # by row); a failure leaves the database as it was.
            indexes = cursor.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()"
                " AND tablename IN ('items', 'events') AND indexname NOT LIKE '%pkey'"
            ).fetchall()
            for name, _ in indexes:
                cursor.execute(f'DROP INDEX "{name}"')
            # A scratch database: no waiting for each commit to reach the disk, and
            # memory enough to build each index in one sort.
            cursor.execute("SET synchronous_commit = off")
            cursor.execute("SET maintenance_work_mem = '256MB'")
            for count, item_text, event_text in batches:
                with cursor.copy(f"COPY items ({', '.join(ITEM_COLUMNS)}) FROM STDIN") as copy:
                    copy.write(item_text)
                with cursor.copy(f"COPY events ({', '.join(EVENT_COLUMNS)})"
                                 " FROM STDIN") as copy:
                    copy.write(event_text)
                progress.tick(count)
            for _, definition in indexes:
                cursor.execute(definition)
            # Ids were given explicitly: new items continue after the last one.
            cursor.execute("SELECT setval(pg_get_serial_sequence('items', 'id'),"
                           " (SELECT max(id) FROM items))")
            cursor.execute("SELECT setval(pg_get_serial_sequence('events', 'id'),"
                           " (SELECT max(id) FROM events))")
            conn.commit()
        conn.autocommit = True
        # VACUUM sets the visibility map, so that covering indexes answer without the table.
        conn.execute("VACUUM ANALYZE items")
        conn.execute("VACUUM ANALYZE events")


def _is_empty(database_url: str) -> bool:
    store = open_store(database_url)
    try:
        return not store.item_workspaces()
    finally:
        store.close()


def main(argv: list[str] | None = None) -> int:
    """Seed the database (and optionally draw the digest's chart)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--db", help="SQLite file to create")
    where.add_argument("--database-url", help="an empty database to fill instead"
                       " (sqlite:///… or postgresql://…)")
    parser.add_argument("--days", type=int, default=None,
                        help="days of history (default: 30, or 365 with --items)")
    parser.add_argument("--per-day", type=int, default=12, help="average items per day")
    parser.add_argument("--items", type=int, help="how many items in all (overrides"
                        " --per-day)")
    parser.add_argument("--teams", type=int, default=3, help="how many teams (default: 3;"
                        " past the first three they are team04, team05, …)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--now", help="the history's end, ISO 8601 (default: now)")
    parser.add_argument("--varied-texts", action="store_true", help="texts in the many"
                        " words of real phrasing (bench/feedback_texts.py), for search")
    parser.add_argument("--chart", help="also write the digest's 14-day chart PNG here")
    parser.add_argument("--config", default=str(ROOT / "examples" / "feedbackbot.yml"))
    args = parser.parse_args(argv)
    days = args.days or (365 if args.items else 30)
    if days < 1 or args.teams < 1 or (args.items is not None and args.items < 1):
        parser.error("--days, --teams and --items take a number of 1 or more")
    if args.db:
        if Path(args.db).exists():
            parser.error(f"{args.db} exists; seed a new file")
        database_url = f"sqlite:///{args.db}"
    else:
        database_url = args.database_url
        if not _is_empty(database_url):
            parser.error("the database already has items; seed an empty one")
    now = (datetime.fromisoformat(args.now).astimezone(UTC) if args.now
           else datetime.now(UTC).replace(microsecond=0))
    rng = random.Random(args.seed)
    items = args.items or sum(rng.randint(args.per_day // 2, args.per_day * 3 // 2)
                              for _ in range(days))
    count = bulk_seed(database_url, items=items, days=days, teams=team_names(args.teams),
                      now=now, seed=args.seed, varied=args.varied_texts)
    print(f"seeded {count} items over {days} days into {args.db or 'the database'}")
    if args.chart:
        loaded = load_config(args.config)
        assert loaded.config is not None, loaded.problems
        store = open_store(database_url)
        service = DigestService(store=store, config=loaded.config, clock=lambda: now)
        data = service.build(workspace=WORKSPACE, index=0, local_date=now.date(), late=False,
                             window_start=now - timedelta(days=1), window_end=now)
        Path(args.chart).write_bytes(trend_chart_png(
            data.trend, title="Median time to response, last 14 days (Europe/Berlin)"))
        store.close()
        print(f"wrote the chart to {args.chart}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
