"""What /metrics exposes: counters the code bumps, and gauges read from the store per scrape.

Metrics live in prometheus-client's process-wide registry: every process that serves HTTP
(`serve`) exposes its own figures, and Prometheus adds them up across processes.
Labels are bounded: team names come from the config, methods from the platform's API.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

ITEMS_RECEIVED = Counter("feedbackbot_items_received", "Items stored from forwarded words",
                         ["team", "platform"])
ITEMS_ROUTED = Counter("feedbackbot_items_routed", "Cards posted into a team's channel",
                       ["team", "platform"])
ITEMS_RESPONDED = Counter("feedbackbot_items_responded",
                          "Items a team member responded to for the first time",
                          ["team", "platform"])
ITEMS_RESOLVED = Counter("feedbackbot_items_resolved", "Items resolved", ["team", "platform"])
OUTBOX_PENDING = Gauge("feedbackbot_outbox_pending", "Outbox entries not sent yet")
STORE_UP = Gauge("feedbackbot_store_up", "1 when the database answered the last scrape, else 0")
OUTBOX_OLDEST_SECONDS = Gauge("feedbackbot_outbox_oldest_pending_seconds",
                              "Age of the oldest outbox entry not sent yet (0 when none)")
API_CALLS = Counter("feedbackbot_api_calls", "Chat platform Web API calls",
                    ["platform", "method"])
API_ERRORS = Counter("feedbackbot_api_errors", "Chat platform Web API calls that failed",
                     ["platform", "method", "error"])
# Slack gives up on an answer after 3 s: the buckets are finer below that.
ACK_SECONDS = Histogram("feedbackbot_ack_seconds",
                        "Time from receiving a request to answering it",
                        ["platform", "kind"],
                        buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 2.5,
                                 3.0, 5.0, 10.0))
DIGEST_RUNS = Counter("feedbackbot_digest_runs", "Digests posted", ["platform"])
DIGEST_FAILURES = Counter("feedbackbot_digest_failures", "Digest posts that failed",
                          ["platform"])

ACK_KINDS = ("command", "interaction", "event")


def item_counted(counter: Counter, *, team: str, platform: str) -> None:
    """Add one to an item counter for `team` on `platform`."""
    counter.labels(team=team, platform=platform).inc()


def api_called(*, platform: str, method: str, error: str | None = None) -> None:
    """Count one Web API call, and its failure (`error`: the platform's code or the exception)."""
    API_CALLS.labels(platform=platform, method=method).inc()
    if error is not None:
        API_ERRORS.labels(platform=platform, method=method, error=error).inc()


@contextmanager
def ack_timer(*, platform: str, kind: str) -> Iterator[None]:
    """Observe how long the block takes in the ack histogram, under `kind`."""
    started = time.perf_counter()
    try:
        yield
    finally:
        ACK_SECONDS.labels(platform=platform, kind=kind).observe(time.perf_counter() - started)


def set_outbox_backlog(pending: int, oldest: datetime | None, *, now: datetime) -> None:
    """Keep the outbox gauges at what the store said just now."""
    OUTBOX_PENDING.set(pending)
    OUTBOX_OLDEST_SECONDS.set(max(0.0, (now - oldest).total_seconds()) if oldest else 0.0)


def exposition() -> tuple[bytes, str]:
    """The metrics in Prometheus' text format, and its content type."""
    return generate_latest(), CONTENT_TYPE_LATEST


class Reachability:
    """Whether a chat platform answered its last Web API call, as last seen.

    Any answer (even a refusal) counts as reachable; a 5xx answer, a timeout or a
    refused connection as unreachable. Unknown (None) until the first call.
    """

    def __init__(self) -> None:
        self.reachable: bool | None = None
        self.problem: str | None = None

    def answered(self) -> None:
        """The platform answered."""
        self.reachable, self.problem = True, None

    def failed(self, problem: str) -> None:
        """The platform did not answer usefully (`problem`: what happened)."""
        self.reachable, self.problem = False, problem
