"""Seed a database with N days of realistic feedback, for digests, charts and benchmarks.

    python bench/seed_history.py --db /tmp/history.db --days 30 --chart docs/digest-chart.png

Then, for example: DATABASE_URL=sqlite:////tmp/history.db FEEDBACKBOT_CONFIG=examples/
feedbackbot.yml feedbackbot digest --print. The data is deterministic for a given --seed.
"""

from __future__ import annotations

import argparse
import random
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.chart import trend_chart_png
from bot.config import load_config
from bot.digest_service import DigestService
from bot.models import Event, Item, Status
from bot.store import Store
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
MISROUTED = ["receipt email from the app is missing", "the app receipt total is off by {n}",
             "cannot download a receipt in the app", "receipt {n} not shown in the app"]
# Typical minutes from the customer speaking to support forwarding, and to a response.
LAG = {"payments": (20, 90), "mobile": (10, 240), "triage": (30, 600)}
RESPONSE = {"payments": (15, 180), "mobile": (30, 480), "triage": (60, 1440)}


def seed(store: Store, *, days: int, per_day: int, now: datetime,
         rng: random.Random) -> int:
    """Write `days` of items ending at `now`; return how many. Prints progress."""
    teams = list(TEXTS)
    count = 0
    for day in range(days, 0, -1):
        for _ in range(rng.randint(per_day // 2, per_day * 3 // 2)):
            team = rng.choices(teams, weights=[5, 4, 2])[0]
            said = now - timedelta(days=day - 1, minutes=rng.randint(0, 24 * 60))
            forwarded = said + timedelta(minutes=rng.triangular(1, LAG[team][1],
                                                                LAG[team][0]))
            count += 1
            text = rng.choice(TEXTS[team]).format(n=rng.randint(1000, 9999))
            # Receipt questions name the app, so keywords send them to mobile first;
            # payments owns them, and the digest learns that from the reassignments.
            moved = team == "payments" and rng.random() < 0.15
            if moved:
                text = rng.choice(MISROUTED).format(n=rng.randint(1000, 9999))
            item = Item(
                workspace=WORKSPACE, id=0, team="mobile" if moved else team,
                status=Status.ROUTED.value, text=text, customer=rng.choice(
                    [None, "acme", "globex"]), severity=rng.choice(
                    ["normal", "normal", "high", "low", "urgent"]),
                source_channel="C0INTAKE", source_ts=f"{said.timestamp():.0f}.{count:06d}",
                forwarded_by=rng.choice(["U0SUPPORT", "U0SUPPORT2"]), received_at=said,
                forwarded_at=forwarded, intake_kind="channel", card_channel="C0PAYMENTS",
                card_ts=f"{forwarded.timestamp() + 1:.6f}", assignees=["U0ALICE"])
            created = store.create_item(item=item, event=Event(0, "received", item.forwarded_by,
                                                               forwarded), outbox=[])
            if moved:
                at = forwarded + timedelta(minutes=rng.randint(5, 60))
                store.update_item(workspace=WORKSPACE, item_id=created.id,
                                  changes={"team": "payments", "reassignments": 1},
                                  event=Event(created.id, "reassigned", "U0CAROL", at,
                                              {"from": "mobile", "to": "payments"}))
            responded = forwarded + timedelta(minutes=rng.triangular(
                1, RESPONSE[team][1], RESPONSE[team][0]))
            if responded < now and rng.random() < 0.97:
                resolved = responded + timedelta(hours=rng.randint(1, 72))
                changes: dict[str, object] = {
                    "first_response_at": responded, "first_response_by": "U0ALICE",
                    "first_response_kind": rng.choice(["button", "reaction", "reply"]),
                    "status": Status.RESPONDED.value}
                if resolved < now:
                    changes.update(status=Status.RESOLVED.value, resolved_at=resolved,
                                   resolved_by="U0ALICE", resolution_note="fixed")
                store.update_item(workspace=WORKSPACE, item_id=created.id, changes=changes,
                                  event=Event(created.id, "responded", "U0ALICE", responded))
        print(f"\rseeding: day {days - day + 1}/{days}, {count} items", end="", flush=True,
              file=sys.stderr)
    print(file=sys.stderr)
    return count


def main(argv: list[str] | None = None) -> int:
    """Seed the database (and optionally draw the digest's chart)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="SQLite file to create")
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--per-day", type=int, default=12, help="average items per day")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--chart", help="also write the digest's 14-day chart PNG here")
    parser.add_argument("--config", default=str(ROOT / "examples" / "feedbackbot.yml"))
    args = parser.parse_args(argv)
    if Path(args.db).exists():
        parser.error(f"{args.db} exists; seed a new file")
    now = datetime.now(UTC).replace(microsecond=0)
    store = open_store(f"sqlite:///{args.db}")
    count = seed(store, days=args.days, per_day=args.per_day, now=now,
                 rng=random.Random(args.seed))
    print(f"seeded {count} items over {args.days} days into {args.db}")
    if args.chart:
        loaded = load_config(args.config)
        assert loaded.config is not None, loaded.problems
        service = DigestService(store=store, config=loaded.config, clock=lambda: now)
        local_date = now.date()
        data = service.build(workspace=WORKSPACE, index=0, local_date=local_date, late=False,
                             window_start=now - timedelta(days=1), window_end=now)
        Path(args.chart).write_bytes(trend_chart_png(
            data.trend, title="Median time to response, last 14 days (Europe/Berlin)"))
        print(f"wrote the chart to {args.chart}")
    store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
