"""`feedbackbot demo --platform msteams`: the neutral script played against the Teams stand-in.

The demo runs once per module, as a user runs it, and the tests read its transcript (made
from the fake Bot Connector's recorded calls and the bot's invoke answers) and the
database it keeps.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("microsoft_agents.hosting.aiohttp", reason="needs the teams extra")

from bot.demo.script import SCRIPT, at, clock_face
from bot.models import Item
from storage import open_store


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """The demo's transcript and the database it kept."""
    db = tmp_path_factory.mktemp("demo-teams") / "demo.db"
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "demo", "--platform", "msteams", "--db", str(db)],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout, db


@pytest.fixture(scope="module")
def items(demo_run: tuple[str, Path]) -> dict[int, Item]:
    """The story's items (the month before it is loaded for the digest's themes)."""
    store = open_store(f"sqlite:///{demo_run[1]}")
    try:
        return {item.id: item for item in store.list_items()
                if item.forwarded_at >= at("00:00")}
    finally:
        store.close()


def _flat(text: str) -> str:
    return " ".join(text.split())


def test_the_transcript_shows_each_step_at_its_scripted_time(demo_run):
    out, _ = demo_run
    shown = [line[:5] for line in out.splitlines() if line[:5].replace(":", "").isdigit()]
    assert shown == [clock_face(step.at) for step in SCRIPT]


def test_every_way_in_on_teams_reaches_the_owning_teams_channel(demo_run):
    out, _ = demo_run
    assert "adds the app to the Engineering team" in out
    # The customer is outside the organisation: the action answers them, nothing else.
    assert "Teams shows only @wile: Only members of this organisation can forward" in out
    assert "Adaptive Card in #payments-dev for @alice, @bob" in out
    assert "Adaptive Card in #mobile-dev for @carol" in out
    assert "Adaptive Card in #triage for @dan" in out
    assert "Teams re-sends the same activity (same id)" in out and "→ nothing new." in out
    assert "1:1 chat with @sam: 📥 Feedback #1 went to payments" in out
    assert "in the intake thread: 📥 Feedback #2 went to mobile" in out
    assert "only @carol sees: Not yours: only payments" in out
    assert "the old card in #triage is marked as moved" in out
    assert "1:1 chat with @priya: 💬 Erin Ek on mobile replied about feedback #4" in out
    assert "digest card posted in #eng-managers" in out


def test_updated_cards_say_how_long_the_customer_waited_in_story_time(demo_run):
    out, _ = demo_run
    updated = [line.split("updated for everyone: ", 1)[1] for line in out.splitlines()
               if "updated for everyone: " in line]
    assert updated == [
        "✅ Alice Ames acknowledged 1h50m after the customer spoke.",  # 09:05 → 10:55
        "✅ Carol Ng replied 1h31m after the customer spoke.",  # 09:31 → 11:02
        # Sam told Acme at 11:20, Priya told Globex at 12:15.
        "✅ Alice Ames acknowledged 1h50m after the customer spoke. / 💬 The customer heard"
        " back 2h15m after they spoke.",
        "✅ Bob Berg acknowledged 1h34m after the customer spoke.",  # 10:11 → 11:45
        "✅ Erin Ek replied 2h25m after the customer spoke.",  # 09:40 → 12:05
        "✅ Erin Ek replied 2h25m after the customer spoke. / 💬 The customer heard back"
        " 2h35m after they spoke.",
        "✅ Alice Ames acknowledged 1h50m after the customer spoke. / 💬 The customer heard"
        " back 2h15m after they spoke. / 🏁 Resolved by Alice Ames: Refunded the duplicate;"
        " fixed in 2.4.1",
        "✅ Carol Ng replied 1h31m after the customer spoke.",  # #2 counts Sam's +1 (#6)
    ]
    assert "Looks like #2 (mobile, 1 customer: globex, acknowledged by Carol Ng)" in out
    assert "the offer in #customer-feedback now says: ➕ Feedback #6 was added to #2" in out


def test_items_are_teams_items_at_the_scripts_times(items):
    assert {(item.platform, item.card_platform) for item in items.values()} == {
        ("msteams", "msteams")}
    assert {number: item.intake_kind for number, item in items.items()} == {
        1: "shortcut", 2: "channel", 3: "direct", 4: "shortcut", 5: "shortcut",
        6: "channel"}
    times = {number: (item.received_at, item.forwarded_at, item.first_response_at)
             for number, item in items.items()}
    assert times == {
        1: (at("09:05"), at("09:12"), at("10:55")),
        2: (at("09:31"), at("09:31"), at("11:02")),
        3: (at("09:48"), at("09:48"), None),
        4: (at("09:40"), at("10:20"), at("12:05")),
        5: (at("10:11"), at("10:41"), at("11:45")),
        6: (at("12:40"), at("12:40"), at("12:41")),  # a +1 of #2, answered when linked
    }
    assert (items[6].linked_to, items[6].card_ts) == (2, None)
    responders = {number: (item.first_response_by, item.first_response_kind)
                  for number, item in items.items() if item.first_response_at}
    assert responders == {1: ("alice@democo.example", "button"),
                          2: ("carol@democo.example", "reply"),
                          4: ("erin@democo.example", "reply"),
                          5: ("bob@democo.example", "button"),
                          6: ("carol@democo.example", "reply")}
    assert (items[3].team, items[1].status) == ("payments", "resolved")


def test_the_digest_figures_are_the_storys(demo_run):
    # The same story as on Slack, so the same figures (worked out in tests/test_demo.py).
    out = _flat(demo_run[0])
    assert "Median time to response 1h 34m" in out
    assert "p90 time to response 2h 25m" in out
    assert "payments 3 1h 42m 1h 50m 18m 1h 23m 0 1" in out
    assert "mobile 3 1h 31m 2h 25m 0m 1h 31m 0 0" in out
    assert "#3 payments 7h 12m" in out
    assert "payments 3 2 1 1h 42m 18m" in out and "mobile 3 3 0 1h 31m 0m" in out
    assert "#2 mobile: 2 customers (+1 this period)" in out
    assert "mobile: “login” in 7 items" in out


def test_teams_is_accepted_for_msteams(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "demo", "--platform", "teams",
         "--db", str(tmp_path / "demo.db")], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("feedbackbot demo on Microsoft Teams")


def test_the_demo_closes_the_loop_with_the_customer_on_teams(demo_run, items):
    flat = _flat(demo_run[0])
    assert "The bot is in no customer channel on Teams, so it can't see that" in flat
    assert "the notice in the 1:1 chat with @priya now says: 💬 The customer heard back" in flat
    assert "• mobile: median 2h 35m, p90 2h 35m (1 item); 2 of 3 unknown" in flat
    assert {number: item.customer_answered_how for number, item in items.items()
            if item.customer_answered_at} == {1: "button", 4: "button"}
