"""Themes of the week in the digest: first run of the week only, from the store, rendered."""

from __future__ import annotations

import dataclasses
import random
from datetime import UTC, date, datetime, timedelta

from bot.config import Config
from bot.digest_service import DigestService
from bot.digest_text import digest_table
from bot.digest_themes import TeamThemes, shows_themes
from bot.store import Store
from bot.themes import STOP_WORDS, Theme
from handlers.slack.digest_blocks import digest_blocks
from tests.fakes import FrozenClock
from tests.store_backends import create
from tests.test_digest import build
from tests.test_digest_blocks import check_limits, huge_digest, texts

WORKSPACE = "T0WORK"
# Mon 6 May 2024 09:00 in Berlin: the first run of its week; Tuesday's is the second.
MONDAY = date(2024, 5, 6)
MONDAY_RUN = datetime(2024, 5, 6, 7, 0, tzinfo=UTC)
BACKGROUND = [
    "The export to CSV is slow", "Login with SSO fails on Safari", "Dark mode please",
    "Invoice total looks wrong", "Push notifications arrive twice", "Search misses old tickets",
    "The dashboard is slow to load", "Cannot change my avatar", "Password reset mail missing",
    "Report filters reset after reload",
]


def themes_config(themes: str = "weekly", days: list[str] | None = None) -> Config:
    return Config.model_validate({
        "teams": {
            "payments": {"channel": "C0PAY", "owners": ["U0ALICE"]},
            "mobile": {"channel": "C0MOB", "owners": ["U0MO"]},
        },
        "fallback": "payments",
        "digests": [{"channel": "C0MANAGERS", "at": "09:00", "timezone": "Europe/Berlin",
                     "days": days or ["mon", "tue", "wed", "thu", "fri"], "themes": themes}],
    })


def seed(store: Store, *, rising: int, end: datetime = MONDAY_RUN,
         workspace: str = WORKSPACE) -> list[int]:
    """Five weeks of background in both teams; `rising` Apple Pay failures in payments'
    last week, each naming an order and a build number. Returns those items' ids."""
    rng = random.Random(7)
    for week in range(5):
        week_start = end - timedelta(days=7 * (5 - week))
        for number in range(30):
            for team in ("payments", "mobile"):
                moment = week_start + timedelta(hours=5 * number + 1)
                create(store, workspace=workspace, team=team, text=rng.choice(BACKGROUND),
                       received_at=moment, forwarded_at=moment)
    rising_ids = []
    for number in range(rising):
        moment = end - timedelta(days=6) + timedelta(hours=12 * number)
        order, build = rng.randint(10000, 99999), rng.randint(100, 999)
        made = create(store, workspace=workspace, team="payments",
                      text=f"Apple Pay checkout fails for order {order} on build {build}.3 &"
                           " they can't pay",
                      received_at=moment, forwarded_at=moment)
        rising_ids.append(made.id)
    return rising_ids


def service(store: Store, config: Config, now: datetime) -> DigestService:
    return DigestService(store=store, config=config, clock=FrozenClock(now))


def test_the_first_run_day_of_each_iso_week_carries_themes():
    weekdays = themes_config()
    assert shows_themes(weekdays.digests[0], MONDAY)
    assert not shows_themes(weekdays.digests[0], MONDAY + timedelta(days=1))
    # Twice a week: Wednesday is first, Friday second, and no other day runs.
    twice = themes_config(days=["wed", "fri"]).digests[0]
    assert [shows_themes(twice, MONDAY + timedelta(days=n)) for n in range(7)] == [
        False, False, True, False, False, False, False]
    # A Sunday-only digest: Sunday is the first (and last) run of its ISO week.
    assert shows_themes(themes_config(days=["sun"]).digests[0], MONDAY + timedelta(days=6))
    assert not shows_themes(themes_config(themes="off").digests[0], MONDAY)


def test_the_first_run_of_the_week_shows_the_rising_theme_with_two_examples(fresh_store):
    rising_ids = seed(fresh_store, rising=8)
    # Another workspace's identical story must not leak in.
    seed(fresh_store, rising=0, workspace="T0OTHER")
    data = service(fresh_store, themes_config(), MONDAY_RUN + timedelta(minutes=1)).build(
        workspace=WORKSPACE, index=0, local_date=MONDAY, late=False)
    assert data.themes is not None
    assert [found.team for found in data.themes] == ["payments"]  # mobile: nothing rose
    # One problem, one theme: the other words its items said come with it.
    (first,) = data.themes[0].themes
    assert first.term == "apple pay" and "checkout fails" in first.also
    assert first.items == 8
    # The two newest items that said it, read in full so that they can be linked.
    assert first.examples == (rising_ids[-1], rising_ids[-2])
    assert data.theme_examples[rising_ids[-1]].text.startswith("Apple Pay checkout fails")
    assert {item.id for item in data.linked_items} >= set(first.examples)
    # Order and build numbers, and stop-words, never make a theme.
    for term in (first.term, *first.also):
        assert not any(char.isdigit() for char in term), first
        assert not set(term.split()) & STOP_WORDS, first
    shown = digest_table(data)
    assert "Themes of the week" in shown
    assert "• payments: “apple pay” (also “checkout fails”" in shown
    assert f"in 8 items · #{rising_ids[-1]}, #{rising_ids[-2]}" in shown


