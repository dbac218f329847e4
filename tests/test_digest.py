"""The digest's content: hand-computed figures for a Monday digest covering the weekend."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from bot.config import Config, DigestConfig
from bot.digest import (
    DigestData,
    build_digest_data,
    headlines,
    human_duration,
    time_split,
    window_label,
)
from bot.digest_text import digest_table
from bot.models import Item, Status
from bot.suggestions import Reassignment
from tests.fakes import make_item

# Mon 6 May 2024 09:00 Europe/Berlin is 07:00 UTC; the previous run was Fri 3 May 09:00.
WINDOW_START = datetime(2024, 5, 3, 7, 0, tzinfo=UTC)
WINDOW_END = datetime(2024, 5, 6, 7, 0, tzinfo=UTC)
NOW = WINDOW_END + timedelta(minutes=5)
LOCAL_DATE = date(2024, 5, 6)


def at(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    """A UTC moment in 2024."""
    return datetime(2024, month, day, hour, minute, tzinfo=UTC)


def digest_config() -> Config:
    """Three wall-clock teams with an 8h SLA for normal items, and one digest subscription."""
    return Config.model_validate(
        {
            "teams": {
                "payments": {"channel": "C0PAY", "owners": ["U0ALICE"], "keywords": ["refund"]},
                "mobile": {"channel": "C0MOB", "owners": ["U0MO"], "keywords": ["crash"]},
                "triage": {"channel": "C0TRI", "owners": ["U0DAN"]},
            },
            "fallback": "triage",
            "digests": [{"channel": "C0MANAGERS", "at": "09:00", "timezone": "Europe/Berlin"}],
        }
    )


def item(
    item_id: int,
    team: str,
    received: datetime,
    forwarded: datetime,
    responded: datetime | None = None,
    **extra: object,
) -> Item:
    """An item with the times that matter here; responded items have status responded."""
    status = Status.RESPONDED.value if responded else Status.ROUTED.value
    values: dict[str, object] = {
        "id": item_id,
        "team": team,
        "received_at": received,
        "forwarded_at": forwarded,
        "first_response_at": responded,
        "status": status,
        "text": f"Feedback number {item_id}",
    }
    values.update(extra)
    return make_item(**values)


def digest_items() -> list[Item]:
    """The fixture; comments give time to response (ttr), forwarding lag and developer time."""
    return [
        # In the window [Fri 3 May 07:00, Mon 6 May 07:00) UTC:
        # ttr 2h30 = lag 30m + dev 2h; moved here from mobile
        item(
            1,
            "payments",
            at(5, 3, 8),
            at(5, 3, 8, 30),
            at(5, 3, 10, 30),
            reassignments=1,
            text="Subscription renewal failed",
        ),
        # ttr 1h10 = lag 10m + dev 1h; moved here from mobile
        item(
            2,
            "payments",
            at(5, 3, 12),
            at(5, 3, 12, 10),
            at(5, 3, 13, 10),
            reassignments=1,
            text="The subscriptions page shows the wrong renewal date",
        ),
        # ttr 10h = lag 0 + dev 10h: breaches the 8h SLA
        item(3, "payments", at(5, 4, 9), at(5, 4, 9), at(5, 4, 19)),
        # ttr 2h = lag 1h + dev 1h
        item(4, "mobile", at(5, 5, 10), at(5, 5, 11), at(5, 5, 12)),
        # Waiting, forwarded 11h05 before now: overdue
        item(5, "mobile", at(5, 5, 20), at(5, 5, 20), assignees=["U0MO", "U0BO"]),
        # Waiting 1h05, 35m since forwarding: not overdue
        item(6, "triage", at(5, 6, 6), at(5, 6, 6, 30), text="Hi <!channel> & <@U0BOSS>"),
        item(10, "triage", at(5, 5, 8), at(5, 5, 8)),  # waiting, overdue
        item(11, "mobile", at(5, 4, 8), at(5, 4, 8), assignees=["U0MO"]),  # waiting, overdue
        item(13, "payments", at(5, 6, 6, 30), at(5, 6, 6, 40)),  # waiting, not overdue
        # In the previous 7 days [Fri 26 Apr 07:00, Fri 3 May 07:00):
        item(7, "payments", at(5, 2, 10), at(5, 2, 10, 5)),  # still waiting: the oldest
        item(8, "payments", at(4, 29, 9), at(4, 29, 9), at(4, 29, 13)),  # ttr 4h, lag 0
        item(9, "mobile", at(4, 30, 9), at(4, 30, 10), at(4, 30, 15)),  # ttr 6h, lag 1h
        # Resolved without a response: neither waiting nor responded
        item(
            12,
            "payments",
            at(5, 1, 9),
            at(5, 1, 9),
            status=Status.RESOLVED.value,
            resolved_at=at(5, 3, 9),
        ),
        # Long ago: outside both windows and the trend
        item(14, "payments", at(4, 1, 9), at(4, 1, 9), at(4, 1, 10)),
    ]


def digest_reassignments(items: list[Item]) -> list[Reassignment]:
    """Items 1 and 2 were routed to mobile and moved to payments."""
    by_id = {it.id: it for it in items}
    return [Reassignment(item=by_id[i], from_team="mobile", to_team="payments") for i in (1, 2)]


def build(
    *,
    config: Config | None = None,
    late: bool = False,
    teams: list[str] | None = None,
    timezone: str | None = None,
) -> DigestData:
    """The fixture's digest for Mon 6 May 2024."""
    config = config or digest_config()
    subscription = config.digests[0]
    changes: dict[str, object] = {}
    if teams is not None:
        changes["teams"] = teams
    if timezone is not None:
        changes["timezone"] = timezone
    subscription = DigestConfig.model_validate({**subscription.model_dump(), **changes})
    items = digest_items()
    return build_digest_data(
        items=items,
        reassignments=digest_reassignments(items),
        config=config,
        subscription=subscription,
        index=0,
        local_date=LOCAL_DATE,
        window_start=WINDOW_START,
        window_end=WINDOW_END,
        now=NOW,
        late=late,
        links={5: "https://example.slack.com/archives/C0MOB/p1714939200000100"},
    )


