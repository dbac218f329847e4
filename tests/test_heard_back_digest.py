"""Time until the customer heard back in the digest: read by the digest service on both
backends, shown beside time to response on Slack, on Teams and by `digest --print`."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

from bot.config import Config
from bot.digest_service import DigestService
from bot.digest_text import digest_table
from bot.models import Status
from bot.store import Store
from handlers.msteams.digest_card import digest_card
from handlers.slack.digest_blocks import digest_blocks
from tests.fakes import FrozenClock
from tests.store_backends import create
from tests.test_digest_blocks import check_limits, texts

WORKSPACE = "T0WORK"
DAY = date(2024, 5, 7)  # Tue 7 May 2024; the digest covers Mon 09:00 to Tue 09:00 Berlin
RUN = datetime(2024, 5, 7, 7, 0, tzinfo=UTC)
START = RUN - timedelta(days=1)


def config() -> Config:
    return Config.model_validate({
        "teams": {
            "payments": {"channel": "C0PAY", "owners": ["U0ALICE"]},
            "mobile": {"channel": "C0MOB", "owners": ["U0MO"]},
        },
        "fallback": "payments",
        "digests": [{"channel": "C0MANAGERS", "at": "09:00", "timezone": "Europe/Berlin",
                     "days": ["mon", "tue", "wed", "thu", "fri"]}],
    })


def _answered(store: Store, team: str, received: datetime, first: datetime,
              told: datetime | None = None) -> None:
    create(store, workspace=WORKSPACE, team=team, received_at=received, forwarded_at=received,
           first_response_at=first, status=Status.RESPONDED.value,
           customer_answered_at=told, customer_answered_by="U0SUPPORT" if told else None,
           customer_answered_how="button" if told else None)


def build(store: Store):
    hour = timedelta(hours=1)
    # payments: heard back after 2h and 4h (median 3h), one unknown; responses after 1h.
    _answered(store, "payments", START, START + hour, START + 2 * hour)
    _answered(store, "payments", START + hour, START + 2 * hour, START + 5 * hour)
    _answered(store, "payments", START + hour, START + 2 * hour)
    # mobile: answered, and nobody said the customer heard back.
    _answered(store, "mobile", START, START + 30 * timedelta(minutes=1))
    # Answered before the window: not this digest's.
    _answered(store, "payments", START - 5 * hour, START - hour, START + hour)
    service = DigestService(store=store, config=config(), clock=FrozenClock(RUN))
    return service.build(workspace=WORKSPACE, index=0, local_date=DAY, late=False)


def test_every_rendering_shows_the_whole_loop_beside_time_to_response(fresh_store):
    data = build(fresh_store)
    assert data.heard_back is not None
    payments = data.heard_back.of("payments")
    assert payments is not None and (payments.answered, payments.unknown) == (3, 1)

    payments_words = ("median 3h, p90 4h (2 items); 1 of 3 unknown · time to response"
                      " median 1h")
    mobile_words = "no record yet; 1 of 1 unknown · time to response median 30m"
    everyone = "median 3h, p90 4h (2 items); 2 of 4 unknown"

    blocks = digest_blocks(data)
    check_limits(blocks)
    slack = "\n".join(texts(blocks))
    assert "*The whole loop: time until the customer heard back*" in slack
    assert f"• *payments*: {payments_words}" in slack
    assert f"• *mobile*: {mobile_words}" in slack
    assert f"• *all*: {everyone}" in slack

    printed = " ".join(digest_table(data, width=200).split())
    assert "The whole loop: time until the customer heard back" in printed
    assert f"• payments: {payments_words}" in printed
    assert f"• mobile: {mobile_words}" in printed

    card = json.dumps(digest_card(data), ensure_ascii=False)
    assert "The whole loop: time until the customer heard back" in card
    assert "**payments**: median 3h, p90 4h" in card
    assert "1 of 3 unknown" in card and "2 of 4 unknown" in card