def test_the_second_run_of_the_week_and_subscriptions_without_themes_show_none(fresh_store):
    seed(fresh_store, rising=8, end=MONDAY_RUN)
    tuesday_run = MONDAY_RUN + timedelta(days=1)
    data = service(fresh_store, themes_config(), tuesday_run).build(
        workspace=WORKSPACE, index=0, local_date=MONDAY + timedelta(days=1), late=False)
    assert data.themes is None
    assert "Themes of the week" not in "\n".join(texts(digest_blocks(data)))
    assert "Themes of the week" not in digest_table(data)
    off = service(fresh_store, themes_config(themes="off"), MONDAY_RUN).build(
        workspace=WORKSPACE, index=0, local_date=MONDAY, late=False)
    assert off.themes is None and off.theme_examples == {}


def test_a_week_where_nothing_rose_says_so(fresh_store):
    seed(fresh_store, rising=0)
    data = service(fresh_store, themes_config(), MONDAY_RUN).build(
        workspace=WORKSPACE, index=0, local_date=MONDAY, late=False)
    assert data.themes == ()
    blocks = digest_blocks(data)
    check_limits(blocks)
    assert any("No theme rose this week." in text for text in texts(blocks))
    assert "No theme rose this week." in digest_table(data)


def test_a_scoped_subscription_reads_only_its_teams(fresh_store):
    seed(fresh_store, rising=8)
    config = themes_config()
    config.digests[0].teams = ["mobile"]
    data = service(fresh_store, config, MONDAY_RUN).build(
        workspace=WORKSPACE, index=0, local_date=MONDAY, late=False)
    assert data.themes == ()


def test_items_said_in_a_stretch_stream_in_pages_by_forwarding_time(fresh_store):
    start = MONDAY_RUN - timedelta(days=3)
    made = [create(fresh_store, team=team, text=f"text {n}", forwarded_at=start + timedelta(
        hours=n), received_at=start) for n, team in enumerate(
        ["payments", "mobile", "payments", "payments", "mobile", "payments"])]
    # The same moment twice: the page boundary must neither skip nor repeat it.
    twin = create(fresh_store, team="payments", text="twin", forwarded_at=made[2].forwarded_at,
                  received_at=start)
    read = list(fresh_store.said_forwarded(workspace=WORKSPACE, since=made[1].forwarded_at,
                                           until=made[5].forwarded_at, batch=2))
    assert [row.said.item_id for row in read] == [made[1].id, made[2].id, twin.id, made[3].id,
                                                  made[4].id]
    assert read[0].team == "mobile" and read[0].said.text == "text 1"
    assert read[0].forwarded_at == made[1].forwarded_at
    payments = fresh_store.said_forwarded(workspace=WORKSPACE, since=start, until=MONDAY_RUN,
                                          teams=["payments"], batch=3)
    assert [row.said.item_id for row in payments] == [made[0].id, made[2].id, twin.id,
                                                      made[3].id, made[5].id]
    assert list(fresh_store.said_forwarded(workspace=WORKSPACE, since=start,
                                           until=MONDAY_RUN, teams=[])) == []
    assert list(fresh_store.said_forwarded(workspace="T0ELSE", since=start,
                                           until=MONDAY_RUN)) == []


def test_slack_themes_are_escaped_linked_and_kept_within_block_limits():
    link = "https://demo.slack.com/archives/C0PAY/p1714900000000100"
    one = (TeamThemes(team="payments", themes=(
        Theme(term="<!channel> & co", items=4, score=3.0, examples=(12, 11)),)),)
    data = dataclasses.replace(build(), themes=one, links={12: link})
    shown = "\n".join(texts(digest_blocks(data)))
    assert ("• *payments*: “&lt;!channel&gt; &amp; co” in 4 items ·"
            f" <{link}|#12>, #11") in shown
    many = tuple(TeamThemes(team=f"team-with-a-long-name-{n:02d}", themes=tuple(
        Theme(term=f"word{k} thing", items=5, score=3.0, examples=(1000 + k, 900 + k))
        for k in range(5))) for n in range(60))
    links = {item_id: f"{link}{item_id}" for item_id in [*range(1000, 1005), *range(900, 905)]}
    blocks = digest_blocks(dataclasses.replace(huge_digest(60), themes=many, links=links))
    check_limits(blocks)
    themed = [text for text in texts(blocks) if "• *team-with" in text]
    assert len(themed) == 3  # MAX_THEME_SECTIONS
    assert themed[-1].endswith(" more themes._")
    # Every link shown is whole: the sections split between lines, never inside one.
    assert all(line.count("<") == line.count(">") for text in themed
               for line in text.splitlines())