H = timedelta(hours=1)
M = timedelta(minutes=1)


def test_identity_and_window():
    data = build(late=True)
    assert (data.subscription_index, data.channel, data.timezone) == (
        0,
        "C0MANAGERS",
        "Europe/Berlin",
    )
    assert data.local_date == LOCAL_DATE and data.late is True
    assert (data.figures.start, data.figures.end) == (WINDOW_START, WINDOW_END)
    assert data.previous.start == WINDOW_START - timedelta(days=7)
    assert data.previous.end == WINDOW_START
    assert data.window_days == 3
    assert window_label(data) == "Fri 3 May 09:00 → Mon 6 May 09:00"
    assert data.links == {5: "https://example.slack.com/archives/C0MOB/p1714939200000100"}


def test_overall_figures_of_the_window():
    overall = build().figures.overall
    assert overall.new == 9  # 1-6, 10, 11, 13
    assert overall.responded == 4
    assert overall.time_to_response.median == 2 * H + 15 * M  # 1h10, 2h, 2h30, 10h
    assert overall.time_to_response.p90 == 10 * H
    assert overall.forwarding_lag.median == 20 * M  # 0, 10m, 30m, 1h
    assert overall.developer_response.median == 90 * M  # 1h, 1h, 2h, 10h
    assert overall.within_sla == 0.75
    assert overall.sla_breaches == 5  # item 3 late, and 7, 10, 11, 5 overdue now
    assert overall.waiting == 6
    assert overall.resolved == 1
    assert overall.reassigned == 2


def test_previous_seven_days():
    before = build().previous.overall
    assert before.new == 4  # 7, 8, 9 and 12
    assert before.responded == 2
    assert before.time_to_response.median == 5 * H
    assert before.time_to_response.p90 == 6 * H
    assert before.within_sla == 1.0


def test_headline_against_previous_seven_days():
    rows = {h.label: h for h in headlines(build())}
    assert rows["New"].value == "9 (3.0/day)"
    assert rows["New"].previous == "0.6/day"  # 4 items over 7 days
    assert rows["New"].arrow == "↑"
    assert (rows["Median time to response"].value, rows["Median time to response"].previous) == (
        "2h 15m",
        "5h",
    )
    assert rows["Median time to response"].arrow == "↓"
    assert (rows["p90 time to response"].value, rows["p90 time to response"].arrow) == ("10h", "↑")
    assert (rows["Within SLA"].value, rows["Within SLA"].previous) == ("75%", "100%")
    assert rows["Waiting now"].value == "6 (4 overdue)"


def test_per_team_rows():
    rows = {row.team: row for row in build().figures.teams}
    assert list(rows) == ["payments", "mobile", "triage"]
    payments, mobile, triage = rows["payments"], rows["mobile"], rows["triage"]
    assert (payments.new, payments.waiting, payments.sla_breaches) == (4, 2, 2)
    assert payments.time_to_response.median == 2 * H + 30 * M
    assert payments.time_to_response.p90 == 10 * H
    assert payments.forwarding_lag.median == 10 * M
    assert payments.developer_response.median == 2 * H
    assert (mobile.new, mobile.waiting, mobile.sla_breaches) == (3, 2, 2)
    assert mobile.time_to_response.median == 2 * H
    assert (triage.new, triage.waiting, triage.sla_breaches) == (2, 2, 1)
    assert triage.time_to_response.median is None


def test_longest_waiting_five_oldest_first():
    data = build()
    assert [w.item.id for w in data.figures.waiting] == [7, 11, 10, 5, 6, 13]
    assert [w.item.id for w in data.longest_waiting] == [7, 11, 10, 5, 6]
    assert data.longest_waiting[0].age == NOW - at(5, 2, 10)
    assert [w.overdue for w in data.longest_waiting] == [True, True, True, True, False]
    assert data.overdue == 4


def test_trend_is_fourteen_local_days_ending_with_the_window():
    trend = build().trend
    assert list(trend) == ["payments", "mobile", "triage"]
    payments = dict(trend["payments"])
    assert len(trend["payments"]) == 14
    assert trend["payments"][0][0] == date(2024, 4, 23)
    assert trend["payments"][-1][0] == LOCAL_DATE
    assert payments[date(2024, 4, 29)] == 4 * H
    assert payments[date(2024, 5, 3)] == 110 * M  # median of 2h30 and 1h10
    assert payments[date(2024, 5, 4)] == 10 * H
    assert payments[date(2024, 5, 5)] is None
    assert dict(trend["mobile"])[date(2024, 5, 5)] == 2 * H
    assert all(value is None for _, value in trend["triage"])


def test_trend_days_are_the_subscriptions_local_dates():
    data = build(timezone="Pacific/Auckland")  # UTC+12 in May
    assert data.timezone == "Pacific/Auckland"
    payments = dict(data.trend["payments"])
    assert payments[date(2024, 5, 3)] == 2 * H + 30 * M  # 10:30 UTC is 22:30 there
    assert payments[date(2024, 5, 4)] == 70 * M  # 13:10 UTC is past midnight there
    assert payments[date(2024, 5, 5)] == 10 * H  # 19:00 UTC on 4 May


def test_suggestions_come_from_the_reassignments():
    data = build()
    assert [(s.keyword, s.count, s.item_ids) for s in data.suggestions] == [
        ("renewal", 2, (1, 2)),
        ("subscription", 2, (1, 2)),
    ]


def test_a_scoped_subscription_sees_only_its_teams():
    data = build(teams=["mobile"])
    assert [row.team for row in data.figures.teams] == ["mobile"]
    assert data.figures.overall.new == 3
    assert [w.item.id for w in data.figures.waiting] == [11, 5]
    assert list(data.trend) == ["mobile"]
    # The moves out of mobile concern it too.
    assert [s.keyword for s in data.suggestions] == ["renewal", "subscription"]
    assert build(teams=["triage"]).suggestions == []


def test_an_unknown_team_or_naive_time_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown team"):
        build(teams=["nope"])
    config = digest_config()
    with pytest.raises(ValueError, match="aware"):
        build_digest_data(
            items=[],
            reassignments=[],
            config=config,
            subscription=config.digests[0],
            index=0,
            local_date=LOCAL_DATE,
            window_start=WINDOW_START.replace(tzinfo=None),
            window_end=WINDOW_END,
            now=NOW,
        )


def test_time_split_and_durations_for_people():
    assert time_split(build().figures.overall) == (
        "forwarding lag (support) median 20m, p90 1h · developer response median 1h 30m, p90 10h"
    )
    assert [
        human_duration(d)
        for d in (None, 0 * M, 30 * timedelta(seconds=1), 45 * M, 2 * H, 26 * H + 5 * M, 48 * H)
    ] == ["—", "0m", "<1m", "45m", "2h", "1d 2h", "2d"]


def test_digest_table_for_the_terminal():
    text = digest_table(build(late=True), width=100)
    lines = text.splitlines()
    assert lines[0].startswith("Feedback digest · Mon 6 May 2024 · posted late")
    assert all(len(line) <= 100 for line in lines)
    payments = next(line for line in lines if line.strip().startswith("payments"))
    assert payments.split() == ["payments", "4", "2h", "30m", "10h", "10m", "2h", "2", "2"]
    triage = next(line for line in lines if line.strip().startswith("triage"))
    assert triage.split() == ["triage", "2", "—", "—", "—", "—", "1", "2"]
    assert "mobile" in text
    assert "Still waiting: 6 (4 overdue)" in text
    assert "…and 1 more." in text
    assert "2 items with 'renewal' moved mobile → payments: add 'renewal' to payments?" in text
    # Customer text is shown as typed, never interpreted as markup.
    assert "Hi <!channel> & <@U0BOSS>" in text
    assert "#5: https://example.slack.com/archives/C0MOB/p1714939200000100" in text


def test_digest_table_shows_no_late_marker_on_time_and_keeps_markup_literal():
    items = [item(1, "payments", at(5, 5, 9), at(5, 5, 9), text="[bold]boom[/bold]")]
    config = digest_config()
    data = build_digest_data(
        items=items,
        reassignments=[],
        config=config,
        subscription=config.digests[0],
        index=0,
        local_date=LOCAL_DATE,
        window_start=WINDOW_START,
        window_end=WINDOW_END,
        now=NOW,
    )
    text = digest_table(data, width=80)
    assert "posted late" not in text
    assert "[bold]boom[/bold]" in text
    assert all(len(line) <= 80 for line in text.splitlines())
